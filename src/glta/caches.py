"""What the cache folder (``glta.paths.cache_dir``) holds, how much of the disk it takes, and deleting parts of it.

Every cache is rebuilt on demand by the command that needs it, but not at the same price: GLTA's per-user prompt
prefixes (``prefix-kv``, 3-20 GB a store) come back in minutes, while the LLM-written texts and a trained IA stage
took hours of a CPU. ``glta cache list`` shows each kind with its entries; ``glta cache clear KIND`` deletes the
entries of a kind that no running process holds, and asks for ``--yes`` before it deletes an expensive kind.
"""

from __future__ import annotations

import fcntl
import json
import shutil
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

from glta.errors import GLTAError
from glta.paths import PARTIAL_STAGE_SUFFIX, beside_stage, cache_dir


@dataclass(frozen=True)
class CacheKind:
    name: str  # its folder under the cache root
    holds: str
    rebuild: str  # what making it again costs
    expensive: bool  # deleting it asks for --yes


KINDS = {kind.name: kind for kind in (
    CacheKind("texts", "LLM-written user profiles, predictions and item profiles",
              "hours of LLM time on a CPU (ML-1M's: 6-11 h of one core without hardware bf16; minutes on a GPU)", True),
    CacheKind("ia", "trained GLTA item-text alignment (IA) stages, shared by the runs whose IA is the same",
              "15 min to 1.5 h of one CPU core a stage (ML-1M)", True),
    CacheKind("prefix-kv", "GLTA's per-user prompt prefixes (the frozen LLM's keys and values)",
              "minutes (the next GLTA run that needs a store computes it)", False),
    CacheKind("text-embeddings", "MiniLM embeddings of texts (LightGCN+, HCCF+, RLMRec)", "minutes", False),
    CacheKind("llm", "LLMs converted from their GGUF files", "about a minute", False),
    CacheKind("data", "loaded and split data sets", "seconds", False),
)}


@dataclass
class Entry:
    kind: str
    path: Path
    size: int  # bytes on the disk
    about: str  # what it holds, in words
    dataset: str | None  # the data set it belongs to, where the entry records it
    held: bool  # a running process has it open or is writing it
    locks: list[Path] = field(default_factory=list)  # the files a process using it holds a lock on
    stale: bool = False  # written by an older version of glta, in a layout this one never reads


def _size(path: Path) -> int:
    files = [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file() and not p.is_symlink()]
    return sum(p.stat().st_blocks * 512 for p in files)


@contextmanager
def _exclusive(locks: list[Path]) -> Iterator[bool]:
    """Hold every one of ``locks`` that exists exclusively for the ``with`` block, if no process holds one of them
    (shared or not): yields whether it got them all. Deleting under them, no process can start using the entry
    meanwhile (a process opening a prefix store waits on its lock)."""
    with ExitStack() as held:
        for lock in locks:
            if not lock.is_file():
                continue
            handle = held.enter_context(open(lock, "a+"))
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                yield False
                return
        yield True


def _held(locks: list[Path]) -> bool:
    """Whether a running process holds one of ``locks``."""
    with _exclusive(locks) as free:
        return not free


def _named(stem: str) -> str:
    """``ml-1m`` from ``ml-1m-5a080d2704cc7c57``: a data set's name before its fingerprint."""
    return stem.rsplit("-", 1)[0]


def _where(state: dict) -> str:
    """Where an unfinished stage's partial file lets training go on (``state``: the top level of its checkpoint
    tree, read from the file's header alone), in the words of the log's "resumed from" line."""
    from glta.training import resumed_where

    within = state.get("in_epoch")
    return resumed_where({"epoch": state["epoch"], "in_epoch": dict(within["__dict__"]) if within else None})


def _count_lines(path: Path) -> int:
    with open(path, "rb") as handle:
        return sum(1 for line in handle if line.strip())


def entries(kind: str, root: Path | None = None) -> list[Entry]:
    """The entries of one kind of cache, largest first."""
    folder = root / kind if root else cache_dir(kind)
    if not folder.is_dir():
        return []
    found = []
    if kind == "texts":  # a folder a data set; texts/rates.jsonl, the machine's measured rates, is no entry
        for sub in sorted(p for p in folder.iterdir() if p.is_dir()):
            files = sorted(sub.glob("*.jsonl"))
            counts = {}
            for file in files:
                label = file.stem.rsplit("-", 1)[0]
                counts[label] = counts.get(label, 0) + _count_lines(file)
            about = ", ".join(f"{label} {n:,}" for label, n in counts.items()) or "empty"
            locks = [sub / f".{file.stem}.lock" for file in files]
            found.append(Entry(kind, sub, _size(sub), about, _named(sub.name), _held(locks), locks))
    elif kind == "ia":
        from safetensors import safe_open

        for file in sorted(folder.glob("*.safetensors")):
            serves = ""  # IA results written before December 8 do not say whose they are
            try:
                with safe_open(str(file), "np") as handle:
                    metadata = handle.metadata() or {}
                serves = metadata.get("serves", "")
                if file.name.endswith(PARTIAL_STAGE_SUFFIX):  # an unfinished stage (glta.paths.partial_stage_path)
                    state = dict(json.loads(metadata["tree"])["__dict__"])  # a glta.checkpoint file's header
                    serves = state.get("serves") or ""
                    about = f"unfinished: the next run of this stage resumes from it {_where(state)}"
                else:
                    summary = json.loads(metadata.get("summary", "{}"))
                    about = f"trained in {summary['ia_seconds']:,.0f} s, final loss {summary['ia_final_loss']:.2f}"
            except Exception:  # an older or damaged file still counts and can be deleted
                about = "no summary"
            locks = [beside_stage(file, ".lock")]  # the stage's lock, held while it trains
            found.append(Entry(kind, file, _size(file), f"{serves}: {about}" if serves else about,
                               serves.split(",")[0] or None, _held(locks), locks))
    elif kind == "prefix-kv":
        for sub in sorted(p for p in folder.iterdir() if p.is_dir()):
            try:
                serves = json.loads((sub / "meta.json").read_text()).get("serves", "")
            except (OSError, ValueError, AttributeError):
                serves = ""
            locks = [sub / ".lock", sub / ".in-use"]
            found.append(Entry(kind, sub, _size(sub), serves or "no meta.json", serves.split(",")[0] or None,
                               _held(locks), locks))
    elif kind == "data":
        from glta.data import CACHE_VERSION, RecDataset

        for file in sorted(folder.glob("*.npz")):
            try:
                version = RecDataset.saved_cache_version(file)
            except Exception:  # a damaged file is rebuilt when read; it still counts and can be deleted
                version = None
            stale = "" if version == CACHE_VERSION else \
                f" (written by an older glta{f', data cache version {version}' if version else ''}: no longer read)"
            found.append(Entry(kind, file, _size(file), _named(file.stem) + stale, _named(file.stem), False,
                               stale=bool(stale)))
    else:
        for path in sorted(p for p in folder.iterdir() if not p.name.startswith(".")):
            found.append(Entry(kind, path, _size(path), "", None, False))
    return sorted(found, key=lambda entry: -entry.size)


def summary(root: Path | None = None) -> dict:
    """Every kind with its entries, as ``glta cache list --json`` prints it."""
    root = root or cache_dir()
    kinds = []
    for kind in KINDS.values():
        listed = entries(kind.name, root)
        kinds.append({"kind": kind.name, "holds": kind.holds, "rebuild": kind.rebuild, "expensive": kind.expensive,
                      "bytes": sum(entry.size for entry in listed),
                      "entries": [{"path": str(entry.path), "bytes": entry.size, "about": entry.about,
                                   "dataset": entry.dataset, "held": entry.held} for entry in listed]})
    return {"root": str(root), "bytes": sum(kind["bytes"] for kind in kinds), "kinds": kinds}


def clear(kinds: list[str], dataset: str | None = None, yes: bool = False,
          root: Path | None = None, stale: bool = False) -> tuple[list[Entry], list[Entry]]:
    """Delete the entries of ``kinds`` (of ``dataset`` alone when given; with ``stale``, only those this version no
    longer reads) that no running process holds; returns (deleted, held and kept). An expensive kind
    (``CacheKind.expensive``) is deleted only with ``yes``; a kind whose entries do not record their data set is
    refused with ``dataset`` (an entry that does not, of a kind whose newer entries do, is kept)."""
    unknown = [kind for kind in kinds if kind not in KINDS]
    if unknown:
        raise GLTAError(f"no cache kind '{unknown[0]}': choose from {', '.join(KINDS)}")
    if dataset:
        blind = [kind for kind in kinds if kind not in ("texts", "ia", "prefix-kv", "data")]
        if blind:
            raise GLTAError(f"--dataset: the {blind[0]} cache does not record its data set; leave out --dataset to "
                            f"clear all of it (or clear texts, ia, prefix-kv or data by data set)")
    chosen = [entry for kind in kinds for entry in entries(kind, root)
              if (not dataset or entry.dataset == dataset) and (not stale or entry.stale)]
    costly = [entry for entry in chosen if KINDS[entry.kind].expensive and not entry.held]
    if costly and not yes:
        kind = KINDS[costly[0].kind]
        size = sum(entry.size for entry in costly if entry.kind == kind.name)
        raise GLTAError(f"the {kind.name} cache ({size / 2**20:,.1f} MiB) takes {kind.rebuild} to make again; add "
                        "--yes to delete it anyway")
    deleted, kept = [], []
    for entry in chosen:
        with _exclusive(entry.locks) as free:  # taken again: a process may have started using it since the listing
            if not free:
                kept.append(entry)
                continue
            if entry.path.is_dir():
                shutil.rmtree(entry.path)
            else:
                entry.path.unlink(missing_ok=True)
        for lock in entry.locks:  # an IA stage's lock lies beside it
            lock.unlink(missing_ok=True)
        deleted.append(entry)
    return deleted, kept
