"""Top-k metrics with binary relevance, as DESIGN.md defines them (the RecBole / LightGCN definitions).

All functions take ``hits``: a (users, k) 0/1 array, ``hits[u, r] = 1`` when the item ranked r-th (0-based)
for user u is relevant; and ``n_relevant``: each user's number of held-out items. They return one value
per user; the evaluator averages over users with at least one held-out item.
"""

from __future__ import annotations

import numpy as np


def precision_at_k(hits: np.ndarray, k: int) -> np.ndarray:
    return hits[:, :k].sum(1) / k


def recall_at_k(hits: np.ndarray, n_relevant: np.ndarray, k: int) -> np.ndarray:
    return hits[:, :k].sum(1) / np.maximum(n_relevant, 1)


def ndcg_at_k(hits: np.ndarray, n_relevant: np.ndarray, k: int) -> np.ndarray:
    """DCG with gain 1/log2(rank+2); IDCG puts min(k, |relevant|) hits at the top."""
    discounts = 1.0 / np.log2(np.arange(2, k + 2))
    dcg = (hits[:, :k] * discounts).sum(1)
    ideal_counts = np.minimum(n_relevant, k)
    cumulative = np.concatenate([[0.0], np.cumsum(discounts)])
    idcg = cumulative[ideal_counts]
    return np.divide(dcg, idcg, out=np.zeros_like(dcg), where=idcg > 0)


def hit_at_k(hits: np.ndarray, k: int) -> np.ndarray:
    return (hits[:, :k].sum(1) > 0).astype(np.float64)


def mrr_at_k(hits: np.ndarray, k: int) -> np.ndarray:
    """Reciprocal rank of the first relevant item within the top k (0 when none)."""
    top = hits[:, :k]
    first = top.argmax(1)
    found = top.max(1) > 0
    return np.where(found, 1.0 / (first + 1), 0.0)


METRICS = ("P", "R", "N", "Hit", "MRR")


def all_metrics(hits: np.ndarray, n_relevant: np.ndarray, ks: list[int]) -> dict[str, np.ndarray]:
    """Per-user values of every metric at every k: keys like ``"P@5"``, ``"N@10"``, ``"MRR@20"``."""
    out = {}
    for k in ks:
        out[f"P@{k}"] = precision_at_k(hits, k)
        out[f"R@{k}"] = recall_at_k(hits, n_relevant, k)
        out[f"N@{k}"] = ndcg_at_k(hits, n_relevant, k)
        out[f"Hit@{k}"] = hit_at_k(hits, k)
        out[f"MRR@{k}"] = mrr_at_k(hits, k)
    return out
