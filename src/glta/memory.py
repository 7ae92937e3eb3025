"""Giving memory a finished stage freed back to the operating system, and measuring a process's peak.

glibc keeps freed heap memory for the process to reuse rather than returning it. After a stage whose peak is above
what follows, that memory stays with the process: GLTA's IA stage on amazon-scientific (long item descriptions)
peaked at 10.0 GB and left the process at 8.6 GB through UA, whose steps need ~2.8 GB (the same data set's GLTA run
without the IA stage in its process). On a machine whose page cache holds a GLTA job's prefix store, that is memory
the store's pages cannot use. ``return_freed_memory`` hands it back (glibc's ``malloc_trim``); it is called after the
prefix fill and after each stage, and after every step of a stage whose model asks for it
(``Recommender.returns_memory_each_step``: GLTA's IA, whose uneven steps otherwise grow the heap step by step); not
per evaluation (each reuses what the one before freed).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys
from functools import lru_cache
from pathlib import Path


@lru_cache(maxsize=1)
def _trim():
    """glibc's ``malloc_trim``, or None where the C library is another (macOS, musl) or cannot be loaded."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        return libc.malloc_trim
    except (OSError, AttributeError):
        return None


def return_freed_memory() -> bool:
    """Return the heap memory this process has freed to the operating system; True when it could ask."""
    trim = _trim()
    if trim is None:
        return False
    trim(0)
    return True


def resident_gib() -> float:
    """The most resident memory this process has held so far, in GiB: on Linux its own high-water mark (``VmHWM`` in
    /proc/self/status); elsewhere ``ru_maxrss``. On Linux ``ru_maxrss`` also keeps, across the exec that started a
    program, the peak of the process that launched it: a `glta train` started from a 2 GiB Python process (a test
    run, a notebook) would report 2 GiB before it had allocated anything. Both count the pages of files this process
    maps while they are resident (a GLTA prefix store written through a memory map: ``own_peak`` in
    experiments/reproduction_costs.py)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024 / 2**30  # kB
    except (OSError, ValueError, IndexError):
        pass
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * (1 if sys.platform == "darwin" else 1024) / 2**30
