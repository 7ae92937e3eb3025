"""EASE and GF-CF: the closed forms as written in their papers, behind the one Recommender interface."""

import numpy as np
import pytest
import torch

from glta.models.closed_form import EASE, GFCF, EASEConfig, GFCFConfig
from glta.data.dataset import RecDataset
from glta.evaluation.ranking import RankingEvaluator
from glta.models.popularity import Popularity
from glta.training import evaluate


def tiny() -> RecDataset:
    users = np.array([0, 0, 0, 1, 1, 2, 2, 2, 3, 3, 4, 4, 4])
    items = np.array([0, 1, 2, 1, 3, 0, 2, 4, 3, 4, 0, 1, 4])
    empty = (np.array([], dtype=np.int64), np.array([], dtype=np.int64))
    return RecDataset.from_parts("tiny", np.array([str(u) for u in range(5)], dtype=object),
                                 np.array([str(i) for i in range(5)], dtype=object),
                                 {"train": (users, items), "valid": empty, "test": empty}, {}, {})


def test_ease_matches_its_closed_form():
    data = tiny()
    x = data.train.toarray().astype(np.float64)
    l2 = 2.0
    p = np.linalg.inv(x.T @ x + l2 * np.eye(5))
    b = np.eye(5) - p / np.diag(p)  # B = I - P diag(1/diag(P))
    model = EASE(data, EASEConfig(l2=l2))
    assert np.allclose(np.diag(model.weights.numpy()), 0)
    assert np.allclose(model.score(torch.arange(5)).numpy(), x @ b, atol=1e-5)


def test_gfcf_matches_its_filters():
    data = tiny()
    r = data.train.toarray().astype(np.float64)
    du, di = r.sum(1), r.sum(0)
    norm = r / np.sqrt(du)[:, None] / np.sqrt(di)[None, :]
    linear = r @ (norm.T @ norm)
    _, _, vt = np.linalg.svd(norm)
    v = vt[:2].T
    ideal = (r / np.sqrt(di)) @ v @ v.T * np.sqrt(di)
    model = GFCF(data, GFCFConfig(ideal_weight=0.5, ideal_rank=2))
    assert np.allclose(model.score(torch.arange(5)).numpy(), linear + 0.5 * ideal, atol=1e-4)
    only_linear = GFCF(data, GFCFConfig(ideal_weight=0.0))
    assert np.allclose(only_linear.score(torch.arange(5)).numpy(), linear, atol=1e-5)


@pytest.mark.parametrize("model", [lambda d: EASE(d, EASEConfig(l2=50.0)), lambda d: GFCF(d, GFCFConfig())])
def test_closed_forms_beat_popularity_on_synthetic(synthetic, model):
    test = RankingEvaluator(synthetic, "test", [10])
    assert evaluate(model(synthetic), test)["N@10"] > 1.5 * evaluate(Popularity(synthetic), test)["N@10"]


def test_trained_through_the_cli_and_reloaded(tmp_path, capsys):
    import json

    from glta.cli import main

    out = tmp_path / "r.json"
    assert main(["train", "ease", "--dataset", "synthetic", "--run-dir", str(tmp_path / "run"), "--out", str(out),
                 "--no-progress", "model.l2=100"]) == 0
    record = json.loads(out.read_text())
    assert record["training"]["epochs_run"] == 1
    capsys.readouterr()
    assert main(["evaluate", "--run-dir", str(tmp_path / "run"), "--json", "--no-progress"]) == 0
    again = json.loads(capsys.readouterr().out)
    assert again["test"]["N@10"] == pytest.approx(record["metrics"]["test"]["N@10"], rel=1e-6)
