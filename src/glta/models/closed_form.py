"""Two training-free references (beyond the paper): how far a model fitted in seconds gets on the same split.

- **EASE** (Steck, WWW 2019): an item-item weight matrix B with a zero diagonal, the closed-form minimiser of
  ||X - XB||^2 + l2 ||B||^2: with P = (X^T X + l2 I)^-1, B = I - P diag(1 / diag(P)), diag(B) = 0. Score: x_u B.
- **GF-CF** (Shen et al., CIKM 2021, "How powerful is graph convolution for recommendation?"): a linear filter on the
  normalised item-item graph, R~ = D_u^-1/2 R D_i^-1/2, plus an ideal low-pass part from its top singular vectors:
  score = r_u (R~^T R~) + alpha * (r_u D_i^-1/2) V_k V_k^T D_i^1/2.

Both are fitted when the model is built (nothing to learn step by step: the fit loop runs no epoch) and rebuilt the
same way when a run is reloaded, so the saved model holds no |I| x |I| matrix. One setting each is chosen on
validation (``glta tune``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
import torch

from glta.data.dataset import RecDataset
from glta.recommender import Recommender


@dataclass
class EASEConfig:
    l2: float = 500.0  # the L2 weight on B (Steck's default range: hundreds to thousands)
    TRAIN_DEFAULTS = {"epochs": 1}  # nothing to iterate: one validation pass


@dataclass
class GFCFConfig:
    ideal_weight: float = 0.3  # alpha: the weight of the ideal low-pass part (the paper's ML-1M / Amazon setting)
    ideal_rank: int = 256  # k: singular vectors kept for the ideal low-pass part (0: the linear filter only)
    TRAIN_DEFAULTS = {"epochs": 1}


class _ClosedForm(Recommender):
    """A recommender whose fit happens at construction; ``score`` reads the user's training row."""

    deterministic = True  # a closed form of the training matrix (GF-CF's truncated SVD starts from a fixed state)

    def __init__(self, dataset: RecDataset, config):
        import time

        super().__init__(dataset, config)
        self.train_matrix = dataset.train.astype(np.float32).tocsr()
        started = time.time()
        self.fit()
        self.fit_seconds = time.time() - started

    def fit(self) -> None:
        """Compute the closed form (when the model is built, and again when a saved run is reloaded)."""
        raise NotImplementedError

    def prepare_training(self, train, progress: bool = True, log=print) -> dict:
        return {"fit_seconds": round(self.fit_seconds, 2)}  # counted in the training time of the tables

    def train_batches(self, rng, batch_size):
        return iter(())  # fitted in closed form when built

    def loss(self, batch):
        raise RuntimeError(f"{self.method} is fitted in closed form and has no loss")

    def score_new_users(self, histories: list[np.ndarray]) -> torch.Tensor:
        """Exact for a closed form: a new user's row of the interaction matrix goes through the same filter."""
        items = [np.unique(np.asarray(h, dtype=np.int64)) for h in histories]
        indptr = np.concatenate([[0], np.cumsum([len(i) for i in items])])
        rows = sp.csr_matrix((np.ones(indptr[-1], dtype=np.float32), np.concatenate(items), indptr),
                             shape=(len(items), self.n_items))
        return self._score_rows(rows)

    def _rows(self, users: torch.Tensor) -> sp.csr_matrix:
        """The users' training rows, kept sparse: a row times an items x items matrix costs its non-zeros."""
        return self.train_matrix[np.asarray(users.cpu() if isinstance(users, torch.Tensor) else users)]


class EASE(_ClosedForm):
    method = "ease"
    config_class = EASEConfig
    display_name = "EASE"

    def fit(self) -> None:
        config = self.config
        gram = (self.train_matrix.T @ self.train_matrix).toarray().astype(np.float64)
        gram[np.diag_indices_from(gram)] += config.l2
        inverse = np.linalg.inv(gram)
        weights = inverse / -np.diag(inverse)
        weights[np.diag_indices_from(weights)] = 0.0
        self.register_buffer("weights", torch.from_numpy(weights.astype(np.float32)), persistent=False)

    def score(self, users: torch.Tensor) -> torch.Tensor:
        return self._score_rows(self._rows(users))

    def _score_rows(self, rows: sp.csr_matrix) -> torch.Tensor:
        return torch.from_numpy(np.asarray(rows @ self.weights.numpy()))


class GFCF(_ClosedForm):
    method = "gfcf"
    config_class = GFCFConfig
    display_name = "GF-CF"

    def fit(self) -> None:
        config = self.config
        matrix = self.train_matrix
        user_degree = np.asarray(matrix.sum(1)).ravel()
        item_degree = np.asarray(matrix.sum(0)).ravel()
        inv_sqrt = lambda d: np.where(d > 0, 1.0 / np.sqrt(np.maximum(d, 1e-12)), 0.0)  # noqa: E731
        normalised = sp.diags(inv_sqrt(user_degree)) @ matrix @ sp.diags(inv_sqrt(item_degree))
        linear = (normalised.T @ normalised).toarray().astype(np.float32)
        self.register_buffer("linear", torch.from_numpy(linear), persistent=False)
        self.item_inv_sqrt = torch.from_numpy(inv_sqrt(item_degree).astype(np.float32))
        self.item_sqrt = torch.from_numpy(np.sqrt(item_degree).astype(np.float32))
        self.vectors = None
        rank = min(config.ideal_rank, min(matrix.shape) - 1)
        if config.ideal_weight and rank > 0:
            from scipy.sparse.linalg import svds

            _, _, vt = svds(normalised.astype(np.float64), k=rank, random_state=0)
            self.vectors = torch.from_numpy(vt.T.astype(np.float32))  # items x k

    def score(self, users: torch.Tensor) -> torch.Tensor:
        return self._score_rows(self._rows(users))

    def _score_rows(self, rows: sp.csr_matrix) -> torch.Tensor:
        scores = torch.from_numpy(np.asarray(rows @ self.linear.numpy()))
        if self.vectors is not None:
            scaled = rows @ sp.diags(self.item_inv_sqrt.numpy())
            ideal = torch.from_numpy(np.asarray(scaled @ self.vectors.numpy())) @ self.vectors.T * self.item_sqrt
            scores = scores + self.config.ideal_weight * ideal
        return scores
