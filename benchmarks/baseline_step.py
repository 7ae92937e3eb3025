"""Seconds per training step (forward + backward) of the graph baselines on a data set, at its configured batch size.

    .venv/bin/python benchmarks/baseline_step.py --dataset ml-1m --methods lightgcn lightgcn_plus hccf --steps 4

Prints the median over ``--steps`` steps after one warm-up step, and the implied seconds per epoch. RLMRec methods
need their LLM-written profiles (``glta text generate <data> --kinds profile,item_profile``).
"""

import argparse
import statistics
import time

import numpy as np
import torch

from glta.config import build_config
from glta.data import load_dataset
from glta.methods import method_class


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", default="ml-1m")
    parser.add_argument("--methods", nargs="+", default=["lightgcn", "lightgcn_plus"])
    parser.add_argument("--steps", type=int, default=4)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    for method in args.methods:
        config = build_config(method, args.dataset)
        dataset = load_dataset(config.data)
        model = method_class(method)(dataset, config.model)
        batches = model.train_batches(np.random.default_rng(0), config.train.batch_size)
        times = []
        for step in range(args.steps + 1):
            batch = next(batches)
            started = time.perf_counter()
            model.loss(batch).backward()
            if step:  # the first step warms caches up
                times.append(time.perf_counter() - started)
        median = statistics.median(times)
        per_epoch = median * model.batches_per_epoch(config.train.batch_size)
        print(f"{method} on {args.dataset}: {median:.2f} s per step (batch {config.train.batch_size}), "
              f"~{per_epoch:.0f} s per epoch, {args.threads} thread(s)", flush=True)


if __name__ == "__main__":
    main()
