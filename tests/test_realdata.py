"""The real copies under GLTA_DATA_ROOT load with their documented counts (skipped where absent)."""

import os
from pathlib import Path

import numpy as np
import pytest

from glta.config import DataConfig
from glta.data import BUILTINS, load_dataset

EXPECTED = {  # users, items, interactions, items with text (SOURCE.md of each copy)
    "ml-1m": (6040, 3706, 1_000_209, 3706),
    "ml-100k": (943, 1682, 100_000, 1682),
    "amazon-scientific": (8317, 4344, 58_492, 4344),
    "amazon-grocery-2014": (14681, 8687, 121_892, 0),
    "goodreads-once": (23089, 15441, 180_240, 15441),
}


def _available(name):
    return (Path(os.environ.get("GLTA_DATA_ROOT", "")) / BUILTINS[name].folder).exists()


@pytest.mark.realdata
@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_real_counts(name):
    if not _available(name):
        pytest.skip(f"{name} not under GLTA_DATA_ROOT")
    data = load_dataset(DataConfig(name=name))
    users, items, interactions, with_text = EXPECTED[name]
    assert (data.n_users, data.n_items, data.n_interactions, data.items_with_text()) == (
        users, items, interactions, with_text)
    # parts are disjoint
    assert data.train.multiply(data.test).nnz == 0 and data.train.multiply(data.valid).nnz == 0
    assert data.valid.multiply(data.test).nnz == 0


@pytest.mark.realdata
def test_ml1m_keeps_the_copy_test_split():
    if not _available("ml-1m"):
        pytest.skip("ml-1m not under GLTA_DATA_ROOT")
    data = load_dataset(DataConfig(name="ml-1m"))
    assert data.test.nnz == 200_042  # test.txt, untouched
    assert data.train.nnz + data.valid.nnz == 800_167  # train.txt, valid carved from it
    assert data.user_ids[0] == "1" and data.item_ids[0] == "1"
    assert data.item_text["title"][0] == "Toy Story (1995)"
    # GroupLens ids: user 1 rated movie 1193 (train.txt has index 1192 for user index 0)
    u, i = 0, int(np.flatnonzero(data.item_ids == "1193")[0])
    assert (data.train + data.valid + data.test)[u, i] == 1
