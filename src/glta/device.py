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


def busy_elsewhere(interval: float = 0.25) -> float | None:
    """How many cores other processes keep busy now: the CPU's busy time over ``interval`` seconds (``/proc/stat``)
    less this process's own (``/proc/self/stat``), in cores; the 1-minute load average where ``/proc`` is not there
    (it counts this process too); None when neither can be read."""
    import os
    import time

    def ticks() -> tuple[int, int, int]:
        with open("/proc/stat") as handle:
            fields = [int(x) for x in handle.readline().split()[1:9]]  # guest time is inside user time already
        with open("/proc/self/stat") as handle:
            own = handle.read().rsplit(")", 1)[1].split()
        idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle and iowait
        return sum(fields), sum(fields) - idle, int(own[11]) + int(own[12])  # utime + stime

    try:
        total0, busy0, own0 = ticks()
        time.sleep(interval)
        total1, busy1, own1 = ticks()
    except (OSError, ValueError, IndexError):
        try:
            return os.getloadavg()[0]
        except OSError:
            return None
    if total1 <= total0:
        return None
    cpus = os.cpu_count() or 1
    return max(0.0, (busy1 - busy0 - (own1 - own0)) / (total1 - total0) * cpus)


def busy_cpu_warning(threads: int, busy: float | None = None, cores: int | None = None,
                     setting: str = "train.threads") -> str | None:
    """A one-line warning when ``threads`` torch threads would contend with work already running on this CPU, else
    None. ``busy``: the cores other processes keep busy (``busy_elsewhere()`` when None); ``cores``: the cores this
    process may run on; ``setting``: what the warning tells the user to set. Torch's threads busy-wait for one
    another, so a thread sharing its core with another process stalls all of them: LightGCN on ML-100k with torch's
    default 2 threads beside one single-thread job on a 2-core machine took ~28 s an epoch against ~0.85 s with one
    thread (December 5)."""
    import os

    if threads <= 1:
        return None
    busy = busy_elsewhere() if busy is None else busy
    if busy is None:
        return None
    cores = cores or (len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1)
    idle = cores - busy
    if threads <= idle + 0.5:
        return None
    return (f"warning: {threads} torch threads on {cores} cores with ~{busy:.1f} of them busy with other work: "
            f"threads sharing a core with it stall one another, often many times slower; set "
            f"{setting}={max(1, int(idle + 0.5))} while that work runs")
