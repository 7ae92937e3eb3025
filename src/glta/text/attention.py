"""A grouped-query attention kernel for CPU decoding, registered with transformers as ``"glta_gqa"``.

Llama-family models share each key/value head among several query heads (SmolLM2-135M: 9 query heads, 3 KV
heads). transformers' eager and SDPA paths first copy every KV head once per query head (``repeat_kv``); on a CPU
that copy is ~60% of a batched decoding step. For a single new token the query heads of one group can instead be
laid side by side as if they were query positions, so one matmul per group serves them all with no copy.

Several query positions with a gradient to compute (a GLTA training step) take the same grouped layout: two batched
matmuls and a softmax, whose autograd backward is again matmuls. The stock SDPA kernel's CPU backward (flash
attention) is several times slower at these shapes (~36 queries over ~140 keys): it was ~28% of a UA step. Prompts
without a gradient (generation prefill, evaluation) keep the stock SDPA kernel.
"""

from __future__ import annotations

import torch

NAME = "glta_gqa"


def grouped_query_attention(module, query, key, value, attention_mask, scaling=None, dropout=0.0, **kwargs):
    from transformers.integrations.sdpa_attention import sdpa_attention_forward

    heads, q_len, kv_heads = query.shape[1], query.shape[2], key.shape[1]
    needs_grad = torch.is_grad_enabled() and query.requires_grad
    if heads % kv_heads or dropout or (q_len != 1 and not needs_grad):
        return sdpa_attention_forward(module, query, key, value, attention_mask, dropout=dropout, scaling=scaling,
                                      **kwargs)
    return _grouped(query, key, value, attention_mask, query.shape[-1] ** -0.5 if scaling is None else scaling)


def _grouped(query, key, value, attention_mask, scaling):
    """Attention with the query heads of each KV group (and their query positions) stacked as one matrix."""
    batch, heads, q_len, dim = query.shape
    kv_heads, keys = key.shape[1], key.shape[2]
    groups = heads // kv_heads
    grouped = query.reshape(batch, kv_heads, groups * q_len, dim)  # head h = kv * groups + g
    scores = torch.matmul(grouped, key.transpose(2, 3)).view(batch, kv_heads, groups, q_len, keys) * scaling
    if attention_mask is None:  # causal, the queries being the last q_len positions
        rows = torch.arange(q_len, device=query.device)[:, None] + (keys - q_len)
        attention_mask = (torch.arange(keys, device=query.device)[None, :] <= rows)[None, None]
    mask = attention_mask[:, :, -q_len:, :keys].unsqueeze(2)  # (batch or 1, 1, 1, q_len, keys)
    if mask.dtype == torch.bool:  # added in place as a bias of 0 or -inf: the same scores as masking them, without
        # masking's copy of the scores and its backward pass (benchmarks/attention_bias.py, docs/measurements.md)
        bias = torch.zeros(mask.shape, dtype=scores.dtype, device=scores.device).masked_fill_(~mask, float("-inf"))
        scores = scores.add_(bias)
    else:
        scores = scores + mask
    probs = torch.softmax(scores, dim=-1, dtype=torch.float32).to(value.dtype)
    output = torch.matmul(probs.view(batch, kv_heads, groups * q_len, keys), value)
    return output.view(batch, heads, q_len, dim).transpose(1, 2).contiguous(), None


def register() -> str:
    """Make ``attn_implementation="glta_gqa"`` available (idempotent); returns the name."""
    from transformers import AttentionInterface
    from transformers.masking_utils import ALL_MASK_ATTENTION_FUNCTIONS, sdpa_mask

    AttentionInterface.register(NAME, grouped_query_attention)
    ALL_MASK_ATTENTION_FUNCTIONS.register(NAME, sdpa_mask)
    return NAME
