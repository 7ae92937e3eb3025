"""Paired tests: the same p-values as scipy on a hand-made case, users matched by id, seeds averaged."""

import numpy as np
import pytest
from scipy.stats import ttest_rel, wilcoxon

from glta.errors import GLTAError
from glta.significance import compare, seed_average


def record(values: dict[int, float], mean: float | None = None) -> dict:
    users = list(values)
    return {"method": "m", "dataset": "d", "metrics": {"test": {"N@10": mean if mean is not None else
                                                                np.mean(list(values.values()))}},
            "per_user_test": {"metric": "N@10", "users": users, "values": [values[u] for u in users]}}


def test_wilcoxon_over_users_matches_scipy_and_matches_users_by_id():
    a = {0: 0.9, 1: 0.7, 2: 0.65, 3: 0.8, 4: 0.3, 5: 0.55, 6: 0.6, 7: 0.75}
    b = {7: 0.5, 6: 0.61, 5: 0.2, 4: 0.1, 3: 0.45, 2: 0.6, 1: 0.3, 0: 0.85, 99: 1.0}  # shuffled, one extra user
    result = compare([record(a)], [record(b)])
    users = sorted(a)
    assert result.users == 8
    assert result.wilcoxon_p == pytest.approx(wilcoxon([a[u] for u in users], [b[u] for u in users]).pvalue)
    assert result.mean_a == pytest.approx(np.mean(list(a.values())))
    assert result.ttest_p is None  # one seed each


def test_seeds_are_averaged_per_user_and_t_tested_over_seeds():
    seeds_a = [record({0: 0.5, 1: 0.7}, 0.61), record({0: 0.7, 1: 0.9}, 0.8), record({0: 0.6, 1: 0.8}, 0.72)]
    seeds_b = [record({0: 0.4, 1: 0.6}, 0.5), record({0: 0.5, 1: 0.7}, 0.62), record({0: 0.3, 1: 0.5}, 0.41)]
    assert seed_average(seeds_a) == {0: pytest.approx(0.6), 1: pytest.approx(0.8)}
    result = compare(seeds_a, seeds_b)
    assert result.seeds == 3
    assert result.ttest_p == pytest.approx(ttest_rel([0.61, 0.8, 0.72], [0.5, 0.62, 0.41]).pvalue)


def seeded(seed: int, mean: float) -> dict:
    return {**record({0: mean, 1: mean}, mean), "provenance": {"seed": seed}}


def test_the_t_test_over_seeds_pairs_the_runs_of_the_same_training_seed():
    """An ablation with seeds 2025 and 2027 meets GLTA's runs of those seeds, not GLTA's first two files (2025,
    2026); runs that record no seed, or share fewer than two, pair in order."""
    ablation = [seeded(2025, 0.30), seeded(2027, 0.36)]
    glta = [seeded(2025, 0.31), seeded(2026, 0.20), seeded(2027, 0.38)]
    result = compare(ablation, glta)
    assert result.seeds == 2
    assert result.ttest_p == pytest.approx(ttest_rel([0.30, 0.36], [0.31, 0.38]).pvalue)
    assert compare(glta, ablation).ttest_p == pytest.approx(ttest_rel([0.31, 0.38], [0.30, 0.36]).pvalue)
    unseeded = [record({0: 0.3, 1: 0.3}, 0.30), record({0: 0.36, 1: 0.36}, 0.36)]
    assert compare(unseeded, glta).ttest_p == pytest.approx(ttest_rel([0.30, 0.36], [0.31, 0.20]).pvalue)
    apart = [seeded(2025, 0.30), seeded(2030, 0.36)]  # one seed in common: in order, as before
    assert compare(apart, glta).ttest_p == pytest.approx(ttest_rel([0.30, 0.36], [0.31, 0.20]).pvalue)


def test_results_without_per_user_values_are_a_clear_error():
    with pytest.raises(GLTAError, match="per-user"):
        compare([{"method": "old", "metrics": {"test": {}}}], [record({0: 1.0})])


def test_two_runs_compared_on_validation_user_by_user(tmp_path, monkeypatch, experiment):
    """experiments/paired_valid.py: the per-user validation values of a saved run average to the validation metric
    its training recorded, and two runs are paired by user."""
    import json

    from glta.cli import main

    paired_valid = experiment("paired_valid")
    runs = {}
    for lr in ("0.01", "0.001"):
        runs[lr] = (tmp_path / f"run{lr}", tmp_path / f"res{lr}.json")
        assert main(["train", "lightgcn", "--dataset", "synthetic", "--run-dir", str(runs[lr][0]), "--out",
                     str(runs[lr][1]), "--no-progress", "train.epochs=2", "model.dim=8", f"train.lr={lr}"]) == 0
    a, b = (paired_valid.validation_record(runs[lr][0], "N@10", False) for lr in ("0.01", "0.001"))
    for record, lr in ((a, "0.01"), (b, "0.001")):
        recorded = json.loads(runs[lr][1].read_text())["metrics"]["valid"]["N@10"]
        assert np.mean(record["per_user_test"]["values"]) == pytest.approx(recorded, abs=1e-5)
        # the results file keeps the same per-user validation values: no model needs scoring again
        kept = paired_valid.validation_record(runs[lr][1], "N@10", False)
        assert kept["per_user_test"]["users"] == record["per_user_test"]["users"]
        assert np.allclose(kept["per_user_test"]["values"], record["per_user_test"]["values"], atol=1e-6)
    paired = compare([a], [b])
    assert paired.users == len(a["per_user_test"]["users"]) and paired.wilcoxon_p < 0.05
    old = json.loads(runs["0.01"][1].read_text())
    del old["per_user_valid"]  # a results file from before they were kept
    (tmp_path / "old.json").write_text(json.dumps(old))
    with pytest.raises(GLTAError, match="give the run folder instead"):
        paired_valid.validation_record(tmp_path / "old.json", "N@10", False)


def test_seeds_without_per_user_values_are_left_out_of_the_user_average_only():
    old = {"method": "m", "metrics": {"test": {"N@10": 0.9}}}  # made before per-user values were recorded
    seeds_a = [old, record({0: 0.5, 1: 0.7}, 0.6), record({0: 0.7, 1: 0.9}, 0.8)]
    seeds_b = [record({0: 0.4, 1: 0.6}, 0.5), record({0: 0.5, 1: 0.7}, 0.62), record({0: 0.3, 1: 0.5}, 0.41)]
    result = compare(seeds_a, seeds_b)
    assert result.user_seeds == (2, 3)
    assert result.mean_a == pytest.approx(0.7)  # users 0 and 1 averaged over the two seeds that have them
    assert result.ttest_p == pytest.approx(ttest_rel([0.9, 0.6, 0.8], [0.5, 0.62, 0.41]).pvalue)  # every seed


def test_glta_is_also_tested_against_its_own_frozen_backbone_not_only_the_graph_models_seed_average(
        tmp_path, experiment):
    """A GLTA cell's seeds all project one frozen LightGCN run (the main one); when that run is a lucky seed, GLTA
    level with it still beats LightGCN's seed average, so the table tests against the backbone run too."""
    import json

    significance = experiment("significance")

    def write(name: str, values: dict[int, float], graph_run: str | None = None) -> None:
        rec = record(values)
        rec["metrics"]["valid"] = {"N@10": rec["metrics"]["test"]["N@10"]}
        rec["provenance"] = {"config": {"model": {"graph": "lightgcn"} if graph_run else {}}}
        if graph_run:
            rec["provenance"]["inputs"] = {"graph": "lightgcn", "graph_run": graph_run}
        path = tmp_path / "d" / f"{name}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(rec))

    rng = np.random.default_rng(0)
    lucky = {u: float(v) for u, v in enumerate(rng.uniform(0.3, 0.7, 200))}
    write("lightgcn", lucky)
    for seed in (2026, 2027):  # the backbone's other seeds are worse by 0.05 for every user
        write(f"seeds/lightgcn-{seed}", {u: v - 0.05 for u, v in lucky.items()})
    for seed in ("", "-2026", "-2027"):  # GLTA+ matches its backbone up to noise
        name = "glta_plus" if not seed else f"seeds/glta_plus{seed}"
        write(name, {u: v + float(rng.normal(0, 1e-3)) for u, v in lucky.items()}, "runs/d/lightgcn")
    rows = {cells[2]: cells for row in significance.rows_for(tmp_path, "d")
            if (cells := row.strip("| ").split(" | "))[1] == "GLTA+"}
    assert float(rows["LightGCN"][5].rstrip("†")) < 0.05  # "ahead" of the seed average ...
    backbone = rows["LightGCN, its frozen backbone (main run)"]
    assert f"vs {np.mean(list(lucky.values())):.4f}" in backbone[3]  # the main run alone, not its seeds
    assert float(backbone[5].rstrip("†")) > 0.05 and backbone[7] == "3 / 1"  # ... but level with its own backbone
    write("seeds/glta_plus-2027", lucky, "runs/d/lightgcn-elsewhere")  # a seed that read another LightGCN run
    assert not [row for row in significance.rows_for(tmp_path, "d") if "backbone" in row and "| GLTA+ |" in row]


def test_the_backbone_a_glta_run_recorded_is_the_one_tested_against(tmp_path, experiment):
    """A GLTA run records its backbone's own test ranking (the embeddings it read, perhaps of a graph run trained
    again on another machine): the test uses that, not the graph model's results file."""
    significance = experiment("significance")
    runs = []
    for seed, shift in ((0, 0.0), (1, 0.01)):
        run = record({0: 0.5 + shift, 1: 0.7, 2: 0.4})
        run["provenance"] = {"config": {"model": {"graph": "lightgcn_plus"}},
                             "inputs": {"graph_embeddings_sha256": "same"}}
        run["backbone"] = {"test": {"N@10": 0.5}}
        run["per_user_backbone_test"] = {"metric": "N@10", "users": [0, 1, 2], "values": [0.5, 0.6, 0.4]}
        runs.append(run)
    name, backbone = significance.backbone(tmp_path, "d", runs)  # no results/d/lightgcn_plus.json needed
    assert name == "LightGCN+, its frozen backbone" and len(backbone) == 1  # the seeds read the same embeddings
    assert backbone[0]["per_user_test"]["values"] == [0.5, 0.6, 0.4]
    runs[1]["provenance"]["inputs"]["graph_embeddings_sha256"] = "another"
    assert len(significance.backbone(tmp_path, "d", runs)[1]) == 2  # one a seed, paired with it


def test_each_decoding_mode_is_tested_against_first_k_and_ar_against_fl(tmp_path, experiment):
    """The paper's Figure 4 claims first-k > FL > AR: FL and AR each against the GLTA row (first-k), and AR against
    FL, all read out of one model, paired over users."""
    import json

    significance = experiment("significance")
    rng = np.random.default_rng(1)
    base = {u: float(v) for u, v in enumerate(rng.uniform(0.2, 0.6, 300))}
    for name, shift, inference in (("glta", 0.0, "first_k"), ("glta_variants/mode_first_logit", -0.01, "first_logit"),
                                   ("glta_variants/mode_autoregressive", -0.05, "autoregressive")):
        path = tmp_path / "d" / f"{name}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        rec = record({u: v + shift + float(rng.normal(0, 1e-3)) for u, v in base.items()})
        rec["metrics"]["valid"] = {"N@10": rec["metrics"]["test"]["N@10"]}
        rec["provenance"] = {"config": {"model": {"inference": inference}}}  # one model, read out three ways
        path.write_text(json.dumps(rec))
    rows = {(cells[1], cells[2]): cells for row in significance.rows_for(tmp_path, "d")
            if (cells := row.strip("| ").split(" | "))}
    read_from = "GLTA, the run it is read out of"
    assert set(rows) >= {("FL", read_from), ("AR", read_from), ("AR", "FL")}
    assert "(-0.0400)" in rows["AR", "FL"][3] and rows["AR", "FL"][5].endswith("†")
    fl = rows["FL", read_from][3]
    # another training seed of GLTA (its mode was read out of the main run only): the mode is still tested against
    # the model it was read out of, not against a seed average that this seed's luck moves
    seed = tmp_path / "d" / "seeds" / "glta-2026.json"
    seed.parent.mkdir()
    lucky = record({u: v + 0.05 for u, v in base.items()})
    lucky["metrics"]["valid"] = {"N@10": lucky["metrics"]["test"]["N@10"]}
    lucky["provenance"] = {"config": {"model": {"inference": "first_k"}}}
    seed.write_text(json.dumps(lucky))
    rows = {(cells[1], cells[2]): cells for row in significance.rows_for(tmp_path, "d")
            if (cells := row.strip("| ").split(" | "))}
    assert rows["FL", read_from][3] == fl and rows["FL", read_from][7] == rows["AR", read_from][7] == "1 / 1"


def test_an_ablation_row_says_when_the_runs_it_compares_read_different_llm_texts(tmp_path, experiment):
    """Texts written again on another machine differ from those an earlier run read: w/o PF against full GLTA says
    so where a kind both read (the predictions) has two digests, or where a run read texts no digest records."""
    import json

    significance = experiment("significance")
    rng = np.random.default_rng(2)
    base = {u: float(v) for u, v in enumerate(rng.uniform(0.2, 0.6, 100))}

    def write(name: str, use_profile: bool, by_kind: dict[str, str] | None, **model) -> None:
        rec = record({u: v + float(rng.normal(0, 1e-3)) for u, v in base.items()})
        rec["metrics"]["valid"] = rec["metrics"]["test"]
        inputs = {} if by_kind is None else {"user_texts_sha256": "all-" + "-".join(by_kind.values()),
                                             "user_texts_sha256_by_kind": by_kind}
        rec["provenance"] = {"config": {"model": {"use_profile": use_profile, "use_prediction": True, **model}},
                             "inputs": inputs}
        path = tmp_path / "d" / f"{name}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(rec))

    def note(label: str = "w/o PF") -> str:
        row = next(row for row in significance.rows_for(tmp_path, "d") if f"| {label} |" in row)
        return row.strip("| ").split(" | ")[7]

    write("glta", True, {"profile": "p1", "prediction": "d1"})
    write("glta_variants/no_pf", False, {"prediction": "d1"})
    assert note() == "1 / 1"  # the same predictions: nothing to say
    write("glta_variants/no_pf", False, {"prediction": "d2"})  # its predictions written again elsewhere
    assert note() == "1 / 1; prediction texts differ between runs"
    write("glta", True, {"profile": "p2", "prediction": "d3"})  # both kinds (and all together) written again
    write("glta_variants/no_ua", True, {"profile": "p1", "prediction": "d1"}, use_user_token=False)
    assert note("w/o UA") == "1 / 1; profile and prediction texts differ between runs"  # not "... together" too
    write("glta_variants/no_pf", False, None)  # made before digests were recorded
    assert note() == "1 / 1; 1 run read texts no digest records"
    assert significance.text_digests({"provenance": {"config": {"model": {"use_profile": False,
                                                                          "use_prediction": False}}}}) == {}
    assert significance.text_digests({"provenance": {"config": {"model": {"dim": 64}}}}) == {}  # a graph baseline


def test_a_baseline_row_says_when_its_seeds_aligned_with_different_text_embeddings(tmp_path, experiment):
    """RLMRec's profiles written again on another machine give its chosen point trained again other text embeddings
    than its seeds: "text helps" (LightGCN+ vs LightGCN) and RLMRec-Con against the best baseline say so, naming the
    method; the graph model, which aligns with no text, adds nothing."""
    import json

    significance = experiment("significance")
    rng = np.random.default_rng(3)
    base = {u: float(v) for u, v in enumerate(rng.uniform(0.2, 0.6, 100))}

    def write(name: str, digest: str | None, shift: float = 0.0) -> None:
        rec = record({u: v + shift + float(rng.normal(0, 1e-3)) for u, v in base.items()})
        rec["metrics"]["valid"] = rec["metrics"]["test"]
        rec["provenance"] = {"config": {"model": {"dim": 64}},
                             "inputs": {} if digest is None else {"text_embeddings_sha256": digest}}
        path = tmp_path / "d" / f"{name}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(rec))

    def note(a: str) -> str:
        row = next(row for row in significance.rows_for(tmp_path, "d") if f"| {a} |" in row)
        return row.strip("| ").split(" | ")[7]

    write("lightgcn", None, 0.05)  # the best baseline
    write("rlmrec_con", "t1")
    write("seeds/rlmrec_con-2026", "t1")
    write("lightgcn_plus", "e1")
    write("seeds/lightgcn_plus-2026", "e1")
    assert note("RLMRec-Con") == note("LightGCN+") == "2 / 1"  # the same embeddings: nothing to say
    write("rlmrec_con", "t2")  # its chosen point trained again on profiles written again
    assert note("RLMRec-Con") == "2 / 1; RLMRec-Con's runs aligned with different text embeddings"
    write("seeds/lightgcn_plus-2026", None)  # made before the digest was recorded
    assert note("LightGCN+") == "2 / 1; 1 of 2 runs of LightGCN+ record no digest of their text embeddings"
    assert significance.embeddings_note("lightgcn", [{"provenance": {"inputs": {}}}]) == ""


def test_modes_read_out_of_glta_seeds_meet_the_runs_of_those_seeds(tmp_path, experiment):
    """ML-1M: FL was read out of the main GLTA run, AR only out of GLTA's seeds 2026 and 2027 (the main model was
    gone): AR meets those two GLTA runs, and AR against FL is paired over the one seed both were read out of."""
    import json

    significance = experiment("significance")
    rng = np.random.default_rng(2)
    base = {u: float(v) for u, v in enumerate(rng.uniform(0.2, 0.6, 200))}

    def write(name: str, seed: int, shift: float) -> None:
        main = {"glta": "glta", "fl": "glta_variants/mode_first_logit", "ar": "glta_variants/mode_autoregressive"}
        path = tmp_path / "d" / f"{main[name]}.json"
        if seed != 2025:
            path = path.parent / "seeds" / f"{path.stem}-{seed}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        rec = record({u: v + shift + float(rng.normal(0, 1e-5)) for u, v in base.items()})
        rec["metrics"]["valid"] = {"N@10": rec["metrics"]["test"]["N@10"]}
        inference = {"glta": "first_k", "fl": "first_logit", "ar": "autoregressive"}[name]
        rec["provenance"] = {"seed": seed, "config": {"model": {"inference": inference}}}
        path.write_text(json.dumps(rec))

    for seed in (2025, 2026, 2027):
        write("glta", seed, 0.01 * (seed - 2025))
    write("fl", 2025, -0.01)
    write("fl", 2026, 0.0)
    write("ar", 2026, -0.04)
    write("ar", 2027, -0.03)
    rows = {(cells[1], cells[2]): cells for row in significance.rows_for(tmp_path, "d")
            if (cells := row.strip("| ").split(" | "))}
    assert rows["AR", "GLTA, the runs it is read out of"][7] == "2 / 2"
    # AR -0.035 against GLTA +0.015 over seeds 2026-2027 (by order, against seeds 2025-2026, it would be -0.04)
    assert "(-0.0500)" in rows["AR", "GLTA, the runs it is read out of"][3]
    assert rows["AR", "FL"][7] == "1 / 1" and "(-0.0400)" in rows["AR", "FL"][3]  # seed 2026 alone


def test_the_claims_table_says_holds_reversed_or_no_difference_by_the_paired_tests(tmp_path, experiment):
    """Each claim's cell comes from the same paired tests as significance.md: GLTA behind the best baseline over
    users is "reversed"; an ablation behind GLTA over users but not over seeds "holds over users, not over seeds";
    a cell without results "not measured"; README's block between the markers is replaced, nothing else."""
    import json

    significance = experiment("significance")
    rng = np.random.default_rng(3)
    base = {u: float(v) for u, v in enumerate(rng.uniform(0.2, 0.6, 300))}
    data = "ml-1m"

    def write(name: str, shift: float, seed: int | None = None, noise: float = 1e-3, **model) -> None:
        rec = record({u: v + shift + float(rng.normal(0, noise)) for u, v in base.items()})
        rec["metrics"]["valid"] = {"N@10": rec["metrics"]["test"]["N@10"]}
        rec["provenance"] = {"seed": seed or 2025, "config": {"model": model}}
        path = tmp_path / data / f"{name}.json"
        if seed:
            path = path.parent / "seeds" / f"{path.stem}-{seed}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(rec))

    write("lightgcn", 0.0)
    write("hccf", -0.05)
    for seed, shift in ((None, -0.02), (2026, -0.021)):
        write("glta", shift, seed)
    # w/o IA: 0.01 behind GLTA in seed 2025, 0.004 ahead in seed 2026: behind over users, not over two seeds
    write("glta_variants/no_ia", -0.03, None, use_ia=False)
    write("glta_variants/no_ia", -0.017, 2026, use_ia=False)
    found = {data: significance.comparisons(tmp_path, data)}
    table = significance.claims_table(tmp_path, [data, "goodreads-once"], found)
    rows = {line.split(" | ")[0].lstrip("| "): line.strip("| ").split(" | ") for line in table[2:]}
    glta = rows["GLTA beats the best baseline on every data set"]
    assert "vs LightGCN" in glta[2] and "**reversed**" in glta[2] and glta[3] == "not measured"
    assert glta[4] == "reversed (ml-1m), not measured (goodreads-once)"
    ablation = rows["full GLTA beats w/o IA and w/o UA"][2]
    assert "w/o IA" in ablation and "(2 seeds) vs GLTA" in ablation
    paired = next(r for r in found[data] if r.a == "no_ia").result
    assert paired.wilcoxon_p < 0.05 and paired.ttest_p >= 0.05
    assert "**holds over users, not over seeds**" in ablation
    assert rows["the profile (PF) and prediction (PD) tokens each help"][2] == "not measured"
    assert significance.verdict(None, 1) == "not measured"
    tie = significance.Comparison(data, "a", "b", "b", (1, 1), significance.Paired("N@10", 10, 0.5, 0.49, 0.3))
    assert significance.verdict(tie, 1) == "no significant difference"
    tie.result.wilcoxon_p = 0.01
    assert significance.verdict(tie, 1) == "holds" and significance.verdict(tie, -1) == "reversed"

    readme = tmp_path / "README.md"
    readme.write_text(f"intro\n{significance.README_BEGIN}\nold table\n{significance.README_END}\noutro\n")
    assert significance.write_between_markers(readme, "new table\n")
    assert readme.read_text() == f"intro\n{significance.README_BEGIN}\nnew table\n{significance.README_END}\noutro\n"
    plain = tmp_path / "other.md"
    plain.write_text("no markers\n")
    assert not significance.write_between_markers(plain, "new table\n") and plain.read_text() == "no markers\n"


def test_one_run_against_several_seeds_is_tested_against_their_spread():
    """ML-1M's w/o PF has one seed, GLTA three: over users alone GLTA's luckier seeds would pass for PF's effect.
    The run is tested as one more draw with GLTA's seed spread; a method without randomness (EASE), or the frozen
    backbone every GLTA seed projected, is a fixed value the seeds' mean is tested against."""
    from scipy.stats import t as student, ttest_1samp

    from glta.significance import one_run_ttest

    seeds = [0.3363, 0.3388, 0.3448]
    n, mean, spread = 3, np.mean(seeds), np.std(seeds, ddof=1)
    statistic = (0.3352 - mean) / (spread * np.sqrt(1 + 1 / n))
    assert one_run_ttest(0.3352, seeds, fixed=False) == pytest.approx(2 * student.sf(abs(statistic), n - 1))
    assert one_run_ttest(0.3352, seeds, fixed=False) > 0.3  # ~1 seed spread away: no evidence over seeds
    assert one_run_ttest(0.30, seeds, fixed=False) < 0.05  # far outside it
    assert one_run_ttest(0.4253, seeds, fixed=True) == pytest.approx(ttest_1samp(seeds, 0.4253).pvalue)

    rng = np.random.default_rng(3)
    base = rng.uniform(0.2, 0.6, 200)

    def run(method: str, value: float) -> dict:
        values = {u: float(v + value + rng.normal(0, 0.01)) for u, v in enumerate(base)}
        return {**record(values, mean=value), "method": method}

    glta = [run("glta", value) for value in seeds]
    ablation = compare([run("glta", 0.3352)], glta)
    assert ablation.ttest_kind == "one seed" and ablation.ttest_p == pytest.approx(one_run_ttest(0.3352, seeds, False))
    assert ablation.wilcoxon_p < 0.05  # over users the luck of GLTA's seeds looks like an effect
    ease = compare(glta, [run("ease", 0.4253)])
    assert ease.ttest_kind == "a fixed run" and ease.ttest_p == pytest.approx(one_run_ttest(0.4253, seeds, True))
    backbone = compare(glta, [run("lightgcn", 0.4008)], b_fixed=True)
    assert backbone.ttest_kind == "a fixed run"
    assert compare([run("glta", 0.3352)], [run("glta", 0.34)]).ttest_p is None  # one run a side: no test over seeds


def test_the_wilcoxon_p_value_of_paired_values_is_scipys_and_one_where_nothing_differs():
    from glta.significance import wilcoxon_p
    from glta.training import fusion_note

    x, y = np.array([0.1, 0.5, 0.2, 0.9, 0.3, 0.0]), np.array([0.0, 0.4, 0.25, 0.6, 0.1, 0.05])
    assert wilcoxon_p(x, y) == pytest.approx(wilcoxon(x, y).pvalue) and wilcoxon_p(x, x.copy()) == 1.0
    # GLTA+'s epoch line names the fusion's gain over the graph alone only where GLTA has a share in the ranking
    assert fusion_note({"fusion_weight": 0.9, "over_graph": {"gain": 0.00014, "wilcoxon_p": 0.613}}) == \
        "  fusion weight 0.9 (+0.0001 over the graph alone, p 0.61)"
    assert fusion_note({"fusion_weight": 1.0, "over_graph": {"gain": 0.0, "wilcoxon_p": 1.0}}) == "  fusion weight 1.0"
    assert fusion_note({"fusion_weight": 0.5}) == "  fusion weight 0.5"  # recorded before it was measured
