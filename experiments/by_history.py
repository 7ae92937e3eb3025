"""Test N@10 by the length of users' training histories: where a method gains or loses against a reference.

    .venv/bin/python experiments/by_history.py --dataset ml-100k --reference lightgcn --methods glta glta_plus \
        [--groups 4] [--out results/ml-100k/diagnostics/by_history.json]

Reads the per-user test values the results files keep (``per_user_test``; ``glta_variants/<name>`` names a variant),
splits the users both files rank into groups of equal size by their number of training items, and prints each
group's mean N@10 per method with its difference to the reference. Trains and evaluates nothing.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from glta.config import DataConfig
from glta.data import load_dataset
from glta.results import git_commit, machine, read_results


def per_user(path: Path) -> dict[int, float]:
    record = read_results(path)
    values = record.get("per_user_test")
    if not values:
        raise SystemExit(f"{path} keeps no per-user test values: rerun it, or `glta evaluate --run-dir RUN --out FILE`")
    return dict(zip(values["users"], values["values"]))


def by_history(train_counts: np.ndarray, runs: dict[str, dict[int, float]], reference: str, groups: int) -> list[dict]:
    """Rows of (history range, users, mean per run, difference to ``reference``) over equal-size user groups."""
    users = np.array(sorted(set.intersection(*(set(r) for r in runs.values()))))
    if not len(users):
        raise SystemExit("the results files share no user with a test value")
    order = users[np.argsort(train_counts[users], kind="stable")]
    rows = []
    for part in np.array_split(order, groups):
        means = {name: float(np.mean([run[u] for u in part])) for name, run in runs.items()}
        rows.append({"train_items": [int(train_counts[part].min()), int(train_counts[part].max())],
                     "users": int(len(part)), "N@10": means,
                     "difference": {name: means[name] - means[reference] for name in runs if name != reference}})
    return rows


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", required=True, help="built-in data set name")
    parser.add_argument("--reference", default="lightgcn", help="the method the others are compared with")
    parser.add_argument("--methods", nargs="+", required=True, help="results names, e.g. glta glta_variants/overlap")
    parser.add_argument("--groups", type=int, default=4, help="groups of equal size by training items")
    parser.add_argument("--results", default="results", help="the results folder")
    parser.add_argument("--out", default=None, help="also write the table as JSON")
    args = parser.parse_args(argv)
    data = load_dataset(DataConfig(name=args.dataset))
    counts = np.diff(data.train.indptr)
    names = [args.reference] + [m for m in args.methods if m != args.reference]
    runs = {name: per_user(Path(args.results) / args.dataset / f"{name}.json") for name in names}
    rows = by_history(counts, runs, args.reference, args.groups)
    print(f"{args.dataset}: test N@10 by training-history length ({args.groups} groups of equal size)")
    print("| training items | users | " + " | ".join(names) + " |")
    print("|---|---|" + "---|" * len(names))
    for row in rows:
        cells = [f"{row['N@10'][args.reference]:.4f}"] + [
            f"{row['N@10'][n]:.4f} ({row['difference'][n]:+.4f})" for n in names[1:]]
        print(f"| {row['train_items'][0]}-{row['train_items'][1]} | {row['users']} | " + " | ".join(cells) + " |")
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        made = {"git_commit": git_commit(), "data_fingerprint": data.fingerprint(), "machine": machine(),
                "command": ["experiments/by_history.py", *(sys.argv[1:] if argv is None else argv)]}
        Path(args.out).write_text(json.dumps({"dataset": args.dataset, "reference": args.reference,
                                              "files": {n: str(Path(args.results) / args.dataset / f"{n}.json")
                                                        for n in names}, "groups": rows, "provenance": made},
                                             indent=1))


if __name__ == "__main__":
    main()
