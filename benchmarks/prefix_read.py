"""Reading users' cached prefixes from a prefix store: bytes the kernel reads and seconds, two ways.

    .venv/bin/python benchmarks/prefix_read.py [--store DIR] [--batches 20] [--batch-size 32] [--out FILE]

A GLTA training step loads its batch's users' prefix keys/values from the store (``glta.align.prefix``). Two ways are
compared on an existing store (default: the largest under ``$GLTA_CACHE_DIR/prefix-kv``): indexing the memory map
(how the store was read before) and one positioned read per user with read-ahead off (``read_blocks``, how it is read
now). Batches alternate between the two, each with users drawn afresh, so both meet the same page cache. The kernel's
bytes come from /proc/self/io (``read_bytes``: what reached the disk, not what the page cache served), so the numbers
depend on how much of the store the page cache holds (printed: the store's size against the machine's memory). The two
ways' arrays are checked to be equal on the first batch.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch

from glta.align.prefix import _STORAGE, open_for_random_reads, read_blocks
from glta.paths import atomic_write, cache_dir
from glta.results import git_commit, machine


def disk_bytes() -> int:
    for line in Path("/proc/self/io").read_text().splitlines():
        if line.startswith("read_bytes:"):
            return int(line.split()[1])
    raise RuntimeError("no read_bytes in /proc/self/io")


def meminfo_gb(field: str) -> float:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 2**20
    return float("nan")


def largest_store() -> Path:
    stores = sorted(cache_dir("prefix-kv").glob("*/kv.bin"), key=lambda p: p.stat().st_size)
    if not stores:
        raise SystemExit(f"no prefix store under {cache_dir('prefix-kv')}: train GLTA with model.prefix_cache=true "
                         "first, or name one with --store")
    return stores[-1].parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--store", type=Path, help="a prefix store folder (holding kv.bin and meta.json)")
    parser.add_argument("--batches", type=int, default=20, help="batches per way")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    store = args.store or largest_store()
    meta = json.loads((store / "meta.json").read_text())
    shape = tuple(meta["shape"])
    dtype = _STORAGE[getattr(torch, meta["dtype"].removeprefix("torch."))]
    path = store / "kv.bin"
    mapped = np.memmap(path, dtype=dtype, mode="r", shape=shape)
    reader = open_for_random_reads(path)
    block = int(np.prod(shape[1:])) * np.dtype(dtype).itemsize
    rng = np.random.default_rng(args.seed)
    ways = {"memory_map": lambda users: np.ascontiguousarray(mapped[users]),
            "positioned_reads": lambda users: read_blocks(reader, users, shape[1:], dtype)}
    totals = {name: {"disk_bytes": 0, "seconds": 0.0} for name in ways}
    started, cached = time.time(), meminfo_gb("Cached")
    for batch in range(args.batches):
        for name, read in ways.items():
            users = np.sort(rng.choice(shape[0], args.batch_size, replace=False))
            before, clock = disk_bytes(), time.perf_counter()
            values = read(users)
            totals[name]["seconds"] += time.perf_counter() - clock
            totals[name]["disk_bytes"] += disk_bytes() - before
            if batch == 0:  # the same bytes either way
                other = next(way for other_name, way in ways.items() if other_name != name)
                assert np.array_equal(values, other(users))
    needed = args.batches * args.batch_size * block
    record = {"store": str(store), "shape": list(shape), "store_gb": round(path.stat().st_size / 2**30, 2),
              "memory_gb": round(meminfo_gb("MemTotal"), 1), "page_cache_gb_at_start": round(cached, 1),
              "batches": args.batches, "batch_size": args.batch_size, "bytes_needed_per_way": needed,
              "ways": {name: {"disk_gb": round(t["disk_bytes"] / 2**30, 3),
                              "disk_bytes_per_needed_byte": round(t["disk_bytes"] / needed, 2),
                              "seconds": round(t["seconds"], 2),
                              "seconds_per_batch": round(t["seconds"] / args.batches, 3)}
                       for name, t in totals.items()},
              "provenance": {"git_commit": git_commit(), "machine": machine(), "seed": args.seed,
                             "wall_seconds": round(time.time() - started, 1)}}
    for name, row in record["ways"].items():
        print(f"{name:17s} {row['disk_gb']:.2f} GB from disk for {needed / 2**30:.2f} GB needed "
              f"({row['disk_bytes_per_needed_byte']:.2f} x), {row['seconds_per_batch']:.2f} s a batch of "
              f"{args.batch_size}")
    print(f"store {record['store_gb']} GB; machine memory {record['memory_gb']} GB, page cache at the start "
          f"{record['page_cache_gb_at_start']} GB")
    if args.out:
        atomic_write(args.out, json.dumps(record, indent=2) + "\n")


if __name__ == "__main__":
    main()
