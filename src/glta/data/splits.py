"""Per-user train/valid/test splits (DESIGN.md, "Evaluation protocol"), vectorised over all interactions."""

from __future__ import annotations

import numpy as np

from glta.config import DataConfig
from glta.data.dataset import Interactions
from glta.errors import ConfigError

SPLITS = ("given", "random", "leave-last", "temporal")
TRAIN, VALID, TEST = 0, 1, 2


def _rank_from_end(users: np.ndarray, key: np.ndarray, n_users: int) -> tuple[np.ndarray, np.ndarray]:
    """For each interaction, how many of the same user's interactions sort after it by ``key``."""
    order = np.lexsort((key, users))
    counts = np.bincount(users, minlength=n_users)
    starts = np.cumsum(counts) - counts
    rank = np.empty(len(users), dtype=np.int64)
    rank[order] = np.arange(len(users)) - starts[users[order]]
    return counts[users] - 1 - rank, counts


def _assign(users, key, n_users, valid_share, test_share, min_count, fixed: bool) -> np.ndarray:
    """Label each interaction TRAIN/VALID/TEST: the last ``test`` by ``key`` go to test, the ones before to valid."""
    from_end, counts = _rank_from_end(users, key, n_users)
    eligible = counts >= min_count
    if fixed:  # leave-last-out: one test and one valid item per eligible user
        n_test = eligible.astype(np.int64)
        n_valid = eligible.astype(np.int64)
    else:
        n_test = np.where(eligible, np.maximum(1, np.floor(counts * test_share + 0.5)), 0).astype(np.int64)
        n_valid = np.where(eligible & (valid_share > 0), np.maximum(1, np.floor(counts * valid_share + 0.5)), 0)
        n_valid = n_valid.astype(np.int64)
        if test_share == 0:
            n_test[:] = 0
    labels = np.full(len(users), TRAIN, dtype=np.int8)
    nt, nv = n_test[users], n_valid[users]
    labels[from_end < nt] = TEST
    labels[(from_end >= nt) & (from_end < nt + nv)] = VALID
    return labels


def split_interactions(data: Interactions, config: DataConfig, default: str) -> tuple[str, np.ndarray]:
    """Return the split used and a TRAIN/VALID/TEST label per interaction."""
    method = default if config.split == "default" else config.split
    if method == "auto":  # a data set read from a path: the split its files ship, else a random one
        method = "given" if data.given_split is not None else "random"
    if method not in SPLITS:
        raise ConfigError(f"data.split '{config.split}' is unknown; choose one of default, {', '.join(SPLITS)}")
    rng = np.random.default_rng(config.seed)
    users = data.users.astype(np.int64)
    if method == "given":
        if data.given_split is None:
            raise ConfigError("data.split=given, but this data set ships no split; use random, temporal or leave-last")
        labels = data.given_split.astype(np.int8).copy()
        if not (labels == VALID).any():  # carve validation out of the train part, per user and seeded
            train_mask = labels == TRAIN
            carved = _assign(users[train_mask], rng.random(int(train_mask.sum())), data.n_users,
                             config.valid_ratio, 0.0, config.min_user_interactions, fixed=False)
            sub = labels[train_mask]
            sub[carved == VALID] = VALID
            labels[train_mask] = sub
        return method, labels
    if method == "random":
        key = rng.random(len(users))
        return method, _assign(users, key, data.n_users, config.valid_ratio, config.test_ratio,
                               config.min_user_interactions, fixed=False)
    if data.order is None:
        raise ConfigError(f"data.split={method} needs interaction order (timestamps or positions), "
                          "which this data set lacks; use data.split=random")
    key = data.order.astype(np.float64) + rng.random(len(users)) * 1e-3  # random tie-break among equal times
    return method, _assign(users, key, data.n_users, config.valid_ratio, config.test_ratio,
                           config.min_user_interactions, fixed=(method == "leave-last"))
