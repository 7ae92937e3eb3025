"""The one place that knows how transformers releases differ in the KV-cache API GLTA uses.

transformers 5.2x names a forward pass's KV-cache argument and output ``cache``; earlier releases call both
``past_key_values``. A ``DynamicCache`` is built from per-layer (keys, values) pairs through ``ddp_cache_data`` in
the 4.5x-5.x releases pinned here. Code elsewhere asks these helpers instead of checking versions itself.
"""

from __future__ import annotations

import inspect

import torch


def cache_argument(model) -> str:
    """The keyword a model's forward takes its KV cache under: ``cache`` (5.2x) or ``past_key_values``."""
    return "cache" if "cache" in inspect.signature(model.forward).parameters else "past_key_values"


def output_cache(output):
    """The KV cache a forward pass returned: ``output.cache`` in transformers 5.2x, ``past_key_values`` before."""
    return output["cache"] if "cache" in output else output.past_key_values


def cache_from_layers(layers: list[tuple[torch.Tensor, torch.Tensor]]):
    """A ``DynamicCache`` holding the given (keys, values) of every layer, each (batch, kv heads, tokens, head dim)."""
    from transformers import DynamicCache

    return DynamicCache(ddp_cache_data=layers)
