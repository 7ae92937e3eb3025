"""experiments/glta_variants.py: where each variant's results and run live, and which method trains it."""

from pathlib import Path


def test_the_data_sets_own_runs_and_the_variants_have_their_places(experiment):
    variants = experiment("glta_variants")
    assert variants.variant_paths("ml-1m", "default") == (Path("results/ml-1m/glta.json"), Path("runs/ml-1m/glta"))
    assert variants.variant_paths("ml-1m", "glta_plus") == (Path("results/ml-1m/glta_plus.json"),
                                                            Path("runs/ml-1m/glta_plus"))
    assert variants.variant_paths("ml-1m", "no_ia") == (Path("results/ml-1m/glta_variants/no_ia.json"),
                                                        Path("runs/ml-1m/glta_variants/no_ia"))
    assert variants.variant_config("synthetic", "glta_plus").method == "glta_plus"
    assert variants.variant_config("synthetic", "no_ia").model.use_ia is False


def test_a_decoding_mode_counts_as_done_only_when_read_out_of_a_model_of_the_current_config(experiment, tmp_path,
                                                                                              monkeypatch):
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
