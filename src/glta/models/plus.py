"""The paper's "+" baselines (§4.1.2): LightGCN+ and HCCF+.

Each is its backbone unchanged plus one InfoNCE term that aligns the backbone's final user and item embeddings with
all-MiniLM-L6-v2 embeddings of the node's text (items: their description; users: the mean of their training items'
description embeddings), through an MLP, as RLMRec's contrastive alignment does. The text-side defaults (weight 1e-2,
temperature 0.2) are RLMRec's; the backbone keeps its own configuration, so LightGCN vs LightGCN+ isolates the text.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from glta.config import LightGCNConfig
from glta.data.dataset import RecDataset
from glta.models.hccf import HCCF, HCCFConfig
from glta.models.lightgcn import LightGCN
from glta.semantic import ContrastiveAlignment, TextInTraining, description_embeddings


@dataclass
class LightGCNPlusConfig(LightGCNConfig):
    align_weight: float = 1e-2
    align_temperature: float = 0.2


@dataclass
class HCCFPlusConfig(HCCFConfig):
    align_weight: float = 1e-2
    align_temperature: float = 0.2


class TextAlignedLightGCN(TextInTraining, LightGCN):
    """LightGCN whose loss adds ``align_weight`` times an InfoNCE alignment of its final user and item embeddings
    with text embeddings of the nodes (``ContrastiveAlignment``). A subclass says which text (``text_embeddings``)
    and where its config keeps the weight and temperature (``alignment_settings``); embeddings given to the
    constructor (tests, a caller that already has them) take the place of ``text_embeddings``."""

    def __init__(self, dataset: RecDataset, config: LightGCNConfig,
                 text_embeddings: tuple[torch.Tensor, torch.Tensor] | None = None):
        super().__init__(dataset, config)
        users, items = text_embeddings if text_embeddings is not None else self.text_embeddings(dataset, config)
        self.alignment = ContrastiveAlignment(users, items, config.dim, self.alignment_settings()[1])

    def text_embeddings(self, dataset: RecDataset, config) -> tuple[torch.Tensor, torch.Tensor]:
        raise NotImplementedError

    def alignment_settings(self) -> tuple[float, float]:
        """(weight, temperature) of the alignment term."""
        raise NotImplementedError

    def loss(self, batch) -> torch.Tensor:
        user_final, item_final = self.propagate()
        weight, _ = self.alignment_settings()
        return (self.ranking_loss(batch, user_final, item_final)
                + weight * self.alignment(user_final, item_final, batch))


class LightGCNPlus(TextAlignedLightGCN):
    method = "lightgcn_plus"
    config_class = LightGCNPlusConfig
    display_name = "LightGCN+"

    def text_embeddings(self, dataset: RecDataset, config) -> tuple[torch.Tensor, torch.Tensor]:
        return description_embeddings(dataset)

    def alignment_settings(self) -> tuple[float, float]:
        return self.config.align_weight, self.config.align_temperature


class HCCFPlus(TextInTraining, HCCF):
    method = "hccf_plus"
    config_class = HCCFPlusConfig
    display_name = "HCCF+"

    def __init__(self, dataset: RecDataset, config: HCCFPlusConfig,
                 text_embeddings: tuple[torch.Tensor, torch.Tensor] | None = None):
        super().__init__(dataset, config)
        users, items = text_embeddings or description_embeddings(dataset)
        self.alignment = ContrastiveAlignment(users, items, config.dim, config.align_temperature)

    def loss(self, batch) -> torch.Tensor:
        loss, user_final, item_final = self.loss_and_embeddings(batch)
        return loss + self.config.align_weight * self.alignment(user_final, item_final, batch)
