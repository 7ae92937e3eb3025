"""Loaders for official release formats. Each returns ``Interactions`` (contiguous ids, item text).

Every loader takes a folder (or, where noted, a file) and reads the files the official release
ships. Malformed input raises ``DataFormatError`` naming the file, the line and the fix.
"""

from __future__ import annotations

import ast
import csv
import gzip
import io
import json
from datetime import datetime
from pathlib import Path
from typing import Callable, Iterator, NamedTuple

import numpy as np
import pandas as pd

from glta.data.dataset import Interactions
from glta.data.splits import TEST, TRAIN, VALID
from glta.errors import DataFormatError


# --- helpers --------------------------------------------------------------------------------------
def open_text(path: Path, encoding: str = "utf-8", errors: str = "strict") -> io.TextIOBase:
    if path.suffix == ".gz":
        return io.TextIOWrapper(gzip.open(path, "rb"), encoding=encoding, errors=errors, newline="")
    return open(path, encoding=encoding, errors=errors, newline="")


def decode_legacy(raw: bytes) -> str:
    """UTF-8 when valid, else Latin-1 (the official MovieLens files are ISO-8859-1)."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def require(path: Path, what: str, fix: str) -> Path:
    if not path.exists():
        raise DataFormatError(path, f"missing {what}", fix)
    return path


def find_one(folder: Path, patterns: list[str], what: str, fix: str) -> Path:
    for pattern in patterns:
        hits = sorted(folder.glob(pattern))
        if len(hits) == 1:
            return hits[0]
        if len(hits) > 1:
            raise DataFormatError(folder, f"several files match {pattern} for {what}: {[h.name for h in hits]}",
                                  "keep one of them in the folder, or point --data-path at the file")
    raise DataFormatError(folder, f"no {what} found (looked for {', '.join(patterns)})", fix)


def _factorize(values: list | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Contiguous codes for ids kept as their exact strings: "007" and "7", or "1e3" and "1000", stay distinct, and
    ids of any length never pass through a float or a 64-bit integer. When every id is written in digits they are
    ordered by value (then by spelling), otherwise as strings."""
    series = pd.Series(values, dtype=object).astype(str)
    codes, uniques = pd.factorize(series, sort=False)
    names = [str(u) for u in uniques]
    if all(n.isascii() and n.isdigit() for n in names):
        order = sorted(range(len(names)), key=lambda n: (int(names[n]), names[n]))
    else:
        order = sorted(range(len(names)), key=lambda n: names[n])
    rank = np.empty(len(names), dtype=np.int64)
    rank[np.asarray(order, dtype=np.int64)] = np.arange(len(names))
    return rank[codes], np.array([names[n] for n in order], dtype=object)


def build(users: list, items: list, text_by_item: dict[str, dict[str, str]] | None = None,
          order: list | np.ndarray | None = None, given_split: list | np.ndarray | None = None,
          ratings: list | np.ndarray | None = None) -> Interactions:
    """Make ``Interactions`` from parallel lists of original ids; duplicate (user, item) pairs keep the first (by
    ``order`` where given). ``ratings``: each row's rating as a number (NaN where it is none), kept for
    ``data.min_rating``."""
    if len(users) == 0:
        raise DataFormatError("<input>", "no interactions were read", "check that the files are not empty")
    user_codes, user_ids = _factorize(users)
    item_codes, item_ids = _factorize(items)
    pair = user_codes * len(item_ids) + item_codes
    if order is not None:
        order = np.asarray(order, dtype=np.float64)
        first = np.lexsort((order, pair))  # keep a repeated pair's earliest occurrence
        _, keep = np.unique(pair[first], return_index=True)
        keep = np.sort(first[keep])
    else:
        _, keep = np.unique(pair, return_index=True)
        keep = np.sort(keep)
    text: dict[str, list[str]] = {}
    for field, mapping in (text_by_item or {}).items():
        text[field] = [mapping.get(str(item_id), "") for item_id in item_ids]
    return Interactions(
        users=user_codes[keep], items=item_codes[keep], user_ids=user_ids, item_ids=item_ids, item_text=text,
        order=None if order is None else order[keep],
        given_split=None if given_split is None else np.asarray(given_split, dtype=np.int8)[keep],
        ratings=None if ratings is None else np.asarray(ratings, dtype=np.float64)[keep],
    )


def read_json_lines(path: Path) -> Iterator[tuple[int, dict]]:
    """JSON per line; also accepts the 2014 Amazon files, whose lines are Python dict literals."""
    with open_text(path) as handle:
        for number, line in enumerate(handle, 1):
            line = line.strip()
            if not line:
                continue
            try:
                yield number, json.loads(line)
            except json.JSONDecodeError:
                try:
                    yield number, ast.literal_eval(line)
                except (ValueError, SyntaxError) as error:
                    raise DataFormatError(path, f"not a JSON object: {error}",
                                          "each line must be one JSON object (JSON Lines)", number) from None


def _field(record: dict, key: str, path: Path, line: int):
    if key not in record:
        raise DataFormatError(path, f"record has no '{key}' field (fields: {sorted(record)[:8]})",
                              "use the official release file for this format", line)
    return record[key]


def _number(value) -> float:
    """A rating as a float; NaN where it is missing or no number (``data.min_rating`` then drops the row)."""
    try:
        return float(value)
    except (TypeError, ValueError):
        return float("nan")


def _join(value) -> str:
    if value is None:
        return ""
    if isinstance(value, (list, tuple)):
        flat = []
        for v in value:
            flat.extend(v if isinstance(v, (list, tuple)) else [v])
        return " ".join(str(v).strip() for v in flat if str(v).strip())
    return str(value).strip()


# --- MovieLens ------------------------------------------------------------------------------------
def _read_movies(path: Path) -> dict[str, dict[str, str]]:
    titles, genres = {}, {}
    raw_lines = path.read_bytes().splitlines()
    for number, raw in enumerate(raw_lines, 1):
        if not raw.strip():
            continue
        parts = decode_legacy(raw).split("::")
        if len(parts) != 3:
            raise DataFormatError(path, f"expected MovieID::Title::Genres, got {len(parts)} fields",
                                  "use the GroupLens movies.dat", number)
        titles[parts[0]] = parts[1].strip()
        genres[parts[0]] = parts[2].strip().replace("|", ", ")
    return {"title": titles, "genres": genres}


def _read_lightgcn_file(path: Path, label: int, offset: int, users, items, labels) -> None:
    with open(path) as handle:
        for number, line in enumerate(handle, 1):
            fields = line.split()
            if not fields:
                continue
            if not all(f.isdigit() for f in fields):
                raise DataFormatError(path, "expected '<user> <item> <item> ...' of integers",
                                      "use the LightGCN train.txt/test.txt layout", number)
            user = str(int(fields[0]) + offset)
            for item in fields[1:]:
                users.append(user)
                items.append(str(int(item) + offset))
                labels.append(label)


def load_movielens_1m(folder: Path, ratings: bool = False) -> Interactions:
    """GroupLens ML-1M: ``ratings.dat`` (+ ``movies.dat``); or the LightGCN copy ``train.txt``/``test.txt``.

    Every rating is an implicit positive (the paper keeps all 1,000,209; ``data.min_rating`` keeps the rated ones at
    or above it, read from ``ratings.dat`` only: the LightGCN copy keeps no ratings). In the LightGCN copy indices
    are ``MovieID - 1`` and ``UserID - 1``; they are mapped back to the GroupLens ids.
    """
    movies = folder / "movies.dat"
    text = _read_movies(movies) if movies.exists() else {}
    users, items, extra, scores = [], [], [], []
    if (folder / "ratings.dat").exists():
        path = folder / "ratings.dat"
        with open(path, "rb") as handle:
            for number, raw in enumerate(handle, 1):
                if not raw.strip():
                    continue
                parts = raw.decode("ascii", errors="replace").strip().split("::")
                if len(parts) != 4 or not parts[3].isdigit():
                    raise DataFormatError(path, "expected UserID::MovieID::Rating::Timestamp",
                                          "use the GroupLens ratings.dat", number)
                users.append(parts[0])
                items.append(parts[1])
                extra.append(int(parts[3]))
                if ratings:
                    scores.append(_number(parts[2]))
        return build(users, items, text, order=extra, ratings=scores if ratings else None)
    if (folder / "train.txt").exists():
        require(folder / "test.txt", "test.txt beside train.txt", "copy both LightGCN split files")
        _read_lightgcn_file(folder / "train.txt", TRAIN, 1, users, items, extra)
        _read_lightgcn_file(folder / "test.txt", TEST, 1, users, items, extra)
        if ratings:
            raise DataFormatError(folder, "the LightGCN copy (train.txt/test.txt) keeps no ratings",
                                  "leave out data.min_rating, or point at GroupLens' ratings.dat")
        return build(users, items, text, given_split=extra)
    raise DataFormatError(folder, "no ratings.dat and no train.txt/test.txt",
                          "point at the unzipped ml-1m folder from GroupLens")


def load_movielens_100k(folder: Path, ratings: bool = False) -> Interactions:
    """GroupLens ML-100K: ``u.data`` (user, item, rating, timestamp, tab-separated) + ``u.item`` (Latin-1)."""
    data = require(folder / "u.data", "u.data", "point at the unzipped ml-100k folder")
    users, items, times, scores = [], [], [], []
    with open(data) as handle:
        for number, line in enumerate(handle, 1):
            parts = line.split("\t")
            if not line.strip():
                continue
            if len(parts) != 4:
                raise DataFormatError(data, "expected user<TAB>item<TAB>rating<TAB>timestamp",
                                      "use the GroupLens u.data", number)
            users.append(parts[0])
            items.append(parts[1])
            times.append(int(parts[3]))
            if ratings:
                scores.append(_number(parts[2]))
    text: dict[str, dict[str, str]] = {"title": {}, "genres": {}}
    genre_file, item_file = folder / "u.genre", folder / "u.item"
    names = []
    if genre_file.exists():
        for line in genre_file.read_text(encoding="latin-1").splitlines():
            if "|" in line:
                name, index = line.rsplit("|", 1)
                names.append((int(index), name))
        names = [name for _, name in sorted(names)]
    if item_file.exists():
        for number, line in enumerate(item_file.read_text(encoding="latin-1").splitlines(), 1):
            if not line.strip():
                continue
            parts = line.split("|")
            if len(parts) < 6:
                raise DataFormatError(item_file, "expected id|title|release|video|url|genre flags",
                                      "use the GroupLens u.item", number)
            text["title"][parts[0]] = parts[1]
            flags = parts[5:]
            text["genres"][parts[0]] = ", ".join(
                names[k] if k < len(names) else f"genre{k}" for k, flag in enumerate(flags) if flag.strip() == "1")
    return build(users, items, text, order=times, ratings=scores if ratings else None)


# --- Amazon ---------------------------------------------------------------------------------------
class AmazonRelease(NamedTuple):
    """Where a release keeps a review's user, item and time, the seconds in its time unit, and the metadata's key."""
    user: str
    item: str
    time: str
    seconds_per_unit: float
    meta_item: str


AMAZON_2018 = AmazonRelease("reviewerID", "asin", "unixReviewTime", 1, "asin")
AMAZON_2023 = AmazonRelease("user_id", "parent_asin", "timestamp", 1e-3, "parent_asin")  # variants as one item


def load_amazon(folder: Path, ratings: bool = False) -> Interactions:
    """Amazon Review Data 2018 (or 2014): a reviews JSON-lines file + ``meta_<Category>.json(.gz)``; or Amazon
    Reviews 2023: ``<Category>.jsonl(.gz)`` + ``meta_<Category>.jsonl(.gz)``.

    2018/2014 reviews need ``reviewerID``, ``asin`` and ``unixReviewTime``; 2023 reviews ``user_id``,
    ``parent_asin`` (the product, its variants as one item: the release's own recommendation benchmarks' choice)
    and ``timestamp`` (milliseconds). Item text is the metadata's title, description, brand (2023: store) and
    categories. The release is told from the first review's fields; its rating is ``overall`` (2018/2014) or
    ``rating`` (2023).
    """
    if folder.is_file():
        reviews, folder = folder, folder.parent
    else:
        candidates = [p for p in sorted(folder.glob("*.json*")) if not p.name.startswith("meta_")]
        if len(candidates) != 1:
            raise DataFormatError(folder, f"expected exactly one reviews file (*.json / *.json.gz), found "
                                  f"{[p.name for p in candidates]}",
                                  "keep e.g. Grocery_and_Gourmet_Food_5.json.gz and its meta_*.json.gz in the folder")
        reviews = candidates[0]
    users, items, times, scores = [], [], [], []
    release = None
    for number, record in read_json_lines(reviews):
        if release is None:
            release = AMAZON_2023 if "reviewerID" not in record and "user_id" in record else AMAZON_2018
        users.append(str(_field(record, release.user, reviews, number)))
        items.append(str(_field(record, release.item, reviews, number)))
        times.append(int(record.get(release.time, 0) * release.seconds_per_unit))
        if ratings:
            scores.append(_number(record.get("overall", record.get("rating"))))
    metas = sorted(folder.glob("meta_*.json*"))
    text: dict[str, dict[str, str]] = {"title": {}, "description": {}, "brand": {}, "categories": {}}
    wanted = set(items)
    for meta in metas[:1]:
        for number, record in read_json_lines(meta):
            item = str(_field(record, (release or AMAZON_2018).meta_item, meta, number))
            if item not in wanted:
                continue
            text["title"][item] = _join(record.get("title"))
            text["description"][item] = _join(record.get("description"))
            text["brand"][item] = _join(record.get("brand", record.get("store")))
            text["categories"][item] = _join(record.get("category", record.get("categories")))
    return build(users, items, text, order=times, ratings=scores if ratings else None)


def load_lcrec(folder: Path) -> Interactions:
    """LC-Rec layout: ``<Name>.inter.json`` ({user: [items in time order]}) + ``<Name>.item.json``."""
    inter = find_one(folder, ["*.inter.json"], "interaction file", "keep <Name>.inter.json in the folder")
    try:
        sequences = json.loads(inter.read_text())
    except json.JSONDecodeError as error:
        raise DataFormatError(inter, f"not valid JSON: {error}", "re-export the file") from None
    users, items, positions = [], [], []
    for user, sequence in sequences.items():
        if not isinstance(sequence, list):
            raise DataFormatError(inter, f"user {user!r} maps to {type(sequence).__name__}, not a list of items",
                                  "each user must map to a list of item ids")
        for position, item in enumerate(sequence):
            users.append(str(user))
            items.append(str(item))
            positions.append(position)
    text: dict[str, dict[str, str]] = {}
    item_files = sorted(folder.glob("*.item.json"))
    if item_files:
        meta = json.loads(item_files[0].read_text())
        for item, fields in meta.items():
            for key, value in fields.items():
                value = _join(value)
                text.setdefault(key, {})[str(item)] = "" if value == "." else value
    return build(users, items, text, order=positions)


def load_rechorus(folder: Path) -> Interactions:
    """ReChorus layout: ``train.csv`` [+ ``dev.csv``, ``test.csv``] (TSV user_id, item_id, time).

    ``item_meta.csv`` holds category ids only, so items get no text.
    """
    frames = []
    for name in ("train.csv", "dev.csv", "test.csv"):
        path = folder / name
        if path.exists():
            frame = pd.read_csv(path, sep="\t", usecols=lambda c: c in {"user_id", "item_id", "time"})
            missing = {"user_id", "item_id"} - set(frame.columns)
            if missing:
                raise DataFormatError(path, f"missing column(s) {sorted(missing)}", "use the ReChorus TSV header")
            frames.append(frame)
    if not frames:
        raise DataFormatError(folder, "no train.csv", "point at a ReChorus data folder")
    frame = pd.concat(frames, ignore_index=True)
    order = frame["time"].to_numpy() if "time" in frame else None
    return build(frame["user_id"].astype(str).tolist(), frame["item_id"].astype(str).tolist(), {}, order=order)


# --- Goodreads ------------------------------------------------------------------------------------
def load_goodreads(folder: Path, ratings: bool = False) -> Interactions:
    """UCSD Book Graph: ``goodreads_interactions_<genre>.json.gz`` + ``goodreads_books_<genre>.json.gz``.

    Every shelved book is an implicit positive; ``date_added`` orders a user's books; ``rating`` is 1-5 (0: shelved,
    not rated).
    """
    inter = find_one(folder, ["goodreads_interactions_*.json*"], "interactions file",
                     "download goodreads_interactions_<genre>.json.gz from the UCSD Book Graph page")
    users, items, times, scores = [], [], [], []
    for number, record in read_json_lines(inter):
        users.append(str(_field(record, "user_id", inter, number)))
        items.append(str(_field(record, "book_id", inter, number)))
        stamp = record.get("date_added") or ""
        try:
            times.append(datetime.strptime(stamp, "%a %b %d %H:%M:%S %z %Y").timestamp() if stamp else 0.0)
        except ValueError:
            times.append(0.0)
        if ratings:
            scores.append(_number(record.get("rating")))
    text: dict[str, dict[str, str]] = {"title": {}, "description": {}}
    books = sorted(folder.glob("goodreads_books_*.json*"))
    wanted = set(items)
    for books_file in books[:1]:
        for number, record in read_json_lines(books_file):
            book = str(_field(record, "book_id", books_file, number))
            if book in wanted:
                text["title"][book] = _join(record.get("title"))
                text["description"][book] = _join(record.get("description"))
    return build(users, items, text, order=times, ratings=scores if ratings else None)


def load_once_goodreads(folder: Path) -> Interactions:
    """The ONCE Goodreads copy: ``user_history.tsv[.gz]`` + ``book.csv`` (TSV) + ``book-desc.csv`` (CSV)."""
    history = find_one(folder, ["user_history.tsv.gz", "user_history.tsv"], "user history",
                       "keep user_history.tsv(.gz) in the folder")
    frame = pd.read_csv(history, sep="\t", dtype=str)
    for column in ("user_id", "book_id"):
        if column not in frame:
            raise DataFormatError(history, f"missing column '{column}'", "header must be user_id, book_id, position")
    order = pd.to_numeric(frame.get("position", pd.Series(np.zeros(len(frame)))), errors="coerce").fillna(0)
    text: dict[str, dict[str, str]] = {"title": {}, "description": {}}
    if (folder / "book.csv").exists():
        with open(folder / "book.csv", encoding="utf-8", newline="") as handle:
            for row in csv.DictReader(handle, delimiter="\t", quoting=csv.QUOTE_NONE):
                text["title"][row["bid"]] = (row.get("title") or "").strip()
    if (folder / "book-desc.csv").exists():
        with open(folder / "book-desc.csv", encoding="utf-8", newline="") as handle:
            for row in csv.DictReader(handle):
                text["description"][row["bid"]] = (row.get("desc") or "").strip()
    return build(frame["user_id"].tolist(), frame["book_id"].tolist(), text, order=order.to_numpy())


# --- generic CSV/TSV and RecBole atomic files -----------------------------------------------------
USER_COLUMNS = ("user", "user_id", "userid", "uid", "reviewerid")
ITEM_COLUMNS = ("item", "item_id", "itemid", "iid", "asin", "book_id", "movie_id", "movieid")
TIME_COLUMNS = ("timestamp", "time", "ts", "unixreviewtime", "date")
RATING_COLUMNS = ("rating", "ratings", "score", "stars", "overall")
# the column that names an item in items.csv or a RecBole .item file, by its usual headers
TITLE_COLUMNS = ("title", "name", "item_name", "product_name", "product_title", "movie_title", "book_title")


def _pick(columns, names, path: Path, what: str, required=True, setting: str | None = None, header=None):
    """The column of ``columns`` whose name (case aside, a RecBole ``:type`` suffix aside) is the first of ``names``
    found; ``setting`` names the data.* option that picks one by hand, for the error's fix, which lists ``header``
    (the file's columns, where ``columns`` are the ones still free)."""
    lowered = {c.lower().split(":")[0]: c for c in columns}
    for name in names:
        if name.lower() in lowered:
            return lowered[name.lower()]
    if required:
        by_hand = f", or name yours with {setting}=NAME" if setting else ""
        raise DataFormatError(path, f"no {what} column among {list(columns if header is None else header)}",
                              f"name the column one of {', '.join(names)}{by_hand}")
    return None


def _given_column(columns, name: str, path: Path, setting: str) -> str:
    """The column ``setting`` (data.user_column etc.) names: it must be one of the file's."""
    found = {c.lower(): c for c in columns}.get(name.lower())
    if found is None:
        raise DataFormatError(path, f"{setting}={name}, but no column of that name among {list(columns)}",
                              f"set {setting} to one of the header's names")
    return found


def _read_table(path: Path, columns: set[str] | None = None) -> pd.DataFrame:
    """A delimited table with a header, every field a string. The delimiter of a .csv is told from the header line,
    so that pandas' C parser reads it: a 2M-row file loads 2.1x faster than through pandas' delimiter-sniffing Python
    parser (``benchmarks/data_loading.py``)."""
    sep = "\t" if path.suffix in {".tsv", ".inter", ".item"} or path.name.endswith(".tsv.gz") else _delimiter(path)
    try:
        return pd.read_csv(path, sep=sep, engine="python" if sep is None else "c", dtype=str,
                           keep_default_na=False,
                           usecols=None if columns is None else lambda name: name.strip().lower() in columns)
    except (pd.errors.ParserError, UnicodeDecodeError) as error:
        raise DataFormatError(path, f"cannot parse as a delimited table: {error}",
                              "use a CSV or TSV file with a header row") from None


def _delimiter(path: Path) -> str | None:
    """The header line's delimiter among comma, tab, semicolon and bar; None (pandas sniffs) when it has none."""
    try:
        with open_text(path, errors="replace") as handle:
            header = handle.readline()
        return csv.Sniffer().sniff(header, delimiters=",\t;|").delimiter
    except (OSError, EOFError, csv.Error):
        return None


def _require_ids(frame: pd.DataFrame, user_col: str, item_col: str, where: Path) -> None:
    """Every row of a table needs both ids (an empty field would silently become an item named "")."""
    empty = (frame[user_col].astype(str).str.strip() == "") | (frame[item_col].astype(str).str.strip() == "")
    if empty.any():
        line = int(np.flatnonzero(empty.to_numpy())[0]) + 2
        raise DataFormatError(where, "empty user or item id", "every row needs both ids", line)


def _timestamps(frame: pd.DataFrame, column: str, where: Path) -> np.ndarray:
    """A timestamp column as unix seconds: numbers as they are, dates parsed; anything else is an error."""
    numeric = pd.to_numeric(frame[column], errors="coerce")
    missing = numeric.isna()
    if missing.any():  # dates: parsed one by one, then unix seconds
        dates = pd.to_datetime(frame.loc[missing, column], errors="coerce", format="mixed", utc=True)
        numeric[missing] = (dates - pd.Timestamp(0, tz="UTC")).dt.total_seconds()
    if numeric.isna().any():
        line = int(np.flatnonzero(numeric.isna().to_numpy())[0]) + 2
        raise DataFormatError(where, f"timestamp '{frame[column].iloc[line - 2]}' is not a number or date",
                              "use unix seconds or ISO dates", line)
    return numeric.to_numpy()


def _numeric(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _ratings(frame: pd.DataFrame, column: str, where: Path) -> np.ndarray:
    """A rating column as numbers, NaN where a row has none (``data.min_rating`` drops it); one that is not a number
    is an error naming its line."""
    numeric = pd.to_numeric(frame[column], errors="coerce")
    wrong = numeric.isna() & (frame[column].astype(str).str.strip() != "")
    if wrong.any():
        line = int(np.flatnonzero(wrong.to_numpy())[0]) + 2
        raise DataFormatError(where, f"rating '{frame[column].iloc[line - 2]}' is not a number",
                              "give every row a numeric rating, or leave out data.min_rating", line)
    return numeric.to_numpy(dtype=np.float64)


def load_csv(path: Path, user_column: str | None = None, item_column: str | None = None,
             time_column: str | None = None, rating_column: str | None = None, ratings: bool = False) -> Interactions:
    """Generic CSV/TSV with a header: user, item[, rating, timestamp]; item text from ``items.csv``/``items.tsv``.

    ``path`` is the interactions file, or a folder holding ``interactions.csv|tsv`` (or one other CSV/TSV file) and
    optionally ``items.csv|tsv`` (an item column plus one column per text field); each may be gzipped (``.csv.gz``).
    The id and time columns are found by their usual names (``USER_COLUMNS``, ``ITEM_COLUMNS``, ``TIME_COLUMNS``)
    unless named here (``data.user_column`` etc.); ``items.csv``'s key column is looked up by ``item_column``'s name
    first, then by the usual ones. With ``ratings`` (``data.min_rating``) the rating column is read too
    (``RATING_COLUMNS``, or ``rating_column``).
    """
    folder = path if path.is_dir() else path.parent
    inter = path if path.is_file() else csv_interactions(path)
    if inter is None:
        raise DataFormatError(path, "no interactions file found (interactions.csv or .tsv, or a folder's only other "
                              "CSV/TSV file)", "name it interactions.csv (item text in items.csv beside it), or point "
                              "--data-path at the file")
    frame = _read_table(inter)
    if sum(_numeric(name) for name in frame.columns) >= 2 and user_column is None and item_column is None:
        raise DataFormatError(inter, f"its first line {list(frame.columns)} looks like data, not a header",
                              "add a header line first, e.g. user,item,rating,timestamp (or name the columns in "
                              "data.user_column etc.)")
    roles = {"user": (user_column, USER_COLUMNS), "item": (item_column, ITEM_COLUMNS),
             "time": (time_column, TIME_COLUMNS), "rating": (rating_column, RATING_COLUMNS)}
    chosen = {role: _given_column(frame.columns, given, inter, f"data.{role}_column")
              for role, (given, _) in roles.items() if given is not None}
    if len(set(chosen.values())) < len(chosen):
        named = ", ".join(f"data.{role}_column={name}" for role, name in chosen.items())
        raise DataFormatError(inter, f"one column named for two roles ({named})",
                              "name a different column for each of user, item, time and rating")
    for role, (given, names) in roles.items():  # the rest by their usual names, among the columns not yet taken
        if given is None:
            free = [c for c in frame.columns if c not in chosen.values()]
            chosen[role] = _pick(free, names, inter, "timestamp" if role == "time" else role,
                                 role in ("user", "item") or (role == "rating" and ratings), f"data.{role}_column",
                                 frame.columns)
    user_col, item_col, time_col = chosen["user"], chosen["item"], chosen["time"]
    scores = _ratings(frame, chosen["rating"], inter) if ratings else None
    _require_ids(frame, user_col, item_col, inter)
    order = _timestamps(frame, time_col, inter) if time_col is not None else None
    text: dict[str, dict[str, str]] = {}
    for name in ITEM_TABLES:
        items_file = folder / name
        if items_file.exists():
            items = _read_table(items_file)
            key = _pick(items.columns, ((item_column,) if item_column else ()) + ITEM_COLUMNS, items_file, "item")
            # the item's name, whatever the header calls it, is its title: what prompts name first and
            # `glta recommend` shows (the other columns keep their names)
            title = _pick([c for c in items.columns if c != key], TITLE_COLUMNS, items_file, "title", required=False)
            for column in items.columns:
                if column != key:
                    text["title" if column == title else column] = dict(zip(items[key], items[column].astype(str)))
            break
    return build(frame[user_col].tolist(), frame[item_col].tolist(), text, order=order, ratings=scores)


def load_movielens_csv(path: Path, ratings: bool = False) -> Interactions:
    """GroupLens' CSV releases (ML-20M, ML-25M, ML-32M, ml-latest[-small]): ``ratings.csv`` (userId, movieId,
    rating, timestamp) + ``movies.csv`` (movieId, title, genres), item text as ML-1M's (title; genres joined by
    ", "). ``tags.csv`` and ``links.csv`` are not read. Every rating is an implicit positive (unless
    ``data.min_rating``)."""
    folder = path if path.is_dir() else path.parent
    table = require(folder / "ratings.csv", "ratings.csv", "point at the unzipped MovieLens folder (ml-25m etc.)")
    header = pd.read_csv(table, nrows=0).columns  # the columns named in an error: all of them, not the ones read
    user_col, item_col, time_col = (_pick(header, (name.lower(),), table, name)
                                    for name in ("userId", "movieId", "timestamp"))
    frame = _read_table(table, columns={"userid", "movieid", "timestamp", *(["rating"] if ratings else [])})
    _require_ids(frame, user_col, item_col, table)
    order = _timestamps(frame, time_col, table)
    scores = _ratings(frame, _pick(header, ("rating",), table, "rating"), table) if ratings else None
    text: dict[str, dict[str, str]] = {}
    if (folder / "movies.csv").exists():
        movies = _read_table(folder / "movies.csv")
        key = _pick(movies.columns, ("movieid",), folder / "movies.csv", "movieId")
        for field in ("title", "genres"):
            if (name := _pick(movies.columns, (field,), folder / "movies.csv", field, required=False)) is not None:
                values = movies[name].str.strip()
                if field == "genres":
                    values = values.str.replace("|", ", ", regex=False)
                text[field] = dict(zip(movies[key], values))
    return build(frame[user_col].tolist(), frame[item_col].tolist(), text, order=order, ratings=scores)


TABLE_SUFFIXES = (".csv", ".tsv", ".csv.gz", ".tsv.gz")  # what format csv reads
ITEM_TABLES = ("items.csv", "items.tsv", "items.csv.gz", "items.tsv.gz")


def is_table(name: str) -> bool:
    """Whether a file name is one format csv reads: a CSV or TSV, gzipped or not."""
    return name.lower().endswith(TABLE_SUFFIXES)


def csv_interactions(folder: Path) -> Path | None:
    """A folder's interactions table: ``interactions.csv`` or ``.tsv``, else its only CSV/TSV file besides
    ``items.csv|tsv`` (so ``ratings.csv`` beside ``items.csv`` is read as a user would expect); None when there is no
    such file or several."""
    names = {p.name for p in folder.iterdir()}
    for name in ("interactions.csv", "interactions.tsv", "interactions.csv.gz", "interactions.tsv.gz"):
        if name in names:
            return folder / name
    tables = [folder / name for name in sorted(names) if is_table(name)
              and name not in ITEM_TABLES and (folder / name).is_file()]
    return tables[0] if len(tables) == 1 else None


def load_recbole(path: Path, ratings: bool = False) -> Interactions:
    """RecBole atomic files: ``<name>.inter`` (or ``<name>.train/.valid/.test.inter``) [+ ``<name>.item``].

    Headers are ``field:type``; ``user_id`` and ``item_id`` are required; a ``timestamp`` orders interactions;
    ``token_seq`` and ``token`` columns of ``.item`` become item text.
    """
    folder = path if path.is_dir() else path.parent
    splits = {label: sorted(folder.glob(f"*.{name}.inter")) for label, name in
              ((TRAIN, "train"), (VALID, "valid"), (TEST, "test"))}
    frames, labels = [], []
    if all(splits.values()):
        for label, files in splits.items():
            frame = _read_table(files[0])
            frames.append(frame)
            labels.append(np.full(len(frame), label))
    else:
        inter = path if path.is_file() else find_one(folder, ["*.inter"], "RecBole .inter file",
                                                     "export with RecBole's atomic-file layout")
        frames.append(_read_table(inter))
    frame = pd.concat(frames, ignore_index=True)
    source = folder
    user_col = _pick(frame.columns, ("user_id",), source, "user_id:token")
    item_col = _pick(frame.columns, ("item_id",), source, "item_id:token")
    time_col = _pick(frame.columns, ("timestamp",), source, "timestamp", required=False)
    _require_ids(frame, user_col, item_col, source)
    order = _timestamps(frame, time_col, source) if time_col else None
    scores = _ratings(frame, _pick(frame.columns, ("rating",), source, "rating:float"), source) if ratings else None
    text: dict[str, dict[str, str]] = {}
    item_files = sorted(folder.glob("*.item"))
    if item_files:
        items = _read_table(item_files[0])
        key = _pick(items.columns, ("item_id",), item_files[0], "item_id:token")
        fields = [c for c in items.columns if c != key and c.split(":")[-1] in {"token_seq", "token"}]
        title = _pick(fields, TITLE_COLUMNS, item_files[0], "title", required=False)  # ml-100k's movie_title
        for column in fields:
            text["title" if column == title else column.split(":")[0]] = dict(zip(items[key], items[column]))
    given = np.concatenate(labels) if labels else None
    return build(frame[user_col].tolist(), frame[item_col].tolist(), text, order=order, given_split=given,
                 ratings=scores)


def _guarded(name: str, loader: Callable[..., Interactions]) -> Callable[..., Interactions]:
    """A loader whose unforeseen failures on malformed input (wrong compression, bytes that are not text, JSON of
    the wrong shape or nested too deep, an unreadable field) end as one ``DataFormatError`` naming the path, never as
    a traceback. The loaders' own checks still give the more precise message (file, line, fix) where they exist."""
    import csv
    import functools
    import gzip
    import zlib

    expected = (OSError, EOFError, gzip.BadGzipFile, zlib.error, UnicodeDecodeError, RecursionError, ValueError,
                TypeError, KeyError, IndexError, AttributeError, csv.Error, pd.errors.EmptyDataError,
                pd.errors.ParserError)

    @functools.wraps(loader)
    def load(path: Path, **options) -> Interactions:
        try:
            return loader(path, **options)
        except DataFormatError:
            raise
        except expected as error:
            kind = {RecursionError: "JSON nested too deeply", UnicodeDecodeError: "bytes that are not UTF-8 text",
                    gzip.BadGzipFile: "a file that is not gzip-compressed"}.get(type(error), type(error).__name__)
            detail = str(error).splitlines()[0][:160] if str(error) else ""
            raise DataFormatError(path, f"cannot be read as '{name}' data ({kind}{': ' + detail if detail else ''})",
                                  f"check the files against the '{name}' layout in README \"Data sets\", or pass "
                                  "another --format") from None
    return load


FORMATS: dict[str, Callable[..., Interactions]] = {name: _guarded(name, loader) for name, loader in {
    "movielens-1m": load_movielens_1m,
    "movielens-100k": load_movielens_100k,
    "amazon": load_amazon,
    "lcrec": load_lcrec,
    "rechorus": load_rechorus,
    "goodreads": load_goodreads,
    "once-goodreads": load_once_goodreads,
    "movielens": load_movielens_csv,
    "csv": load_csv,
    "recbole": load_recbole,
}.items()}

# the formats whose files carry a rating per interaction, which data.min_rating filters on
RATED_FORMATS = ("movielens-1m", "movielens-100k", "movielens", "amazon", "goodreads", "csv", "recbole")

# what each format reads, in a line (`glta data list`); the loaders' docstrings say more
FORMAT_FILES = {
    "movielens-1m": "GroupLens ML-1M: ratings.dat + movies.dat, or the LightGCN copy's train.txt/test.txt",
    "movielens-100k": "GroupLens ML-100K: u.data + u.item",
    "movielens": "GroupLens CSV releases (ML-20M/25M/32M, ml-latest): ratings.csv + movies.csv",
    "amazon": "Amazon reviews 2014/2018 (JSON lines + meta_<Category>.json[.gz]) or 2023 (<Category>.jsonl[.gz] "
              "+ meta_<Category>.jsonl[.gz])",
    "lcrec": "LC-Rec: <Name>.inter.json (each user's items in time order) + <Name>.item.json",
    "rechorus": "ReChorus: train.csv [+ dev.csv, test.csv], tab-separated; no item text",
    "goodreads": "UCSD Book Graph: goodreads_interactions_<genre>.json.gz + goodreads_books_<genre>.json.gz",
    "once-goodreads": "ONCE's Goodreads copy: user_history.tsv[.gz] + book.csv + book-desc.csv",
    "csv": "a CSV/TSV (or .csv.gz) with user, item[, rating, timestamp] columns, other names by data.user_column "
           "etc. (the file, or a folder's interactions.csv or only table) + optional items.csv of text fields "
           "(title, or name, product_name, ...: the item's name)",
    "recbole": "RecBole atomic files: <name>.inter or <name>.train/.valid/.test.inter [+ <name>.item]",
}


def detect_format(path: Path) -> str | None:
    """Guess a folder's format from the files the official releases ship."""
    if path.is_file():
        if path.name == "ratings.csv" and (path.parent / "movies.csv").exists():
            return "movielens"  # its titles are read too
        if is_table(path.name):
            return "csv"
        if path.suffix == ".inter":
            return "recbole"
        return None
    names = {p.name for p in path.iterdir()}
    checks = [
        ("movielens-1m", lambda: "movies.dat" in names and ({"ratings.dat", "train.txt"} & names)),
        ("movielens-100k", lambda: "u.data" in names),
        ("movielens", lambda: {"ratings.csv", "movies.csv"} <= names),
        ("lcrec", lambda: any(n.endswith(".inter.json") for n in names)),
        ("goodreads", lambda: any(n.startswith("goodreads_interactions_") for n in names)),
        ("once-goodreads", lambda: any(n.startswith("user_history.tsv") for n in names)),
        ("amazon", lambda: any(n.startswith("meta_") for n in names)),
        ("rechorus", lambda: "train.csv" in names and "item_meta.csv" in names),
        ("recbole", lambda: any(n.endswith(".inter") for n in names)),
        ("csv", lambda: csv_interactions(path) is not None),
    ]
    for name, check in checks:
        if check():
            return name
    return None
