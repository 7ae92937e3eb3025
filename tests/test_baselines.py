"""The paper's baselines: HCCF, LightGCN+, HCCF+, RLMRec-Con, RLMRec-Gen behind the one Recommender interface."""

import numpy as np
import pytest
import torch

from glta.config import EvalConfig, TrainConfig, model_config_class
from glta.errors import GLTAError
from glta.evaluation.ranking import RankingEvaluator
from glta.models.hccf import HCCF, HCCFConfig, node_infonce
from glta.graph.propagation import EdgeDropout, normalized_adjacency
from glta.methods import method_class
from glta.models.popularity import Popularity
from glta.recommender import Recommender
from glta.semantic import infonce, profile_embeddings, user_means
from glta.training import evaluate, fit, evaluate_test

BASELINES = ["hccf", "lightgcn_plus", "hccf_plus", "rlmrec_con", "rlmrec_gen"]


@pytest.fixture(scope="module")
def profiles(synthetic):
    """Stand-in text embeddings with the signal LLM profiles would carry, made in no time (the learning mechanics are
    tested here, not the text encoder: tests/test_encoder.py tests MiniLM): an item's vector is a fixed random code of
    its genres plus a little of its own, a user's the normalised mean over their training items."""
    rng = np.random.default_rng(0)
    item_genres = [text.split(", ") for text in synthetic.item_text["genres"]]
    names = sorted({genre for genres in item_genres for genre in genres})
    codes = {genre: rng.standard_normal(384) for genre in names}
    items = np.stack([sum(codes[g] for g in genres) for genres in item_genres])
    items += 0.3 * rng.standard_normal(items.shape)
    items /= np.linalg.norm(items, axis=1, keepdims=True)
    users = np.asarray(synthetic.train @ items) / np.maximum(synthetic.train.sum(axis=1), 1)
    users /= np.maximum(np.linalg.norm(users, axis=1, keepdims=True), 1e-12)
    return torch.from_numpy(users.astype(np.float32)), torch.from_numpy(items.astype(np.float32))


def build(method, dataset, profiles):
    config = model_config_class(method)()
    if method in ("lightgcn_plus", "hccf_plus", "rlmrec_con", "rlmrec_gen"):
        return method_class(method)(dataset, config, text_embeddings=profiles)
    return method_class(method)(dataset, config)


def test_every_method_has_a_config_and_a_class():
    for method in ["lightgcn", *BASELINES, "glta", "glta_plus", "pop", "ease", "gfcf"]:
        assert issubclass(method_class(method), Recommender)
        assert method_class(method).method == method
        model_config_class(method)()


def test_edge_dropout_keeps_symmetry_and_rescales(synthetic):
    adjacency = normalized_adjacency(synthetic.train)
    dropout = EdgeDropout(adjacency, synthetic.n_users)
    dropped = dropout(0.5, torch.Generator().manual_seed(0))
    dense = dropped.to_dense().numpy()
    assert np.allclose(dense, dense.T)
    kept = dense != 0
    assert 0.4 < kept.sum() / adjacency.nnz < 0.6
    assert np.allclose(dense[kept], adjacency.toarray()[kept] / 0.5)
    full = dropout(1.0).to_dense().numpy()
    assert np.allclose(full, adjacency.toarray())


def test_infonce_prefers_matching_pairs():
    x = torch.randn(16, 8)
    own, shifted = torch.arange(16), torch.arange(16).roll(1)
    assert infonce(x, x, own, 0.2) < infonce(x, x, shifted, 0.2)
    reference = -torch.log_softmax(torch.nn.functional.normalize(x, dim=1) @ torch.nn.functional.normalize(x, dim=1).T
                                   / 0.2, dim=1).diagonal().mean()
    assert torch.allclose(infonce(x, x, own, 0.2), reference, atol=1e-5)
    assert node_infonce(x, x, torch.arange(16), 1.0) < node_infonce(x, x.roll(1, 0), torch.arange(16), 1.0)


def test_user_text_comes_from_training_items_only(synthetic):
    vectors = np.random.default_rng(0).standard_normal((synthetic.n_items, 4)).astype(np.float32)
    users = user_means(synthetic.train, vectors)
    u = 3
    expected = vectors[synthetic.train[u].indices].mean(0)
    assert np.allclose(users[u], expected / np.linalg.norm(expected), atol=1e-5)
    held_out = set(synthetic.valid[u].indices) | set(synthetic.test[u].indices)
    assert held_out and not held_out & set(synthetic.train[u].indices)


def test_hccf_hyperedge_view_has_gradients_to_every_parameter(synthetic):
    torch.manual_seed(0)
    model = HCCF(synthetic, HCCFConfig())
    batch = next(iter(model.train_batches(np.random.default_rng(0), 256)))
    model.loss(batch).backward()
    for name, parameter in model.named_parameters():
        assert parameter.grad is not None and parameter.grad.abs().sum() > 0, name


def test_hccf_scale_sets_the_hypergraph_views_magnitude(synthetic):
    """The hyperedge memberships scale by ``mult``, so each layer's hypergraph view scales by mult squared; with
    the LeakyReLU off (slope 1) the views are exact multiples."""
    views = {}
    for mult in (1.0, 0.1):
        torch.manual_seed(0)
        model = HCCF(synthetic, HCCFConfig(mult=mult))
        views[mult] = model.views(1.0)[2][0]
    assert torch.allclose(views[0.1], views[1.0] * 0.01, rtol=1e-4, atol=1e-7)
    torch.manual_seed(0)
    leaky = HCCF(synthetic, HCCFConfig(leaky=0.5)).views(1.0)[2][0]
    assert not torch.allclose(leaky, views[1.0])


@pytest.mark.parametrize("method", BASELINES)
def test_baseline_learns_and_beats_popularity(synthetic, profiles, method):
    torch.manual_seed(0)
    model = build(method, synthetic, profiles)
    lr = 0.01
    result = fit(model, synthetic, TrainConfig(epochs=20, batch_size=1024, lr=lr, patience=4, threads=2),
                 EvalConfig(), progress=False, log=lambda s: None)
    pop = evaluate(Popularity(synthetic), RankingEvaluator(synthetic, "test", [5, 10, 20]))
    test, _ = evaluate_test(model, synthetic, EvalConfig(), "N@10")
    assert result.best_epoch >= 0 and test["N@10"] > 1.5 * pop["N@10"], (method, test["N@10"], pop["N@10"])


def test_methods_are_interchangeable(synthetic, profiles):
    """Every method trains, scores and masks through the same calls; scores have one row per user."""
    users = torch.arange(7)
    for method in ["lightgcn", *BASELINES]:
        torch.manual_seed(0)
        model = build(method, synthetic, profiles)
        optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
        batch = next(iter(model.train_batches(np.random.default_rng(0), 512)))
        loss = model.loss(batch)
        loss.backward()
        optimizer.step()
        model.eval()
        with torch.no_grad():
            model.prepare_scoring(synthetic.train)
            scores = model.score(users)
        assert scores.shape == (7, synthetic.n_items) and torch.isfinite(scores).all(), method


def test_rlmrec_reads_cached_llm_profiles_and_says_what_is_missing(synthetic, tmp_path, monkeypatch):
    from glta.text.generate import (GenerationConfig, cache_path, history_fingerprint, history_items, item_source,
                                    template_text)
    from glta.text.text_cache import TextCache
    from glta.text.llm import LLMConfig, llm_identity

    monkeypatch.setenv("GLTA_CACHE_DIR", str(tmp_path))
    llm, generation = LLMConfig(), GenerationConfig()
    with pytest.raises(GLTAError, match="glta text generate synthetic --kinds profile,item_profile`"):
        profile_embeddings(synthetic, llm, generation, encoder=object())
    with pytest.raises(GLTAError, match="glta text generate synthetic --kinds profile,item_profile "
                                        "generation.max_item_chars=40`"):  # the very texts: their settings too
        profile_embeddings(synthetic, llm, GenerationConfig(max_item_chars=40), encoder=object())
    identity = llm_identity(llm)
    users = TextCache(cache_path(identity, synthetic, "profile", template_text("profile"), generation))
    users.append([{"key": str(synthetic.user_ids[u]),
                   "history": history_fingerprint(synthetic, history_items(synthetic, u, generation)),
                   "text": f"user {u} profile"} for u in range(synthetic.n_users)])
    items = TextCache(cache_path(identity, synthetic, "item_profile", template_text("item_profile"), generation))
    items.append([{"key": str(synthetic.item_ids[i]), "history": item_source(synthetic, i, generation)[1],
                   "text": f"item {i} profile"} for i in range(synthetic.n_items)])

    class Recorder:
        def encode_cached(self, texts):
            self.texts = texts
            return np.zeros((len(texts), 3), dtype=np.float32)

    recorder = Recorder()
    user_vectors, item_vectors = profile_embeddings(synthetic, llm, generation, encoder=recorder)
    assert user_vectors.shape == (synthetic.n_users, 3) and item_vectors.shape == (synthetic.n_items, 3)
    assert recorder.texts[5] == "user 5 profile" and recorder.texts[synthetic.n_users + 2] == "item 2 profile"


def test_train_device_is_checked(synthetic):
    model = method_class("lightgcn")(synthetic, model_config_class("lightgcn")())
    with pytest.raises(GLTAError, match="train.device=gpu is not a device"):
        fit(model, synthetic, TrainConfig(epochs=1, device="gpu"), EvalConfig(), progress=False, log=lambda s: None)
    if not torch.cuda.is_available():
        with pytest.raises(GLTAError, match="no CUDA GPU is visible; use train.device=cpu"):
            fit(model, synthetic, TrainConfig(epochs=1, device="cuda"), EvalConfig(), progress=False,
                log=lambda s: None)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
@pytest.mark.parametrize("method", ["lightgcn", *BASELINES])
def test_methods_train_on_cuda_as_on_cpu(synthetic, method, tmp_path):
    """Same weights, same batch: the CUDA loss matches the CPU one; a CUDA fit learns and saves CPU tensors."""
    from glta.pipeline import save_run

    generator = torch.Generator().manual_seed(0)
    texts = (torch.randn(synthetic.n_users, 384, generator=generator),
             torch.randn(synthetic.n_items, 384, generator=generator))
    torch.manual_seed(0)
    cpu = build(method, synthetic, texts)
    if isinstance(cpu, HCCF):
        cpu.config.keep_rate = 1.0  # no random edge dropout, so both devices see the same graph
    batch = next(iter(cpu.train_batches(np.random.default_rng(0), 512)))
    torch.manual_seed(1)
    expected = cpu.loss(batch).item()
    gpu = build(method, synthetic, texts)
    gpu.load_state_dict(cpu.state_dict())
    gpu.config = cpu.config
    gpu.place(torch.device("cuda"))
    torch.manual_seed(1)
    got = gpu.loss(tuple(t.cuda() for t in batch)).item()
    if method != "rlmrec_gen":  # its mask is drawn by the device's own generator
        assert got == pytest.approx(expected, rel=1e-4)
    result = fit(gpu, synthetic, TrainConfig(epochs=4, batch_size=1024, lr=0.01, device="cuda"), EvalConfig(),
                 progress=False, log=lambda s: None)
    assert next(gpu.parameters()).is_cuda and result.valid["N@10"] > 0
    from glta.config import RunConfig

    save_run(gpu, RunConfig(method=method), synthetic, tmp_path)
    assert (tmp_path / "model.safetensors").exists()


def test_a_saved_text_baseline_loads_and_scores_without_its_texts(synthetic, profiles, tmp_path, monkeypatch):
    """The texts of LightGCN+, HCCF+ and RLMRec enter only their training loss: a saved run loads with the data
    alone (no LLM-written profile, no text encoder) and scores as it did; it records no text digest, having read
    none."""
    from glta.config import DataConfig, RunConfig
    from glta.pipeline import load_run, save_run

    def unread(*args, **kwargs):
        raise AssertionError("a saved run's texts were read")

    monkeypatch.setattr("glta.models.plus.description_embeddings", unread)
    monkeypatch.setattr("glta.models.rlmrec.profile_embeddings", unread)
    users = torch.arange(9)
    for method in ("lightgcn_plus", "hccf_plus", "rlmrec_con", "rlmrec_gen"):
        torch.manual_seed(0)
        trained = build(method, synthetic, profiles)
        config = RunConfig(method=method, data=DataConfig(name="synthetic"), model=model_config_class(method)())
        save_run(trained, config, synthetic, tmp_path / method)
        loaded = load_run(tmp_path / method)[2]
        trained.eval()
        with torch.no_grad():
            assert torch.allclose(loaded.score(users), trained.score(users), atol=1e-5), method
        assert loaded.inputs() == {} and trained.inputs(), method


def test_text_baselines_record_a_digest_of_the_text_they_align_with(synthetic, profiles):
    """LightGCN+, HCCF+ and RLMRec's results name the text embeddings they read (``provenance.inputs``): the same
    embeddings give the same digest, texts written or embedded again another one; the graph-only models read none."""
    users, items = profiles
    for method in ("lightgcn_plus", "hccf_plus", "rlmrec_con", "rlmrec_gen"):
        digest = build(method, synthetic, profiles).inputs()["text_embeddings_sha256"]
        assert len(digest) == 16 and digest == build(method, synthetic, (users.clone(), items.clone())).inputs()[
            "text_embeddings_sha256"], method
        other = (users, items.roll(1, dims=0))
        assert build(method, synthetic, other).inputs()["text_embeddings_sha256"] != digest, method
    assert build("lightgcn", synthetic, profiles).inputs() == {} and build("hccf", synthetic, profiles).inputs() == {}
