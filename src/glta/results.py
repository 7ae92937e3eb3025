"""Results files: metrics plus how they were made (git commit, config, data fingerprint, seed, machine, time)."""

from __future__ import annotations

import hashlib
import json
import os
import platform
import subprocess
from datetime import datetime, timezone
from pathlib import Path

from glta.errors import GLTAError
from glta.memory import resident_gib
from glta.paths import atomic_write

# what the paper's tables read (glta.report); a results file holds whatever eval.ks produced
REQUIRED_METRICS = ("P@5", "P@10", "P@20", "N@5", "N@10", "N@20", "R@10", "R@20", "Hit@10", "MRR@10")


EXTRA_SEEDS = (2026, 2027)  # the training seeds experiments/seeds.py adds to a cell's main run: three in all


def tensors_sha256(*tensors) -> str:
    """A short SHA-256 of torch tensors' bytes, in order: what a results file records of the embeddings a run read
    (``provenance.inputs``), so that runs on another training or text of the same inputs can be told apart."""
    digest = hashlib.sha256()
    for tensor in tensors:
        digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()[:16]


def seed_path(main: Path, seed: int) -> Path:
    """Where another training seed of a cell's results file goes (``experiments/seeds.py``)."""
    return main.parent / "seeds" / f"{main.stem}-{seed}.json"


def seed_files(main: Path) -> list[Path]:
    """The extra seeds' results files of the cell whose main results file is ``main`` (``seed_path``'s)."""
    return sorted((main.parent / "seeds").glob(f"{main.stem}-*.json"))


def git_commit(root: str | Path | None = None) -> str:
    """The checkout's commit; with uncommitted changes to tracked files, ``+dirty-<hash>`` where the hash (SHA-256,
    12 hex digits) is of ``git diff HEAD``, so two runs from differently edited trees never share a label. Files under
    ``results/`` do not count: they are what runs write (a background job's new results must not mark every other
    run of the checkout dirty), never what a run reads. ``$GLTA_GIT_COMMIT``, when set, wins: a copy of the tree
    shipped elsewhere (e.g. to a GPU machine) may carry no or a stale ``.git``."""
    if os.environ.get("GLTA_GIT_COMMIT"):
        return os.environ["GLTA_GIT_COMMIT"]
    root = Path(root) if root is not None else Path(__file__).resolve().parent
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True,
                                check=True).stdout.strip()
        inputs = [":(top)", ":(top,exclude)results"]
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no", "--", *inputs], cwd=root,
                               capture_output=True, text=True, check=True).stdout.strip()
        if not dirty:
            return commit
        diff = subprocess.run(["git", "diff", "HEAD", "--no-color", "--", *inputs], cwd=root, capture_output=True,
                              check=True).stdout
        import hashlib

        return f"{commit}+dirty-{hashlib.sha256(diff).hexdigest()[:12]}"
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def commit_status(commit: str, root: str | Path | None = None) -> str:
    """``clean`` (a commit of this repository's history), ``dirty`` (one, plus uncommitted changes), ``unknown``
    (no such commit here, or no git to ask)."""
    base, _, rest = commit.partition("+")
    root = Path(root) if root is not None else Path(__file__).resolve().parent
    try:
        found = subprocess.run(["git", "cat-file", "-e", f"{base}^{{commit}}"], cwd=root, capture_output=True)
    except OSError:
        return "unknown"
    if found.returncode != 0 or len(base) < 7:
        return "unknown"
    return "dirty" if rest else "clean"


def commits_status(commits: list[str]) -> str:
    """``commit_status`` of several commits together: ``clean`` only if every one is, else the worst. A commit git
    cannot find counts as clean when it is this copy's own label for a clean tree (``git_commit()``, e.g. the
    ``$GLTA_GIT_COMMIT`` a GPU copy without ``.git`` is given), as a run made here under it is."""
    statuses, current = set(), None
    for commit in dict.fromkeys(commits):
        status = commit_status(commit)
        if status == "unknown" and commit != "unknown" and "+" not in commit:
            current = current or git_commit()
            status = "clean" if commit == current else status
        statuses.add(status)
    return next(status for status in ("unknown", "dirty", "clean") if status in statuses)


def provenance_status(prov: dict) -> str:
    """``commits_status`` of a run as a whole: the commit it finished under and, for a run resumed from a checkpoint
    under another commit, each commit that trained it (``trained_by_commits``; ``unrecorded`` for a checkpoint
    written before they were kept, which counts as ``unknown``)."""
    return commits_status([prov.get("git_commit") or "unknown", *prov.get("trained_by_commits", [])])


def machine() -> dict:
    """Where a run ran. ``amx`` and ``bf16`` tell CPUs with the same model name apart: bf16 matmuls are ~4x faster
    with AMX, and without hardware bf16 the LLM runs in fp32, several times slower (docs/measurements.md)."""
    import torch  # here, not at the top: reading and comparing results files (`glta compare`) needs no torch

    from glta.device import cpu_has_bf16, cpu_info

    model, flags = cpu_info()
    return {"host": platform.node(), "platform": platform.platform(), "cpu": model or platform.processor(),
            "amx": "amx_bf16" in flags if flags else None, "bf16": cpu_has_bf16() if flags else None,
            "cores": os.cpu_count(), "torch": torch.__version__, "torch_threads": torch.get_num_threads(),
            "gpu": torch.cuda.get_device_name() if torch.cuda.is_available() else None,
            "python": platform.python_version()}


def peak_memory(earlier_gib: float | None = None) -> dict:
    """The most memory a run has held, in GiB: resident (``resident_gib``; ``earlier_gib``, the peak of the earlier
    processes of a resumed run, which its checkpoints carry, when that is higher) and, on a GPU, allocated by torch
    in this process. A process that ran several runs (``experiments/glta_variants.py``) reports its peak over all
    of them."""
    import torch

    peak = {"resident_gib": round(max(resident_gib(), earlier_gib or 0.0), 2)}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        peak["gpu_gib"] = round(torch.cuda.max_memory_allocated() / 2**30, 2)
    return peak


def provenance(config: dict, data_fingerprint: str, seed: int, wall_seconds: float, commit: str | None = None,
               peak_gib: float | None = None, **extra) -> dict:
    """``commit`` should be read when the run starts (``git_commit()``), before later edits can change it;
    ``peak_gib``: the resident peak of the run's earlier processes, for a resumed run (``peak_memory``)."""
    return {"git_commit": commit or git_commit(), "config": config, "data_fingerprint": data_fingerprint, "seed": seed,
            "machine": machine(), "wall_seconds": round(wall_seconds, 2), "peak_memory": peak_memory(peak_gib),
            "finished_at": datetime.now(timezone.utc).isoformat(timespec="seconds"), **extra}


def write_results(path: str | Path, method: str, dataset: str, valid: dict, test: dict, prov: dict,
                  **extra) -> Path:
    path = Path(path)
    record = {"method": method, "dataset": dataset, "metrics": {"valid": valid, "test": test}, **extra,
              "provenance": prov}
    atomic_write(path, dumps(record))
    return path


PER_USER_KEYS = ("per_user_valid", "per_user_test", "per_user_backbone_test")


def dumps(record: dict) -> str:
    """A results record as indented JSON, with the per-user values on one line each (thousands of numbers)."""
    text = json.dumps({k: v for k, v in record.items() if k not in PER_USER_KEYS}, indent=2, default=str)
    for key in PER_USER_KEYS:
        if record.get(key):
            text = text[:-2] + f',\n  "{key}": {{' + ", ".join(
                f"{json.dumps(k)}: {json.dumps(v, separators=(',', ':'))}" for k, v in record[key].items()) + "}\n}"
    return text + "\n"


def train_seconds(record: dict) -> float:
    """Training wall time of a run: the fit loop plus every stage before it that the results file records
    (GLTA's prefix store and IA; a stage read from the cache counts the time recorded when it was trained)."""
    training = record.get("training", {})
    stages = sum(value for key, value in training.items() if key.endswith("_seconds") and key != "train_seconds")
    return training.get("train_seconds", 0) + stages


def check_writable(path: str | Path, what: str = "results file") -> None:
    """Fail before any training if ``path`` could not be written afterwards (a folder in its place, a read-only or
    non-folder parent), so a finished run never ends without its output."""
    import os

    path = Path(path)
    if path.is_dir():
        raise GLTAError(f"{what} {path} is a folder; give a file path (e.g. --out {path / 'result.json'})")
    parent = path.parent
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir() or not os.access(parent, os.W_OK | os.X_OK):
        raise GLTAError(f"{what} {path} cannot be written ({parent} is not a writable folder); choose another path")


def read_results(path: str | Path) -> dict:
    """A results file's record; a missing or unreadable file is one line naming it."""
    try:
        return json.loads(Path(path).read_text())
    except FileNotFoundError:
        raise GLTAError(f"{path}: no such results file") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise GLTAError(f"{path} is not a results file (not valid JSON: {error}); `glta train` or `glta evaluate "
                        "--out` writes one") from None
