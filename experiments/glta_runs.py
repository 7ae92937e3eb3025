"""Every GLTA and GLTA+ run of a data set, one row each, from its results files: where and by which commits it was
trained, what each stage cost, how it stopped, its sample validation N@10 after every UA epoch, and its full
validation and test N@10; then the decoding modes read out of those runs.

    .venv/bin/python experiments/glta_runs.py [--datasets ml-1m amazon-scientific ml-100k]

Writes ``results/<dataset>/glta_runs.md`` (``experiments/reproduce.py --report`` does too), so the numbers docs
quote from a run can be checked against its file, and nobody needs to copy per-epoch values by hand.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from glta.paths import atomic_write
from glta.report import REPORTED_DATASETS

FAMILY = ("glta", "glta_plus")


def runs(results: Path, dataset: str) -> list[tuple[str, dict]]:
    """(name, record) of every GLTA-family results file of ``dataset`` (not the diagnostics, which hold no metrics):
    its path under ``results/<dataset>`` without ``.json`` (``glta``, ``seeds/glta-2026``, ``glta_variants/no_ia``,
    ...), sorted by name."""
    folder = results / dataset
    found = []
    for path in sorted(folder.rglob("*.json")):
        try:
            record = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError):
            continue
        if not isinstance(record, dict):
            continue
        metrics = record.get("metrics")
        if record.get("method") in FAMILY and isinstance(metrics, dict) and {"valid", "test"} <= set(metrics):
            found.append((path.relative_to(folder).with_suffix("").as_posix(), record))
    return found


def machine(record: dict) -> str:
    """The GPU, or the CPU with what decides its speed here: AMX, hardware bf16 (without it the LLM runs in fp32)."""
    found = (record.get("provenance") or {}).get("machine") or {}
    if found.get("gpu"):
        return found["gpu"]
    features = ["AMX" if found.get("amx") else None, "bf16" if found.get("bf16") else "no bf16"]
    threads = found.get("torch_threads")
    cpu = (found.get("cpu") or "CPU").replace("(R)", "").replace("(TM)", "")
    return (f"{cpu} ({', '.join(f for f in features if f)}"
            f"{f'; {threads} thread' + 's' * (threads != 1) if threads else ''})")


def commits(record: dict) -> str:
    provenance = record.get("provenance") or {}
    found = provenance.get("trained_by_commits") or [provenance.get("git_commit") or "?"]
    return ", ".join(commit[:7] for commit in found)


def seconds(value: float | None) -> str:
    return "—" if value is None else f"{value:,.0f}"


def trained_row(name: str, record: dict) -> str:
    training = record["training"]
    history = training.get("history") or []
    ia = seconds(training.get("ia_seconds"))
    if training.get("ia_reused"):
        ia += " (cache)"
    loss = f"{history[0]['loss']:.2f} → {history[-1]['loss']:.2f}" if history else "—"
    epochs = f"{training.get('best_epoch', '?')} of {training.get('epochs_run', len(history))}"
    metrics = record["metrics"]
    return (f"| {name} | {record['provenance'].get('seed', '—')} | {machine(record)} | {commits(record)} | {ia} | "
            f"{seconds(training.get('prefix_seconds'))} | {seconds(training.get('train_seconds'))} | {epochs} | "
            f"{training.get('stopped_by', '—')} | {loss} | {metrics['valid']['N@10']:.4f} | "
            f"{metrics['test']['N@10']:.4f} | {(record['provenance'].get('finished_at') or '—')[:10]} |")


def epochs_row(name: str, record: dict, width: int) -> str:
    history = record["training"].get("history") or []
    best = record["training"].get("best_epoch")
    cells = []
    for epoch in range(width):
        entry = next((h for h in history if h.get("epoch") == epoch), None)
        value = ((entry or {}).get("valid") or {}).get("N@10")
        cells.append("" if value is None else f"**{value:.4f}**" if epoch == best else f"{value:.4f}")
    return f"| {name} | " + " | ".join(cells) + " |"


def mode_row(name: str, record: dict) -> str:
    provenance = record["provenance"]
    inference = ((provenance.get("config") or {}).get("model") or {}).get("inference", "?")
    return (f"| {name} | {inference} | {provenance.get('seed', '—')} | {machine(record)} | {commits(record)} | "
            f"{seconds(provenance.get('wall_seconds'))} | {record['metrics']['valid']['N@10']:.4f} | "
            f"{record['metrics']['test']['N@10']:.4f} |")


def ledger(results: Path, dataset: str) -> str | None:
    """The Markdown of ``results/<dataset>/glta_runs.md``; None when the data set has no GLTA-family run."""
    found = runs(results, dataset)
    if not found:
        return None
    trained = [(name, record) for name, record in found if record.get("training")]
    modes = [(name, record) for name, record in found if not record.get("training")]
    lines = [f"# GLTA and GLTA+ runs on {dataset}", "",
             "One row a results file under `results/" + dataset + "/` (made by `experiments/glta_runs.py` from the "
             "files). IA, prefix and UA are the seconds each stage took (an IA read from the cache counts the time "
             "recorded when it was trained); epochs: the best UA epoch (counted from 0) of those run; valid: N@10 on "
             "every validation user with the best epoch's model; test: N@10 on every test user.", "",
             "| run | seed | machine | trained by | IA s | prefix s | UA s | best epoch | stopped | loss | valid | "
             "test | finished |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    lines += [trained_row(name, record) for name, record in trained]
    width = max((len(record["training"].get("history") or []) for _, record in trained), default=0)
    if width:
        lines += ["", "Sample validation N@10 after each UA epoch (the users early stopping reads, "
                      "`eval.valid_users`; the best in bold):", "",
                  "| run | " + " | ".join(str(epoch) for epoch in range(width)) + " |",
                  "|---|" + "---|" * width]
        lines += [epochs_row(name, record, width) for name, record in trained]
    if modes:
        lines += ["", "Decoding modes read out of a trained run (seconds: the whole read, validation and test):", "",
                  "| run | inference | seed | machine | by | s | valid | test |", "|---|---|---|---|---|---|---|---|"]
        lines += [mode_row(name, record) for name, record in modes]
    return "\n".join(lines) + "\n"


def write(results: Path, datasets: list[str]) -> list[Path]:
    written = []
    for dataset in datasets:
        text = ledger(results, dataset)
        if text is not None:
            path = results / dataset / "glta_runs.md"
            atomic_write(path, text)
            written.append(path)
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--datasets", nargs="+", default=list(REPORTED_DATASETS),
                        help="the data sets whose ledgers to write")
    parser.add_argument("--results", default="results", help="the results folder")
    args = parser.parse_args()
    for path in write(Path(args.results), args.datasets):
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
