"""A method that another installed package registers (entry points ``glta.methods``) lives like a built-in one."""

import json
import textwrap

import pytest

import glta.methods as methods
from glta.cli import main

PLUGIN = '''
from dataclasses import dataclass

import numpy as np
import torch

from glta.recommender import Recommender


@dataclass
class ItemKNNConfig:
    shrink: float = 10.0


class ItemKNN(Recommender):
    """Item-based nearest neighbours: a user's score for an item is the summed cosine similarity of the item to the
    user's training items."""

    method = "itemknn_demo"
    config_class = ItemKNNConfig
    display_name = "ItemKNN"
    deterministic = True

    def __init__(self, dataset, config):
        super().__init__(dataset, config)
        history = dataset.train.astype(np.float32)
        overlap = (history.T @ history).toarray()
        norms = np.sqrt(np.diag(overlap))
        similarity = overlap / (np.outer(norms, norms) + config.shrink)
        np.fill_diagonal(similarity, 0.0)
        self.register_buffer("similarity", torch.from_numpy(similarity))
        self.register_buffer("history", torch.from_numpy(history.toarray()))

    def train_batches(self, rng, batch_size):
        return iter(())

    def loss(self, batch):
        raise RuntimeError("nothing to learn")

    def score(self, users):
        return self.history[users] @ self.similarity

    def score_new_users(self, histories):
        return torch.stack([self.similarity[torch.as_tensor(h)].sum(0) for h in histories])


class Misnamed(ItemKNN):
    method = "something_else"
'''


@pytest.fixture
def installed(tmp_path, monkeypatch):
    """A package installed the way pip leaves one: its module and a dist-info folder with its entry points."""
    site = tmp_path / "site"
    (site / "glta_itemknn_demo").mkdir(parents=True)
    (site / "glta_itemknn_demo" / "__init__.py").write_text(PLUGIN)
    info = site / "glta_itemknn_demo-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: glta-itemknn-demo\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(textwrap.dedent("""\
        [glta.methods]
        itemknn_demo = glta_itemknn_demo:ItemKNN
        misnamed_demo = glta_itemknn_demo:Misnamed
        missing_demo = glta_no_such_module:Thing
        lightgcn = glta_itemknn_demo:ItemKNN
        """))
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.chdir(tmp_path)
    methods._registry.cache_clear()
    methods._plugin_class.cache_clear()
    yield tmp_path
    methods._registry.cache_clear()
    methods._plugin_class.cache_clear()


def test_a_registered_method_trains_tunes_compares_and_serves(installed, capsys):
    from glta.models.lightgcn import LightGCN

    assert "itemknn_demo" in methods.method_names()
    assert methods.method_class("lightgcn") is LightGCN  # a built-in name is never taken over
    assert methods.is_deterministic("itemknn_demo")
    assert main(["train", "itemknn_demo", "synthetic", "--no-progress"]) == 0
    record = json.loads((installed / "results/synthetic/itemknn_demo.json").read_text())
    assert record["method"] == "itemknn_demo" and record["provenance"]["config"]["model"] == {"shrink": 10.0}
    assert main(["train", "pop", "synthetic", "--no-progress"]) == 0
    popularity = json.loads((installed / "results/synthetic/pop.json").read_text())
    assert record["metrics"]["test"]["N@10"] > popularity["metrics"]["test"]["N@10"]
    assert main(["tune", "itemknn_demo", "synthetic", "--grid", "model.shrink=1,100", "--no-progress"]) == 0
    chosen = json.loads((installed / "results/synthetic/itemknn_demo.json").read_text())
    assert chosen["selection"]["chosen"]["model.shrink"] in (1, 100)
    capsys.readouterr()
    assert main(["compare", "synthetic"]) == 0
    assert "itemknn_demo" in capsys.readouterr().out
    assert main(["recommend", "itemknn_demo", "synthetic", "--user", "1", "-k", "3", "--json"]) == 0
    assert len(json.loads(capsys.readouterr().out)[0]["items"]) == 3
    assert main(["evaluate", "itemknn_demo", "synthetic", "--json", "--no-progress"]) == 0
    assert json.loads(capsys.readouterr().out)["test"]["N@10"] == pytest.approx(chosen["metrics"]["test"]["N@10"])


def test_a_registered_method_that_does_not_fit_says_why_in_one_line(installed, capsys):
    assert main(["train", "misnamed_demo", "synthetic", "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "registered by glta-itemknn-demo" in err and "set it to 'misnamed_demo'" in err
    assert main(["train", "missing_demo", "synthetic", "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "cannot be imported: ModuleNotFoundError" in err and len(err.strip().splitlines()) == 1
    assert methods.method_names().count("lightgcn") == 1
