"""Per-user cached prefix: the keys/values of the fixed text that opens a user's UA template, computed once.

When the UA template opens with text only (the LLM-written profile and prediction, ``user_item_text_first``), nothing
trainable comes before it, so the frozen LLM's keys and values over those tokens are the same in every epoch and at
evaluation. They are computed once per user (forward only, no gradient) and kept in a memory-mapped file; each training
step then runs the LLM over the short remainder (user token, item tokens, instruction, output slots) attending to the
stored prefix, which cuts the tokens a UA epoch pushes through forward and backward by about three quarters.

The store lives under ``<cache>/prefix-kv/<key>/``, keyed by the LLM and the exact prefix token ids of every user, and
fills lazily: users are computed when first needed (all of them before training; one user for ``glta recommend``), and
a killed fill resumes. Size: layers x 2 x kv_heads x head_dim x prefix length x users values in the LLM's dtype
(SmolLM2-135M on ML-1M, ~105 tokens: ~14 GB of bf16 on disk; the page cache keeps it hot). When the disk cannot hold a
new store, the stores no running process holds are deleted first, least recently opened first (``evict_unused``).
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from collections import OrderedDict
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Callable, Iterable, Iterator, TypeVar

import numpy as np
import torch

from glta.errors import GLTAError
from glta.paths import atomic_write, folder_lock
from glta.progress import progress_bar
from glta.text.compat import cache_from_layers, output_cache

_STORAGE = {torch.bfloat16: np.int16, torch.float16: np.int16, torch.float32: np.float32}
_AHEAD = 2  # batches whose blocks may be read ahead of the one in use
IN_USE = ".in-use"  # a store's file that every process holding it open keeps a shared lock on (``evict_unused``)
T = TypeVar("T")


def evict_unused(stores: Path, needed: int, keep: Path) -> list[tuple[Path, int, str]]:
    """Delete prefix stores under ``stores`` that no process holds, least recently opened first (their ``meta.json``
    is written at every opening), until the disk has ``needed`` bytes free; never ``keep``. Returns each deleted
    store with the bytes it occupied and whose prompts it held (``meta.json``'s ``serves``).

    A store is a cache that the next run needing it computes again (ML-1M's ~14 GB in ~10-20 minutes of one core),
    while a store that does not fit stops a run: every GLTA variant whose prompts differ (the PF/PD ablations, another
    LLM) has its own, and on a disk of a few tens of GB an unattended queue of variants would stop at the first one
    without room. A store is held while a process has it open (a shared lock on ``IN_USE``) or fills it (the folder's
    ``.lock``); a held one is never deleted."""
    import fcntl
    import shutil

    evicted = []
    folders = [folder for folder in stores.iterdir() if folder.is_dir() and folder.resolve() != keep.resolve()
               and (folder / "meta.json").is_file() and (folder / "kv.bin").is_file()] if stores.is_dir() else []
    for folder in sorted(folders, key=lambda folder: (folder / "meta.json").stat().st_mtime):
        if shutil.disk_usage(stores).free >= needed:
            break
        with open(folder / ".lock", "a+") as filling, open(folder / IN_USE, "a+") as using:
            try:
                fcntl.flock(filling, fcntl.LOCK_EX | fcntl.LOCK_NB)
                fcntl.flock(using, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                continue  # filled or read by a running process
            size = sum(path.stat().st_blocks * 512 for path in folder.iterdir() if path.is_file())
            try:
                serves = json.loads((folder / "meta.json").read_text()).get("serves", "")
            except (ValueError, AttributeError):
                serves = ""
            shutil.rmtree(folder)
        evicted.append((folder, size, serves))
    return evicted


def open_for_random_reads(path: Path):
    """``path`` opened for reading, unbuffered, with the kernel's read-ahead off (each user's block is read whole)."""
    handle = open(path, "rb", buffering=0)
    if hasattr(os, "posix_fadvise"):
        os.posix_fadvise(handle.fileno(), 0, 0, os.POSIX_FADV_RANDOM)
    return handle


def read_blocks(handle, users: np.ndarray, block_shape: tuple, dtype) -> np.ndarray:
    """The stored blocks (one per user, ``block_shape`` each) of ``users``, one positioned read each.

    Indexing the memory map instead faults the file in with the kernel's read-around (8 MB on the machines this was
    measured on): from a store larger than the page cache (ML-1M's and amazon-scientific's side by side), a batch
    of 32 users read 3.2 times the bytes it needed (``benchmarks/prefix_read.py``)."""
    out = np.empty((len(users),) + tuple(block_shape), dtype=dtype)
    size = out[0].nbytes if len(users) else 0
    for row, user in enumerate(users):
        if os.preadv(handle.fileno(), [memoryview(out[row]).cast("B")], int(user) * size) != size:
            raise GLTAError(f"{handle.name} is shorter than its layout says: delete its folder and the next run "
                            "computes the prefixes again")
    return out


class PrefixKV:
    def __init__(self, llm, prefixes: list[list[int]], folder: Path | None = None, serves: str = ""):
        """``serves`` says in words whose prompts these are (kept in ``meta.json``, named when it is deleted)."""
        self.llm = llm
        self.serves = serves
        self.prefixes = prefixes
        self.lengths = np.array([len(p) for p in prefixes], dtype=np.int64)
        self.max_len = int(self.lengths.max()) if len(prefixes) else 0
        config = llm.model.config
        self.layers = config.num_hidden_layers
        self.kv_heads = getattr(config, "num_key_value_heads", config.num_attention_heads)
        self.head_dim = getattr(config, "head_dim", None) or config.hidden_size // config.num_attention_heads
        self.dtype = llm.dtype
        if self.dtype not in _STORAGE:
            raise ValueError(f"prefix cache supports bf16/fp16/fp32 LLMs, not {self.dtype}")
        digest = hashlib.sha256(f"{llm.identity}|{self.dtype}".encode())
        for ids in prefixes:
            digest.update(np.asarray(ids, dtype=np.int64).tobytes() + b"|")
        self.key = digest.hexdigest()[:20]
        if folder is None:
            from glta.paths import cache_dir

            folder = cache_dir("prefix-kv") / self.key
        self.folder = Path(folder)
        self.shape = (len(prefixes), self.layers, 2, self.kv_heads, self.max_len, self.head_dim)
        self._values: np.memmap | None = None
        self._done: np.ndarray | None = None
        self._in_use = None  # the shared lock on IN_USE, held while this store is open
        self._reader = None  # the store opened for positioned reads (``_read``)
        self._reading: ThreadPoolExecutor | None = None  # the thread that reads ahead (``prefetch``)
        self._ahead: OrderedDict[bytes, Future] = OrderedDict()  # reads under way, by their users

    @property
    def bytes(self) -> int:
        return int(np.prod(self.shape)) * np.dtype(_STORAGE[self.dtype]).itemsize

    def _open(self) -> None:
        """Map the store (creating it at its full size if missing); called with the folder's lock held."""
        if self._values is not None:
            return
        import fcntl

        self.folder.mkdir(parents=True, exist_ok=True)
        self._in_use = open(self.folder / IN_USE, "a+")  # kept open: no other run's ``evict_unused`` deletes it
        fcntl.flock(self._in_use, fcntl.LOCK_SH)
        data, done = self.folder / "kv.bin", self.folder / "done.npy"
        meta = {"shape": self.shape, "dtype": str(self.dtype), "llm": self.llm.identity, "serves": self.serves}
        atomic_write(self.folder / "meta.json", json.dumps(meta))
        mode = "r+" if data.exists() and data.stat().st_size == self.bytes else "w+"
        self._check_space(data if mode == "r+" else None)
        self._values = np.memmap(data, dtype=_STORAGE[self.dtype], mode=mode, shape=self.shape)
        self._done = np.load(done) if mode == "r+" and done.exists() else np.zeros(len(self.prefixes), dtype=bool)

    def check_room(self) -> None:
        """``_check_space`` without opening the store (no lock: a run sharing it may be filling it): a run can stop
        at once, before hours of other work, when the disk cannot hold the store."""
        data = self.folder / "kv.bin"
        self.folder.mkdir(parents=True, exist_ok=True)
        self._check_space(data if data.exists() and data.stat().st_size == self.bytes else None)

    def _check_space(self, existing: Path | None) -> None:
        """Stop before filling when the disk cannot hold the store: the map is created sparse, and a full disk would
        otherwise kill the run (SIGBUS) hours into its fill."""
        import shutil

        held = existing.stat().st_blocks * 512 if existing is not None else 0  # what the file already occupies
        free = shutil.disk_usage(self.folder).free
        if self.bytes - held > free:  # room made first from the stores no process holds, the oldest first
            for folder, size, serves in evict_unused(self.folder.parent, self.bytes - held, keep=self.folder):
                what = f"{size / 2**30:.1f} GiB, unused" + (f"; {serves}" if serves else "")
                print(f"prefix store: deleted {folder} ({what}) to make room for {self.folder.name}; a run that "
                      "needs it again computes it anew",
                      file=sys.stderr, flush=True)
            free = shutil.disk_usage(self.folder).free
        if self.bytes - held > free:
            raise GLTAError(
                f"the prefix store for {len(self.prefixes)} users needs {self.bytes / 2**30:.1f} GiB at "
                f"{self.folder} ({held / 2**30:.1f} GiB written) and the disk has {free / 2**30:.1f} GiB free: "
                f"delete stores no longer used under {self.folder.parent} (each folder's meta.json names its LLM), "
                "point GLTA_CACHE_DIR at a larger disk, or train with model.ua_template=user_item (no store)")

    def _save_done(self) -> None:
        from glta.paths import atomic_path

        with atomic_path(self.folder / "done.npy") as staging:  # process-unique: two runs may fill one store
            with open(staging, "wb") as handle:
                np.save(handle, self._done)

    @torch.no_grad()
    def fill(self, users: np.ndarray | None = None, batch_size: int = 32, progress: bool = True) -> int:
        """Compute the prefixes of ``users`` (default all) not stored yet; returns how many were computed.

        Runs that share the store (the same LLM and prefixes) take turns: a second one waits on the folder's lock
        and then computes only what the first left undone."""
        with folder_lock(self.folder, "prefix store", wait=True):
            if self._values is not None and (self.folder / "done.npy").exists():
                self._done = np.load(self.folder / "done.npy")  # another process may have filled more meanwhile
            self._open()
            return self._fill(users, batch_size, progress)

    def _fill(self, users: np.ndarray | None, batch_size: int, progress: bool) -> int:
        users = np.arange(len(self.prefixes)) if users is None else np.unique(np.asarray(users))
        todo = users[~self._done[users]]
        todo = todo[np.argsort(-self.lengths[todo], kind="stable")]  # similar lengths share a batch
        decoder = self.llm.model.base_model
        pad = self.llm.tokenizer.pad_token_id
        bar = progress_bar(total=len(todo), desc="prefix keys/values", unit="user",
                           progress=progress and len(todo) >= 64)
        for start in range(0, len(todo), batch_size):
            chunk = todo[start:start + batch_size]
            width = int(self.lengths[chunk].max())
            ids = torch.full((len(chunk), width), pad, dtype=torch.long)
            mask = torch.zeros((len(chunk), width), dtype=torch.long)
            for row, user in enumerate(chunk):
                ids[row, : self.lengths[user]] = torch.tensor(self.prefixes[user])
                mask[row, : self.lengths[user]] = 1
            out = decoder(input_ids=ids.to(self.llm.device), attention_mask=mask.to(self.llm.device), use_cache=True)
            cache = output_cache(out)
            block = torch.stack([torch.stack([layer.keys, layer.values]) for layer in cache.layers], dim=1)
            block = block.permute(2, 1, 0, 3, 4, 5).cpu()  # (users, layers, 2, heads, width, dim)
            raw = block.contiguous().view(torch.int16 if self.dtype != torch.float32 else torch.float32).numpy()
            self._values[chunk, :, :, :, :width] = raw
            self._done[chunk] = True
            if (start // batch_size) % 16 == 15 or start + batch_size >= len(todo):
                self._values.flush()
                self._drop_mapped_pages()
                self._save_done()
            bar.update(len(chunk))
        bar.close()
        return len(todo)

    def _drop_mapped_pages(self) -> None:
        """Unmap the store's written (and flushed) pages from this process: they stay in the file and the page cache,
        but no longer count in the process's resident memory, whose peak results files record and the reproduction
        queue budgets by (ML-1M's GLTA peaked at 17.1 GiB, ~12.5 GiB of it this store). Where the platform has no
        ``madvise`` the pages stay mapped."""
        import mmap

        mapped = getattr(self._values, "_mmap", None)  # numpy keeps the map it writes through here
        if mapped is not None and hasattr(mapped, "madvise") and hasattr(mmap, "MADV_DONTNEED"):
            mapped.madvise(mmap.MADV_DONTNEED)

    def _read(self, users: np.ndarray) -> np.ndarray:
        """The users' blocks, cut to the longest of their prefixes: (users, layers, 2, heads, width, dim)."""
        width = int(self.lengths[users].max())
        if not hasattr(os, "preadv"):  # no positioned vector reads on this platform: the map serves
            return np.ascontiguousarray(self._values[users][:, :, :, :, :width])
        blocks = read_blocks(self._open_reader(), users, self.shape[1:], self._values.dtype)
        return np.ascontiguousarray(blocks[..., :width, :])

    def _open_reader(self):
        """The store opened for positioned reads (once; ``prefetch`` opens it before its thread reads)."""
        if self._reader is None:
            self._reader = open_for_random_reads(self.folder / "kv.bin")
        return self._reader

    def prefetch(self, users) -> None:
        """Start reading ``users``' blocks in a background thread; ``load`` of exactly these users then takes them.

        A batch's blocks (~75 MB for 32 users of ML-1M) come from the disk whenever the store does not fit in the
        page cache, and reading them in the step that needs them left the CPU idle ~40% of a UA epoch beside a second
        job; read one batch ahead, the read overlaps the previous batch's forward and backward. At most ``_AHEAD``
        reads are kept: an older one that was never loaded (batches skipped when an epoch resumes part-way) is
        dropped, and cancelled if it has not started. Users not stored yet are left to ``load``, which fills them."""
        users = np.asarray(users, dtype=np.int64)
        if self._values is None or not len(users) or not self._done[users].all():
            return
        key = users.tobytes()
        if key in self._ahead:
            return
        if hasattr(os, "preadv"):
            self._open_reader()
        if self._reading is None:
            self._reading = ThreadPoolExecutor(max_workers=1, thread_name_prefix="prefix-read")
        self._ahead[key] = self._reading.submit(self._read, users)
        while len(self._ahead) > _AHEAD:
            self._ahead.popitem(last=False)[1].cancel()

    def read_ahead(self, items: Iterable[T], users_of: Callable[[T], np.ndarray]) -> Iterator[T]:
        """``items`` unchanged, each item's users' blocks read (``prefetch``) while the item before it is in use."""
        waiting: list[T] = []
        for item in items:
            self.prefetch(users_of(item))
            waiting.append(item)
            if len(waiting) == _AHEAD:
                yield waiting.pop(0)
        yield from waiting

    def load(self, users: np.ndarray):
        """(a transformers DynamicCache holding the users' prefixes, their attention mask, their lengths)."""
        users = np.asarray(users)
        if self._values is None or not self._done[users].all():
            self.fill(users, progress=False)
        users = users.astype(np.int64, copy=False)
        ahead = self._ahead.pop(users.tobytes(), None)
        raw = torch.from_numpy(ahead.result() if ahead is not None else self._read(users))
        width = raw.shape[4]
        block = raw.view(self.dtype).to(self.llm.device)
        cache = cache_from_layers([(block[:, layer, 0], block[:, layer, 1]) for layer in range(self.layers)])
        lengths = torch.from_numpy(self.lengths[users])
        mask = (torch.arange(width)[None, :] < lengths[:, None]).long()
        return cache, mask, lengths
