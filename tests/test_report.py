"""The paper's tables and figures are rebuilt from results files; missing results show as gaps, never as numbers."""

import json

import numpy as np

from glta.report import result_path, write_report


def _record(value: float, seconds: float = 10.0) -> dict:
    metrics = {m: value for m in ("P@5", "P@10", "N@5", "N@10")}
    return {"metrics": {"valid": metrics, "test": metrics}, "training": {"train_seconds": seconds, "ia_seconds": 5.0}}


def _write(results, dataset, name, record):
    path = result_path(results, dataset, name)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(record))


def test_report_places_each_result_in_its_row_and_column(tmp_path):
    results = tmp_path / "results"
    _write(results, "a", "lightgcn", _record(0.25, 100.0))
    _write(results, "a", "hccf", {**_record(0.5, 20.0), "provenance": {"machine": {"gpu": "NVIDIA H200"}}})
    _write(results, "b", "glta", _record(0.125))  # GLTA's run is Table 2's GLTA row and every figure's GLTA bar
    _write(results, "b", "no_pf", _record(0.0625))
    _write(results, "a", "mode_first_logit", _record(0.5))
    written = write_report(results, tmp_path / "paper", ["a", "b"])
    assert {p.name for p in written} >= {"table2.md", "table3.md", "figure3.md", "figure4.md", "figure3.png"}
    table2 = (tmp_path / "paper" / "table2.md").read_text().splitlines()
    lightgcn = next(line for line in table2 if line.startswith("| LightGCN |")).split(" | ")
    assert lightgcn[1:6] == ["0.2500"] * 3 + ["0.2500 (1 seed)", "105"] and set(lightgcn[6:]) == {"—", "— |"}
    assert next(line for line in table2 if line.startswith("| HCCF |")).split(" | ")[5] == "25 †"
    assert any("† trained on a GPU (NVIDIA H200)" in line for line in table2)
    glta = next(line for line in table2 if line.startswith("| GLTA |"))
    assert glta.count("0.1250") == 4 and "| 15 |" in glta  # train seconds include the IA stage
    table3 = (tmp_path / "paper" / "table3.md").read_text().splitlines()
    assert next(line for line in table3 if line.startswith("| w/o PF |")).count("0.0625") == 4
    assert next(line for line in table3 if line.startswith("| w/o PD |")).count("—") == 8
    assert not any("‡" in line for line in table2)
    figure4 = (tmp_path / "paper" / "figure4.md").read_text()
    assert next(line for line in figure4.splitlines() if line.startswith("| FL |")).count("0.5000") == 4


def test_cells_not_made_from_a_clean_commit_of_this_history_are_marked(tmp_path):
    from glta.results import git_commit

    head = git_commit()
    results = tmp_path / "results"
    _write(results, "a", "lightgcn", {**_record(0.25), "provenance": {"git_commit": head.split("+")[0]}})
    _write(results, "a", "hccf", {**_record(0.5), "provenance": {"git_commit": head.split("+")[0] + "+dirty"}})
    _write(results, "a", "pop", {**_record(0.1), "provenance": {"git_commit": "fa12e38dd"}})
    clean = head.split("+")[0]
    _write(results, "a", "lightgcn_plus", {**_record(0.3), "provenance": {  # resumed under a later clean commit
        "git_commit": clean, "trained_by_commits": [clean, clean]}})
    _write(results, "a", "hccf_plus", {**_record(0.3), "provenance": {  # from a checkpoint that kept no commits
        "git_commit": clean, "trained_by_commits": ["unrecorded", clean]}})
    write_report(results, tmp_path / "paper", ["a"])
    table2 = (tmp_path / "paper" / "table2.md").read_text().splitlines()
    row = lambda label: next(line for line in table2 if line.startswith(f"| {label} |"))  # noqa: E731
    assert "‡" not in row("LightGCN") and "0.5000 (1 seed) ‡" in row("HCCF") and "0.1000 ‡" in row("Popularity")
    assert "‡" not in row("LightGCN+") and "‡" in row("HCCF+")
    assert any(line.startswith("‡") and "hccf on a" in line and "pop on a" in line for line in table2)
    # a deterministic method's cell carries no seed count; the note says why
    assert any("Popularity, EASE, GF-CF: deterministic" in line for line in table2)


def test_a_dirty_tree_is_labelled_with_the_hash_of_its_diff(tmp_path, monkeypatch):
    import subprocess

    from glta.results import git_commit

    monkeypatch.delenv("GLTA_GIT_COMMIT", raising=False)
    run = lambda *a: subprocess.run(["git", *a], cwd=tmp_path, check=True, capture_output=True)  # noqa: E731
    run("init", "-q")
    (tmp_path / "model.py").write_text("lr = 1\n")
    (tmp_path / "src").mkdir()
    (tmp_path / "results").mkdir()
    (tmp_path / "results" / "a.json").write_text("{}")
    run("add", "model.py", "results/a.json")
    run("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "x")
    clean = git_commit(tmp_path / "src")
    assert len(clean) == 40 and "+" not in clean
    (tmp_path / "results" / "a.json").write_text('{"N@10": 1}')  # a run's output changed: the code did not
    assert git_commit(tmp_path / "src") == clean
    (tmp_path / "model.py").write_text("lr = 2\n")
    first = git_commit(tmp_path)
    (tmp_path / "model.py").write_text("lr = 3\n")
    second = git_commit(tmp_path)
    assert first.startswith(clean + "+dirty-") and second.startswith(clean + "+dirty-") and first != second
    assert git_commit(tmp_path / "src") == second  # the whole checkout counts, wherever the package sits in it


def test_a_cell_with_several_seeds_shows_their_mean_and_spread(tmp_path):
    from glta.results import seed_path

    results = tmp_path / "results"
    _write(results, "a", "lightgcn", _record(0.25))
    main = result_path(results, "a", "lightgcn")
    for seed, value in ((2026, 0.27), (2027, 0.29)):
        path = seed_path(main, seed)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(_record(value)))
    _write(results, "a", "no_ia", _record(0.1))
    written = write_report(results, tmp_path / "paper", ["a"])
    row = next(line for line in (tmp_path / "paper" / "table2.md").read_text().splitlines()
               if line.startswith("| LightGCN |"))
    assert row.count("0.2700 ± 0.0200") == 4 and "(3 seeds)" in row
    assert any(p.name == "figure3.png" for p in written)


def test_a_figures_bar_of_one_seed_is_hatched_and_one_of_several_has_error_bars(tmp_path, monkeypatch):
    from matplotlib.axes import Axes

    from glta.report import FIGURE3, figure
    from glta.results import seed_path

    results = tmp_path / "results"
    _write(results, "a", "glta", _record(0.3))
    for seed, value in ((2026, 0.32), (2027, 0.34)):
        path = seed_path(result_path(results, "a", "glta"), seed)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(_record(value)))
    _write(results, "a", "no_ia", _record(0.1))  # one seed
    drawn, bar = [], Axes.bar
    monkeypatch.setattr(Axes, "bar", lambda ax, *args, **kwargs: drawn.append(kwargs) or bar(ax, *args, **kwargs))
    figure(results, FIGURE3, ["a"], tmp_path / "figure3.png")
    (glta, no_ia) = drawn
    assert glta["yerr"] is not None and glta["hatch"] is None
    assert no_ia["yerr"] is None and no_ia["hatch"]
    assert (tmp_path / "figure3.png").stat().st_size > 0


def test_claimed_differences_are_marked_when_the_paired_test_says_so(tmp_path):
    """GLTA against the best baseline on validation, ablations against GLTA: § where Wilcoxon p < 0.05."""
    rng = np.random.default_rng(0)
    users = list(range(60))
    base = rng.uniform(0.2, 0.4, len(users))

    def with_users(value: float, values) -> dict:
        return {**_record(value), "per_user_test": {"metric": "N@10", "users": users,
                                                    "values": [float(v) for v in values]}}

    results = tmp_path / "results"
    _write(results, "a", "lightgcn", with_users(0.30, base))  # the best baseline on validation
    _write(results, "a", "hccf", with_users(0.10, base - 0.2))
    _write(results, "a", "glta", with_users(0.25, base - 0.05 + rng.normal(0, 0.01, len(users))))
    _write(results, "a", "no_pf", with_users(0.25, base - 0.05 + rng.normal(0, 0.01, len(users))))
    write_report(results, tmp_path / "paper", ["a"])
    table2 = (tmp_path / "paper" / "table2.md").read_text().splitlines()
    assert next(line for line in table2 if line.startswith("| GLTA |")).count(" §") == 1
    assert " §" not in next(line for line in table2 if line.startswith("| LightGCN |"))
    assert any(line.startswith("§ differs at p < 0.05") for line in table2)
    table3 = (tmp_path / "paper" / "table3.md").read_text().splitlines()
    assert " §" not in next(line for line in table3 if line.startswith("| w/o PF |"))  # noise only: not marked


def test_a_difference_over_seeds_gets_its_own_mark_beside_the_one_over_users(tmp_path):
    """¶ where the t-test over seeds gives p < 0.05, § where the Wilcoxon over users does: an ablation whose three
    seeds sit clearly below GLTA's three gets both; one whose seeds straddle GLTA's (one lucky seed carrying the
    mean) keeps § alone; each mark agrees with scipy's tests on the same numbers."""
    from scipy.stats import ttest_rel

    from glta.report import claim_marks, claim_test
    from glta.results import seed_path

    rng = np.random.default_rng(1)
    users = list(range(200))
    base = rng.uniform(0.2, 0.4, len(users))

    def seeds(name: str, shifts) -> list[float]:  # each seed's test N@10
        means = []
        for i, shift in enumerate(shifts):
            values = base + shift + rng.normal(0, 0.01, len(users))
            record = {**_record(float(values.mean())),
                      "per_user_test": {"metric": "N@10", "users": users, "values": [float(v) for v in values]}}
            path = result_path(results, "a", name)
            if i:
                path = seed_path(path, 2025 + i)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(record))
            means.append(record["metrics"]["test"]["N@10"])
        return means

    results = tmp_path / "results"
    glta = seeds("default", (0.0, 0.01, -0.01))
    ablations = {"no_ia": seeds("no_ia", (-0.03, -0.02, -0.04)),  # every seed below: both tests
                 "no_ua": seeds("no_ua", (-0.06, 0.03, 0.0))}  # mean -0.01, seeds straddle: over users only
    marks = {}
    for name, means in ablations.items():
        test = claim_test(results, "a", name)
        assert test.wilcoxon_p < 0.05
        assert np.isclose(test.ttest_p, ttest_rel(means, glta).pvalue)
        marks[name] = claim_marks(test)
    assert marks == {"no_ia": " § ¶", "no_ua": " §"}
    assert claim_marks(None) == ""
    write_report(results, tmp_path / "paper", ["a"])
    figure3 = (tmp_path / "paper" / "figure3.md").read_text().splitlines()
    assert next(line for line in figure3 if line.startswith("| w/o IA |")).endswith("(3 seeds) § ¶ |")
    assert next(line for line in figure3 if line.startswith("| w/o UA |")).endswith("(3 seeds) § |")
    assert any(line.startswith("§ differs") and "¶ differs" in line for line in figure3)


def test_a_decoding_mode_is_tested_against_the_glta_run_it_was_read_out_of(tmp_path):
    """FL is read out of GLTA's main run; a second GLTA seed, better by luck, must not make FL look worse: on
    amazon-scientific FL tied first-k on one model (p = 0.58) but would have been compared with a 2-seed mean."""
    from glta.report import claim_p
    from glta.results import seed_path

    rng = np.random.default_rng(0)
    users = list(range(80))
    base = rng.uniform(0.2, 0.4, len(users))

    def with_users(values) -> dict:
        return {**_record(float(np.mean(values))), "per_user_test": {"metric": "N@10", "users": users,
                                                                     "values": [float(v) for v in values]}}

    results = tmp_path / "results"
    _write(results, "a", "default", with_users(base))
    _write(results, "a", "mode_first_logit", with_users(base + rng.normal(0, 0.01, len(users))))
    alone = claim_p(results, "a", "mode_first_logit")
    seed = seed_path(result_path(results, "a", "default"), 2026)
    seed.parent.mkdir(parents=True, exist_ok=True)
    seed.write_text(json.dumps(with_users(base + 0.1)))
    assert claim_p(results, "a", "mode_first_logit") == alone > 0.05
    assert claim_p(results, "a", "no_ia") is None  # an ablation with no run: nothing to test


def test_a_mode_read_out_of_the_glta_seeds_alone_meets_those_seeds_not_the_main_run(tmp_path):
    """ML-1M's AR is read out of GLTA's seeds 2026 and 2027 (the main run's model is gone): it is tested against
    those two runs, whichever order the files come in, not against the main run that it never saw."""
    from glta.report import read_out_of

    def run(seed: int) -> dict:
        return {**_record(0.1 * seed), "provenance": {"seed": seed}}

    glta = [run(2025), run(2026), run(2027)]
    assert read_out_of("mode_autoregressive", glta, [run(2027), run(2026)]) == [glta[2], glta[1]]
    assert read_out_of("no_ia", glta, [run(2026)]) == glta  # an ablation meets every GLTA seed
    unseeded = [_record(0.1), _record(0.2)]  # no seed recorded: in order, the main run first
    assert read_out_of("mode_first_logit", unseeded, [_record(0.3)]) == unseeded[:1]


def test_figure4_names_the_glta_seeds_a_mode_was_read_out_of_where_they_are_not_the_glta_rows(tmp_path):
    from glta.report import FIGURE4, figure
    from glta.results import seed_path

    results = tmp_path / "results"

    def run(name: str, seed: int) -> None:
        path = result_path(results, "a", name)
        path = path if seed == 2025 else seed_path(path, seed)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({**_record(0.1), "provenance": {"seed": seed}}))

    for seed in (2025, 2026):
        run("default", seed)
        run("mode_first_logit", seed)  # read out of every GLTA seed: nothing to say
    assert "not every seed the GLTA row averages" not in figure(results, FIGURE4, ["a"])
    run("mode_autoregressive", 2026)
    assert "not every seed the GLTA row averages, and is tested against those GLTA runs alone: AR on a: seed 2026." \
        in figure(results, FIGURE4, ["a"])


def test_an_ablation_or_mode_made_from_an_earlier_glta_config_is_left_out_and_named(tmp_path):
    """After the GLTA config changed (ML-1M: k = 10 -> 20), FL read out of the old model is not GLTA's FL: its cell is
    a gap with a note saying why, while a mode read out of the current model is shown."""
    from glta.config import build_config

    def made(value, *overrides):
        config = build_config("glta", "synthetic", overrides=list(overrides)).to_dict()
        return {**_record(value), "provenance": {"config": config}}

    results = tmp_path / "results"
    glta = made(0.3, "model.supervised_slots=20")
    del glta["provenance"]["config"]["model"]["ua_trains_items"]  # made before the option: its default behaviour
    _write(results, "a", "glta", glta)
    _write(results, "a", "mode_first_logit", made(0.2, "model.supervised_slots=10", "model.inference=first_logit"))
    _write(results, "a", "mode_autoregressive", made(0.1, "model.supervised_slots=20", "model.inference=autoregressive",
                                                     "train.threads=2"))
    _write(results, "a", "no_pf", made(0.25, "model.supervised_slots=20", "model.use_profile=false"))
    write_report(results, tmp_path / "paper", ["a"])
    figure4 = (tmp_path / "paper" / "figure4.md").read_text()
    assert next(line for line in figure4.splitlines() if line.startswith("| FL |")).count("—") == 4
    assert next(line for line in figure4.splitlines() if line.startswith("| AR |")).count("0.1000") == 4
    assert "Left out (shown as —): made from an earlier GLTA config" in figure4 and "FL on a (" in figure4
    table3 = (tmp_path / "paper" / "table3.md").read_text()
    assert next(line for line in table3.splitlines() if line.startswith("| w/o PF |")).count("0.2500") == 4
    assert "Left out" not in table3
