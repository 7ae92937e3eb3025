import numpy as np
import pytest
import torch

from glta.config import EvalConfig, LightGCNConfig, TrainConfig
from glta.errors import GLTAError
from glta.models.lightgcn import LightGCN, load_embeddings
from glta.graph.propagation import normalized_adjacency, propagate, to_torch_csr
from glta.graph.sampling import BPRSampler
from glta.models.popularity import Popularity
from glta.training import evaluate, fit, evaluate_test
from glta.evaluation.ranking import RankingEvaluator


def test_adjacency_is_symmetric_normalised(synthetic):
    adjacency = normalized_adjacency(synthetic.train)
    n = synthetic.n_users + synthetic.n_items
    assert adjacency.shape == (n, n)
    assert abs(adjacency - adjacency.T).max() < 1e-7
    degree = np.asarray((adjacency != 0).sum(1)).ravel()
    u, i = synthetic.train.nonzero()
    expected = 1 / np.sqrt(degree[u[0]] * degree[synthetic.n_users + i[0]])
    assert adjacency[u[0], synthetic.n_users + i[0]] == pytest.approx(expected, rel=1e-6)


def test_fast_propagation_gradient_matches_dense(synthetic):
    adjacency = normalized_adjacency(synthetic.train)
    sparse = to_torch_csr(adjacency)
    dense = torch.from_numpy(adjacency.toarray())
    x = torch.randn(adjacency.shape[0], 4, requires_grad=True)
    weight = torch.randn(adjacency.shape[0], 4)
    (propagate(sparse, propagate(sparse, x)) * weight).sum().backward()
    fast = x.grad.clone()
    x.grad = None
    ((dense @ (dense @ x)) * weight).sum().backward()
    assert torch.allclose(fast, x.grad, atol=1e-5)


def test_negatives_are_never_training_items(synthetic):
    sampler = BPRSampler(synthetic.train)
    rng = np.random.default_rng(0)
    for users, positives, negatives in sampler.epoch(rng, 4096):
        assert sampler.is_positive(users.numpy(), positives.numpy()).all()
        assert not sampler.is_positive(users.numpy(), negatives.numpy()).any()


def test_lightgcn_learns_and_beats_popularity(synthetic):
    torch.manual_seed(0)
    model = LightGCN(synthetic, LightGCNConfig())
    result = fit(model, synthetic, TrainConfig(epochs=25, batch_size=1024, lr=0.01, patience=5),
                 EvalConfig(), progress=False, log=lambda s: None)
    pop = evaluate(Popularity(synthetic), RankingEvaluator(synthetic, "test", [5, 10, 20]))
    test, _ = evaluate_test(model, synthetic, EvalConfig(), "N@10")
    assert test["N@10"] > 2 * pop["N@10"]
    assert result.best_epoch >= 0 and result.valid["N@10"] > 0


def test_resume_continues_where_it_stopped(synthetic, tmp_path):
    from glta.checkpoint import CHECKPOINT_NAME, checkpoint_commits

    def run(epochs, resume, folder, commit="1111111"):
        torch.manual_seed(0)
        model = LightGCN(synthetic, LightGCNConfig())
        result = fit(model, synthetic, TrainConfig(epochs=epochs, batch_size=2048, lr=0.01, patience=100),
                     EvalConfig(), checkpoint_dir=folder, resume=resume, progress=False, log=lambda s: None,
                     commit=commit)
        return result, evaluate_test(model, synthetic, EvalConfig(), "N@10")[0]

    straight, straight_test = run(4, False, tmp_path / "a")
    assert straight.commits == ["1111111"]
    run(2, False, tmp_path / "b")  # "interrupted" after two epochs
    resumed, resumed_test = run(4, True, tmp_path / "b", commit="2222222")  # and continued under another commit
    assert resumed.epochs_run == 4
    assert resumed_test == pytest.approx(straight_test, rel=1e-5)
    assert resumed.commits == ["1111111", "2222222"]  # both trained it, and its checkpoint says so
    assert checkpoint_commits(tmp_path / "b" / CHECKPOINT_NAME) == ["1111111", "2222222"]


def stopping_on_call(real, n):
    """``real``, except that its ``n``-th call raises KeyboardInterrupt instead (a session ending there)."""
    calls = []

    def wrapped(*args, **kwargs):
        calls.append(1)
        if len(calls) == n:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    return wrapped


def _fit_and_test(synthetic, settings, folder, resume=False, log=lambda s: None):
    """(fit result, test metrics) of a LightGCN trained from seed 0 with ``settings``, checkpoints in ``folder``."""
    torch.manual_seed(0)
    model = LightGCN(synthetic, LightGCNConfig())
    result = fit(model, synthetic, settings, EvalConfig(), checkpoint_dir=folder, resume=resume, progress=False,
                 log=log)
    return result, evaluate_test(model, synthetic, EvalConfig(), "N@10")[0]


def test_a_run_stopped_within_an_epoch_resumes_at_its_last_checkpointed_step(synthetic, tmp_path, monkeypatch):
    """With ``train.checkpoint_minutes`` the checkpoint is also written between steps; a run stopped part-way through
    an epoch continues from that step (its earlier batches drawn again, not trained again) and ends as an
    uninterrupted run does."""
    from glta import training

    settings = TrainConfig(epochs=3, batch_size=512, lr=0.01, patience=100, checkpoint_minutes=1e-9)

    def run(folder, resume=False, log=lambda s: None):
        return _fit_and_test(synthetic, settings, folder, resume, log)

    straight, straight_test = run(tmp_path / "a")
    per_epoch = LightGCN(synthetic, LightGCNConfig()).batches_per_epoch(512)
    assert per_epoch >= 4
    write, steps = training.WithinEpoch.__call__, []

    def stops_after_a_save(self, batches, losses, now=False):
        write(self, batches, losses, now)
        steps.append(batches)
        if len(steps) == per_epoch + 2:  # two steps into the second epoch: the session ends
            raise KeyboardInterrupt

    monkeypatch.setattr(training.WithinEpoch, "__call__", stops_after_a_save)
    with pytest.raises(KeyboardInterrupt):
        run(tmp_path / "b")
    monkeypatch.setattr(training.WithinEpoch, "__call__", write)
    trained = []
    real_step = training.train_epoch
    monkeypatch.setattr(training, "train_epoch", lambda *a, **k: trained.append(k["skip"]) or real_step(*a, **k))
    messages = []
    torch.manual_seed(123)  # a fresh process: nothing of the first attempt's random state is left
    resumed, resumed_test = run(tmp_path / "b", resume=True, log=messages.append)
    assert any("in epoch 1 after 2 batches" in m for m in messages), messages
    assert trained == [2, 0]  # the second epoch skips its two trained batches, the third starts afresh
    assert [h["loss"] for h in resumed.history] == pytest.approx([h["loss"] for h in straight.history], rel=1e-6)
    assert resumed_test == pytest.approx(straight_test, rel=1e-6)


@pytest.mark.parametrize("signum", ["SIGINT", "SIGTERM"])
def test_a_signal_during_a_step_stops_the_run_after_that_step_with_its_checkpoint(
        synthetic, tmp_path, monkeypatch, signum):
    """``kill`` or Ctrl-C mid-step: the step ends, a checkpoint is written whatever the interval (here an hour, so
    only the signal writes one), the run stops with KeyboardInterrupt, and the resumed run loses no step and ends as
    an uninterrupted run does."""
    import os
    import signal

    from glta.interrupts import interruptible

    settings = TrainConfig(epochs=3, batch_size=512, lr=0.01, patience=100, checkpoint_minutes=60)

    def run(folder, resume=False, log=lambda s: None):
        return _fit_and_test(synthetic, settings, folder, resume, log)

    straight, straight_test = run(tmp_path / "a")
    per_epoch = LightGCN(synthetic, LightGCNConfig()).batches_per_epoch(512)
    real_loss, losses = LightGCN.loss, []

    def signalled_in_a_step(self, batch):
        losses.append(1)
        if len(losses) == per_epoch + 3:  # inside the third step of the second epoch
            os.kill(os.getpid(), getattr(signal, signum))
        return real_loss(self, batch)

    monkeypatch.setattr(LightGCN, "loss", signalled_in_a_step)
    with pytest.raises(KeyboardInterrupt), interruptible():
        run(tmp_path / "b")
    assert len(losses) == per_epoch + 3  # no step after the one the signal came in
    monkeypatch.setattr(LightGCN, "loss", real_loss)
    messages = []
    resumed, resumed_test = run(tmp_path / "b", resume=True, log=messages.append)
    assert any("in epoch 1 after 3 batches" in m for m in messages), messages
    assert [h["loss"] for h in resumed.history] == pytest.approx([h["loss"] for h in straight.history], rel=1e-6)
    assert resumed_test == pytest.approx(straight_test, rel=1e-6)


def test_a_run_stopped_while_it_validates_an_epoch_resumes_at_that_validation(synthetic, tmp_path, monkeypatch):
    """A stop during the validation after an epoch's last step (no timed checkpoint since the epoch began: the
    interval is an hour) writes the epoch's steps into the checkpoint, so the resumed run trains none of them again
    (on ML-1M in fp32, 39 steps and a sample validation were lost this way: ~15 minutes) and ends as an uninterrupted
    run does."""
    from glta import training

    settings = TrainConfig(epochs=3, batch_size=512, lr=0.01, patience=100, checkpoint_minutes=60)

    def run(folder, resume=False, log=lambda s: None):
        return _fit_and_test(synthetic, settings, folder, resume, log)

    straight, straight_test = run(tmp_path / "a")
    per_epoch = LightGCN(synthetic, LightGCNConfig()).batches_per_epoch(512)
    real_evaluate = training.evaluate
    monkeypatch.setattr(training, "evaluate", stopping_on_call(real_evaluate, 2))  # in the second validation
    with pytest.raises(KeyboardInterrupt):
        run(tmp_path / "b")
    monkeypatch.setattr(training, "evaluate", real_evaluate)
    skipped, real_step = [], training.train_epoch
    monkeypatch.setattr(training, "train_epoch", lambda *a, **k: skipped.append(k["skip"]) or real_step(*a, **k))
    messages = []
    resumed, resumed_test = run(tmp_path / "b", resume=True, log=messages.append)
    assert any(f"in epoch 1 after {per_epoch} batches" in m for m in messages), messages
    assert skipped == [per_epoch, 0]  # the second epoch's steps are all kept: straight to its validation
    assert [h["loss"] for h in resumed.history] == pytest.approx([h["loss"] for h in straight.history], rel=1e-6)
    assert resumed_test == pytest.approx(straight_test, rel=1e-6)


def test_a_run_interrupted_after_its_early_stop_does_not_train_on_when_resumed(synthetic, tmp_path, monkeypatch):
    """The checkpoint that ends a run by early stopping is written before the final evaluation; a run stopped there
    (a session's end) finishes on resume as it would have, without training further epochs."""
    from glta import training

    settings = TrainConfig(epochs=40, batch_size=512, lr=0.05, patience=1)

    def run(folder, resume=False):
        torch.manual_seed(0)
        model = LightGCN(synthetic, LightGCNConfig())
        result = fit(model, synthetic, settings, EvalConfig(), checkpoint_dir=folder, resume=resume, progress=False)
        return result, evaluate_test(model, synthetic, EvalConfig(), "N@10")[0]

    straight, straight_test = run(tmp_path / "a")
    assert straight.stopped_by.startswith("early stopping") and len(straight.history) < settings.epochs
    save = training.save_checkpoint

    def stops_after_the_last_save(path, state):
        save(path, state)
        if state["bad_rounds"] >= settings.patience:
            raise KeyboardInterrupt

    monkeypatch.setattr(training, "save_checkpoint", stops_after_the_last_save)
    with pytest.raises(KeyboardInterrupt):
        run(tmp_path / "b")
    monkeypatch.setattr(training, "save_checkpoint", save)
    trained = []
    real_step = training.train_epoch
    monkeypatch.setattr(training, "train_epoch", lambda *a, **k: trained.append(1) or real_step(*a, **k))
    resumed, resumed_test = run(tmp_path / "b", resume=True)
    assert trained == [] and resumed.stopped_by == straight.stopped_by
    assert [h["epoch"] for h in resumed.history] == [h["epoch"] for h in straight.history]
    assert resumed.best_epoch == straight.best_epoch and resumed_test == pytest.approx(straight_test, rel=1e-6)


def test_embeddings_round_trip_and_refuse_other_data(synthetic, tmp_path):
    from glta.config import DataConfig
    from glta.data import load_dataset

    model = LightGCN(synthetic, LightGCNConfig(dim=8))
    path = model.save_embeddings(tmp_path / "emb.safetensors")
    users, items = load_embeddings(path, synthetic)
    assert users.shape == (synthetic.n_users, 8) and items.shape == (synthetic.n_items, 8)
    other = load_dataset(DataConfig(name="synthetic", seed=99))
    with pytest.raises(GLTAError, match="fingerprint"):
        load_embeddings(path, other)
    # missing embeddings: the error names the pretrain command for this very data set
    with pytest.raises(GLTAError, match="run `glta pretrain --dataset synthetic` first"):
        load_embeddings(tmp_path / "none.safetensors", synthetic)


def test_resumed_run_does_not_repeat_its_earlier_stages(tmp_path, monkeypatch):
    """A run stopped after its earlier stages (GLTA's IA) resumes from the checkpoint without redoing them."""
    from glta import pipeline
    from glta.config import build_config

    calls = []
    monkeypatch.setattr(LightGCN, "prepare_training",
                        lambda self, *a, **k: calls.append("warm") or {"stage_seconds": 1.5})
    monkeypatch.setattr(LightGCN, "enter_main_stage", lambda self: calls.append("skip"))
    real_fit = pipeline.fit

    def interrupted(model, dataset, train, evaluation, checkpoint_dir=None, **kwargs):
        (tmp_path / "run" / "checkpoint.safetensors").write_bytes(b"stand-in")
        raise KeyboardInterrupt

    config = build_config("lightgcn", "synthetic", overrides=["train.epochs=1"])
    monkeypatch.setattr(pipeline, "fit", interrupted)
    with pytest.raises(KeyboardInterrupt):
        pipeline.train(config, run_dir=tmp_path / "run", out=tmp_path / "r.json", progress=False, log=lambda s: None)
    monkeypatch.setattr(pipeline, "fit", lambda *a, **k: real_fit(*a, **{**k, "resume": False}))
    run = pipeline.train(config, run_dir=tmp_path / "run", out=tmp_path / "r.json", resume=True, progress=False,
                         log=lambda s: None)
    assert calls == ["warm", "skip", "skip"]  # after its stages ran; and on resuming
    assert run.record["training"]["stage_seconds"] == 1.5
    assert not (tmp_path / "run" / "stages.json").exists()


def test_resume_refuses_changed_settings_it_cannot_apply(synthetic, tmp_path):
    """`--resume train.lr=0.5` would keep the checkpoint's optimiser at the old rate while the results recorded the
    new one: it is refused, naming the key. Settings that only say how long or where to run may change."""
    def run(resume, **train):
        torch.manual_seed(0)
        settings = {"epochs": 2, "batch_size": 2048, "lr": 0.01, "patience": 100, **train}
        return fit(LightGCN(synthetic, LightGCNConfig()), synthetic, TrainConfig(**settings), EvalConfig(),
                   checkpoint_dir=tmp_path, resume=resume, progress=False, log=lambda s: None)

    run(False)
    with pytest.raises(GLTAError, match=r"train\.lr was 0\.01 .* now 0\.5"):
        run(True, lr=0.5, epochs=3)
    assert run(True, epochs=3, threads=1).epochs_run == 3


def test_resumable_tells_a_checkpoint_of_this_config_from_another_ones(synthetic, tmp_path):
    """Scripts that rerun a changed config resume only a checkpoint written under that config."""
    from glta.config import RunConfig
    from glta.training import resumable

    def config(**train):
        settings = {"epochs": 1, "batch_size": 2048, "lr": 0.01, **train}
        return RunConfig("lightgcn", train=TrainConfig(**settings), eval=EvalConfig(), model=LightGCNConfig())

    assert not resumable(tmp_path, config())
    fit(LightGCN(synthetic, LightGCNConfig()), synthetic, config().train, EvalConfig(), checkpoint_dir=tmp_path,
        progress=False, log=lambda s: None)  # a run stopped after its first epoch leaves this checkpoint
    assert resumable(tmp_path, config()) and resumable(tmp_path, config(epochs=3, threads=1))
    assert not resumable(tmp_path, config(lr=0.5))


def test_cosine_schedule_scales_every_group_and_ends_at_its_floor():
    from glta.training import lr_schedule

    weights = [torch.nn.Parameter(torch.zeros(1)), torch.nn.Parameter(torch.zeros(1))]
    optimizer = torch.optim.Adam([{"params": [weights[0]], "lr": 1e-2}, {"params": [weights[1]], "lr": 1e-3}])
    scheduler = lr_schedule(optimizer, TrainConfig(lr=1e-2, schedule="cosine", warmup_steps=2, min_lr_ratio=0.1), 10)
    seen = []
    for _ in range(10):
        seen.append([g["lr"] for g in optimizer.param_groups])
        optimizer.step()
        scheduler.step()
    assert seen[0] == pytest.approx([5e-3, 5e-4]) and seen[1] == pytest.approx([1e-2, 1e-3])  # linear warm-up
    assert all(a[0] == pytest.approx(10 * a[1]) for a in seen)  # the head keeps its fraction of the rate
    assert all(b[0] <= a[0] for a, b in zip(seen[1:], seen[2:]))
    assert seen[-1][0] == pytest.approx(1e-2 * (0.1 + 0.9 * 0.5 * (1 + np.cos(np.pi * 7 / 8))))
    assert [g["lr"] for g in optimizer.param_groups] == pytest.approx([1e-3, 1e-4])  # the floor after the last step
    assert lr_schedule(optimizer, TrainConfig(), 10) is None


def test_an_interrupted_cosine_run_resumes_on_the_same_schedule(synthetic, tmp_path, monkeypatch):
    from glta import training

    def run(folder, resume=False):
        torch.manual_seed(0)
        model = LightGCN(synthetic, LightGCNConfig())
        settings = TrainConfig(epochs=4, batch_size=2048, lr=0.01, patience=100, schedule="cosine", warmup_steps=3)
        result = fit(model, synthetic, settings, EvalConfig(), checkpoint_dir=folder, resume=resume, progress=False,
                     log=lambda s: None)
        return result, evaluate_test(model, synthetic, EvalConfig(), "N@10")[0]

    straight, straight_test = run(tmp_path / "a")
    real = training.train_epoch
    monkeypatch.setattr(training, "train_epoch", stopping_on_call(real, 3))  # in the third epoch
    with pytest.raises(KeyboardInterrupt):
        run(tmp_path / "b")
    monkeypatch.setattr(training, "train_epoch", real)
    resumed, resumed_test = run(tmp_path / "b", resume=True)
    assert [h["loss"] for h in resumed.history] == pytest.approx([h["loss"] for h in straight.history], rel=1e-6)
    assert resumed_test == pytest.approx(straight_test, rel=1e-6)
    with pytest.raises(GLTAError, match="train.epochs was 6 .* now 4"):  # the schedule was laid out over 6 epochs
        torch.manual_seed(0)
        fit(LightGCN(synthetic, LightGCNConfig()), synthetic,
            TrainConfig(epochs=6, batch_size=2048, lr=0.01, patience=100, schedule="cosine", warmup_steps=3),
            EvalConfig(), checkpoint_dir=tmp_path / "c", resume=False, progress=False, log=lambda s: None)
        torch.manual_seed(0)
        fit(LightGCN(synthetic, LightGCNConfig()), synthetic,
            TrainConfig(epochs=4, batch_size=2048, lr=0.01, patience=100, schedule="cosine", warmup_steps=3),
            EvalConfig(), checkpoint_dir=tmp_path / "c", resume=True, progress=False, log=lambda s: None)
