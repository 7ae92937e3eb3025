"""Full-ranking evaluation at catalogue scale: seconds and peak memory of RankingEvaluator on random data.

    .venv/bin/python benchmarks/eval_scale.py [--sizes 10000x10000 100000x50000] [--threads 2] [--out FILE]

Each size is users x items; every user has ``--per-user`` training interactions and a quarter as many held out
(uniform random items), and the scores are dot products of random 64-dim user and item vectors, computed per batch
as a trained embedding model would. Reports the evaluation's wall time, the time of the scoring matmuls alone (the
floor), and the process's peak RSS. Exact full ranking: every item is scored for every user. Set
THP_MEM_ALLOC_ENABLE=0 to see the evaluator without the huge pages ``import glta`` asks PyTorch for.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import time
from pathlib import Path

import glta  # noqa: F401  (first: it sets PyTorch's huge-page switch, read when torch loads)
import numpy as np
import torch

from glta.data.dataset import RecDataset
from glta.evaluation.ranking import RankingEvaluator
from glta.results import git_commit, machine


def random_dataset(n_users: int, n_items: int, per_user: int, seed: int = 0) -> RecDataset:
    rng = np.random.default_rng(seed)
    held = max(1, per_user // 4)
    users = np.repeat(np.arange(n_users), per_user + held)
    items = rng.integers(0, n_items, size=len(users))
    pairs = np.unique(users.astype(np.int64) * n_items + items)
    users, items = pairs // n_items, pairs % n_items
    test = rng.random(len(users)) < held / (per_user + held)
    empty = (np.array([], dtype=np.int64), np.array([], dtype=np.int64))
    ids = lambda n: np.array([str(i) for i in range(n)], dtype=object)  # noqa: E731
    return RecDataset.from_parts("scale", ids(n_users), ids(n_items),
                                 {"train": (users[~test], items[~test]), "valid": empty,
                                  "test": (users[test], items[test])}, {}, {})


def measure(n_users: int, n_items: int, per_user: int, batch_size: int) -> dict:
    dataset = random_dataset(n_users, n_items, per_user)
    generator = torch.Generator().manual_seed(0)
    user_vectors = torch.randn(n_users, 64, generator=generator)
    item_vectors = torch.randn(n_items, 64, generator=generator)
    score = lambda users: user_vectors[users] @ item_vectors.T  # noqa: E731
    evaluator = RankingEvaluator(dataset, "test", [5, 10, 20], batch_size)
    started = time.perf_counter()
    metrics = evaluator.evaluate(score)
    seconds = time.perf_counter() - started
    started = time.perf_counter()
    for start in range(0, len(evaluator.users), batch_size):
        score(torch.from_numpy(evaluator.users[start:start + batch_size]))
    matmul = time.perf_counter() - started
    return {"users": n_users, "items": n_items, "evaluated_users": int(len(evaluator.users)),
            "train_per_user": per_user, "batch_size": batch_size, "seconds": round(seconds, 2),
            "scoring_matmuls_seconds": round(matmul, 2), "N@10": round(metrics["N@10"], 6),
            "peak_rss_gib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20, 2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", nargs="+", default=["10000x10000", "100000x50000"])
    parser.add_argument("--per-user", type=int, default=40)
    parser.add_argument("--batch-size", type=int, default=1024)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    rows = []
    for size in args.sizes:
        n_users, n_items = (int(x) for x in size.split("x"))
        rows.append(measure(n_users, n_items, args.per_user, args.batch_size))
        print(json.dumps(rows[-1]), flush=True)
    if args.out:
        record = {"benchmark": "eval_scale", "rows": rows, "threads": args.threads,
                  "thp_mem_alloc_enable": os.environ.get("THP_MEM_ALLOC_ENABLE"), "git_commit": git_commit(),
                  "machine": machine()}
        Path(args.out).write_text(json.dumps(record, indent=2) + "\n")


if __name__ == "__main__":
    main()
