"""Methods trained on one data set, side by side (``glta compare``): each results file's test metrics, averaged over
its training seeds, and each method tested against the one best on validation.

A cell is a main results file (``results/<data>/<method>.json``, or any file given) plus its extra seeds beside it
(``seeds/<stem>-<seed>.json``, as ``experiments/seeds.py`` writes them). The reference is the cell with the highest
mean validation NDCG@10, so the test split plays no part in choosing it; every other cell is compared with it on the
test split by ``glta.significance.compare``: a paired Wilcoxon signed-rank test over users on per-user test NDCG@10
(the per-user values every results file keeps) and, where both cells have two or more seeds, a paired t-test over
seeds (one run against two or more seeds, e.g. EASE's, which needs none: a t-test of that run against their
spread, ``glta.significance.one_run_ttest``). Results made on different splits (their data fingerprints differ) are
refused: their users do not pair.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from glta.errors import GLTAError
from glta.results import read_results, seed_files, train_seconds
from glta.significance import Paired, compare

PAIRED_METRIC = "N@10"  # what results files keep per user (``per_user_test``), and what the reference is chosen by


@dataclass
class Cell:
    """One method's results on the data set: its main results file first, then its extra seeds."""

    name: str
    paths: list[Path]
    records: list[dict] = field(default_factory=list)

    def values(self, metric: str, split: str = "test") -> list[float]:
        return [r["metrics"].get(split, {}).get(metric, float("nan")) for r in self.records]

    def mean(self, metric: str, split: str = "test") -> float:
        return float(np.mean(self.values(metric, split)))

    def std(self, metric: str, split: str = "test") -> float | None:
        values = self.values(metric, split)
        return float(np.std(values, ddof=1)) if len(values) > 1 else None

    @property
    def train_seconds(self) -> float:
        """Mean training wall time over the seeds, every stage counted (``glta.results.train_seconds``)."""
        return float(np.mean([train_seconds(r) if r.get("training") else float("nan") for r in self.records]))

    @property
    def has_per_user(self) -> bool:
        return any((r.get("per_user_test") or {}).get("metric") == PAIRED_METRIC for r in self.records)


@dataclass
class Row:
    cell: Cell
    paired: Paired | None  # None for the reference and for a cell without per-user values
    reference: bool = False


def results_files(folder: Path) -> list[Path]:
    """The main results files of a data set's folder (``results/<data>/*.json``; grids, seeds and variants, which live
    in sub-folders, are not rows of their own)."""
    if not folder.is_dir():
        raise GLTAError(f"{folder} does not exist: train a method first (`glta train METHOD ...` writes its results "
                        "there), or name results files")
    files = sorted(folder.glob("*.json"))
    if not files:
        raise GLTAError(f"{folder} holds no results file: train a method first (`glta train METHOD ...`)")
    return files


def cells(files: list[Path]) -> list[Cell]:
    """Each file as a cell with the seeds beside it (``seeds/<stem>-<seed>.json``)."""
    found = []
    for path in files:
        path = Path(path)
        paths = [path] + seed_files(path)
        records = []
        for each in paths:
            record = read_results(each)
            if "metrics" not in record or "test" not in record.get("metrics", {}):
                raise GLTAError(f"{each} is not a results file of `glta train` (no metrics.test)")
            records.append(record)
        found.append(Cell(path.stem, paths, records))
    names = [c.name for c in found]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise GLTAError(f"two results files are both called {twice[0]}.json: compare one data set's files at a time")
    return found


def _same_split(found: list[Cell]) -> None:
    prints = {}
    for c in found:
        for path, record in zip(c.paths, c.records):
            prints.setdefault(record.get("provenance", {}).get("data_fingerprint"), path)
    if len(prints) > 1:
        (a, first), (b, second) = list(prints.items())[:2]
        raise GLTAError(f"{first} and {second} were made on different data splits (fingerprints {a} and {b}): their "
                        "users do not pair; compare the results of one data set and split")


def comparison(found: list[Cell]) -> list[Row]:
    """The rows, best test NDCG@10 first; the reference is the cell best on validation NDCG@10."""
    if not found:
        raise GLTAError("nothing to compare: no results files")
    _same_split(found)
    reference = max(found, key=lambda c: c.mean(PAIRED_METRIC, "valid"))
    rows = []
    for c in found:
        if c is reference:
            rows.append(Row(c, None, reference=True))
        elif c.has_per_user and reference.has_per_user:
            rows.append(Row(c, compare(c.records, reference.records, PAIRED_METRIC)))
        else:
            rows.append(Row(c, None))
    return sorted(rows, key=lambda r: -r.cell.mean(PAIRED_METRIC))


def _p(value: float | None) -> str:
    if value is None:
        return "—"
    return "<1e-300" if value == 0 else f"{value:.2g}"


def _metric(value: float) -> str:
    """A table cell: a metric a results file does not hold (trained with other eval.ks) reads '—', not nan."""
    return "—" if np.isnan(value) else f"{value:.4f}"


def format_rows(rows: list[Row], metrics=("P@5", "P@10", "N@5", "N@10", "R@20", "N@20"),
                significant: float = 0.05) -> str:
    reference = next(r.cell for r in rows if r.reference)
    # a cut-off no row was evaluated at (every run trained with eval.ks=[5,10], as a small catalogue needs) is no
    # column; one that some rows lack reads '—' in theirs
    metrics = [m for m in metrics if any(not np.isnan(r.cell.mean(m)) for r in rows)]
    header = (f"{'method':<16}{'seeds':>6}" + "".join(f"{m:>9}" for m in metrics) + f"{'±N@10':>8}{'valid N@10':>12}"
              + f"{'train s':>10}{'ΔN@10':>10}{'p users':>10}{'p seeds':>9}")
    lines = [f"reference: {reference.name}, the best on validation N@10; ΔN@10 and the paired tests are against it, "
             "on test", header, "-" * len(header)]
    missing = False
    for row in rows:
        c = row.cell
        std = c.std(PAIRED_METRIC)
        line = (f"{c.name:<16}{len(c.records):>6}" + "".join(f"{_metric(c.mean(m)):>9}" for m in metrics)
                + f"{'' if std is None else f'{std:.4f}':>8}{c.mean(PAIRED_METRIC, 'valid'):>12.4f}"
                + f"{c.train_seconds:>10.1f}")
        if row.reference:
            line += f"{'—':>10}{'—':>10}{'—':>9}"
        elif row.paired is None:
            line += f"{c.mean(PAIRED_METRIC) - reference.mean(PAIRED_METRIC):>+10.4f}{'n/a':>10}{'n/a':>9}"
            missing = True
        else:
            p = row.paired
            mark = "*" if p.wilcoxon_p is not None and p.wilcoxon_p < significant else ""
            line += f"{p.difference:>+10.4f}{_p(p.wilcoxon_p) + mark:>10}{_p(p.ttest_p):>9}"
        lines.append(line)
    if any(r.paired is not None for r in rows):
        lines.append(f"p users: paired Wilcoxon signed-rank test over the {rows_users(rows)} users both evaluated "
                     f"(per-user test N@10, averaged over seeds; * p < {significant}); p seeds: paired t-test over "
                     "seeds, where both sides have two or more; one run against two or more seeds: a t-test of that "
                     "run against their spread (a method without randomness against their mean)")
    lines.append("train s: training wall time, mean over the seeds, every stage counted (GLTA's IA and prefix "
                 "store too)")
    if missing:
        lines.append("n/a: a results file without per-user values (made before they were recorded): train it again, "
                     "or write them with `glta evaluate --run-dir RUN --out FILE`")
    return "\n".join(lines)


def rows_users(rows: list[Row]) -> str:
    return "/".join(f"{n:,}" for n in sorted({r.paired.users for r in rows if r.paired is not None}))


def _finite(value: float | None) -> float | None:
    """JSON has no NaN: a value a results file does not hold (a metric of other cut-offs, a time) is null."""
    return None if value is None or np.isnan(value) else value


def as_json(rows: list[Row]) -> str:
    return json.dumps([{"name": r.cell.name, "files": [str(p) for p in r.cell.paths], "seeds": len(r.cell.records),
                        "test": {m: _finite(r.cell.mean(m)) for m in r.cell.records[0]["metrics"]["test"]},
                        "test_std": {PAIRED_METRIC: _finite(r.cell.std(PAIRED_METRIC))},
                        "valid": {PAIRED_METRIC: _finite(r.cell.mean(PAIRED_METRIC, "valid"))},
                        "train_seconds": _finite(r.cell.train_seconds), "reference": r.reference,
                        "paired": None if r.paired is None else {
                            "metric": r.paired.metric, "users": r.paired.users, "difference": r.paired.difference,
                            "wilcoxon_p": _finite(r.paired.wilcoxon_p), "seeds": r.paired.seeds,
                            "ttest_p": _finite(r.paired.ttest_p)}}
                       for r in rows], indent=2, allow_nan=False)
