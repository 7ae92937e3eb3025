"""LightGCN (He et al., SIGIR 2020): linear propagation on the user-item graph, mean over layers, BPR loss.

Stage 0 of GLTA (paper §2.2) and its first baseline. What it keeps from the paper: no feature transforms
or non-linearities, symmetric normalisation, layer combination by mean (alpha_k = 1/(K+1)), and L2
regularisation on the ego embeddings of the batch. Propagation runs on a sparse CSR adjacency once per
mini-batch (the gradient must flow through it), which is why large batches make epochs cheap.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import numpy as np
import torch
import torch.nn.functional as F
from safetensors.torch import load_file, save_file
from torch import nn

from glta.config import LightGCNConfig
from glta.data.dataset import RecDataset
from glta.graph.propagation import normalized_adjacency, propagate, to_torch_csr
from glta.graph.sampling import BPRSampler
from glta.recommender import EmbeddingRecommender


class LightGCN(EmbeddingRecommender):
    method = "lightgcn"
    config_class = LightGCNConfig
    display_name = "LightGCN"

    def __init__(self, dataset: RecDataset, config: LightGCNConfig):
        super().__init__(dataset, config)
        self.embedding = nn.Embedding(self.n_users + self.n_items, config.dim)
        nn.init.normal_(self.embedding.weight, std=config.init_std)
        self.adjacency = to_torch_csr(normalized_adjacency(dataset.train))
        self.sampler = BPRSampler(dataset.train)

    def place(self, device: torch.device) -> None:
        super().place(device)
        self.adjacency = self.adjacency.to(device)

    def propagate(self, ego: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Final user and item representations: the mean of layers 0..K (from ``ego``, default the embeddings)."""
        layer = self.embedding.weight if ego is None else ego
        total = layer
        for _ in range(self.config.layers):
            layer = propagate(self.adjacency, layer)
            total = total + layer
        final = total / (self.config.layers + 1)
        return final[: self.n_users], final[self.n_users:]

    def train_batches(self, rng: np.random.Generator, batch_size: int) -> Iterator:
        return self.sampler.epoch(rng, batch_size)

    def batches_per_epoch(self, batch_size: int) -> int:
        return -(-len(self.sampler) // batch_size)

    def loss(self, batch) -> torch.Tensor:
        return self.ranking_loss(batch, *self.propagate())

    def ranking_loss(self, batch, user_final: torch.Tensor, item_final: torch.Tensor) -> torch.Tensor:
        """BPR on the batch's triples plus L2 on their ego embeddings (the LightGCN paper's objective)."""
        users, positives, negatives = batch
        u, p, n = user_final[users], item_final[positives], item_final[negatives]
        bpr = F.softplus((u * n).sum(1) - (u * p).sum(1)).mean()  # = -log sigmoid(pos - neg)
        ego = self.embedding.weight
        reg = (ego[users].pow(2).sum() + ego[self.n_users + positives].pow(2).sum()
               + ego[self.n_users + negatives].pow(2).sum()) / (2 * len(users))
        return bpr + self.config.reg_weight * reg

    def final_embeddings(self) -> tuple[torch.Tensor, torch.Tensor]:
        return self.propagate()

    @torch.no_grad()
    def fold_in(self, histories: list[np.ndarray]) -> torch.Tensor:
        """LightGCN's propagation rule for a user outside the graph: layer k+1 of the user is the sum of its items'
        layer-k embeddings over sqrt(|N(u)| |N(i)|); the user has no layer-0 embedding of its own (zero), and the
        final vector is the mean over layers 0..K, as for trained users. Item degrees stay the trained graph's."""
        layer, item_layers = self.embedding.weight, []
        for _ in range(self.config.layers):
            item_layers.append(layer[self.n_users:])
            layer = propagate(self.adjacency, layer)
        weight = torch.from_numpy(self.train_item_degrees).clamp_min(1).rsqrt().to(layer.device)
        users = []
        for items in histories:
            items = torch.as_tensor(np.asarray(items, dtype=np.int64), device=layer.device)
            scale = weight[items, None] / max(len(items), 1) ** 0.5
            users.append(sum((item_layer[items] * scale).sum(0) for item_layer in item_layers))
        return torch.stack(users) / (self.config.layers + 1)

    # --- frozen node embeddings for the alignment stages -----------------------------------------
    def save_embeddings(self, path: str | Path, metadata: dict[str, str] | None = None) -> Path:
        """Save the final (propagated) E_u and E_i as safetensors; GLTA freezes and projects these."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        with torch.no_grad():
            users, items = self.propagate()
        meta = {"method": self.method, "dataset_fingerprint": self.dataset_fingerprint,
                "dim": str(self.config.dim), "layers": str(self.config.layers), **(metadata or {})}
        from glta.paths import atomic_path

        with atomic_path(path) as staging:
            save_file({"user": users.cpu().contiguous(), "item": items.cpu().contiguous()}, str(staging), metadata=meta)
        return path


def load_embeddings(path: str | Path, dataset: RecDataset | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Load frozen E_u, E_i; refuse embeddings made for another data set or split."""
    from safetensors import safe_open

    path = Path(path)
    if not path.exists():
        from glta.errors import GLTAError

        source = dataset.cli_source() if dataset is not None else "--dataset <name> (or --data-path DIR)"
        raise GLTAError(f"{path} does not exist: run `glta pretrain {source}` first (or point model.embeddings at "
                        "a LightGCN embeddings file)")
    with safe_open(str(path), "pt") as handle:
        meta = handle.metadata() or {}
    if dataset is not None and meta.get("dataset_fingerprint") != dataset.fingerprint():
        from glta.errors import GLTAError

        raise GLTAError(f"{path} was trained on data fingerprint {meta.get('dataset_fingerprint')}, but this data "
                        f"set is {dataset.fingerprint()}: re-run `glta pretrain` on the same data and split")
    tensors = load_file(str(path))
    return tensors["user"], tensors["item"]
