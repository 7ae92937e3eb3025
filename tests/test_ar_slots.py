"""experiments/ar_slots.py: slot by slot, where autoregressive decoding departs from first-k."""

import numpy as np
import pytest


@pytest.fixture(scope="module")
def script(experiment):
    return experiment("ar_slots")


def test_each_slot_compares_hits_and_the_items_both_modes_chose(script):
    first = np.array([[1, 2, 3], [4, 5, 6]])
    ar = np.array([[1, 3, 9], [4, 7, 5]])  # user 0's slot 2 took first-k's slot-3 item; user 1's slot 3 its slot 2
    first_hits = np.array([[True, False, True], [False, True, False]])
    ar_hits = np.array([[True, True, True], [False, False, True]])
    items = np.zeros((10, 2))
    items[[1, 2, 4, 5]] = [1.0, 0.0]  # items 1, 2, 4, 5 point one way, 3, 6, 7, 9 the other
    items[[3, 6, 7, 9]] = [0.0, 2.0]
    rows = script.compare(first, ar, first_hits, ar_hits, items)
    assert [row["slot"] for row in rows] == [1, 2, 3]
    assert [row["same_item"] for row in rows] == [1.0, 0.0, 0.0]
    assert [row["in_first_k"] for row in rows] == [1.0, 0.5, 0.5]
    assert [row["hit_first_k"] for row in rows] == [0.5, 0.5, 0.5]
    assert [row["hit_ar"] for row in rows] == [0.5, 0.5, 1.0]
    # first-k: 2 after 1 and 5 after 4 alike, 3 after 2 and 6 after 5 not; AR: 3 after 1 and 7 after 4 not,
    # 9 after 3 alike and 5 after 7 not
    assert [row["cosine_to_previous_first_k"] for row in rows] == [None, 1.0, 0.0]
    assert [row["cosine_to_previous_ar"] for row in rows] == [None, 0.0, 0.5]


def test_a_slot_with_no_item_left_is_left_out_of_the_cosines(script):
    """A user with fewer unseen items than slots gets -1 in the slots after them: no item, not the last one."""
    first = np.array([[1, 2, -1], [4, 5, 6]])
    items = np.zeros((10, 2))
    items[[1, 2, 4]] = [1.0, 0.0]
    items[[5, 6]] = [0.0, 1.0]
    items[9] = [0.0, 1.0]  # what -1 would read: unlike item 2 (the mean would fall to 0.5)
    hits = np.zeros((2, 3), dtype=bool)
    rows = script.compare(first, first, hits, hits, items)
    assert [row["cosine_to_previous_first_k"] for row in rows] == [None, 0.5, 1.0]  # slot 3: user 1 alone
