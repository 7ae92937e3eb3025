"""A grouped-query attention kernel for CPU decoding, registered with transformers as ``"glta_gqa"``.

Llama-family models share each key/value head among several query heads (SmolLM2-135M: 9 query heads, 3 KV
heads). transformers' eager and SDPA paths first copy every KV head once per query head (``repeat_kv``); on a CPU
that copy is ~60% of a batched decoding step. For a single new token the query heads of one group can instead be
laid side by side as if they were query positions, so one matmul per group serves them all with no copy. Prompts
(more than one query position) go to the stock SDPA kernel.
"""

from __future__ import annotations

import torch

NAME = "glta_gqa"


def grouped_query_attention(module, query, key, value, attention_mask, scaling=None, dropout=0.0, **kwargs):
    from transformers.integrations.sdpa_attention import sdpa_attention_forward

    batch, heads, q_len, dim = query.shape
    kv_heads = key.shape[1]
    if q_len != 1 or heads == kv_heads:
        return sdpa_attention_forward(module, query, key, value, attention_mask, dropout=dropout, scaling=scaling,
                                      **kwargs)
    groups = heads // kv_heads
    scaling = dim ** -0.5 if scaling is None else scaling
    grouped = query.reshape(batch, kv_heads, groups, dim)  # head h uses KV head h // groups
    scores = torch.matmul(grouped, key.transpose(2, 3)) * scaling  # (batch, kv_heads, groups, keys)
    if attention_mask is not None:
        mask = attention_mask[:, :, -1:, : key.shape[2]]  # (batch, 1, 1, keys)
        if mask.dtype == torch.bool:
            scores = scores.masked_fill(~mask, float("-inf"))
        else:
            scores = scores + mask
    probs = torch.softmax(scores, dim=-1, dtype=torch.float32).to(value.dtype)
    output = torch.matmul(probs, value)  # (batch, kv_heads, groups, dim)
    return output.reshape(batch, heads, 1, dim).transpose(1, 2).contiguous(), None


def register() -> str:
    """Make ``attn_implementation="glta_gqa"`` available (idempotent); returns the name."""
    from transformers import AttentionInterface
    from transformers.masking_utils import ALL_MASK_ATTENTION_FUNCTIONS, sdpa_mask

    AttentionInterface.register(NAME, grouped_query_attention)
    ALL_MASK_ATTENTION_FUNCTIONS.register(NAME, sdpa_mask)
    return NAME
