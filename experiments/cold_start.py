"""How well a trained model serves a user it was not trained on (cold start, `glta recommend --items`): every test
user is folded in from their training items as if new, and ranked on the test split exactly as the trained user is.

    .venv/bin/python experiments/cold_start.py --dataset ml-100k --methods lightgcn glta glta_plus \
        --out results/ml-100k/diagnostics/cold_start.json

For each method's run folder (``runs/<dataset>/<method>``) it reports test N@10 of the trained users and of the same
users folded in (``Recommender.score_new_users`` with their training items; their valid and test items are never
shown), the ratio, and the paired Wilcoxon p-value over users (``glta.significance``). A folded-in GLTA user has no
profile or prediction text (none was written for a new user) and shows the given items in the prompt; a
folded-in LightGCN user is built by LightGCN's propagation rule. Nothing is trained; test data is only scored.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch

from glta.errors import GLTAError
from glta.evaluation.ranking import RankingEvaluator
from glta.pipeline import load_run
from glta.results import git_commit, machine
from glta.significance import compare
from glta.training import evaluate


def _record(name: str, fingerprint: str, values: np.ndarray, users: np.ndarray) -> dict:
    """A results-like record holding per-user values under ``per_user_test`` (what ``glta.significance`` reads)."""
    return {"method": name, "fingerprint": fingerprint, "metrics": {"test": {"N@10": float(values.mean())}},
            "per_user_test": {"metric": "N@10", "users": users.tolist(), "values": np.round(values, 6).tolist()}}


def cold_start(run_dir: Path, batch_size: int, progress: bool) -> dict:
    config, dataset, model = load_run(run_dir)
    evaluator = RankingEvaluator(dataset, "test", config.eval.ks, batch_size)
    trained = evaluate(model, evaluator, progress=progress, per_user="N@10")["per_user"]
    train = dataset.train.tocsr()
    model.eval()
    with torch.no_grad():
        folded = evaluator.evaluate(lambda users: model.score_new_users([train[u].indices for u in users.tolist()]),
                                    progress=progress, per_user=True)["N@10"]
    users = np.asarray(trained["users"])
    paired = compare([_record("cold", dataset.fingerprint(), folded, users)],
                     [_record("trained", dataset.fingerprint(), np.asarray(trained["values"]), users)])
    return {"run": str(run_dir), "method": config.method, "users": paired.users,
            "trained_N@10": round(paired.mean_b, 6), "cold_N@10": round(paired.mean_a, 6),
            "ratio": round(paired.mean_a / paired.mean_b, 4) if paired.mean_b else None,
            "wilcoxon_p": paired.wilcoxon_p}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", required=True, help="built-in data set name")
    parser.add_argument("--methods", nargs="+", default=["lightgcn", "glta", "glta_plus"],
                        help="run folders below runs/<dataset>/")
    parser.add_argument("--batch-size", type=int, default=32, help="users per scoring batch (GLTA's LLM forward)")
    parser.add_argument("--threads", type=int, default=0, help="CPU threads (0: torch's default)")
    parser.add_argument("--out", help="also write the rows as JSON")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    started, rows = time.time(), []
    for method in args.methods:
        try:
            row = cold_start(Path("runs") / args.dataset / method, args.batch_size, not args.no_progress)
        except GLTAError as error:
            raise SystemExit(f"cold_start: {method}: {error}") from None
        print(json.dumps(row), flush=True)
        rows.append(row)
    print(f"\n{args.dataset}: test N@10 of trained users vs the same users folded in from their training items")
    print("| method | users | trained | folded in | ratio | Wilcoxon p |\n|---|---|---|---|---|---|")
    for row in rows:
        print(f"| {row['method']} | {row['users']} | {row['trained_N@10']:.4f} | {row['cold_N@10']:.4f} | "
              f"{row['ratio']:.2f} | {row['wilcoxon_p']:.2g} |")
    if args.out:
        summary = {"dataset": args.dataset, "rows": rows, "git_commit": git_commit(), "machine": machine(),
                   "wall_seconds": round(time.time() - started, 1)}
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(summary, indent=2) + "\n")


if __name__ == "__main__":
    main()
