"""Checkpoints hold data, never code: a planted pickle is refused unopened, and a resume round-trips exactly."""

import json
import pickle
import subprocess
import sys

import numpy as np
import pytest
import torch

from glta.checkpoint import CHECKPOINT_NAME, LEGACY_NAME, find_checkpoint, load_checkpoint, save_checkpoint
from glta.errors import GLTAError


class _Payload:
    """Unpickling this writes a marker file: proof that code ran."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (str(self.marker), "w"))


def test_state_round_trips(tmp_path):
    rng = np.random.default_rng(7)
    rng.random(3)
    state = {"model": {"w": torch.randn(3, 2), "b": torch.zeros(2)}, "optimizer": {
        "state": {0: {"step": torch.tensor(3.0), "exp_avg": torch.ones(2)}},
        "param_groups": [{"lr": 0.01, "params": [0, 1], "amsgrad": False, "foreach": None}]},
        "rng": rng.bit_generator.state, "torch_rng": torch.get_rng_state(), "best_score": -float("inf"),
        "history": [{"epoch": 0, "valid": {"N@10": 0.25}}], "best_state": None}
    path = tmp_path / CHECKPOINT_NAME
    save_checkpoint(path, state)
    loaded = load_checkpoint(path)
    assert torch.equal(loaded["model"]["w"], state["model"]["w"])
    assert loaded["optimizer"]["state"][0]["step"].item() == 3.0  # int keys survive
    assert loaded["optimizer"]["param_groups"] == state["optimizer"]["param_groups"]
    restored = np.random.default_rng()
    restored.bit_generator.state = loaded["rng"]
    assert restored.random() == rng.random()
    assert torch.equal(loaded["torch_rng"], state["torch_rng"])
    assert loaded["best_score"] == -float("inf") and loaded["history"] == state["history"]
    assert [p.name for p in tmp_path.iterdir()] == [CHECKPOINT_NAME]  # no staging file left behind


def test_planted_pickle_is_never_unpickled(tmp_path):
    """A pickle payload named like either checkpoint in a run folder is refused, and its code never runs."""
    marker = tmp_path / "pwned"
    for name in (LEGACY_NAME, CHECKPOINT_NAME):
        folder = tmp_path / name.replace(".", "_")
        folder.mkdir()
        (folder / name).write_bytes(pickle.dumps(_Payload(marker)))
        with pytest.raises(GLTAError):
            path = find_checkpoint(folder)
            load_checkpoint(path)
    assert not marker.exists()


def test_resume_from_cli_refuses_a_pickle_payload(tmp_path):
    """End to end: `glta train ... --resume` over a run folder holding a crafted checkpoint.pt stops with a one-line
    error (exit 2) and the payload never runs."""
    marker = tmp_path / "pwned"
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / LEGACY_NAME).write_bytes(pickle.dumps(_Payload(marker)))
    done = subprocess.run([sys.executable, "-m", "glta", "train", "pop", "--dataset", "synthetic", "--run-dir",
                           str(run_dir), "--out", str(tmp_path / "r.json"), "--resume", "--no-progress"],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr and "pickle" in done.stderr
    assert not marker.exists()


def test_damaged_checkpoint_is_a_clear_error(tmp_path):
    path = tmp_path / CHECKPOINT_NAME
    save_checkpoint(path, {"w": torch.ones(4)})
    path.write_bytes(path.read_bytes()[:-7])
    with pytest.raises(GLTAError, match="damaged"):
        load_checkpoint(path)


def test_progress_is_read_from_the_header_alone(tmp_path):
    """`reproduce.py --plan` says how far an interrupted run got, without loading its tensors."""
    from glta.checkpoint import checkpoint_progress, save_checkpoint

    path = tmp_path / "checkpoint.safetensors"
    state = {"model": {"w": torch.ones(3)}, "epoch": 3, "best_score": 0.1493, "best_epoch": 3,
             "best_state": {"w": torch.zeros(3)}, "in_epoch": {"epoch": 4, "batches": 117, "losses": [1.0]}}
    save_checkpoint(path, state)
    assert checkpoint_progress(path) == ("4 epochs done, best validation 0.1493 after epoch 3, epoch 4 under way "
                                         "(117 batches)")
    history = [{"epoch": 1, "seconds": 500.0}, {"epoch": 3, "seconds": 1000.0}]  # 250 s an epoch, evaluations in
    assert checkpoint_progress(path, like_epochs=40) == checkpoint_progress(path)  # no timed history: no pace
    assert checkpoint_progress(path.parent / "none", like_epochs=40) is None
    save_checkpoint(path, {**state, "history": history})
    assert checkpoint_progress(path, like_epochs=40).endswith(
        "(117 batches); 250 s an epoch here so far: ~2.5 h left at that pace for the 40 epochs a like run trained")
    save_checkpoint(path, {**state, "epoch": -1, "best_epoch": -1, "best_score": float("-inf"), "in_epoch": None})
    assert checkpoint_progress(path) == "0 epochs done"
    save_checkpoint(path, {"params": {"w": torch.ones(1)}, "epoch": 0})  # an IA stage's partial file
    assert checkpoint_progress(path) is None
    path.write_bytes(b"not a checkpoint")
    assert checkpoint_progress(path) is None and checkpoint_progress(tmp_path / "none") is None


def test_a_run_resumed_under_another_commit_records_both(tmp_path, monkeypatch):
    """A run interrupted after training (here in its test evaluation) and finished under a later commit names both
    commits in its provenance: the one it finished under alone would hide whose code trained it."""
    import glta.pipeline as pipeline
    from glta.config import build_config

    config = build_config("lightgcn", "synthetic", overrides=["train.epochs=2", "train.batch_size=4096"])
    where = {"run_dir": tmp_path / "run", "out": tmp_path / "r.json", "progress": False, "log": lambda _: None}
    monkeypatch.setenv("GLTA_GIT_COMMIT", "1111111")
    evaluate_test = pipeline.evaluate_test

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(pipeline, "evaluate_test", interrupted)
    with pytest.raises(KeyboardInterrupt):
        pipeline.train(config, **where)
    monkeypatch.setattr(pipeline, "evaluate_test", evaluate_test)
    monkeypatch.setenv("GLTA_GIT_COMMIT", "2222222")
    record = pipeline.train(config, resume=True, **where).record
    prov = json.loads((tmp_path / "r.json").read_text())["provenance"]
    assert prov["git_commit"] == "2222222" and prov["trained_by_commits"] == ["1111111", "2222222"]
    assert record["training"]["epochs_run"] == 2
    pipeline.train(config, run_dir=tmp_path / "other", out=tmp_path / "o.json", progress=False, log=lambda _: None)
    assert "trained_by_commits" not in json.loads((tmp_path / "o.json").read_text())["provenance"]  # one commit


def test_a_resumed_run_records_the_peak_memory_of_all_its_processes(tmp_path, monkeypatch):
    """Amazon's GLTA+ recorded 3.2 GiB, its last process's (UA), while the process that ran its IA held ~6.5 GB:
    the queue's memory gate reads these peaks. The checkpoint carries the earlier processes' peak to the results."""
    import glta.pipeline as pipeline
    import glta.training as training
    from glta.config import build_config

    config = build_config("lightgcn", "synthetic", overrides=["train.epochs=2", "train.batch_size=4096"])
    where = {"run_dir": tmp_path / "run", "out": tmp_path / "r.json", "progress": False, "log": lambda _: None}
    evaluate_test = pipeline.evaluate_test

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(pipeline, "evaluate_test", interrupted)
    monkeypatch.setattr(training, "resident_gib", lambda: 99.0)  # the first process peaked high
    with pytest.raises(KeyboardInterrupt):
        pipeline.train(config, **where)
    monkeypatch.setattr(pipeline, "evaluate_test", evaluate_test)
    monkeypatch.setattr(training, "resident_gib", lambda: 1.0)
    pipeline.train(config, resume=True, **where)
    assert json.loads((tmp_path / "r.json").read_text())["provenance"]["peak_memory"]["resident_gib"] == 99.0
    pipeline.train(config, run_dir=tmp_path / "other", out=tmp_path / "o.json", progress=False, log=lambda _: None)
    assert json.loads((tmp_path / "o.json").read_text())["provenance"]["peak_memory"]["resident_gib"] < 99.0
