"""Collect results files into one Markdown table (test metrics, chosen on validation, with training wall time).

    .venv/bin/python experiments/table.py --out results/table.md

Rows are methods, column groups data sets; a method not yet trained on a data set shows "—". Each cell comes from
``results/<dataset>/<method>.json``; the training time is the chosen point's, and for tuned methods the time of the
whole grid is listed too.
"""

import argparse
import json
from pathlib import Path

METHODS = ["pop", "lightgcn", "hccf", "lightgcn_plus", "hccf_plus", "rlmrec_con", "rlmrec_gen", "glta"]
DATASETS = ["ml-1m", "amazon-scientific", "goodreads-once"]
METRICS = ["P@5", "P@10", "N@5", "N@10"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--results", default="results")
    parser.add_argument("--datasets", nargs="+", default=DATASETS)
    parser.add_argument("--out")
    args = parser.parse_args()
    lines = ["| method | " + " | ".join(f"{d} {m}" for d in args.datasets for m in METRICS + ["train s"]) + " |",
             "|---|" + "---|" * (len(args.datasets) * (len(METRICS) + 1))]
    notes = []
    for method in METHODS:
        cells = []
        for dataset in args.datasets:
            path = Path(args.results) / dataset / f"{method}.json"
            if not path.exists():
                cells += ["—"] * (len(METRICS) + 1)
                continue
            record = json.loads(path.read_text())
            test = record["metrics"]["test"]
            training = record.get("training", {})
            seconds = training.get("train_seconds", 0) + sum(v for k, v in training.items()
                                                           if k.endswith("_seconds") and k != "train_seconds")
            cells += [f"{test[m]:.4f}" for m in METRICS] + [f"{seconds:,.0f}"]
            selection = record.get("selection")
            if selection:
                notes.append(f"- {method} on {dataset}: chose {selection['chosen']} by {selection['metric']} among "
                             f"{len(selection['points'])} points ({selection['train_seconds_all_points']:,.0f} s "
                             "for the whole grid)")
        lines.append(f"| {method} | " + " | ".join(cells) + " |")
    text = "\n".join(lines) + "\n\n" + "\n".join(notes) + ("\n" if notes else "")
    print(text)
    if args.out:
        Path(args.out).write_text(text)


if __name__ == "__main__":
    main()
