"""HCCF (Xia et al., SIGIR 2022): hypergraph contrastive collaborative filtering.

Two views of every node are built layer by layer from the same ego embeddings:

- the local view, LightGCN-style propagation over the user-item graph with random edge dropout;
- the global view, propagation through ``hyperedges`` learnable hyperedges: a node's membership in each hyperedge is
  its ego embedding times a learnable (dim x hyperedges) matrix (separate for users and items), and one
  hypergraph layer is ``H (H^T X)`` with dropout on the memberships ``H``.

Each layer's output is the sum of both views; the final representation sums all layers. The loss is BPR, plus an
InfoNCE loss per layer pulling a node's global view towards its (detached) local view against every other node of
its type, for the batch's users and positive items, plus L2 on all parameters. Defaults are the original paper's
(its public code): 32 dimensions, 2 layers, 128 hyperedges, keep rate 0.5, temperature 1, InfoNCE weight 1e-3,
L2 1e-7, Adam at 1e-3 with batch 4096; the membership scale ``mult`` (1) and a LeakyReLU slope (1 = none) are the
knobs its authors name for sparse data sets.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from glta.data.dataset import RecDataset
from glta.graph.propagation import EdgeDropout, normalized_adjacency, propagate, to_torch_csr
from glta.graph.sampling import BPRSampler
from glta.recommender import EmbeddingRecommender


@dataclass
class HCCFConfig:
    dim: int = 32
    layers: int = 2
    hyperedges: int = 128
    keep_rate: float = 0.5  # share of graph edges and hyperedge memberships kept in training
    temperature: float = 1.0
    ssl_weight: float = 1e-3  # weight of the cross-view InfoNCE loss
    reg_weight: float = 1e-7  # L2 on all parameters
    # scale of the hyperedge memberships (HCCF's "mult"): the hypergraph view's magnitude, which its authors tune
    # in {1e-2, 1e-1, 1} for sparse data sets
    mult: float = 1.0
    leaky: float = 1.0  # LeakyReLU slope applied in each hypergraph step (1.0 = none, as in SSLRec's HCCF)


def node_infonce(anchor: torch.Tensor, target: torch.Tensor, nodes: torch.Tensor, temperature: float) -> torch.Tensor:
    """InfoNCE of ``anchor[nodes]`` against ``target[nodes]`` (positive) and every row of ``target`` (negatives),
    as one fused softmax cross-entropy (the costliest part of HCCF: batch nodes x all nodes of the type)."""
    anchor = F.normalize(anchor[nodes], dim=1, eps=1e-8) / temperature
    return F.cross_entropy(anchor @ F.normalize(target, dim=1, eps=1e-8).T, nodes)


class HCCF(EmbeddingRecommender):
    method = "hccf"
    config_class = HCCFConfig
    display_name = "HCCF"

    def __init__(self, dataset: RecDataset, config: HCCFConfig):
        super().__init__(dataset, config)
        self.user_embedding = nn.Parameter(nn.init.xavier_uniform_(torch.empty(self.n_users, config.dim)))
        self.item_embedding = nn.Parameter(nn.init.xavier_uniform_(torch.empty(self.n_items, config.dim)))
        self.user_hyper = nn.Parameter(nn.init.xavier_uniform_(torch.empty(config.dim, config.hyperedges)))
        self.item_hyper = nn.Parameter(nn.init.xavier_uniform_(torch.empty(config.dim, config.hyperedges)))
        adjacency = normalized_adjacency(dataset.train)
        self.adjacency = to_torch_csr(adjacency)
        self.edge_dropout = EdgeDropout(adjacency, self.n_users)
        self.sampler = BPRSampler(dataset.train)

    def place(self, device: torch.device) -> None:
        super().place(device)
        self.adjacency = self.adjacency.to(device)

    def views(self, keep_rate: float) -> tuple[torch.Tensor, list[torch.Tensor], list[torch.Tensor]]:
        """(final embeddings of all nodes, local view per layer, global view per layer)."""
        adjacency = self.adjacency if keep_rate >= 1.0 else self.edge_dropout(keep_rate).to(self.adjacency.device)
        drop = 1.0 - keep_rate
        user_members = self.user_embedding @ self.user_hyper * self.config.mult  # (users, hyperedges)
        item_members = self.item_embedding @ self.item_hyper * self.config.mult
        layer = torch.cat([self.user_embedding, self.item_embedding])
        total, local, global_ = layer, [], []
        for _ in range(self.config.layers):
            users, items = layer[: self.n_users], layer[self.n_users:]
            h_users = F.dropout(user_members, drop) if drop > 0 else user_members
            h_items = F.dropout(item_members, drop) if drop > 0 else item_members
            hyper = torch.cat([self._hyper_step(h_users, users), self._hyper_step(h_items, items)])
            graph = propagate(adjacency, layer)
            local.append(graph)
            global_.append(hyper)
            layer = graph + hyper
            total = total + layer
        return total, local, global_

    def _hyper_step(self, members: torch.Tensor, nodes: torch.Tensor) -> torch.Tensor:
        """Nodes to hyperedges and back: act(H act(H^T X)), act a LeakyReLU (slope 1 leaves values as they are)."""
        slope = self.config.leaky
        return F.leaky_relu(members @ F.leaky_relu(members.T @ nodes, slope), slope)

    def train_batches(self, rng: np.random.Generator, batch_size: int) -> Iterator:
        return self.sampler.epoch(rng, batch_size)

    def batches_per_epoch(self, batch_size: int) -> int:
        return -(-len(self.sampler) // batch_size)

    def loss_and_embeddings(self, batch) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """The HCCF loss of a batch and the final user and item embeddings it was computed from."""
        users, positives, negatives = batch
        final, local, global_ = self.views(self.config.keep_rate)
        user_final, item_final = final[: self.n_users], final[self.n_users:]
        u, p, n = user_final[users], item_final[positives], item_final[negatives]
        bpr = F.softplus((u * n).sum(1) - (u * p).sum(1)).mean()
        batch_users, batch_items = torch.unique(users), torch.unique(positives)
        ssl = sum(node_infonce(lo[: self.n_users].detach(), g[: self.n_users], batch_users, self.config.temperature)
                  + node_infonce(lo[self.n_users:].detach(), g[self.n_users:], batch_items, self.config.temperature)
                  for lo, g in zip(local, global_))
        reg = sum(p.pow(2).sum() for p in self.parameters())
        loss = bpr + self.config.ssl_weight * ssl + self.config.reg_weight * reg
        return loss, user_final, item_final

    def loss(self, batch) -> torch.Tensor:
        return self.loss_and_embeddings(batch)[0]

    def final_embeddings(self) -> tuple[torch.Tensor, torch.Tensor]:
        final = self.views(1.0)[0]
        return final[: self.n_users], final[self.n_users:]
