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
