"""One process against N processes (torchrun, gloo on CPU) on the same run: losses, metrics and wall time.

    .venv/bin/python benchmarks/distributed_equivalence.py --method glta --dataset synthetic --processes 2 \
        --out benchmarks/results/distributed_glta_synthetic.json [KEY=VALUE ...]

Trains ``--method`` twice from the same config and seed, once as one process and once launched by torchrun with
``--processes`` workers (one thread each, so both runs use the same cores' worth of threads per process), and
records each run's per-epoch training loss and validation score, its test metrics, its wall time and their
differences. ``tests/test_distributed.py`` checks LightGCN this way in seconds; this script is for the slower
models (GLTA: every process loads its own frozen LLM), whose tolerance it measures rather than asserts.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from glta.results import git_commit, machine


def run(launch: list[str], method: str, dataset: str, overrides: list[str], folder: Path) -> dict:
    """One training run in ``folder``, with a cache of its own (the converted LLM linked in), so that no stage's
    result (GLTA's IA) is reused from the other run: every stage trains under this run's processes."""
    from glta.paths import cache_dir

    cache = folder / "cache"
    cache.mkdir(parents=True)
    if cache_dir("llm").exists():
        (cache / "llm").symlink_to(cache_dir("llm"))
    started = time.time()
    done = subprocess.run([*launch, "-m", "glta", "train", method, "--dataset", dataset, *overrides,
                           "train.threads=1", "--no-progress", "--run-dir", str(folder / "run"),
                           "--out", str(folder / "results.json")], capture_output=True, text=True,
                          env={**os.environ, "OMP_NUM_THREADS": "1", "GLTA_CACHE_DIR": str(cache)})
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(launch[:1])} failed:\n{done.stderr[-3000:]}")
    record = json.loads((folder / "results.json").read_text())
    return {"wall_seconds": round(time.time() - started, 1), "test": record["metrics"]["test"],
            "valid": record["metrics"]["valid"],
            "history": [{"epoch": h["epoch"], "loss": h["loss"], "valid": h.get("valid")}
                        for h in record["training"]["history"]],
            "stages": {k: v for k, v in record["training"].items() if k.endswith(("_final_loss", "_seconds"))}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--method", default="glta")
    parser.add_argument("--dataset", default="synthetic")
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--out", required=True)
    parser.add_argument("overrides", nargs="*", metavar="KEY=VALUE")
    args = parser.parse_args()
    torchrun = str(Path(sys.executable).with_name("torchrun"))
    with tempfile.TemporaryDirectory() as tmp:
        one = run([sys.executable], args.method, args.dataset, args.overrides, Path(tmp) / "one")
        many = run([torchrun, "--standalone", "--nproc-per-node", str(args.processes)], args.method, args.dataset,
                   args.overrides, Path(tmp) / "many")
    differences = {
        "loss_relative": [abs(b["loss"] - a["loss"]) / abs(a["loss"]) for a, b in zip(one["history"], many["history"])],
        "test": {m: many["test"][m] - one["test"][m] for m in ("P@5", "P@10", "N@5", "N@10")}}
    record = {"method": args.method, "dataset": args.dataset, "processes": args.processes,
              "overrides": args.overrides, "one_process": one, "processes_run": many, "differences": differences,
              "git_commit": git_commit(), "machine": machine()}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(record, indent=2) + "\n")
    print(json.dumps({"differences": differences, "wall": [one["wall_seconds"], many["wall_seconds"]]}, indent=2))


if __name__ == "__main__":
    main()
