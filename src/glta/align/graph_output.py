"""GLTA+ (beyond the paper): three ways for the frozen LightGCN embeddings to reach GLTA's *output* side.

The paper's GLLM head is a free |I| x h matrix: each row learns only on the steps where its item is a target, and
LightGCN's item embeddings enter only as prompt tokens. Each part below is behind its own ``GLTAConfig`` switch and
adds nothing to the paper's GLTA when off:

- ``graph_head``: logits gain ``(h M) . E_i``, a learned map M (h x d, rank d) from the LLM's hidden state onto the
  frozen item embeddings E_i. Every step moves every item's logit, through the d x h entries of M.
- ``graph_residual``: logits gain ``alpha * <E_u, E_i>``, LightGCN's own score for the user, with a learned scale
  alpha started where LightGCN's scores best explain the training items (``residual_scale_init``). The LLM part
  then learns what the graph score misses, instead of relearning it.
- ``fusion``: at inference, items are ranked by ``(1 - lam) z(GLTA) + lam z(LightGCN)`` (z: per-user standardised
  scores; GLTA: the mean log-softmax over the supervised output slots), with lam chosen on validation from
  ``fusion_grid`` at every evaluation. lam = 1 is LightGCN itself, so the chosen point can only match or beat
  it on validation.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
import torch
from torch import nn


class GraphHead(nn.Module):
    """Z_graph = c (H M) E_i^T with M (hidden x d) starting at zero: the untrained part adds nothing.

    c = 1 / sqrt(hidden x d) keeps Adam's steps on M small in logit units: every entry of M moves by about the
    learning rate per step, and a logit sums hidden x d such moves weighted by |h| (~1 per entry, norm ~47 for
    SmolLM2's last hidden states) and |E_i| entries; unscaled, one step at lr 3e-3 moved logits by tens."""

    def __init__(self, hidden_size: int, node_dim: int):
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(hidden_size, node_dim))
        self.scale = (hidden_size * node_dim) ** -0.5

    def forward(self, hidden: torch.Tensor, item_nodes: torch.Tensor) -> torch.Tensor:
        return self.scale * (hidden @ self.weight) @ item_nodes.T


@torch.no_grad()
def residual_scale_init(user_nodes: torch.Tensor, item_nodes: torch.Tensor, train: sp.csr_matrix,
                        bias: torch.Tensor, max_users: int = 2000, seed: int = 0) -> float:
    """The alpha in ``alpha * <E_u, E_i> + bias`` whose softmax gives the users' training items the lowest mean
    cross-entropy (a grid over 0 and powers of two from 1/16 to 16, on a seeded sample of users). This is the
    UA loss at the start of training when the LLM's part is still zero."""
    users = np.flatnonzero(np.diff(train.indptr) > 0)
    if len(users) > max_users:
        users = np.sort(np.random.default_rng(seed).choice(users, max_users, replace=False))
    scores = user_nodes[torch.from_numpy(users)] @ item_nodes.T
    block = train[users].tocoo()
    rows, cols = torch.from_numpy(block.row.astype(np.int64)), torch.from_numpy(block.col.astype(np.int64))
    best, best_loss = 0.0, float("inf")
    for alpha in [0.0] + [2.0 ** p for p in range(-4, 5)]:
        logits = alpha * scores + bias
        loss = (torch.logsumexp(logits, 1)[rows] - logits[rows, cols]).mean().item()
        if loss < best_loss:
            best, best_loss = alpha, loss
    return best


def standardise(scores: torch.Tensor) -> torch.Tensor:
    """Per-row z-scores (mean 0, std 1 over the items), so two models' scores can be mixed."""
    scores = scores.float()
    return (scores - scores.mean(1, keepdim=True)) / scores.std(1, keepdim=True).clamp_min(1e-6)


def fuse(glta: torch.Tensor, graph: torch.Tensor, weight: float) -> torch.Tensor:
    return (1.0 - weight) * standardise(glta) + weight * standardise(graph)
