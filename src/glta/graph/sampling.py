"""Vectorised BPR triples: every training pair once per epoch, with a uniformly drawn unseen item."""

from __future__ import annotations

from typing import Iterator

import numpy as np
import scipy.sparse as sp
import torch


class BPRSampler:
    def __init__(self, train: sp.csr_matrix):
        coo = train.tocoo()
        self.users = coo.row.astype(np.int64)
        self.items = coo.col.astype(np.int64)
        self.n_items = train.shape[1]
        self.keys = np.sort(self.users * self.n_items + self.items)  # membership test by binary search

    def is_positive(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        keys = users * self.n_items + items
        position = np.minimum(np.searchsorted(self.keys, keys), len(self.keys) - 1)
        return self.keys[position] == keys

    def negatives(self, users: np.ndarray, rng: np.random.Generator, max_rounds: int = 20) -> np.ndarray:
        negatives = rng.integers(0, self.n_items, len(users))
        for _ in range(max_rounds):  # redraw only the collisions; a handful of rounds clears them
            clash = np.flatnonzero(self.is_positive(users, negatives))
            if len(clash) == 0:
                break
            negatives[clash] = rng.integers(0, self.n_items, len(clash))
        return negatives

    def epoch(self, rng: np.random.Generator, batch_size: int) -> Iterator[tuple[torch.Tensor, ...]]:
        order = rng.permutation(len(self.users))
        for start in range(0, len(order), batch_size):
            chosen = order[start:start + batch_size]
            users, positives = self.users[chosen], self.items[chosen]
            negatives = self.negatives(users, rng)
            yield torch.from_numpy(users), torch.from_numpy(positives), torch.from_numpy(negatives)

    def __len__(self) -> int:
        return len(self.users)
