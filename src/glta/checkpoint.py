"""Training checkpoints without pickle: tensors in one safetensors file, everything else as JSON in its header.

A checkpoint holds the model's and the best epoch's weights, the optimiser's state, the torch and NumPy random
states and the loop's bookkeeping (epoch, history, best score). Nothing in it is executable: safetensors stores raw
tensor bytes and the JSON header is parsed as data. Checkpoints of earlier versions (``checkpoint.pt``, a pickle)
are refused and never opened, since unpickling a file can run arbitrary code.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch

from glta.errors import GLTAError

CHECKPOINT_NAME = "checkpoint.safetensors"
LEGACY_NAME = "checkpoint.pt"  # the pickle format of earlier versions: refused, never loaded
FORMAT_VERSION = 1
UNRECORDED = "unrecorded"  # stands for the commits of a checkpoint written before checkpoints recorded them


def _flatten(prefix: str, tree: Any, tensors: dict[str, torch.Tensor]) -> Any:
    """Move every tensor of a nested dict/list into ``tensors`` (keyed by its path); return the JSON-able rest,
    with each tensor replaced by ``{"__tensor__": key}``."""
    if isinstance(tree, torch.Tensor):
        tensors[prefix] = tree.detach().to("cpu").clone().contiguous()
        return {"__tensor__": prefix}
    if isinstance(tree, dict):
        if not all(isinstance(k, (str, int)) for k in tree):
            raise TypeError(f"checkpoint key types at {prefix!r} must be str or int")
        # int keys (optimiser state is indexed by parameter number) survive the JSON round trip as a tagged list
        return {"__dict__": [[k, _flatten(f"{prefix}.{k}", v, tensors)] for k, v in tree.items()]}
    if isinstance(tree, (list, tuple)):
        return [_flatten(f"{prefix}.{n}", v, tensors) for n, v in enumerate(tree)]
    if tree is None or isinstance(tree, (bool, int, float, str)):
        return tree
    raise TypeError(f"checkpoint value at {prefix!r} has type {type(tree).__name__}, which is not stored")


def _unflatten(tree: Any, tensors: dict[str, torch.Tensor]) -> Any:
    if isinstance(tree, dict):
        if "__tensor__" in tree:
            return tensors[tree["__tensor__"]]
        return {k: _unflatten(v, tensors) for k, v in tree["__dict__"]}
    if isinstance(tree, list):
        return [_unflatten(v, tensors) for v in tree]
    return tree


def save_checkpoint(path: str | Path, state: dict) -> None:
    """Write ``state`` (nested dicts/lists of tensors, numbers, strings, None) atomically to ``path``."""
    from safetensors.torch import save_file

    from glta.paths import atomic_path

    tensors: dict[str, torch.Tensor] = {}
    tree = _flatten("state", state, tensors)
    header = {"format": "glta-checkpoint", "version": str(FORMAT_VERSION), "tree": json.dumps(tree)}
    with atomic_path(Path(path)) as staging:
        save_file(tensors, staging, metadata=header)


def load_checkpoint(path: str | Path, device: torch.device | str = "cpu") -> dict:
    """Read a checkpoint written by ``save_checkpoint``; a damaged or foreign file is a one-line ``GLTAError``."""
    from safetensors import SafetensorError, safe_open

    path = Path(path)
    try:
        with safe_open(str(path), framework="pt", device=str(device)) as handle:
            header = handle.metadata() or {}
            if header.get("format") != "glta-checkpoint":
                raise GLTAError(f"{path} is not a glta training checkpoint; delete it or drop --resume")
            tensors = {key: handle.get_tensor(key) for key in handle.keys()}
            tree = json.loads(header["tree"])
    except (SafetensorError, OSError, ValueError, KeyError) as error:
        raise GLTAError(f"{path} is damaged ({str(error).splitlines()[0] if str(error) else type(error).__name__}); "
                        "delete it to start the run again") from None
    return _unflatten(tree, tensors)


def find_checkpoint(folder: str | Path) -> Path | None:
    """The run folder's checkpoint, or None. A legacy pickle checkpoint is an error (it is never unpickled)."""
    folder = Path(folder)
    legacy = folder / LEGACY_NAME
    if legacy.exists():
        raise GLTAError(f"{legacy} is a pickle checkpoint of an older glta; it is not loaded because unpickling can "
                        f"run code. Delete it (the run restarts) or resume with the version that wrote it")
    current = folder / CHECKPOINT_NAME
    return current if current.exists() else None


class _NoTensors(dict):
    """Stands in for a checkpoint's tensors when only its bookkeeping is read: every tensor reads as None."""

    def __missing__(self, key):
        return None


def _bookkeeping(path: str | Path) -> dict | None:
    """The checkpoint's state with every tensor read as None (its header alone); None without a readable one."""
    from safetensors import SafetensorError, safe_open

    try:
        with safe_open(str(path), framework="pt") as handle:
            header = handle.metadata() or {}
        return _unflatten(json.loads(header["tree"]), _NoTensors())
    except (SafetensorError, OSError, ValueError, KeyError):
        return None


def checkpoint_commits(path: str | Path) -> list[str] | None:
    """The commits whose code trained the run so far, oldest first (a run resumed under a later commit lists both);
    ``UNRECORDED`` first for a checkpoint written before glta recorded them; None without a readable checkpoint."""
    state = _bookkeeping(path)
    return None if state is None else list(state.get("commits") or [UNRECORDED])


def _pace(state: dict) -> float | None:
    """Seconds an epoch so far, from a checkpoint's history (whose seconds run from the start, evaluations
    included); None before the first timed epoch."""
    timed = [record for record in state.get("history") or [] if record.get("seconds")]
    return timed[-1]["seconds"] / (timed[-1]["epoch"] + 1) if timed else None


def checkpoint_pace(path: str | Path) -> float | None:
    """Seconds an epoch of the run that wrote the checkpoint at ``path``, so far on this machine (``experiments/
    reproduce.py --plan`` times a cell with it that only another machine, e.g. a GPU, has timed); None without a
    readable checkpoint or a timed epoch."""
    state = _bookkeeping(path)
    return _pace(state) if state is not None and "best_score" in state else None


def checkpoint_spent(path: str | Path) -> tuple[float, float] | None:
    """Seconds the run that wrote the checkpoint at ``path`` has trained so far (to its last timed epoch, evaluations
    included) and its seconds an epoch; None without a readable checkpoint or a timed epoch."""
    state = _bookkeeping(path)
    if state is None or "best_score" not in state or (pace := _pace(state)) is None:
        return None
    return [record for record in state["history"] if record.get("seconds")][-1]["seconds"], pace


def checkpoint_progress(path: str | Path, like_epochs: int | None = None) -> str | None:
    """One line on how far the run that wrote the checkpoint at ``path`` got (its last finished epoch, its best
    validation score, where an epoch under way stands), read from the header alone; None without a readable one.
    With ``like_epochs`` (how many epochs a like run trained, e.g. the same cell's recorded seed), also its pace so
    far and the time left at that pace for as many epochs."""
    state = _bookkeeping(path)
    if state is None:
        return None
    if "best_score" not in state:  # a stage's partial file: no validation yet
        return None
    done = state["epoch"] + 1
    line = f"{done} epoch{'s' if done != 1 else ''} done"
    if state.get("best_epoch", -1) >= 0:
        line += f", best validation {state['best_score']:.4f} after epoch {state['best_epoch']}"
    within = state.get("in_epoch")
    if within:
        line += f", epoch {within['epoch']} under way ({within['batches']} batches)"
    pace = _pace(state)
    if like_epochs and pace:
        left = max(like_epochs - done, 0) * pace / 3600
        line += (f"; {pace:,.0f} s an epoch here so far: ~{left:.1f} h left at that pace for the {like_epochs} "
                 "epochs a like run trained")
    return line
