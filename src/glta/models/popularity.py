"""Most-popular ranking: every user gets items ordered by training interaction count.

Not a paper baseline; it is the floor every learned method must clear (tests check they do).
"""

from __future__ import annotations

import numpy as np
import torch

from glta.config import PopularityConfig
from glta.data.dataset import RecDataset
from glta.recommender import Recommender


class Popularity(Recommender):
    method = "pop"
    config_class = PopularityConfig
    display_name = "Popularity"
    deterministic = True

    def __init__(self, dataset: RecDataset, config=None):
        super().__init__(dataset, config)
        counts = np.asarray(dataset.train.sum(0)).ravel().astype(np.float32)
        self.register_buffer("counts", torch.from_numpy(counts))

    def train_batches(self, rng, batch_size):
        return iter(())  # nothing to learn

    def loss(self, batch):
        raise RuntimeError("popularity has no loss")

    def score(self, users: torch.Tensor) -> torch.Tensor:
        return self.counts.expand(len(users), -1).clone()

    def score_new_users(self, histories) -> torch.Tensor:
        return self.counts.expand(len(histories), -1).clone()
