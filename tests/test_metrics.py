import numpy as np
import pytest
import scipy.sparse as sp
import torch
from sklearn.metrics import ndcg_score

from glta.data.dataset import RecDataset
from glta.evaluation.metrics import all_metrics, mrr_at_k, ndcg_at_k, precision_at_k, recall_at_k
from glta.evaluation.ranking import RankingEvaluator


def test_hand_worked_user():
    # ranked list: hit, miss, hit, miss, miss; the user has 3 relevant items
    hits = np.array([[1, 0, 1, 0, 0]], dtype=float)
    n_rel = np.array([3])
    assert precision_at_k(hits, 5)[0] == pytest.approx(2 / 5)
    assert recall_at_k(hits, n_rel, 5)[0] == pytest.approx(2 / 3)
    dcg = 1 / np.log2(2) + 1 / np.log2(4)
    idcg = 1 / np.log2(2) + 1 / np.log2(3) + 1 / np.log2(4)
    assert ndcg_at_k(hits, n_rel, 5)[0] == pytest.approx(dcg / idcg)
    assert mrr_at_k(np.array([[0, 0, 1, 0, 0.0]]), 5)[0] == pytest.approx(1 / 3)
    assert mrr_at_k(np.zeros((1, 5)), 5)[0] == 0.0


def test_idcg_uses_min_of_k_and_relevant():
    hits = np.array([[1, 0, 0, 0, 0]], dtype=float)
    assert ndcg_at_k(hits, np.array([1]), 5)[0] == pytest.approx(1.0)  # one relevant item, ranked first
    assert ndcg_at_k(np.ones((1, 5)), np.array([50]), 5)[0] == pytest.approx(1.0)  # capped at k


def _toy_dataset(rng, n_users=40, n_items=60):
    train = sp.random(n_users, n_items, density=0.15, random_state=1, format="csr")
    train.data[:] = 1
    test = sp.random(n_users, n_items, density=0.1, random_state=2, format="csr")
    test.data[:] = 1
    test = test - test.multiply(train)
    test.eliminate_zeros()
    empty = sp.csr_matrix((n_users, n_items), dtype=np.float32)
    ids = np.arange(n_users).astype(str)
    return RecDataset("toy", ids, np.arange(n_items).astype(str), train.astype(np.float32), empty,
                      test.astype(np.float32).tocsr())


def test_evaluator_matches_sklearn_ndcg_and_batching():
    rng = np.random.default_rng(0)
    data = _toy_dataset(rng)
    scores = torch.from_numpy(rng.normal(size=(data.n_users, data.n_items)).astype(np.float32))

    def score_fn(users):
        return scores[users].clone()

    results = [RankingEvaluator(data, "test", [5, 10], batch_size=b).evaluate(score_fn) for b in (1, 7, 1000)]
    for r in results[1:]:
        assert r == pytest.approx(results[0])
    # sklearn on the candidate set only (training items removed), binary relevance
    values = []
    for u in range(data.n_users):
        relevant = data.test[u].toarray().ravel()
        if relevant.sum() == 0:
            continue
        candidates = data.train[u].toarray().ravel() == 0
        values.append(ndcg_score(relevant[candidates][None], scores[u].numpy()[candidates][None], k=10))
    assert results[0]["N@10"] == pytest.approx(np.mean(values), rel=1e-6)


def test_seen_items_are_never_ranked():
    rng = np.random.default_rng(1)
    data = _toy_dataset(rng)
    # a scorer that puts every training item on top still gets evaluated on unseen items only
    bonus = torch.from_numpy(data.train.toarray() * 100.0).float()
    evaluator = RankingEvaluator(data, "test", [5])
    perfect = torch.from_numpy(data.test.toarray()).float()
    metrics = evaluator.evaluate(lambda users: (bonus + perfect)[users].clone())
    assert metrics["Hit@5"] == pytest.approx(1.0)
    assert metrics["MRR@5"] == pytest.approx(1.0)


def test_all_metrics_keys():
    out = all_metrics(np.zeros((2, 20)), np.array([1, 2]), [5, 10, 20])
    for key in ("P@5", "P@10", "P@20", "N@5", "N@10", "N@20", "R@10", "R@20", "Hit@10", "MRR@10"):
        assert key in out


def test_sparse_hit_lookup_and_masking_match_the_dense_computation():
    import scipy.sparse as sp
    import torch

    from glta.evaluation.ranking import mask_rows, seen_mask, top_k_hits

    rng = np.random.default_rng(0)
    held = sp.random(50, 300, density=0.05, format="csr", random_state=1)
    seen = sp.random(50, 300, density=0.1, format="csr", random_state=2)
    users = rng.choice(50, 20, replace=False)
    top = np.stack([rng.choice(300, 10, replace=False) for _ in users])
    dense = held[users].toarray() > 0
    assert np.array_equal(top_k_hits(top, held, users), np.take_along_axis(dense, top, axis=1))
    scores = torch.randn(20, 300)
    expected = scores.masked_fill(seen_mask(seen, users, 300), float("-inf"))
    assert torch.equal(mask_rows(scores.clone(), seen, users), expected)


def test_a_ranked_slot_with_no_item_is_no_hit():
    """-1 (a GLTA slot with no unseen item left) is no item: not the last item of the user before."""
    from glta.evaluation.ranking import top_k_hits

    held = sp.csr_matrix(np.array([[0, 0, 1], [1, 0, 0]]))
    assert top_k_hits(np.array([[2, -1], [0, -1]]), held, np.array([0, 1])).tolist() == [[True, False],
                                                                                        [True, False]]


@pytest.mark.parametrize("n_items", [40000, 40007])  # a row that divides into the chunks evenly, and one that does not
def test_chunked_top_k_equals_torch_topk_on_a_large_catalogue(n_items):
    from glta.evaluation.ranking import CHUNKED_TOP_K_ITEMS, top_k

    assert n_items >= CHUNKED_TOP_K_ITEMS  # the chunked path is the one under test
    generator = torch.Generator().manual_seed(0)
    scores = torch.randn(64, n_items, generator=generator)
    scores[:8, : n_items - 15] = float("-inf")  # rows with fewer unmasked items than chunks: the leftover tail counts
    scores[8, torch.randperm(n_items, generator=generator)[:30]] += 100.0  # the top items crowd into few chunks
    scores[9, torch.arange(5, n_items, n_items // 10)] += 100.0  # ... or into one column's group
    for k in (1, 20, 50):
        values, items = top_k(scores, k)
        expected = torch.topk(scores, k, dim=1)
        assert torch.equal(values, expected.values)
        assert torch.equal(torch.gather(scores, 1, items), values)  # the indices hold those values
        finite = torch.isfinite(values)
        assert torch.equal(items[finite], expected.indices[finite])  # no ties among finite random scores


def test_cut_offs_past_the_catalogue_are_refused_with_the_ones_that_fit(synthetic):
    from glta.errors import GLTAError

    n = synthetic.n_items
    with pytest.raises(GLTAError, match=rf"catalogue size \({n} items in synthetic\): give eval.ks=\[5,10\]$"):
        RankingEvaluator(synthetic, "test", [5, 10, n + 1])
    with pytest.raises(GLTAError, match=rf"give eval.ks=\[{n}\]$"):
        RankingEvaluator(synthetic, "test", [0])
