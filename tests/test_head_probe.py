"""experiments/head_probe.py: GLTA's output side without the LLM, started at LightGCN's scores or from zero."""

import numpy as np
import pytest
import torch


@pytest.fixture(scope="module")
def head_probe(experiment):
    return experiment("head_probe")


def test_started_at_lightgcn_the_probe_scores_exactly_as_lightgcn(head_probe):
    torch.manual_seed(0)
    users, items = torch.randn(7, 8), torch.randn(11, 8)
    model = head_probe.LosslessGLTA(users, items, hidden=16, head="graph", prior=torch.zeros(11))
    model.start_at_lightgcn()
    assert torch.allclose(model(torch.arange(7)), users @ items.T, atol=1e-4)
    free = head_probe.LosslessGLTA(users, items, hidden=16, head="free", prior=torch.arange(11.0))
    assert torch.equal(free(torch.arange(7)), torch.arange(11.0).expand(7, -1))  # a zero head: the prior alone


def test_targets_are_the_users_own_items_padded(head_probe):
    import scipy.sparse as sp

    train = sp.csr_matrix(np.array([[1, 1, 0, 0, 1], [0, 0, 1, 0, 0]], dtype=np.float32))
    targets = head_probe.targets_for(train, np.array([0, 1]), 2, np.random.default_rng(0))
    assert set(targets[0].tolist()) <= {0, 1, 4} and len(set(targets[0].tolist())) == 2
    assert targets[1].tolist() == [2, -100]


@pytest.fixture()
def probe_inputs(synthetic):
    """(config, random user and item embeddings, validation evaluator) on the synthetic set."""
    from glta.config import build_config
    from glta.evaluation.ranking import RankingEvaluator

    torch.manual_seed(0)
    users, items = torch.randn(synthetic.n_users, 8), torch.randn(synthetic.n_items, 8)
    return build_config("glta", "synthetic"), users, items, RankingEvaluator(synthetic, "valid", [10], 256)


def test_the_probe_trains_and_reports_its_variant(head_probe, synthetic, probe_inputs):
    config, users, items, valid = probe_inputs
    result = head_probe.train_probe(synthetic, config, users, items, "free_all_targets", 16, 2, valid, 0,
                                    log=lambda _: None)
    assert 0 < result["valid_N@10"] < 1 and len(result["history"]) <= 2
    assert result["history"][1]["loss"] < result["history"][0]["loss"]
    assert result["targets_per_user"] == int(np.diff(synthetic.train.indptr).max()) and result["head"] == "free"
    start = head_probe.train_probe(synthetic, config, users, items, "graph_from_lightgcn", 16, 1, valid, 0,
                                   log=lambda _: None)
    lightgcn = valid.evaluate(lambda u: users[u] @ items.T)["N@10"]
    assert start["history"][0] == {"epoch": -1, "loss": None, "valid_N@10": round(lightgcn, 4)}


def test_the_unseen_softmax_probe_leaves_the_users_other_items_out(head_probe, synthetic, probe_inputs):
    """With the user's other training items out of each target's softmax, the same head, seed and targets train
    on a smaller denominator: a lower loss in every epoch than the catalogue-wide softmax."""
    config, users, items, valid = probe_inputs
    unseen = head_probe.train_probe(synthetic, config, users, items, "free_all_targets_unseen", 16, 2, valid, 0,
                                    log=lambda _: None)
    plain = head_probe.train_probe(synthetic, config, users, items, "free_all_targets", 16, 2, valid, 0,
                                   log=lambda _: None)
    assert unseen["unseen_softmax"] and not plain["unseen_softmax"]
    # the same head, seed and targets: a smaller denominator, so a lower loss in every epoch
    assert all(u["loss"] < p["loss"] for u, p in zip(unseen["history"], plain["history"]))


def test_the_bpr_probe_trains_on_unseen_negatives(head_probe, synthetic, probe_inputs):
    """The pairwise heads train under BPR (LightGCN's own objective), each target against an item the user has not
    seen: a draw the user has seen is flagged and left out of the loss."""
    import scipy.sparse as sp

    train = sp.csr_matrix(np.array([[1, 1, 0, 0, 1], [0, 0, 1, 0, 0]], dtype=np.float32))
    negatives, unseen = head_probe.draw_negatives(train, np.array([0, 1]), (2, 50), np.random.default_rng(0))
    dense = train.toarray() > 0
    assert negatives.shape == (2, 50) and set(negatives.flatten().tolist()) <= set(range(5))
    for row in range(2):
        assert unseen[row].tolist() == [not dense[row, j] for j in negatives[row].tolist()]
    config, users, items, valid = probe_inputs
    result = head_probe.train_probe(synthetic, config, users, items, "free_all_targets_bpr", 16, 2, valid, 0,
                                    log=lambda _: None)
    assert result["pairwise"] and 0 < result["valid_N@10"] < 1
    assert all(0 < epoch["loss"] < np.log(2) for epoch in result["history"])  # the prior alone already ranks better
