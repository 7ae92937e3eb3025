"""experiments/glta_variants.py: where each variant's results and run live, and which method trains it."""

from pathlib import Path

import pytest


def test_the_data_sets_own_runs_and_the_variants_have_their_places(experiment):
    variants = experiment("glta_variants")
    assert variants.variant_paths("ml-1m", "default") == (Path("results/ml-1m/glta.json"), Path("runs/ml-1m/glta"))
    assert variants.variant_paths("ml-1m", "glta_plus") == (Path("results/ml-1m/glta_plus.json"),
                                                            Path("runs/ml-1m/glta_plus"))
    assert variants.variant_paths("ml-1m", "no_ia") == (Path("results/ml-1m/glta_variants/no_ia.json"),
                                                        Path("runs/ml-1m/glta_variants/no_ia"))
    assert variants.variant_config("synthetic", "glta_plus").method == "glta_plus"
    assert variants.variant_config("synthetic", "no_ia").model.use_ia is False


def test_a_decoding_mode_counts_as_done_only_when_read_out_of_a_model_of_the_current_config(
        experiment, tmp_path, monkeypatch):
    import json

    variants = experiment("glta_variants")
    current = variants.build_config("glta", "synthetic", overrides=["model.inference=first_logit"]).to_dict()
    monkeypatch.chdir(tmp_path)  # results/ are looked up where the script runs
    assert not variants.mode_is_done("synthetic", "first_logit")
    path = tmp_path / "results" / "synthetic" / "glta_variants" / "mode_first_logit.json"
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps({"provenance": {"config": current}}))
    assert variants.mode_is_done("synthetic", "first_logit")
    assert not variants.mode_is_done("synthetic", "autoregressive")
    earlier = json.loads(json.dumps(current))
    earlier["model"]["supervised_slots"] += 1  # the default model was since trained with another config
    path.write_text(json.dumps({"provenance": {"config": earlier}}))
    assert not variants.mode_is_done("synthetic", "first_logit")


def test_a_winning_variant_is_promoted_only_when_the_config_file_says_what_it_changed(experiment, tmp_path,
                                                                                      monkeypatch):
    """`--promote slots20 --as slots10`: the variant's results and run folder become the data set's own run, the run
    they replace is filed under the variant describing it, and nothing moves while any config disagrees."""
    import json

    import pytest

    from glta.errors import GLTAError

    variants = experiment("glta_variants")
    monkeypatch.chdir(tmp_path)

    def made(name, config_of):
        out, run = variants.variant_paths("synthetic", name)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps({"provenance": {"config": variants.variant_config("synthetic", config_of).to_dict(),
                                                  "wall_seconds": 1.0},
                                   "metrics": {"valid": {"N@10": 0.1}, "test": {m: 0.1 for m in variants.METRICS}}}))
        run.mkdir(parents=True)
        (run / "model.safetensors").write_text(name)
        return out, run

    made("default", "default")
    made("disjoint", "disjoint")
    with pytest.raises(GLTAError, match="configs/synthetic/glta.yaml as it is now: put model.target_mode=disjoint"):
        variants.promote("synthetic", "disjoint", "overlap")  # the config file still says overlap
    # as if configs/synthetic/glta.yaml now said disjoint (the base every variant starts from)
    monkeypatch.setitem(variants.VARIANTS, "default", ["model.target_mode=disjoint"])
    with pytest.raises(GLTAError, match="name the variant whose overrides describe it with --as"):
        variants.promote("synthetic", "disjoint", None)
    with pytest.raises(GLTAError, match="is not what no_ia"):
        variants.promote("synthetic", "disjoint", "no_ia")  # the old default had IA and overlap targets
    assert (tmp_path / "runs/synthetic/glta_variants/disjoint").exists()  # nothing moved while a config disagreed
    moved = variants.promote("synthetic", "disjoint", "overlap")
    assert len(moved) == 4
    assert (tmp_path / "runs/synthetic/glta/model.safetensors").read_text() == "disjoint"
    assert (tmp_path / "runs/synthetic/glta_variants/overlap/model.safetensors").read_text() == "default"
    assert (tmp_path / "results/synthetic/glta_variants/overlap.json").exists()
    assert not (tmp_path / "results/synthetic/glta_variants/disjoint.json").exists()
    assert (tmp_path / "results/synthetic/glta_variants.md").exists()


def test_a_decoding_mode_whose_model_is_not_on_this_machine_trains_the_default_again_first(experiment, tmp_path,
                                                                                           monkeypatch):
    """A fresh machine holds the results files but no run folders: reading AR out of the data set's GLTA model then
    trains that model again (same config), and every mode is read out of the new one; with the model here, not."""
    import json

    variants = experiment("glta_variants")
    monkeypatch.chdir(tmp_path)
    calls = []

    def trained(config, run_dir, out, resume, progress):
        calls.append(("train", str(run_dir)))
        run_dir.mkdir(parents=True, exist_ok=True)
        (run_dir / "run.json").write_text("{}")

    monkeypatch.setattr(variants, "train", trained)
    monkeypatch.setattr(variants, "evaluate_run", lambda run_dir, progress, overrides, out: calls.append(
        ("evaluate", overrides[0])))

    def made(name, overrides):
        path = variants.result_path(Path("results"), "synthetic", name)
        path.parent.mkdir(parents=True, exist_ok=True)
        config = variants.build_config("glta", "synthetic", overrides=overrides).to_dict()
        path.write_text(json.dumps({"provenance": {"config": config, "wall_seconds": 1.0},
                                    "metrics": {"valid": {"N@10": 0.1}, "test": {m: 0.1 for m in variants.METRICS}}}))
        return path

    made("default", [])
    first_logit = made("mode_first_logit", ["model.inference=first_logit"])
    assert variants.is_done("synthetic", "default") and not variants.model_here("synthetic")
    assert variants.model_needed("synthetic") and not variants.model_needed("synthetic", ["first_logit"])
    variants.run("synthetic", ["first_logit"])  # done: nothing to read, so no model needed
    assert calls == []
    variants.run("synthetic", ["autoregressive"])
    assert calls == [("train", "runs/synthetic/glta"), ("evaluate", "model.inference=autoregressive")]
    assert not first_logit.exists()  # read out of the replaced model: read again from the new one
    assert variants.model_here("synthetic") and not variants.model_needed("synthetic", ["autoregressive"])
    calls.clear()
    variants.run("synthetic", ["autoregressive"])  # the model is here now: only the reading
    assert calls == [("evaluate", "model.inference=autoregressive")]


def test_each_seed_of_the_default_reads_the_decoding_modes_out_of_its_own_model(experiment, tmp_path, monkeypatch):
    """ML-1M's AR had no run, and the main model it would read is gone from a fresh machine: each training seed of
    the default reads the modes out of its own new model instead of hours spent training the main one again."""
    import json

    variants = experiment("glta_variants")
    monkeypatch.chdir(tmp_path)
    calls = []
    monkeypatch.setattr(variants, "evaluate_run", lambda run_dir, progress, overrides, out: calls.append(
        (str(run_dir), overrides[0], str(out))) or out.parent.mkdir(parents=True, exist_ok=True) or out.write_text(
        json.dumps({"provenance": {"config": variants.build_config(
            "glta", "synthetic", overrides=["train.seed=2026", overrides[0]]).to_dict()}})))
    assert not variants.run_mode_seed("synthetic", "autoregressive", 2026, progress=False)  # no seed trained yet
    trained = variants.seed_path(variants.variant_paths("synthetic", "default")[0], 2026)
    trained.parent.mkdir(parents=True)
    trained.write_text(json.dumps({"provenance": {"config": variants.build_config(
        "glta", "synthetic", overrides=["train.seed=2026"]).to_dict()}}))
    assert not variants.run_mode_seed("synthetic", "autoregressive", 2026, progress=False)  # its model is elsewhere
    assert calls == []
    (tmp_path / "runs/synthetic/seeds/glta-2026").mkdir(parents=True)
    (tmp_path / "runs/synthetic/seeds/glta-2026/run.json").write_text("{}")
    assert variants.run_mode_seed("synthetic", "autoregressive", 2026, progress=False)
    assert calls == [("runs/synthetic/seeds/glta-2026", "model.inference=autoregressive",
                      "results/synthetic/glta_variants/seeds/mode_autoregressive-2026.json")]
    assert variants.mode_seed_is_done("synthetic", "autoregressive", 2026)
    assert not variants.mode_seed_is_done("synthetic", "first_logit", 2026)
    assert variants.run_mode_seed("synthetic", "autoregressive", 2026, progress=False) and len(calls) == 1  # done


def test_a_row_whose_reused_ia_counts_its_recorded_time_and_says_so(experiment, tmp_path, monkeypatch):
    """The summary's time is the fit loop plus every stage the results file records; a reused IA stage records the
    time the run that trained it took, and the footnote says that this run spent none."""
    import json

    variants = experiment("glta_variants")
    monkeypatch.chdir(tmp_path)
    out, _ = variants.variant_paths("synthetic", "no_ua")
    out.parent.mkdir(parents=True)
    config = variants.variant_config("synthetic", "no_ua").to_dict()
    out.write_text(json.dumps({
        "provenance": {"config": config, "wall_seconds": 1.0},
        "metrics": {"valid": {"N@10": 0.1}, "test": {m: 0.1 for m in variants.METRICS}},
        "training": {"best_epoch": 1, "epochs_run": 3, "train_seconds": 1000.0, "ia_seconds": 250.0,
                     "ia_reused": "cache/ia.safetensors", "prefix_seconds": 5.0}}))
    table = variants.summary("synthetic")
    row = next(line for line in table.splitlines() if line.startswith("| no_ua"))
    assert row.endswith("| 1/3 | 1,255* |")
    assert "this run spent no time on IA, and the row's time counts the IA time that earlier run recorded" in table


def test_a_finished_variant_whose_results_file_is_gone_is_not_trained_again(experiment, tmp_path, monkeypatch):
    """A variant's run folder holds its finished model (no checkpoint) but its results file is missing: the variant
    stops with a line naming the ways out instead of training hours over; with the results file back it is done."""
    import json

    variants = experiment("glta_variants")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(variants, "train", lambda *args, **kwargs: pytest.fail("trained a finished run again"))
    out, run_dir = variants.variant_paths("synthetic", "no_pf")
    config = variants.variant_config("synthetic", "no_pf")
    run_dir.mkdir(parents=True)
    (run_dir / "model.safetensors").write_bytes(b"weights")
    (run_dir / "run.json").write_text(json.dumps({"config": config.to_dict()}))
    with pytest.raises(SystemExit, match="no_pf holds a finished run of this config but its results file"):
        variants.run_variant("synthetic", "no_pf", threads=1, progress=False)
