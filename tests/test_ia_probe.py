"""experiments/ia_probe.py: IA's loss per epoch against a uniform guess, kept in a file that survives a stop."""

import json
import math

import pytest
import torch


@pytest.fixture(scope="module")
def ia_probe(experiment):
    return experiment("ia_probe")


@pytest.fixture(autouse=True)
def two_ia_batches(monkeypatch):
    """An IA epoch of two one-sample batches of three short descriptions: the LLM runs a few short steps."""
    import itertools

    from glta.align.prompts import Prompts

    full = Prompts.ia_batches
    monkeypatch.setattr(Prompts, "ia_batches", lambda self, rng: itertools.islice(full(self, rng), 2))


def probe_model(synthetic, **overrides):
    from glta.config import build_config
    from glta.models.glta import GLTA

    settings = {"ia_batch_size": 1, "ia_group_size": 3, "item_text_chars": 24, "missing_texts": "empty",
                "prefix_cache": "false", **overrides}
    config = build_config("glta", "synthetic", overrides=[f"model.{key}={value}" for key, value in settings.items()]
                          + ["train.checkpoint_minutes=0"])
    torch.manual_seed(0)
    embeddings = (torch.randn(synthetic.n_users, 16), torch.randn(synthetic.n_items, 16))
    return config, GLTA(synthetic, config.model, embeddings=embeddings)


def test_a_stopped_probe_continues_and_keeps_each_epoch_once(ia_probe, synthetic, tmp_path):
    """An earlier session's long IA probe lost its numbers with its machine: the report now lives in a file,
    written after each epoch, and the stage resumes from its checkpoint beside it."""
    out = tmp_path / "ia.json"
    config, model = probe_model(synthetic)

    class Stop(Exception):
        pass

    def stop_after_first_epoch(line):
        if line.startswith("IA epoch 0:"):
            raise Stop  # after the line is written, before the epoch's checkpoint: epoch 0 is trained again

    with pytest.raises(Stop):
        ia_probe.measure(model, config, synthetic, ["model.x=1"], 3, out, "abc", log=stop_after_first_epoch)
    kept = json.loads(out.read_text())
    assert [row["epoch"] for row in kept["epochs"]] == [0] and not kept.get("finished")
    assert kept["chance_loss"] == round(math.log(synthetic.n_items), 4)
    config, model = probe_model(synthetic)
    report = ia_probe.measure(model, config, synthetic, ["model.x=1"], 3, out, "abc", log=lambda line: None)
    assert [row["epoch"] for row in report["epochs"]] == [0, 1, 2] and report["finished"]
    assert json.loads(out.read_text()) == report and report["provenance"]["git_commit"] == "abc"
    assert not list(tmp_path.glob("*.safetensors"))  # the checkpoint goes once the probe is done
    assert ia_probe.measure(model, config, synthetic, ["model.x=1"], 3, out, log=lambda line: None) == report
    from glta.errors import GLTAError

    with pytest.raises(GLTAError, match="other settings"):
        ia_probe.measure(model, config, synthetic, ["model.x=2"], 3, out, log=lambda line: None)


def test_the_chance_loss_is_over_what_ias_softmax_covers(ia_probe, synthetic):
    _, model = probe_model(synthetic, ia_loss="group")
    assert ia_probe.chance_loss(model) == (math.log(3), "ln 3 (the group)")


def test_a_finished_probe_is_said_before_the_llm_loads(ia_probe, tmp_path, monkeypatch, capsys):
    """Rerunning a finished probe's command prints its result without loading the LLM (which takes a while)."""
    out = tmp_path / "ia.json"
    out.write_text(json.dumps({"dataset": "synthetic", "overrides": [], "epochs_planned": 2, "epochs": [],
                               "finished": True, "final_loss": 1.25}))

    def no_model(*args, **kwargs):
        raise AssertionError("the model (and its LLM) was built for a finished probe")

    monkeypatch.setattr(ia_probe, "GLTA", no_model)
    monkeypatch.setattr("sys.argv", ["ia_probe.py", "--dataset", "synthetic", "--epochs", "2", "--out", str(out)])
    ia_probe.main()
    assert "finished already (final loss 1.2500)" in capsys.readouterr().out
