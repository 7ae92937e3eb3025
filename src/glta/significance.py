"""Paired significance between two methods on the same split.

- Over users: the Wilcoxon signed-rank test on per-user test values (NDCG@10 by default) of two results files,
  matched by user (``per_user_test`` in each file, written by every training run and by ``glta evaluate --out``).
  With several seeds per method, each user's value is first averaged over the seeds (those whose results hold
  per-user values: runs made before they were recorded still count in the t-test over seeds).
- Over seeds: the paired t-test on the seeds' mean test values (each run against the other method's run of the same
  training seed, ``seed_pairs``).
  Where one side has a single run and the other two or more, a t-test of that run against the other side's seeds
  instead (``one_run_ttest``): with one seed, the test over users alone would count that seed's luck as the
  method's effect (ML-1M's w/o PF, one seed: 0.0048 behind GLTA's seed average, whose own seeds span 0.0085).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from glta.errors import GLTAError


@dataclass
class Paired:
    metric: str
    users: int
    mean_a: float
    mean_b: float
    wilcoxon_p: float | None
    seeds: int = 1
    ttest_p: float | None = None
    user_seeds: tuple[int, int] = (1, 1)  # seeds in each side's per-user average
    ttest_kind: str = "paired"  # or ``one_run_ttest``'s: "one seed" or "a fixed run" against the other's seeds

    @property
    def difference(self) -> float:
        return self.mean_a - self.mean_b


def per_user(record: dict, metric: str = "N@10") -> dict[int, float]:
    """User index -> value from a results record's ``per_user_test``."""
    block = record.get("per_user_test")
    if not block or block.get("metric") != metric:
        raise GLTAError(f"results of {record.get('method')} on {record.get('dataset')} hold no per-user {metric}; "
                        "rerun it, or write it with `glta evaluate --run-dir RUN --out FILE`")
    return dict(zip(block["users"], block["values"]))


def seed_average(records: list[dict], metric: str = "N@10") -> dict[int, float]:
    """Per-user values averaged over several seeds' records (users present in every record)."""
    tables = [per_user(r, metric) for r in records]
    users = set(tables[0]).intersection(*tables[1:])
    return {u: sum(t[u] for t in tables) / len(tables) for u in users}  # np.mean per user took seconds on ML-1M


def deterministic(records: list[dict]) -> bool:
    """Whether the records are of a method that trains without randomness (popularity, EASE, GF-CF): its one run
    stands for every seed."""
    from glta.methods import is_deterministic

    names = {record.get("method") for record in records}
    return bool(names) and all(is_deterministic(name) for name in names)


def one_run_ttest(one: float, seeds: list[float], fixed: bool) -> float:
    """Two-sided p that a single run's value ``one`` comes from the distribution of ``seeds`` (two or more runs of
    the other side). ``fixed`` (a method without randomness): the one-sample t-test of the seeds' mean against it.
    Else the run is one more draw with the seeds' spread (the one side's seed variance is taken as the other's,
    as one run cannot measure its own): t = (one - mean) / (s * sqrt(1 + 1/n)) with n - 1 degrees of freedom."""
    from scipy.stats import t as student, ttest_1samp

    n, spread = len(seeds), float(np.std(seeds, ddof=1))
    if spread == 0:  # the seeds agree exactly: no spread to measure the run against
        return 1.0 if one == seeds[0] else 0.0
    if fixed:
        return float(ttest_1samp(seeds, one).pvalue)
    statistic = (one - float(np.mean(seeds))) / (spread * np.sqrt(1 + 1 / n))
    return float(2 * student.sf(abs(statistic), n - 1))


def wilcoxon_p(x: np.ndarray, y: np.ndarray) -> float:
    """The Wilcoxon signed-rank test's p-value for paired per-user values ``x`` and ``y`` (1 where they are equal for
    every user: nothing differs)."""
    from scipy.stats import wilcoxon

    return float(wilcoxon(x, y).pvalue) if np.any(x != y) else 1.0


def _seed(record: dict) -> int | None:
    return (record.get("provenance") or {}).get("seed")


def seed_pairs(a: list[dict], b: list[dict]) -> list[tuple[dict, dict]]:
    """The runs of two methods paired for the t-test over seeds: by the training seed both record (a run of an
    ablation and the GLTA run of the same seed share their draws), in A's order, where each side records a distinct
    seed for every run and two or more are shared; else in order, the first of each side together (runs that
    record no seed), as many pairs as the shorter side has runs."""
    seeds_a, seeds_b = [_seed(r) for r in a], [_seed(r) for r in b]
    recorded = None not in seeds_a + seeds_b and len(set(seeds_a)) == len(a) and len(set(seeds_b)) == len(b)
    if recorded and len(set(seeds_a) & set(seeds_b)) >= 2:
        by_seed = dict(zip(seeds_b, b))
        return [(run, by_seed[seed]) for seed, run in zip(seeds_a, a) if seed in by_seed]
    return list(zip(a, b))


def compare(a: list[dict], b: list[dict], metric: str = "N@10", b_fixed: bool = False) -> Paired:
    """Method A (its seeds' results records) against method B on the users both evaluated. ``b_fixed``: B is one
    run that every seed of A started from (a GLTA cell's frozen backbone), so over seeds A's runs are tested against
    it as against a method without randomness."""
    from scipy.stats import ttest_rel

    with_users = [[r for r in side if r.get("per_user_test")] or side[:1] for side in (a, b)]
    left, right = (seed_average(side, metric) for side in with_users)
    users = sorted(set(left) & set(right))
    if not users:
        raise GLTAError("the two results share no evaluated user: were they made on the same split?")
    x = np.array([left[u] for u in users])
    y = np.array([right[u] for u in users])
    p_users = wilcoxon_p(x, y)
    pairs = seed_pairs(a, b)
    seeds = len(pairs)
    p_seeds, kind = None, "paired"
    if seeds >= 2:
        means_a = [left["metrics"]["test"][metric] for left, _ in pairs]
        means_b = [right["metrics"]["test"][metric] for _, right in pairs]
        p_seeds = float(ttest_rel(means_a, means_b).pvalue)
    elif max(len(a), len(b)) >= 2:  # one run against two or more seeds
        one, many = (a, b) if len(a) == 1 else (b, a)
        kind = "a fixed run" if deterministic(one) or (b_fixed and one is b) else "one seed"
        p_seeds = one_run_ttest(one[0]["metrics"]["test"][metric], [r["metrics"]["test"][metric] for r in many],
                                fixed=kind == "a fixed run")
    return Paired(metric, len(users), float(x.mean()), float(y.mean()), p_users, seeds, p_seeds,
                  (len(with_users[0]), len(with_users[1])), kind)
