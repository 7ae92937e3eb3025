"""Graph-Language Logits Matching (paper §3.3): a linear map from the LLM's last hidden states at the output
positions to logits over all catalogue items, trained with cross-entropy (Eq. 3), and the three ways to read
recommendations off those logits (§4.5). Every output is a catalogue item id by construction.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn


class GLLMHead(nn.Linear):
    """Z = H W^T + b: (batch, slots, hidden) -> (batch, slots, n_items).

    ``tied=True`` adds the item tokens themselves as output embeddings, the way a language model with tied
    embeddings (SmolLM2 among them) scores its own vocabulary: Z = s H V^T + H W^T + b, where V holds the projected
    item tokens (Eq. 1) and s is a learnable scalar starting at 0, so the untrained head is the plain one.
    """

    def __init__(self, hidden_size: int, n_items: int, tied: bool = False):
        super().__init__(hidden_size, n_items, bias=True)
        self.tie_scale = nn.Parameter(torch.zeros(())) if tied else None

    def forward(self, hidden: torch.Tensor, item_tokens: torch.Tensor | None = None, bias: bool = True) -> torch.Tensor:
        logits = F.linear(hidden, self.weight, self.bias if bias else None)
        if self.tie_scale is not None:
            logits = logits + self.tie_scale * (hidden @ item_tokens.T)
        return logits


def popularity_prior(train) -> torch.Tensor:
    """The head's starting bias: the log of each item's add-one smoothed share of the training interactions
    (``train``: users x items)."""
    counts = torch.from_numpy(np.asarray(train.sum(0), dtype=np.float64).ravel())
    return torch.log((counts + 1) / (counts + 1).sum()).float()


def gllm_loss(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Eq. 3: mean cross-entropy over the supervised output positions (targets of -100 are skipped)."""
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]).float(), targets.reshape(-1), ignore_index=-100)


def unseen_loss(logits: torch.Tensor, targets: torch.Tensor, seen: torch.Tensor) -> torch.Tensor:
    """Eq. 3 with each slot's softmax over its target and the items the user has *not* interacted with: the user's
    other training items (``seen``, (B, n_items) bool) leave the denominator, as the full ranking leaves them out.
    Under Eq. 3 proper a slot's target competes with the user's other training items, which the other slots name
    as their targets and the ranking never shows, so probability mass spent telling them apart is lost on what is
    ranked. Beyond the paper (GLTA+'s ``model.ua_softmax=unseen``); ``gllm_loss`` where nothing is seen."""
    logits = logits.float()
    present = targets >= 0
    picked = logits.gather(2, targets.clamp_min(0)[..., None]).squeeze(-1)  # (B, K)
    others = logits.masked_fill(seen[:, None, :], float("-inf"))
    others = others.scatter(2, targets.clamp_min(0)[..., None], float("-inf"))
    rest = torch.logsumexp(others, -1)  # (B, K): every unseen item but the target; -inf when there is none
    log_probs = picked - torch.logaddexp(rest, picked)
    return -(log_probs * present).sum() / present.sum().clamp_min(1)


def group_loss(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Cross-entropy of each output slot over the sample's own candidates only: the items in its row of ``targets``
    (B, K; -100 where a slot has none), slot t's answer being the t-th of them. IA's sample shows a group of items,
    so chance is ln(group size) instead of ln |I|."""
    present = targets >= 0
    candidates = targets.clamp_min(0)  # (B, K)
    rows = logits.gather(2, candidates[:, None, :].expand(-1, logits.shape[1], -1)).float()  # (B, K slots, K items)
    rows = rows.masked_fill(~present[:, None, :], float("-inf"))
    labels = torch.arange(targets.shape[1], device=targets.device).expand_as(targets).masked_fill(~present, -100)
    return F.cross_entropy(rows.reshape(-1, rows.shape[-1]), labels.reshape(-1), ignore_index=-100)


NO_ITEM = -1  # a slot of a user with no unseen item left for it


def pick(scores: torch.Tensor, taken: torch.Tensor) -> torch.Tensor:
    """Each row's best item that is not ``taken`` (marked taken in place), or ``NO_ITEM`` where every item is."""
    scores = scores.float().masked_fill(taken, float("-inf"))
    best = scores.argmax(1)
    left = torch.isfinite(scores.gather(1, best[:, None])).squeeze(1)
    rows = torch.arange(len(best), device=best.device)
    taken[rows[left], best[left]] = True
    return best.masked_fill(~left, NO_ITEM)


def first_k(logits: torch.Tensor, banned: torch.Tensor) -> torch.Tensor:
    """Default mode: slot t gives the t-th recommendation, the best item that is neither ``banned``
    (already interacted) nor taken by an earlier slot. ``banned`` is a (batch, n_items) bool mask; a user with
    fewer unseen items than slots gets ``NO_ITEM`` in the slots after them."""
    taken = banned.clone()
    return torch.stack([pick(logits[:, slot], taken) for slot in range(logits.shape[1])], 1)


def first_logit(logits: torch.Tensor, banned: torch.Tensor, k: int) -> torch.Tensor:
    """FL mode: the top-k items of the first output slot (``NO_ITEM`` past a user's unseen items)."""
    top = logits[:, 0].float().masked_fill(banned, float("-inf")).topk(k, dim=1)
    return top.indices.masked_fill(~torch.isfinite(top.values), NO_ITEM)


def ranking_scores(chosen: torch.Tensor, fallback: torch.Tensor) -> torch.Tensor:
    """Scores whose ranking puts ``chosen`` first, in slot order, then every other item by ``fallback``
    (``NO_ITEM`` slots put nothing anywhere)."""
    fallback = fallback.float()
    scores = fallback - fallback.max(1, keepdim=True).values - 1.0  # all <= -1
    ranks = torch.arange(chosen.shape[1], 0, -1, dtype=scores.dtype, device=scores.device).expand_as(chosen)
    spare = scores.shape[1]  # NO_ITEM slots write into a column dropped afterwards
    padded = torch.cat([scores, scores.new_zeros(len(scores), 1)], 1)
    return padded.scatter(1, chosen.masked_fill(chosen < 0, spare), ranks.contiguous())[:, :spare]
