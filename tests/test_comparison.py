"""`glta compare`: a data set's results side by side, each against the method best on validation."""

import json

import numpy as np
import pytest
from scipy.stats import ttest_rel, wilcoxon

from glta.cli import main
from glta.comparison import cells, comparison, results_files
from glta.errors import GLTAError

METRICS = ("P@5", "P@10", "N@5", "N@10", "R@20", "N@20")


def _write(path, method, valid, per_user, fingerprint="abc", with_users=True):
    per_user = np.asarray(per_user, dtype=float)
    record = {"method": method, "dataset": "shop",
              "metrics": {"valid": {"N@10": valid}, "test": {m: float(per_user.mean()) for m in METRICS}},
              "training": {"train_seconds": 1.5},
              "provenance": {"data_fingerprint": fingerprint}}
    if with_users:
        record["per_user_test"] = {"metric": "N@10", "users": list(range(len(per_user))),
                                   "values": per_user.tolist()}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(record))


def test_the_reference_is_chosen_on_validation_and_the_tests_are_scipys(tmp_path):
    rng = np.random.default_rng(0)
    folder = tmp_path / "results" / "shop"
    a = [rng.random(50) for _ in range(3)]  # three seeds
    b = [a[0] * 0.8 + 0.05 * rng.random(50), a[1] * 0.8, a[2] * 0.7]  # worse on test ...
    _write(folder / "alpha.json", "lightgcn", 0.20, a[0])
    _write(folder / "seeds" / "alpha-2026.json", "lightgcn", 0.21, a[1])
    _write(folder / "seeds" / "alpha-2027.json", "lightgcn", 0.19, a[2])
    _write(folder / "beta.json", "ease", 0.30, b[0])  # ... but best on validation: the reference
    _write(folder / "seeds" / "beta-2026.json", "ease", 0.30, b[1])
    _write(folder / "seeds" / "beta-2027.json", "ease", 0.30, b[2])
    _write(folder / "gamma.json", "pop", 0.10, rng.random(50), with_users=False)
    rows = comparison(cells(results_files(folder)))
    assert [r.cell.name for r in rows][0] == "alpha"  # ordered by test N@10
    [reference] = [r for r in rows if r.reference]
    assert reference.cell.name == "beta" and len(reference.cell.records) == 3
    [alpha] = [r for r in rows if r.cell.name == "alpha"]
    x, y = np.mean(a, axis=0), np.mean(b, axis=0)
    assert alpha.paired.wilcoxon_p == pytest.approx(wilcoxon(x, y).pvalue)
    assert alpha.paired.ttest_p == pytest.approx(ttest_rel([s.mean() for s in a], [s.mean() for s in b]).pvalue)
    assert alpha.paired.difference == pytest.approx(x.mean() - y.mean())
    [gamma] = [r for r in rows if r.cell.name == "gamma"]
    assert gamma.paired is None and not gamma.reference  # no per-user values: no test, said in the table


def test_compare_from_the_command_line(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    rng = np.random.default_rng(1)
    _write(tmp_path / "results" / "shop" / "one.json", "lightgcn", 0.2, rng.random(30))
    _write(tmp_path / "results" / "shop" / "two.json", "ease", 0.3, rng.random(30))
    _write(tmp_path / "results" / "shop" / "grid" / "ease" / "l2=1.json", "ease", 0.9, rng.random(30))
    assert main(["compare", "--data-path", str(tmp_path / "data" / "shop")]) == 0  # named after the trained path
    out = capsys.readouterr().out
    assert out.startswith("reference: two, the best on validation N@10") and "l2=1" not in out  # grids are no rows
    assert main(["compare", "--dataset", "shop", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["name"] for r in rows if r["reference"]] == ["two"] and len(rows) == 2
    assert main(["compare", "--dataset", "nothing-here"]) == 2
    assert "train a method first" in capsys.readouterr().err
    record = json.loads((tmp_path / "results" / "shop" / "one.json").read_text())
    del record["metrics"]["test"]["R@20"]  # trained with other cut-offs (eval.ks=[5,10]): its cell reads '—'
    (tmp_path / "results" / "shop" / "one.json").write_text(json.dumps(record))
    assert main(["compare", "--dataset", "shop"]) == 0
    [one] = [line for line in capsys.readouterr().out.splitlines() if line.startswith("one ")]
    assert "—" in one and "nan" not in one
    record = json.loads((tmp_path / "results" / "shop" / "two.json").read_text())
    del record["metrics"]["test"]["R@20"]  # no row has R@20 now: no column for it
    (tmp_path / "results" / "shop" / "two.json").write_text(json.dumps(record))
    assert main(["compare", "--dataset", "shop"]) == 0
    out = capsys.readouterr().out
    header = out.splitlines()[1].split()
    assert "R@20" not in header and "N@20" in header
    record["metrics"]["test"]["R@20"] = 0.3
    (tmp_path / "results" / "shop" / "two.json").write_text(json.dumps(record))
    seed = tmp_path / "results" / "shop" / "seeds" / "one-2026.json"
    _write(seed, "lightgcn", 0.2, rng.random(30))
    record = json.loads(seed.read_text())
    del record["metrics"]["test"]["R@20"]
    seed.write_text(json.dumps(record))
    record = json.loads((tmp_path / "results" / "shop" / "one.json").read_text())
    record["metrics"]["test"]["R@20"] = 0.5  # the main run has it, its seed not: no mean of the two
    (tmp_path / "results" / "shop" / "one.json").write_text(json.dumps(record))
    assert main(["compare", "--dataset", "shop", "--json"]) == 0  # strict JSON: that mean is null, not NaN
    [one] = [r for r in json.loads(capsys.readouterr().out, parse_constant=pytest.fail) if r["name"] == "one"]
    assert one["seeds"] == 2 and "R@20" in one["test"] and one["test"]["R@20"] is None


def test_results_of_different_splits_are_refused(tmp_path):
    _write(tmp_path / "a.json", "lightgcn", 0.2, [0.1, 0.2, 0.3], fingerprint="one")
    _write(tmp_path / "b.json", "ease", 0.3, [0.2, 0.2, 0.3], fingerprint="two")
    with pytest.raises(GLTAError, match="different data splits"):
        comparison(cells([tmp_path / "a.json", tmp_path / "b.json"]))
    (tmp_path / "c.json").write_text(json.dumps({"method": "x"}))
    with pytest.raises(GLTAError, match="not a results file"):
        cells([tmp_path / "c.json"])


def test_a_missing_or_broken_file_is_one_line(tmp_path, capsys):
    (tmp_path / "bad.json").write_text("{not json")
    for name, says in (("none.json", "no such results file"), ("bad.json", "not valid JSON")):
        assert main(["compare", str(tmp_path / name)]) == 2
        err = capsys.readouterr().err
        assert says in err and len(err.strip().splitlines()) == 1


def test_compare_reads_results_without_loading_torch(tmp_path):
    """Comparing results files is JSON and NumPy work: importing torch would cost seconds of every `glta compare`."""
    import subprocess
    import sys

    _write(tmp_path / "one.json", "lightgcn", 0.2, [0.1, 0.2, 0.3])
    _write(tmp_path / "two.json", "ease", 0.3, [0.2, 0.2, 0.4])
    probe = (f"import sys; from glta.cli import main; assert main(['compare', {str(tmp_path / 'one.json')!r}, "
             f"{str(tmp_path / 'two.json')!r}]) == 0; print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    assert out.strip().endswith("False")


def test_the_training_time_counts_every_stage_as_table_2_does(tmp_path):
    """GLTA's results record its IA and prefix-store stages beside the fit loop: `glta compare` counts them, as
    Table 2 and `--plan` do, so the three agree on what a run cost."""
    from glta.report import train_seconds as report_seconds

    folder = tmp_path / "results" / "shop"
    _write(folder / "glta.json", "glta", 0.2, np.linspace(0, 1, 20))
    record = json.loads((folder / "glta.json").read_text())
    record["training"] = {"train_seconds": 100.0, "ia_seconds": 40.0, "prefix_seconds": 5.0, "ia_final_loss": 8.6}
    (folder / "glta.json").write_text(json.dumps(record))
    [cell] = cells(results_files(folder))
    assert cell.train_seconds == pytest.approx(145.0) == report_seconds(record)
