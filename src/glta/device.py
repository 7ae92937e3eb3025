"""Which torch device a setting names (``train.device``, ``llm.device``), and what this machine's CPU can do."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import torch

from glta.errors import GLTAError


def device_named(name: str, key: str) -> torch.device:
    """``auto`` (a CUDA GPU when one is visible, else the CPU), ``cpu``, ``cuda`` or ``cuda:N``; ``key`` names the
    setting in errors."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise GLTAError(f"{key}={name} is not a device; use auto, cpu, cuda or cuda:N") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise GLTAError(f"{key}={name} but no CUDA GPU is visible; use {key}=cpu")
    return device


def module_device(module: torch.nn.Module) -> torch.device:
    """The device of a module's first parameter or buffer (the CPU for one that has neither)."""
    for tensor in module.parameters():
        return tensor.device
    for tensor in module.buffers():
        return tensor.device
    return torch.device("cpu")


def to_device(batch, device: torch.device):
    """A tensor, or a tuple/list of tensors, moved to ``device``; anything else (e.g. GLTA's batches, which place
    themselves) is returned as is."""
    if isinstance(batch, torch.Tensor):
        return batch.to(device)
    if isinstance(batch, (tuple, list)) and all(isinstance(t, torch.Tensor) for t in batch):
        return type(batch)(t.to(device) for t in batch)
    return batch


def available_memory(device: torch.device) -> int | None:
    """Bytes that can still be allocated on ``device``: free GPU memory, or the kernel's MemAvailable for the CPU
    (None when it cannot be told)."""
    if device.type == "cuda":
        free, _ = torch.cuda.mem_get_info(device)
        return int(free)
    try:
        with open("/proc/meminfo") as handle:
            for line in handle:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


@lru_cache(maxsize=1)
def cpu_info() -> tuple[str | None, frozenset[str]]:
    """The first CPU's model name and feature flags from /proc/cpuinfo (None and empty where it cannot be read)."""
    model, flags = None, frozenset()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name") and model is None:
                model = line.split(":", 1)[1].strip()
            elif line.startswith("flags"):
                flags = frozenset(line.split(":", 1)[1].split())
                break
    except OSError:
        pass
    return model, flags


def cpu_flags() -> frozenset[str]:
    return cpu_info()[1]


def cpu_has_bf16() -> bool:
    """Whether bf16 matmuls run in hardware here. Without AVX-512 bf16 or AMX, torch emulates them (seen: 0.2 against
    42 GFLOP/s for fp32 on an AVX2-only AMD EPYC), so the LLM must stay in fp32."""
    return bool({"avx512_bf16", "amx_bf16"} & cpu_flags())
