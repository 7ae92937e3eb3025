"""Paired significance between two methods on the same split.

- Over users: the Wilcoxon signed-rank test on per-user test values (NDCG@10 by default) of two results files,
  matched by user (``per_user_test`` in each file, written by every training run and by ``glta evaluate --out``).
  With several seeds per method, each user's value is first averaged over the seeds (those whose results hold
  per-user values: runs made before they were recorded still count in the t-test over seeds).
- Over seeds: the paired t-test on the seeds' mean test values (seed i of one method against seed i of the other).
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


def compare(a: list[dict], b: list[dict], metric: str = "N@10") -> Paired:
    """Method A (its seeds' results records) against method B on the users both evaluated."""
    from scipy.stats import ttest_rel, wilcoxon

    with_users = [[r for r in side if r.get("per_user_test")] or side[:1] for side in (a, b)]
    left, right = (seed_average(side, metric) for side in with_users)
    users = sorted(set(left) & set(right))
    if not users:
        raise GLTAError("the two results share no evaluated user: were they made on the same split?")
    x = np.array([left[u] for u in users])
    y = np.array([right[u] for u in users])
    p_users = float(wilcoxon(x, y).pvalue) if np.any(x != y) else 1.0
    seeds = min(len(a), len(b))
    p_seeds = None
    if seeds >= 2:
        means_a = [r["metrics"]["test"][metric] for r in a[:seeds]]
        means_b = [r["metrics"]["test"][metric] for r in b[:seeds]]
        p_seeds = float(ttest_rel(means_a, means_b).pvalue)
    return Paired(metric, len(users), float(x.mean()), float(y.mean()), p_users, seeds, p_seeds,
                  (len(with_users[0]), len(with_users[1])))
