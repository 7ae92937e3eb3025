"""Data sets: loaders for official formats, per-user splits, an on-disk cache, and built-in names.

``load_dataset(DataConfig(name="ml-1m"))`` finds the data under the data root (``--data-root`` or
``GLTA_DATA_ROOT``), loads it with the right format, splits it and caches the result keyed by the
source files and the split settings.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

from glta.config import DataConfig
from glta.data.dataset import Interactions, RecDataset
from glta.data.formats import FORMATS, ITEM_TABLES, RATED_FORMATS, detect_format
from glta.data.splits import TEST, TRAIN, VALID, split_interactions
from glta.data.synthetic import SyntheticSpec, generate
from glta.errors import GLTAError
from glta.paths import cache_dir

# 2: ids kept as exact strings (before: numeric-looking ids were parsed as numbers); 3: a --data-path data set that
# ships its own split (RecBole's .train/.valid/.test.inter, LightGCN's train.txt/test.txt) is split that way by default;
# 4: the source records the data.split asked for (``split_setting``) beside the one used, for ``cli_source``;
# 5: the column naming an item under another header (items.csv's name, product_name, Title, ...; a RecBole .item
# file's movie_title) is read as the title
CACHE_VERSION = 5
COLUMN_SETTINGS = ("user_column", "item_column", "time_column", "rating_column")  # read by format csv alone


@dataclass(frozen=True)
class BuiltIn:
    folder: str  # relative to the data root
    format: str
    split: str  # the default split (DESIGN.md)
    note: str


BUILTINS: dict[str, BuiltIn] = {
    "ml-1m": BuiltIn("ml-1m", "movielens-1m", "given",
                     "MovieLens-1M; the copy's own test part, valid carved from train"),
    "ml-100k": BuiltIn("ml-100k", "movielens-100k", "random", "MovieLens-100K"),
    "amazon-scientific": BuiltIn("amazon/scientific-2018-lcrec", "lcrec", "random",
                                 "Amazon 2018 Industrial_and_Scientific (LC-Rec layout), title + description"),
    "amazon-grocery-2014": BuiltIn("amazon/grocery-2014-rechorus", "rechorus", "random",
                                   "Amazon 2014 Grocery 5-core (training part), no item text"),
    "goodreads-once": BuiltIn("goodreads/once-goodreads", "once-goodreads", "random",
                              "Goodreads (ONCE copy): titles + LLM-written descriptions"),
    "synthetic": BuiltIn("", "synthetic", "random", "seeded synthetic set with planted genre structure (no files)"),
}


def data_root(explicit: str | Path | None = None) -> Path:
    root = explicit or os.environ.get("GLTA_DATA_ROOT")
    if not root:
        raise GLTAError("no data root: pass --data-root DIR or set GLTA_DATA_ROOT to the folder holding the data sets "
                        "(e.g. export GLTA_DATA_ROOT=../shared/datasets)")
    return Path(root).expanduser()


def resolve_source(config: DataConfig, root: str | Path | None = None) -> tuple[Path | None, str, str]:
    """Return (path, format, default split) for a data config. A data set read from a path gets "auto": the split
    its files ship where they ship one (``glta data export`` writes one), else a random one."""
    if config.path:
        path = Path(config.path).expanduser()
        if not path.exists():
            raise GLTAError(f"data.path {path} does not exist; give a folder or file holding the data set")
        fmt = config.format or detect_format(path)
        if fmt is None:
            raise GLTAError(f"cannot tell the format of {path}; pass --format, one of {sorted(FORMATS)} (a table "
                            "of interactions: point --data-path at the .csv/.tsv file, or name it interactions.csv)")
        if fmt not in FORMATS:
            raise GLTAError(f"unknown format '{fmt}'; known formats: {sorted(FORMATS)}")
        return path, fmt, "auto"
    if config.name not in BUILTINS:
        raise GLTAError(f"unknown data set '{config.name}'. Built-in names: {', '.join(BUILTINS)}; "
                        "for any other data set pass --data-path PATH --format FORMAT")
    builtin = BUILTINS[config.name]
    if builtin.format == "synthetic":
        return None, "synthetic", builtin.split
    path = data_root(root) / builtin.folder
    if not path.exists():
        raise GLTAError(f"data set '{config.name}' is not at {path}. Copy it there, or point --data-root / "
                        "GLTA_DATA_ROOT at the folder that holds it")
    return path, builtin.format, builtin.split


def _companions(path: Path) -> list[Path]:
    """The files a loader reads beside a data file it is pointed at: a table's ``items.csv``, a MovieLens
    ``ratings.csv``'s ``movies.csv``, a RecBole ``.inter`` file's ``.item`` file."""
    names = [*ITEM_TABLES, "movies.csv"]
    return sorted([path.parent / name for name in names if (path.parent / name).is_file()]
                  + list(path.parent.glob("*.item")))


def _source_digest(path: Path) -> str:
    digest = hashlib.sha256()
    files = [path, *_companions(path)] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
    for file in files:
        stat = file.stat()
        digest.update(f"{file.name}:{stat.st_size}".encode())
        if stat.st_size <= 64 * 2**20:  # small files: by content; large ones by size and mtime
            digest.update(hashlib.sha256(file.read_bytes()).digest())
        else:
            digest.update(str(stat.st_mtime_ns).encode())
    return digest.hexdigest()


def read_interactions(config: DataConfig, root: str | Path | None = None) -> tuple[Interactions, str, str, Path | None]:
    path, fmt, default_split = resolve_source(config, root)
    columns = {key: getattr(config, key) for key in COLUMN_SETTINGS if getattr(config, key) is not None}
    if columns and fmt != "csv":
        raise GLTAError(f"data.{next(iter(columns))} is read by format csv only, and {path or config.name} is read as "
                        f"'{fmt}', whose columns are fixed; leave it out, or pass --format csv for a CSV/TSV table")
    rated = config.min_rating is not None
    if rated and fmt not in RATED_FORMATS:
        raise GLTAError(f"data.min_rating: {path or config.name} (format '{fmt}') carries no ratings; leave it out "
                        f"(formats with ratings: {', '.join(RATED_FORMATS)})")
    if fmt == "synthetic":
        interactions = generate(SyntheticSpec())
    else:
        interactions = FORMATS[fmt](path, **columns, **({"ratings": True} if rated else {}))
    if rated:
        try:
            interactions = interactions.rated_at_least(config.min_rating)
        except ValueError as error:
            raise GLTAError(f"data.min_rating={config.min_rating:g} leaves nothing of {path}: {error}; lower it") \
                from None
    if config.k_core > 1:
        try:
            interactions = interactions.k_core(config.k_core)
        except ValueError as error:
            raise GLTAError(f"data.k_core={config.k_core} leaves nothing of {path or config.name}: {error}; lower "
                            "it") from None
    return interactions, fmt, default_split, path


def path_name(path: str | Path) -> str:
    """The name a data set read from ``path`` goes by when none is given (its runs: ``runs/<name>/<method>``): the
    file's name without its type (``interactions`` for ``interactions.csv`` or ``interactions.csv.gz``)."""
    path = Path(path)
    return Path(path.stem).stem if path.suffix == ".gz" else path.stem


def dataset_name(config: DataConfig) -> str:
    """The name a data set goes by (``runs/<name>/``, ``results/<name>/``): ``data.name``, except that one read from
    ``data.path`` without a name of its own (the default name is "synthetic") is named after its file or folder."""
    return path_name(config.path) if config.path and config.name == "synthetic" else config.name


def load_dataset(config: DataConfig, root: str | Path | None = None, use_cache: bool = True) -> RecDataset:
    """Load, split and cache a data set described by ``config``."""
    path, fmt, default_split = resolve_source(config, root)
    settings = dataclasses.asdict(config)
    settings.pop("path"), settings.pop("format")
    key_material = json.dumps({"v": CACHE_VERSION, "format": fmt, "settings": settings,
                               "source": _source_digest(path) if path else "synthetic"}, sort_keys=True)
    key = hashlib.sha256(key_material.encode()).hexdigest()[:16]
    cache_file = cache_dir("data") / f"{dataset_name(config)}-{key}.npz"  # `glta cache clear data --dataset NAME`
    if use_cache and cache_file.exists():
        try:
            dataset = RecDataset.load(cache_file)
        except Exception:  # a damaged cache is rebuilt, never trusted
            cache_file.unlink(missing_ok=True)
        else:  # the same files elsewhere (a copy, a moved folder) share the entry: the path is where they are now,
            # and the name the one this config gives (a copy in another folder is named after that folder)
            dataset.source = {**dataset.source, "path": str(path) if path else None}
            dataset.name = dataset_name(config)
            return dataset
    interactions, fmt, default_split, path = read_interactions(config, root)
    split_used, labels = split_interactions(interactions, config, default_split)
    parts = {name: (interactions.users[labels == label], interactions.items[labels == label])
             for name, label in (("train", TRAIN), ("valid", VALID), ("test", TEST))}
    name = dataset_name(config)
    source = {**settings, "format": fmt, "path": str(path) if path else None, "split": split_used,
              "split_setting": config.split}
    dataset = RecDataset.from_parts(name, interactions.user_ids, interactions.item_ids, parts,
                                    interactions.item_text, source)
    if use_cache:
        try:
            dataset.save(cache_file, CACHE_VERSION)
        except OSError:
            pass  # a read-only cache folder only costs speed
    return dataset


__all__ = ["BUILTINS", "DataConfig", "Interactions", "RecDataset", "load_dataset", "data_root", "dataset_name",
           "read_interactions"]
