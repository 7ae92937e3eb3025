"""Reading a large generic CSV of interactions (`--format csv`): seconds and peak memory, with the delimiter told
from the header (pandas' C parser, what `glta` does) against pandas' delimiter-sniffing Python parser (before).

    .venv/bin/python benchmarks/data_loading.py [--rows 2000000] [--out FILE]

The file is written first into a temporary folder: MovieLens-25M's layout (userId,movieId,rating,timestamp), seeded
random ids (100,000 users, 30,000 items), so nothing licensed is needed. Each reader builds the same interactions
(checked); the time is the whole loader (parse, id checks, timestamps, de-duplication), not the cached load a second
`glta` call makes.
"""

from __future__ import annotations

import argparse
import json
import resource
import tempfile
import time
from pathlib import Path
from unittest import mock

import numpy as np

from glta.data import formats
from glta.results import git_commit, machine


def write_ratings(path: Path, rows: int, seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    table = np.stack([rng.integers(1, 100_000, rows), rng.integers(1, 30_000, rows), rng.integers(1, 6, rows),
                      rng.integers(10**9, 2 * 10**9, rows)], axis=1)
    with open(path, "w") as handle:
        handle.write("userId,movieId,rating,timestamp\n")
        np.savetxt(handle, table, fmt="%d", delimiter=",")


def timed(path: Path) -> tuple[float, object]:
    started = time.perf_counter()
    interactions = formats.FORMATS["csv"](path)
    return time.perf_counter() - started, interactions


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=2_000_000)
    parser.add_argument("--out")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        path, warm = Path(folder) / "ratings.csv", Path(folder) / "warm-up.csv"
        write_ratings(warm, 1000)
        timed(warm)  # the first call's one-off costs (imports, pandas' parser set-up) in neither time
        write_ratings(path, args.rows)
        size = path.stat().st_size
        c_seconds, c_result = timed(path)
        with mock.patch.object(formats, "_delimiter", lambda _path: None):  # pandas sniffs: its Python parser
            python_seconds, python_result = timed(path)
    same = all(np.array_equal(getattr(c_result, name), getattr(python_result, name))
               for name in ("users", "items", "user_ids", "item_ids", "order"))
    record = {"benchmark": "data_loading", "rows": args.rows, "file_mib": round(size / 2**20, 1),
              "interactions": int(len(c_result.users)), "c_parser_seconds": round(c_seconds, 2),
              "python_parser_seconds": round(python_seconds, 2), "speedup": round(python_seconds / c_seconds, 2),
              "same_interactions": bool(same),
              "peak_rss_gib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20, 2),
              "git_commit": git_commit(), "machine": machine()}
    print(json.dumps(record, indent=2))
    if args.out:
        Path(args.out).write_text(json.dumps(record, indent=2) + "\n")


if __name__ == "__main__":
    main()
