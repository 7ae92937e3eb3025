"""Semantic text embeddings of users and items, and the two ways the baselines align CF embeddings with them.

Used by the paper's "+" baselines (LightGCN+, HCCF+: the sentence-transformer embedding of a node's own text) and by
RLMRec (Ren et al., WWW 2024: the embedding of an LLM-written user or item profile). Text comes from training data
only: a user's text is built from the user's training items, never from validation or test items.

- ``ContrastiveAlignment`` (RLMRec-Con, and the "+" baselines): an MLP maps text embeddings into the CF space; an
  InfoNCE loss pulls each batch node's CF embedding towards its own mapped text embedding. Users are contrasted with
  every user's text, items with the batch's items (RLMRec's choice); each node counts once per batch (RLMRec counts
  repeats, which makes a repeated node its own negative).
- ``MaskedReconstruction`` (RLMRec-Gen): a share of the nodes have their ego embeddings replaced by a learnable mask
  token before propagation; an MLP maps their propagated CF embeddings into the text space, where an InfoNCE loss
  asks each to find its own text embedding among the masked nodes' texts.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
import torch
import torch.nn.functional as F
from torch import nn

from glta.data.dataset import RecDataset
from glta.errors import GLTAError
from glta.results import tensors_sha256


def infonce(anchor: torch.Tensor, candidates: torch.Tensor, targets: torch.Tensor, temperature: float) -> torch.Tensor:
    """Mean over rows of -log softmax: row i of ``anchor`` should pick ``candidates[targets[i]]`` among all
    ``candidates`` by cosine similarity / temperature (one fused softmax cross-entropy)."""
    anchor = F.normalize(anchor, dim=-1, eps=1e-8) / temperature
    return F.cross_entropy(anchor @ F.normalize(candidates, dim=-1, eps=1e-8).T, targets)


def _bridge(inputs: int, outputs: int) -> nn.Sequential:
    """RLMRec's two-layer MLP between the text and CF spaces (hidden width halfway between)."""
    hidden = (inputs + outputs) // 2
    mlp = nn.Sequential(nn.Linear(inputs, hidden), nn.LeakyReLU(), nn.Linear(hidden, outputs))
    for layer in mlp:
        if isinstance(layer, nn.Linear):
            nn.init.xavier_uniform_(layer.weight)
    return mlp


class ContrastiveAlignment(nn.Module):
    @staticmethod
    def text_width(state: dict[str, torch.Tensor], prefix: str) -> int:
        """The width of the text embeddings a saved module of this kind was trained with: its MLP's input."""
        return state[f"{prefix}mlp.0.weight"].shape[1]

    def __init__(self, user_text: torch.Tensor, item_text: torch.Tensor, dim: int, temperature: float):
        super().__init__()
        self.register_buffer("user_text", user_text.float(), persistent=False)
        self.register_buffer("item_text", item_text.float(), persistent=False)
        self.mlp = _bridge(user_text.shape[1], dim)
        self.temperature = temperature

    def digest(self) -> str:
        """Of the text embeddings aligned with (``provenance.inputs``): texts written or embedded again differ."""
        return tensors_sha256(self.user_text, self.item_text)

    def forward(self, user_final: torch.Tensor, item_final: torch.Tensor, batch) -> torch.Tensor:
        """Each node of the batch once: a user or item drawn twice would otherwise be its own negative, and the
        item terms (batch x batch similarities) would cost ~6x more on ML-1M's 8,192-row batches."""
        users, positives, negatives = (torch.unique(nodes) for nodes in batch)
        loss = infonce(user_final[users], self.mlp(self.user_text), users, self.temperature)
        for items in (positives, negatives):
            within = torch.arange(len(items), device=items.device)
            loss = loss + infonce(item_final[items], self.mlp(self.item_text[items]), within, self.temperature)
        return loss


class MaskedReconstruction(nn.Module):
    @staticmethod
    def text_width(state: dict[str, torch.Tensor], prefix: str) -> int:
        """The width of the text embeddings a saved module of this kind was trained with: its MLP's output."""
        return state[f"{prefix}mlp.2.weight"].shape[0]

    def __init__(self, node_text: torch.Tensor, dim: int, mask_ratio: float, temperature: float):
        super().__init__()
        self.register_buffer("node_text", node_text.float(), persistent=False)
        self.mask_token = nn.Parameter(torch.zeros(1, dim))
        self.mlp = _bridge(dim, node_text.shape[1])
        self.mask_ratio = mask_ratio
        self.temperature = temperature

    def digest(self) -> str:
        return tensors_sha256(self.node_text)

    def mask(self, ego: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(ego embeddings with a random share of rows replaced by the mask token, the masked row indices)."""
        count = max(int(len(ego) * self.mask_ratio), 1)
        masked = torch.randperm(len(ego), device=ego.device)[:count]
        keep = torch.ones(len(ego), 1, dtype=ego.dtype, device=ego.device)
        keep[masked] = 0
        return ego * keep + self.mask_token * (1 - keep), masked

    def forward(self, final: torch.Tensor, masked: torch.Tensor) -> torch.Tensor:
        return infonce(self.mlp(final[masked]), self.node_text[masked], torch.arange(len(masked), device=masked.device),
                       self.temperature)


class TextInTraining:
    """Mixin for a graph model whose node texts enter only its training loss (the "+" baselines, RLMRec): its
    scores are its graph embeddings' alone, so a saved run of it loads without its texts (no LLM-written profile, no
    text encoder), its text part (``text_part``, a ``text_module``) holding zeros of the saved width. Such a model
    scores and serves; it records no text digest (``inputs``), having read none."""
    text_part: str = "alignment"
    text_module: type = ContrastiveAlignment
    texts_read: bool = True

    @classmethod
    def from_saved(cls, dataset: RecDataset, config, state: dict[str, torch.Tensor]):
        try:
            width = cls.text_module.text_width(state, f"{cls.text_part}.")
        except KeyError:  # not a state of this method: built as for training, and load_state_dict says so
            return cls(dataset, config)
        model = cls(dataset, config, text_embeddings=(torch.zeros(dataset.n_users, width),
                                                      torch.zeros(dataset.n_items, width)))
        model.texts_read = False
        return model

    def inputs(self) -> dict:
        return {"text_embeddings_sha256": getattr(self, self.text_part).digest()} if self.texts_read else {}


# --- where the text embeddings come from -------------------------------------------------------------------
def description_embeddings(dataset: RecDataset, encoder=None) -> tuple[torch.Tensor, torch.Tensor]:
    """The "+" baselines: each item's description embedded by MiniLM; each user the normalised mean of their
    training items' embeddings (a user has no text of their own in these data sets)."""
    texts = [dataset.item_description(i) or f"item {dataset.item_ids[i]}" for i in range(dataset.n_items)]
    encoder = encoder or _encoder()
    items = encoder.encode_cached(texts)
    return torch.from_numpy(user_means(dataset.train, items)), torch.from_numpy(items)


def user_means(train: sp.csr_matrix, item_vectors: np.ndarray) -> np.ndarray:
    degree = np.maximum(np.diff(train.indptr), 1)[:, None]
    users = np.asarray(train @ item_vectors) / degree
    norm = np.linalg.norm(users, axis=1, keepdims=True)
    return (users / np.maximum(norm, 1e-8)).astype(np.float32)


def profile_embeddings(dataset: RecDataset, llm_config, generation, encoder=None) -> tuple[torch.Tensor, torch.Tensor]:
    """RLMRec: the LLM-written user profiles (from training items only) and item profiles, embedded by MiniLM.
    Both must have been generated first (``glta text generate``); a missing one is an error that says how."""
    from glta.text.generate import generate_command, load_item_texts, load_user_texts
    from glta.text.llm import llm_identity

    identity = llm_identity(llm_config)
    users = load_user_texts(identity, dataset, "profile", generation)
    items = load_item_texts(identity, dataset, generation)
    need_users = np.flatnonzero(np.diff(dataset.train.indptr) > 0)
    missing_users = [int(u) for u in need_users if int(u) not in users]
    missing_items = [i for i in range(dataset.n_items) if i not in items]
    if missing_users or missing_items:
        raise GLTAError(
            f"{dataset.name}: {len(missing_users)} user profiles and {len(missing_items)} item profiles written by "
            f"{identity} are missing; generate them first (resumable): "
            f"`{generate_command(dataset, llm_config.name, generation, 'profile,item_profile')}`")
    return profile_texts_to_embeddings(dataset, [users.get(u, "") for u in range(dataset.n_users)],
                                       [items[i] for i in range(dataset.n_items)], encoder)


def profile_texts_to_embeddings(dataset: RecDataset, user_texts: list[str], item_texts: list[str],
                                encoder=None) -> tuple[torch.Tensor, torch.Tensor]:
    encoder = encoder or _encoder()
    vectors = encoder.encode_cached(list(user_texts) + list(item_texts))
    return torch.from_numpy(vectors[: dataset.n_users]), torch.from_numpy(vectors[dataset.n_users:])


def _encoder():
    from glta.text.encoder import TextEncoder

    return TextEncoder()
