"""The one in-memory data object every stage uses: contiguous ids, item text, and a train/valid/test split."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from glta.paths import atomic_path


@dataclass
class Interactions:
    """Raw implicit feedback before splitting: parallel arrays of contiguous user and item indices.

    ``order`` (optional) ranks each user's interactions in time (timestamp or sequence position);
    ``given_split`` (optional) marks interactions a release already assigned to test (1) or train (0);
    ``ratings`` (optional, read for ``data.min_rating``) each interaction's rating, NaN where it has none.
    """

    users: np.ndarray
    items: np.ndarray
    user_ids: np.ndarray  # index -> original id (str)
    item_ids: np.ndarray
    item_text: dict[str, list[str]] = field(default_factory=dict)
    order: np.ndarray | None = None
    given_split: np.ndarray | None = None
    ratings: np.ndarray | None = None

    def rated_at_least(self, min_rating: float) -> "Interactions":
        """The interactions rated ``min_rating`` or more (an unrated one is dropped); users and items left with none
        are dropped too, the rest keep their order and text."""
        keep = np.asarray(self.ratings) >= min_rating
        if not keep.any():
            raise ValueError(f"no interaction is rated {min_rating:g} or more")
        return self.kept(keep)

    def k_core(self, k: int) -> "Interactions":
        """The k-core: the interactions whose user and item both have at least ``k`` of them, dropping again until
        none is below (how the Amazon 5-core files are made); users and items left with none are dropped."""
        current = self
        while True:
            per_user = np.bincount(current.users, minlength=current.n_users)
            per_item = np.bincount(current.items, minlength=current.n_items)
            keep = (per_user[current.users] >= k) & (per_item[current.items] >= k)
            if keep.all():
                return current
            if not keep.any():
                raise ValueError(f"no user and item keep {k} interactions each")
            current = current.kept(keep)

    def kept(self, keep: np.ndarray) -> "Interactions":
        """The interactions where ``keep`` is true, users and items renumbered in their order (those left with none
        dropped), with their ids, text, order, given split and ratings."""
        users, user_index = np.unique(self.users[keep], return_inverse=True)
        items, item_index = np.unique(self.items[keep], return_inverse=True)
        return Interactions(
            users=user_index, items=item_index, user_ids=self.user_ids[users], item_ids=self.item_ids[items],
            item_text={name: [values[i] for i in items] for name, values in self.item_text.items()},
            order=None if self.order is None else self.order[keep],
            given_split=None if self.given_split is None else self.given_split[keep],
            ratings=None if self.ratings is None else self.ratings[keep])

    @property
    def n_users(self) -> int:
        return len(self.user_ids)

    @property
    def n_items(self) -> int:
        return len(self.item_ids)


def _csr(users: np.ndarray, items: np.ndarray, shape: tuple[int, int]) -> sp.csr_matrix:
    matrix = sp.csr_matrix((np.ones(len(users), dtype=np.float32), (users, items)), shape=shape)
    matrix.sum_duplicates()
    matrix.data[:] = 1.0
    return matrix


def _spread(counts: np.ndarray) -> dict:
    """Median, 10th and 90th percentile, least and most of per-user or per-item counts."""
    if len(counts) == 0:
        return {"median": 0.0, "p10": 0.0, "p90": 0.0, "min": 0, "max": 0}
    p10, median, p90 = np.percentile(counts, [10, 50, 90])
    return {"median": float(median), "p10": float(p10), "p90": float(p90), "min": int(counts.min()),
            "max": int(counts.max())}


@dataclass
class RecDataset:
    """A split data set. Users and items are contiguous ``0..n-1``; ``user_ids``/``item_ids`` map back.

    ``train``, ``valid`` and ``test`` are binary CSR matrices of shape (n_users, n_items) with disjoint
    supports. ``item_text`` maps a field name ("title", "description", "genres", ...) to one string per item.
    """

    name: str
    user_ids: np.ndarray
    item_ids: np.ndarray
    train: sp.csr_matrix
    valid: sp.csr_matrix
    test: sp.csr_matrix
    item_text: dict[str, list[str]] = field(default_factory=dict)
    source: dict = field(default_factory=dict)  # how it was made: format, path, split settings

    @classmethod
    def from_parts(cls, name, user_ids, item_ids, parts: dict[str, tuple[np.ndarray, np.ndarray]], item_text, source):
        shape = (len(user_ids), len(item_ids))
        matrices = {key: _csr(u, i, shape) for key, (u, i) in parts.items()}
        return cls(name, np.asarray(user_ids), np.asarray(item_ids), matrices["train"], matrices["valid"],
                   matrices["test"], item_text, source)

    def cli_source(self, flag: str = "--dataset") -> str:
        """How a ``glta`` command names this data set: ``--dataset NAME`` (``flag`` "" for commands that take the
        name as their argument) for a built-in one, ``--data-path PATH --format FMT`` for one read from a path; then
        the ``data.KEY=VALUE`` settings it was split or read with that differ from the defaults, so that the command
        loads this very split (a text cache is filed under it)."""
        from glta.data import BUILTINS

        path = self.source.get("path")
        if self.name in BUILTINS or not path:
            named = f"{flag} {self.name}".strip()
        else:
            named = f"--data-path {path}" + (f" --format {self.source['format']}" if self.source.get("format") else "")
        return " ".join([named, *self.data_overrides()])

    def data_overrides(self) -> list[str]:
        """``data.KEY=VALUE`` for each setting this data set was loaded with that is not DataConfig's default (its
        split as asked for: ``split`` in ``source`` is the one that was used)."""
        from glta.config import DataConfig

        settings = {**self.source, "split": self.source.get("split_setting", DataConfig.split)}

        def spelled(value):  # 4.0 as 4: the override reads back the same
            return int(value) if isinstance(value, float) and value.is_integer() else value

        return [f"data.{f.name}={spelled(settings[f.name])}" for f in dataclasses.fields(DataConfig)
                if f.name not in ("name", "path", "format") and f.name in settings
                and settings[f.name] != f.default]

    @property
    def n_users(self) -> int:
        return self.train.shape[0]

    @property
    def n_items(self) -> int:
        return self.train.shape[1]

    @property
    def n_interactions(self) -> int:
        return int(self.train.nnz + self.valid.nnz + self.test.nnz)

    @property
    def density(self) -> float:
        return self.n_interactions / float(self.n_users * self.n_items)

    def items_with_text(self) -> int:
        if not self.item_text:
            return 0
        has = np.zeros(self.n_items, dtype=bool)
        for values in self.item_text.values():
            has |= np.array([bool(v and v.strip()) for v in values])
        return int(has.sum())

    def item_description(self, item: int, fields: tuple[str, ...] | None = None) -> str:
        """A one-line text for an item from its text fields (e.g. "title: ...; genres: ...")."""
        names = fields or tuple(self.item_text)
        pieces = [f"{name}: {self.item_text[name][item]}" for name in names
                  if name in self.item_text and self.item_text[name][item]]
        return "; ".join(pieces)

    def fingerprint(self) -> str:
        """A short hash of the ids and the exact split, so results can name the data they came from."""
        digest = hashlib.sha256()
        for array in (self.user_ids, self.item_ids):
            digest.update("\x1f".join(map(str, array)).encode())
        for matrix in (self.train, self.valid, self.test):
            matrix = matrix.tocsr()
            matrix.sort_indices()
            digest.update(matrix.indptr.astype(np.int64).tobytes())
            digest.update(matrix.indices.astype(np.int64).tobytes())
        return digest.hexdigest()[:16]

    def stats(self) -> dict:
        per_item = np.diff(self.train.tocsc().indptr)  # training users of each item
        return {
            "dataset": self.name,
            "users": self.n_users,
            "items": self.n_items,
            "interactions": self.n_interactions,
            "density": self.density,
            "train": int(self.train.nnz),
            "valid": int(self.valid.nnz),
            "test": int(self.test.nnz),
            "split": self.source.get("split"),  # the one used: a built-in's default, the files' own, or data.split
            "read_with": self.data_overrides(),  # the data.* settings that are not the defaults
            "items_with_text": self.items_with_text(),
            "text_fields": sorted(self.item_text),
            "users_with_test": int((np.diff(self.test.indptr) > 0).sum()),
            # how long histories are: what a model learns a user from (GLTA's prompt shows up to context_items)
            "train_items_per_user": _spread(np.diff(self.train.tocsr().indptr)),
            "train_users_per_item": _spread(per_item),
            "items_not_in_train": int((per_item == 0).sum()),
            "fingerprint": self.fingerprint(),
        }

    # --- on-disk cache -------------------------------------------------------------------------------
    def save(self, path: str | Path, cache_version: int | None = None) -> None:
        """Write the data set to ``path`` (.npz); ``cache_version``: the data cache's version that wrote it, which
        ``glta cache list`` reads back (``saved_cache_version``) to tell entries no code reads any more."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        arrays = {}
        for key in ("train", "valid", "test"):
            coo = getattr(self, key).tocoo()
            arrays[f"{key}_users"] = coo.row.astype(np.int32)
            arrays[f"{key}_items"] = coo.col.astype(np.int32)
        meta = {"name": self.name, "user_ids": [str(x) for x in self.user_ids],
                "item_ids": [str(x) for x in self.item_ids], "item_text": self.item_text, "source": self.source,
                **({"cache_version": cache_version} if cache_version is not None else {})}
        with atomic_path(path) as staging, open(staging, "wb") as handle:  # processes may build the same cache
            np.savez_compressed(handle, meta=np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8), **arrays)

    @staticmethod
    def saved_cache_version(path: str | Path) -> int | None:
        """The data cache version recorded in a saved data set; None for one saved before versions were recorded."""
        with np.load(path) as archive:
            return json.loads(archive["meta"].tobytes().decode()).get("cache_version")

    @classmethod
    def load(cls, path: str | Path) -> "RecDataset":
        with np.load(path) as archive:
            meta = json.loads(archive["meta"].tobytes().decode())
            parts = {key: (archive[f"{key}_users"], archive[f"{key}_items"]) for key in ("train", "valid", "test")}
        return cls.from_parts(meta["name"], np.array(meta["user_ids"], dtype=object),
                              np.array(meta["item_ids"], dtype=object), parts, meta["item_text"], meta["source"])
