"""Where files live, and how a file is replaced without ever leaving a torn one.

``cache_dir()`` is the one root of every cache (``$GLTA_CACHE_DIR``, default ``~/.cache/glta``), ``cache_dir(kind)``
the folder of one kind of cache under it (``CACHE_KINDS``); ``config_dir()`` the
folder of the per-data-set configs (``$GLTA_CONFIG_DIR``, default the ones shipped inside the package, wherever the
command runs); ``run_dir`` and ``results_file`` are the default run-folder and results-file layout (relative to the
working directory). ``atomic_path`` hands out a process-unique
staging name next to the target and moves it into place only when the ``with`` block finishes without an error,
so a crash or a second process writing the same file never leaves a half-written or interleaved file behind.
"""

from __future__ import annotations

import os
import uuid
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator


def cache_dir(kind: str | None = None) -> Path:
    """The cache root, or the folder of one ``kind`` of cache under it (``CACHE_KINDS``; ``glta.caches`` says what
    each holds and what it costs to make again)."""
    root = Path(os.environ.get("GLTA_CACHE_DIR", Path.home() / ".cache" / "glta"))
    if kind is None:
        return root
    if kind not in CACHE_KINDS:
        raise ValueError(f"no cache kind {kind!r}: one of {', '.join(CACHE_KINDS)}")
    return root / kind


# the folders under the cache root: LLM-written texts, IA stages, GLTA's prompt prefixes, text embeddings, converted
# LLMs, loaded data sets
CACHE_KINDS = ("texts", "ia", "prefix-kv", "text-embeddings", "llm", "data")


def config_dir() -> Path:
    """Where ``<dataset>/<method>.yaml`` defaults are read from: ``$GLTA_CONFIG_DIR``, else ``glta/configs`` in the
    installed package (the repository's ``configs/`` links there)."""
    return Path(os.environ.get("GLTA_CONFIG_DIR", Path(__file__).resolve().parent / "configs"))


def run_dir(dataset: str, method: str, root: str | Path = "runs") -> Path:
    return Path(root) / dataset / method


def results_file(dataset: str, method: str, root: str | Path = "results") -> Path:
    return Path(root) / dataset / f"{method}.json"


@contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """Yield a staging path beside ``path``; on success replace ``path`` with it, on failure remove it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        yield staging
        os.replace(staging, path)
    finally:
        if staging.exists():
            staging.unlink()


def atomic_write(path: str | Path, data: str | bytes) -> None:
    """Replace ``path`` with ``data`` (text is written as UTF-8) in one step."""
    with atomic_path(Path(path)) as staging:
        staging.write_bytes(data.encode() if isinstance(data, str) else data)


@contextmanager
def file_lock(lock: Path, what: str, wait: bool = False, on_wait: Callable[[], None] | None = None,
              shared: bool = False, busy: str | None = None) -> Iterator[None]:
    """Hold an exclusive lock on the file ``lock`` for the ``with`` block (created if missing; released when the
    process ends, however it ends). A second process asking for it fails at once with a one-line error naming
    ``what`` (or saying ``busy``), or, with ``wait``, blocks until the first one is done (calling ``on_wait`` first,
    e.g. to say so). ``shared`` locks are held together by processes that cooperate (the ranks of one job) and keep
    out an exclusive one, and the other way round."""
    import fcntl

    from glta.errors import GLTAError

    lock = Path(lock)
    lock.parent.mkdir(parents=True, exist_ok=True)
    handle = open(lock, "a+")
    mode = fcntl.LOCK_SH if shared else fcntl.LOCK_EX
    try:
        try:
            fcntl.flock(handle, mode | fcntl.LOCK_NB)
        except BlockingIOError:
            if not wait:
                raise GLTAError(busy or f"another process is training in the {what}; wait for it, or give this run "
                                        "its own --run-dir") from None
            if on_wait is not None:
                on_wait()
            fcntl.flock(handle, mode)
        yield
    finally:
        handle.close()


@contextmanager
def folder_lock(folder: Path, what: str = "run folder", wait: bool = False, busy: str | None = None) -> Iterator[None]:
    """Hold an exclusive lock on ``folder`` (``.lock`` inside it) for the ``with`` block; a second process asking for
    it fails at once with a one-line error (``busy``, or one naming ``what``) instead of interleaving its files with
    the first one's, or, with ``wait``, blocks until the first one is done (a shared cache that the second process
    then finds filled)."""
    with file_lock(Path(folder) / ".lock", f"{what} {folder}", wait, busy=busy):
        yield


def file_sha256(path: str | Path) -> str:
    """SHA-256 of a file, read in blocks by the standard library (model files are hundreds of MB)."""
    import hashlib

    with open(path, "rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


PARTIAL_STAGE_SUFFIX = ".partial.safetensors"


def beside_stage(cache: Path, suffix: str) -> Path:
    """A file kept beside a training stage's cache file (``glta.training.train_stage``), named after its key: the
    stage's lock (``.lock``) and its unfinished epochs (``partial_stage_path``)."""
    return cache.with_name(cache.name.split(".")[0] + suffix)


def partial_stage_path(cache: Path) -> Path:
    """Where an unfinished stage keeps its last finished epoch, beside the stage's cache file."""
    return beside_stage(cache, PARTIAL_STAGE_SUFFIX)
