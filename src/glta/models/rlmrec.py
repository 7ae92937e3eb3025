"""RLMRec (Ren et al., WWW 2024) on the LightGCN backbone: RLMRec-Con and RLMRec-Gen.

User and item profiles are written by the project's LLM (``glta text generate <data> --kinds profile,item_profile``;
user profiles from training items only, cached) and embedded by all-MiniLM-L6-v2 (the paper used GPT-3.5 and
text-embedding-ada-002). The CF embeddings are then aligned with them:

- RLMRec-Con: contrastive alignment, an MLP from the profile space to the CF space and InfoNCE (weight 1e-2,
  temperature 0.2: RLMRec's defaults);
- RLMRec-Gen: masked reconstruction, 10% of the nodes masked before propagation and their propagated embeddings
  mapped to the profile space by an MLP, InfoNCE among the masked nodes (weight 0.1, temperature 0.2, RLMRec's
  defaults).

The LightGCN backbone keeps the project's LightGCN configuration, so the comparison with LightGCN isolates RLMRec.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from glta.config import LightGCNConfig
from glta.data.dataset import RecDataset
from glta.models.lightgcn import LightGCN
from glta.models.plus import TextAlignedLightGCN
from glta.semantic import MaskedReconstruction, TextInTraining, profile_embeddings
from glta.text.generate import GenerationConfig
from glta.text.llm import LLMConfig


@dataclass
class RLMRecConConfig(LightGCNConfig):
    kd_weight: float = 1e-2
    kd_temperature: float = 0.2
    llm: LLMConfig = field(default_factory=LLMConfig)  # which LLM wrote the cached profiles
    generation: GenerationConfig = field(default_factory=GenerationConfig)


@dataclass
class RLMRecGenConfig(LightGCNConfig):
    mask_ratio: float = 0.1
    recon_weight: float = 0.1
    recon_temperature: float = 0.2
    llm: LLMConfig = field(default_factory=LLMConfig)
    generation: GenerationConfig = field(default_factory=GenerationConfig)


class RLMRecCon(TextAlignedLightGCN):
    """LightGCN+'s alignment with the LLM-written profiles in place of the item descriptions."""

    method = "rlmrec_con"
    config_class = RLMRecConConfig
    display_name = "RLMRec-Con"

    def text_embeddings(self, dataset: RecDataset, config: RLMRecConConfig) -> tuple[torch.Tensor, torch.Tensor]:
        return profile_embeddings(dataset, config.llm, config.generation)

    def alignment_settings(self) -> tuple[float, float]:
        return self.config.kd_weight, self.config.kd_temperature


class RLMRecGen(TextInTraining, LightGCN):
    method = "rlmrec_gen"
    text_part, text_module = "reconstruction", MaskedReconstruction
    config_class = RLMRecGenConfig
    display_name = "RLMRec-Gen"

    def __init__(self, dataset: RecDataset, config: RLMRecGenConfig,
                 text_embeddings: tuple[torch.Tensor, torch.Tensor] | None = None):
        super().__init__(dataset, config)
        users, items = text_embeddings if text_embeddings is not None else \
            profile_embeddings(dataset, config.llm, config.generation)
        self.reconstruction = MaskedReconstruction(torch.cat([users, items]), config.dim, config.mask_ratio,
                                                   config.recon_temperature)

    def loss(self, batch) -> torch.Tensor:
        ego, masked = self.reconstruction.mask(self.embedding.weight)
        user_final, item_final = self.propagate(ego)
        final = torch.cat([user_final, item_final])
        return (self.ranking_loss(batch, user_final, item_final)
                + self.config.recon_weight * self.reconstruction(final, masked))
