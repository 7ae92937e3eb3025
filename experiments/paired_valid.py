"""Compare two trained runs on validation, user by user: the paired test a choice between settings needs when their
validation metrics differ by less than the epoch-to-epoch noise.

    .venv/bin/python experiments/paired_valid.py runs/ml-100k/glta_variants/overlap runs/ml-100k/glta [--metric N@10]
    .venv/bin/python experiments/paired_valid.py results/ml-1m/glta_variants/slots20.json results/ml-1m/glta.json

Each side is a run folder or a results file. A results file that keeps its per-user validation values
(``per_user_valid``, written by training runs since December 2026) is read as it is; a run folder's saved model (the
best epoch, as training kept it) is scored on every validation user of its data set, with the inference-time
settings it was trained with. The two must share the data set and split. Prints both means, the difference, and the
Wilcoxon signed-rank p-value over users (``glta.significance``); ``--out FILE`` also writes them as JSON with
provenance. Test data is never read.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from glta.errors import GLTAError
from glta.evaluation.ranking import RankingEvaluator
from glta.pipeline import load_run
from glta.results import git_commit, machine
from glta.significance import compare
from glta.training import evaluate


def validation_record(run_dir: Path, metric: str, progress: bool) -> dict:
    """A results-like record holding the run's per-user validation values under ``per_user_test`` (the key
    ``glta.significance`` reads), so the same paired test applies. ``run_dir`` may also be a results file that kept
    them."""
    if run_dir.suffix == ".json":
        return from_results(run_dir, metric)
    config, dataset, model = load_run(run_dir)
    evaluator = RankingEvaluator(dataset, "valid", config.eval.ks, config.eval.batch_size)
    metrics = evaluate(model, evaluator, progress=progress, per_user=metric)
    per_user = metrics.pop("per_user")
    return {"method": config.method, "dataset": dataset.name, "fingerprint": dataset.fingerprint(),
            "metrics": {"test": metrics}, "per_user_test": per_user}


def from_results(path: Path, metric: str) -> dict:
    """``validation_record`` of a results file with ``per_user_valid``."""
    from glta.results import read_results

    record = read_results(path)
    per_user = record.get("per_user_valid")
    if not per_user or per_user.get("metric") != metric:
        raise GLTAError(f"{path} keeps no per-user validation {metric} (results made before December 2026 do not); "
                        "give the run folder instead, whose saved model is then scored")
    return {"method": record["method"], "dataset": record["dataset"],
            "fingerprint": record["provenance"]["data_fingerprint"], "metrics": {"test": record["metrics"]["valid"]},
            "per_user_test": per_user}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run_a", help="a run folder or a results file")
    parser.add_argument("run_b", help="the other, of the same data set and split")
    parser.add_argument("--metric", default="N@10", help="the validation metric compared")
    parser.add_argument("--out", help="also write the comparison as JSON with provenance")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    args = parser.parse_args()
    started = time.time()
    try:
        a, b = (validation_record(Path(run), args.metric, not args.no_progress) for run in (args.run_a, args.run_b))
        if a["fingerprint"] != b["fingerprint"]:
            raise GLTAError(f"{args.run_a} and {args.run_b} were trained on different data or splits")
        paired = compare([a], [b], args.metric)
    except GLTAError as error:
        raise SystemExit(f"paired_valid: error: {error}") from None
    summary = {"run_a": args.run_a, "run_b": args.run_b, "split": "valid", "metric": args.metric,
               "users": paired.users, "mean_a": round(paired.mean_a, 6), "mean_b": round(paired.mean_b, 6),
               "difference": round(paired.difference, 6), "wilcoxon_p": paired.wilcoxon_p}
    print(json.dumps(summary, indent=2))
    if args.out:
        summary.update(git_commit=git_commit(), machine=machine(), wall_seconds=round(time.time() - started, 1))
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(summary, indent=2) + "\n")


if __name__ == "__main__":
    main()
