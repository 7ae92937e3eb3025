"""experiments/seeds.py reruns a cell's recorded config with other training seeds, next to the main results file."""

import json
from pathlib import Path

import pytest

from glta.config import build_config
from glta.pipeline import train
from glta.report import records

SCRIPT = Path(__file__).resolve().parents[1] / "experiments" / "seeds.py"


def _main_lightgcn_run(tmp_path, monkeypatch):
    """A small LightGCN main run of the synthetic set in ``tmp_path`` (the working folder); its config."""
    monkeypatch.chdir(tmp_path)
    config = build_config("lightgcn", "synthetic", overrides=["train.epochs=2", "model.dim=8"],
                          config_dir=SCRIPT.parents[1] / "configs")
    train(config, run_dir="runs/synthetic/lightgcn", out="results/synthetic/lightgcn.json", progress=False,
          log=lambda _: None)
    return config


def test_seeds_repeat_the_recorded_config_with_only_the_seed_changed(tmp_path, monkeypatch, experiment):
    _main_lightgcn_run(tmp_path, monkeypatch)
    seeds = experiment("seeds")
    out = seeds.run_seed("synthetic", "lightgcn", 7, progress=False)
    assert out == Path("results/synthetic/seeds/lightgcn-7.json")
    main, extra = (json.loads(Path(p).read_text()) for p in ("results/synthetic/lightgcn.json", out))
    assert extra["provenance"]["seed"] == 7 and extra["provenance"]["config"]["train"]["seed"] == 7
    extra["provenance"]["config"]["train"]["seed"] = main["provenance"]["config"]["train"]["seed"]
    assert extra["provenance"]["config"] == main["provenance"]["config"]
    assert extra["metrics"]["test"] != main["metrics"]["test"]  # another initialisation, another model
    before = out.stat().st_mtime_ns
    assert seeds.run_seed("synthetic", "lightgcn", 7, progress=False) == out and out.stat().st_mtime_ns == before
    assert len(records(Path("results"), "synthetic", "lightgcn")) == 2


def test_each_new_seed_of_the_glta_row_reads_the_decoding_modes_out_of_its_model(tmp_path, monkeypatch, experiment):
    """A seed of ``default`` is followed, in the same job, by FL and AR read out of its new model (Figure 4's cells
    get their seeds with GLTA's); the main run's seed and other cells read nothing, and --no-modes leaves them out."""
    seeds = experiment("seeds")
    calls = []

    def trained(dataset, name, seed, threads, progress, retrain_lost=False):
        calls.append((name, seed))
        main = Path("results") / dataset / ("glta.json" if name == "default" else f"{name}.json")
        return main if seed == 2025 else main.parent / "seeds" / f"{main.stem}-{seed}.json"

    monkeypatch.setattr(seeds, "run_seed", trained)
    monkeypatch.setattr(seeds, "run_mode_seed", lambda dataset, mode, seed, progress: calls.append((mode, seed)))
    seeds.run_seeds("synthetic", ["default", "lightgcn"], [2025, 2026], progress=False)
    assert calls == [("default", 2025), ("default", 2026), ("first_logit", 2026), ("autoregressive", 2026),
                     ("lightgcn", 2025), ("lightgcn", 2026)]
    calls.clear()
    seeds.run_seeds("synthetic", ["default"], [2027], progress=False, modes=False)
    assert calls == [("default", 2027)]


def test_a_variant_never_trained_gets_its_seeds_from_the_variants_config(tmp_path, monkeypatch, experiment):
    """Two GLTA variants can be compared at another seed without their main runs: the seed trains the variant's
    current config with only the seed changed, into the variant's seeds folder; its main seed says how to train it."""
    monkeypatch.chdir(tmp_path)
    seeds = experiment("seeds")
    trained = []
    monkeypatch.setattr(seeds, "train", lambda config, run_dir, out, resume, progress: trained.append((config, out)))
    out = seeds.run_seed("synthetic", "paper_order", 2026, progress=False)
    assert out == Path("results/synthetic/glta_variants/seeds/paper_order-2026.json")
    (config, written), = trained
    assert written == out and config.train.seed == 2026
    expected = seeds.variant_config("synthetic", "paper_order").to_dict()
    expected["train"]["seed"] = 2026
    assert config.to_dict() == expected and config.model.ua_template == "user_item"
    main_seed = seeds.variant_config("synthetic", "paper_order").train.seed
    with pytest.raises(SystemExit, match="glta_variants.py --dataset synthetic --variants paper_order"):
        seeds.run_seed("synthetic", "paper_order", main_seed, progress=False)
    with pytest.raises(SystemExit, match="train the cell once first"):
        seeds.run_seed("synthetic", "lightgcn", 2026, progress=False)  # a method: its seeds repeat a recorded run


def test_a_finished_seed_whose_results_file_is_gone_is_not_trained_again(tmp_path, monkeypatch, experiment):
    """A queue's results reset before they were collected left a finished run without its results file: the seed
    stops with a line naming the ways out instead of spending the run's hours again and overwriting its model; a run
    under way (its checkpoint there) or one of another config trains as before."""
    from glta.checkpoint import CHECKPOINT_NAME
    from glta.tuning import unrecorded_run

    config = _main_lightgcn_run(tmp_path, monkeypatch)
    seeds = experiment("seeds")
    out = seeds.run_seed("synthetic", "lightgcn", 7, progress=False)
    run_dir = Path("runs/synthetic/seeds/lightgcn-7")
    model = (run_dir / "model.safetensors").read_bytes()
    out.unlink()
    with pytest.raises(SystemExit, match=r"lightgcn-7 holds a finished run of this config but its results file "
                                         r"results/synthetic/seeds/lightgcn-7.json is missing: .*glta evaluate"):
        seeds.run_seed("synthetic", "lightgcn", 7, progress=False)
    assert (run_dir / "model.safetensors").read_bytes() == model and not out.exists()
    config.train.seed = 7
    assert unrecorded_run(run_dir, out, config)
    other = build_config("lightgcn", "synthetic", overrides=["train.epochs=3", "model.dim=8", "train.seed=7"],
                         config_dir=SCRIPT.parents[1] / "configs")
    assert unrecorded_run(run_dir, out, other) is None  # another config: a retrain is what was asked for
    (run_dir / CHECKPOINT_NAME).write_bytes(b"")
    assert unrecorded_run(run_dir, out, config) is None  # a run under way resumes


def test_a_default_seed_whose_model_is_on_another_machine_is_trained_again_with_retrain_lost(
        tmp_path, monkeypatch, experiment):
    """amazon-scientific's seed 2026 of GLTA was trained on a machine since lost: its FL and AR could never be read
    out of it. With --retrain-lost its results file is kept aside and the seed trained again (then the modes read
    out of the new model); without it, or once the model is here, the seed counts as done."""
    from test_reproduce import made_on_synthetic

    variants, seeds = experiment("glta_variants"), experiment("seeds")
    monkeypatch.chdir(tmp_path)
    made_on_synthetic(variants, "default", [])
    made_on_synthetic(variants, "default", ["train.seed=2026"], 2026)
    out = Path("results/synthetic/seeds/glta-2026.json")
    committed = out.read_text()
    trained = []

    def train(config, run_dir, out, resume, progress):
        trained.append((config.train.seed, str(run_dir), resume))
        Path(run_dir).mkdir(parents=True)
        (Path(run_dir) / "run.json").write_text("{}")
        Path(out).write_text(committed)

    monkeypatch.setattr(seeds, "train", train)
    assert seeds.lost_model("synthetic", 2026) and not seeds.lost_model("synthetic", 2027)
    assert seeds.run_seed("synthetic", "default", 2026, progress=False) == out and not trained  # done, as before
    assert seeds.run_seed("synthetic", "default", 2026, progress=False, retrain_lost=True) == out
    assert trained == [(2026, "runs/synthetic/seeds/glta-2026", False)]
    kept = list(Path("results/synthetic/seeds/replaced").glob("glta-2026-*.json"))
    assert len(kept) == 1 and kept[0].read_text() == committed
    assert not seeds.lost_model("synthetic", 2026)  # its model is here now: the modes are read out of it
    out.write_text(committed)  # as `git checkout -- results` in a queue's worktree puts it back: kept once
    assert seeds.keep_aside(out) == kept[0] and not out.exists()
    assert list(Path("results/synthetic/seeds/replaced").glob("*.json")) == kept
    out.write_text(committed)
    seeds.run_seed("synthetic", "default", 2026, progress=False, retrain_lost=True)
    assert len(trained) == 1
