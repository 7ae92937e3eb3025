import numpy as np
import pytest

from glta.config import DataConfig
from glta.data.dataset import Interactions
from glta.data.splits import TEST, TRAIN, VALID, split_interactions
from glta.errors import ConfigError


def _interactions(counts, with_order=True, seed=0):
    rng = np.random.default_rng(seed)
    users = np.repeat(np.arange(len(counts)), counts)
    items = np.concatenate([rng.permutation(200)[:c] for c in counts])
    order = np.concatenate([np.arange(c) for c in counts]).astype(float) if with_order else None
    return Interactions(users, items, np.arange(len(counts)).astype(str), np.arange(200).astype(str), order=order)


def test_random_split_ratios_disjoint_and_seeded():
    data = _interactions([50] * 20 + [2] * 5)
    _, labels = split_interactions(data, DataConfig(split="random", seed=1), "random")
    _, again = split_interactions(data, DataConfig(split="random", seed=1), "random")
    _, other = split_interactions(data, DataConfig(split="random", seed=2), "random")
    assert (labels == again).all() and not (labels == other).all()
    for user in range(20):
        mine = labels[data.users == user]
        assert (mine == TEST).sum() == 5 and (mine == VALID).sum() == 5
    small = labels[data.users >= 20]
    assert (small == TRAIN).all()  # fewer than min_user_interactions: train-only


def test_leave_last_uses_order():
    data = _interactions([6, 8])
    _, labels = split_interactions(data, DataConfig(split="leave-last"), "random")
    for user, count in ((0, 6), (1, 8)):
        mine = labels[data.users == user]
        order = data.order[data.users == user]
        assert mine[order == count - 1] == TEST and mine[order == count - 2] == VALID
        assert (mine[order < count - 2] == TRAIN).all()


def test_temporal_split_keeps_latest_for_test():
    data = _interactions([20])
    _, labels = split_interactions(data, DataConfig(split="temporal", valid_ratio=0.1, test_ratio=0.2), "random")
    assert set(data.order[labels == TEST]) == {16, 17, 18, 19}
    assert set(data.order[labels == VALID]) == {14, 15}


def test_temporal_needs_order():
    with pytest.raises(ConfigError, match="order"):
        split_interactions(_interactions([10], with_order=False), DataConfig(split="temporal"), "random")


def test_given_split_keeps_test_and_carves_valid_from_train():
    data = _interactions([40, 40])
    given = np.where(data.order >= 30, TEST, TRAIN).astype(np.int8)
    data.given_split = given
    _, labels = split_interactions(data, DataConfig(split="given", valid_ratio=0.1), "given")
    assert ((labels == TEST) == (given == TEST)).all()
    assert (labels[given == TEST] == TEST).all()
    assert ((labels == VALID) & (given == TEST)).sum() == 0
    assert (labels == VALID).sum() == 6  # 10% of each user's 30 train interactions


def test_unknown_split_name():
    with pytest.raises(ConfigError, match="unknown"):
        split_interactions(_interactions([5]), DataConfig(split="weird"), "random")
