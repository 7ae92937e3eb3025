"""Slot by slot, how autoregressive (AR) decoding departs from first-k on trained GLTA runs.

    .venv/bin/python experiments/ar_slots.py --run-dir runs/ml-1m/seeds/glta-2026 runs/ml-1m/seeds/glta-2027 \
        [--users 500] [--split test] [--out results/ml-1m/diagnostics/ar_slots.json]

Both modes read the same first output slot; from the second on, first-k shows the model another OUT placeholder
and AR the token of the item it just chose, an input training never put there. For each run, on the first
``--users`` users of the split (users with held-out items, in id order), this reads both modes' K recommendations
and prints per slot: the share of users whose item there is one of their held-out items (hit rate) in each mode,
the share of users for whom AR chose the same item as first-k at that slot, and the share whose AR item at that
slot is anywhere in first-k's K, and in each mode how close (cosine of the frozen LightGCN item embeddings) the
item at a slot is to the one a slot before; and each mode's N@10 over these users. Trains nothing.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

from glta.evaluation.metrics import all_metrics
from glta.evaluation.ranking import RankingEvaluator, top_k_hits
from glta.pipeline import load_run
from glta.results import git_commit, machine


def slots(run_dir: str, split: str, n_users: int) -> tuple[RankingEvaluator, dict[str, np.ndarray], np.ndarray]:
    """The split's evaluator restricted to its first ``n_users`` users, their K chosen items in slot order (users, K)
    in first-k and in AR decoding (one load of the run: the mode is read at each call), and the run's frozen
    LightGCN item embeddings."""
    _, data, model = load_run(run_dir)
    evaluator = RankingEvaluator(data, split)
    evaluator = evaluator.subset(np.arange(min(n_users, len(evaluator.users))))
    model.prepare_scoring(evaluator.exclude)
    users, size, chosen = evaluator.users, model.config.eval_batch_size, {}
    for mode in ("first_k", "autoregressive"):
        model.config.inference = mode
        chosen[mode] = torch.cat([model.recommend_slots(users[start:start + size])[0]
                                  for start in range(0, len(users), size)]).numpy()
    return evaluator, chosen, model.item_nodes.float().numpy()


def compare(first: np.ndarray, ar: np.ndarray, first_hits: np.ndarray, ar_hits: np.ndarray,
            items: np.ndarray) -> list[dict]:
    """Per slot (1-based): hit rates of both modes, how often AR's item equals first-k's there or is among
    first-k's K, and in each mode the mean cosine between the item there and the one a slot before in the frozen
    LightGCN item embeddings ``items`` (AR feeds that one back: does it then pick its neighbours?)."""
    unit = items / np.maximum(np.linalg.norm(items, axis=1, keepdims=True), 1e-12)

    def after(chosen: np.ndarray, j: int) -> float | None:  # over users with an item at both slots (-1: none left)
        if not j:
            return None
        both = (chosen[:, j] >= 0) & (chosen[:, j - 1] >= 0)
        return float(np.mean(np.sum(unit[chosen[both, j]] * unit[chosen[both, j - 1]], 1))) if both.any() else None

    return [{"slot": j + 1, "hit_first_k": float(first_hits[:, j].mean()), "hit_ar": float(ar_hits[:, j].mean()),
             "same_item": float((ar[:, j] == first[:, j]).mean()),
             "in_first_k": float((ar[:, j, None] == first).any(1).mean()),
             "cosine_to_previous_first_k": after(first, j), "cosine_to_previous_ar": after(ar, j)}
            for j in range(first.shape[1])]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--run-dir", nargs="+", required=True, help="trained GLTA run folders (run.json)")
    parser.add_argument("--users", type=int, default=500, help="users of the split read (in id order)")
    parser.add_argument("--split", choices=("valid", "test"), default="test", help="the split whose users are read")
    parser.add_argument("--threads", type=int, default=1, help="CPU threads (torch.set_num_threads)")
    parser.add_argument("--out", default=None, help="also write the table as JSON")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    started, runs = time.time(), {}
    for run_dir in args.run_dir:
        evaluator, chosen, items = slots(run_dir, args.split, args.users)
        first, ar = chosen["first_k"], chosen["autoregressive"]
        users = evaluator.users
        first_hits, ar_hits = (top_k_hits(chosen, evaluator.held_out, users) for chosen in (first, ar))
        rows = compare(first, ar, first_hits, ar_hits, items)
        n10 = {name: float(all_metrics(hits.astype(np.float64), evaluator.n_relevant, [10])["N@10"].mean())
               for name, hits in (("first_k", first_hits), ("autoregressive", ar_hits))}
        runs[run_dir] = {"users": int(len(users)), "N@10": n10, "slots": rows,
                         "data_fingerprint": evaluator.dataset.fingerprint()}
        print(f"{run_dir}: {len(users)} {args.split} users, N@10 first-k {n10['first_k']:.4f}, "
              f"AR {n10['autoregressive']:.4f}")
        print("| slot | hit first-k | hit AR | AR item = first-k's | AR item in first-k's K | cosine to the slot "
              "before, first-k | AR |")
        print("|---|---|---|---|---|---|---|")
        for row in rows:
            cosines = " | ".join("—" if row[key] is None else f"{row[key]:.3f}"
                                 for key in ("cosine_to_previous_first_k", "cosine_to_previous_ar"))
            print(f"| {row['slot']} | {row['hit_first_k']:.3f} | {row['hit_ar']:.3f} | {row['same_item']:.3f} | "
                  f"{row['in_first_k']:.3f} | {cosines} |")
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        made = {"git_commit": git_commit(), "machine": machine(), "wall_seconds": round(time.time() - started, 1),
                "command": ["experiments/ar_slots.py", *(sys.argv[1:] if argv is None else argv)]}
        Path(args.out).write_text(json.dumps({"split": args.split, "runs": runs, "provenance": made}, indent=1))


if __name__ == "__main__":
    main()
