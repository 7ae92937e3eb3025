"""Write a split data set as RecBole atomic files (the reverse of ``formats.load_recbole``)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from glta.data.dataset import RecDataset


def _clean(text: str) -> str:
    return " ".join(str(text).replace("\t", " ").split())


def export_recbole(dataset: RecDataset, folder: str | Path, name: str | None = None) -> list[Path]:
    """Write ``<name>.train.inter``, ``.valid.inter``, ``.test.inter`` (RecBole benchmark files) and ``<name>.item``.

    Ids are the data set's original ids, so RecBole and this project score the very same pairs.
    """
    folder = Path(folder)
    name = name or dataset.name
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for part in ("train", "valid", "test"):
        matrix = getattr(dataset, part).tocoo()
        order = np.lexsort((matrix.col, matrix.row))
        path = folder / f"{name}.{part}.inter"
        with open(path, "w", encoding="utf-8") as handle:
            handle.write("user_id:token\titem_id:token\n")
            for user, item in zip(matrix.row[order], matrix.col[order]):
                handle.write(f"{dataset.user_ids[user]}\t{dataset.item_ids[item]}\n")
        written.append(path)
    if dataset.item_text:
        path = folder / f"{name}.item"
        fields = sorted(dataset.item_text)
        with open(path, "w", encoding="utf-8") as handle:
            handle.write("\t".join(["item_id:token"] + [f"{f}:token_seq" for f in fields]) + "\n")
            for index, item in enumerate(dataset.item_ids):
                handle.write("\t".join([str(item)] + [_clean(dataset.item_text[f][index]) for f in fields]) + "\n")
        written.append(path)
    return written
