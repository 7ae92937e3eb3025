"""Several processes (torchrun, gloo on CPU) give what one process gives: training, evaluation and text generation."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from glta.align.templates import Batch
from glta.distributed import Processes, batch_rows, slice_rows

TORCHRUN = Path(sys.executable).with_name("torchrun")


def _as(rank: int, world: int) -> Processes:
    procs = Processes.__new__(Processes)
    procs.rank, procs.world, procs.accelerator = rank, world, None
    return procs


def _batch(rows: int) -> Batch:
    grid = torch.arange(rows * 4).reshape(rows, 4)
    return Batch(token_ids=grid, kinds=grid + 1, values=grid + 2, attention_mask=torch.ones_like(grid),
                 out_positions=grid[:, :2], targets=grid[:, 2:], prefix_users=torch.arange(rows),
                 users=torch.arange(rows))


@pytest.mark.parametrize("rows", [3, 7, 32])
def test_shares_of_a_batch_cover_it_once_in_order(rows):
    whole = _batch(rows)
    shares = [_as(rank, 3).share(whole) for rank in range(3)]
    assert max(batch_rows(s) for s in shares) - min(batch_rows(s) for s in shares) <= 1
    for field in ("token_ids", "kinds", "values", "attention_mask", "out_positions", "targets", "prefix_users"):
        assert torch.equal(torch.cat([getattr(s, field) for s in shares]), getattr(whole, field)), field
    triple = (torch.arange(rows), torch.arange(rows) + 1, np.arange(rows))
    parts = [_as(rank, 3).share(triple) for rank in range(3)]
    assert torch.equal(torch.cat([p[1] for p in parts]), triple[1]) and isinstance(parts[0], tuple)
    assert np.array_equal(np.concatenate([p[2] for p in parts]), triple[2])


def test_a_batch_smaller_than_the_processes_is_skipped_by_all():
    assert all(_as(rank, 4).share(_batch(3)) is None for rank in range(4))
    assert _as(0, 1).share(_batch(1)) is not None
    with pytest.raises(TypeError, match="no tensor"):
        batch_rows(("a", None))
    assert slice_rows(None, 3, slice(0, 1)) is None


def _glta(launch: list[str], *argv: str, env: dict | None = None) -> subprocess.CompletedProcess:
    done = subprocess.run([*launch, "-m", "glta", *argv], capture_output=True, text=True, timeout=300,
                          env={**os.environ, "OMP_NUM_THREADS": "1", **(env or {})})
    assert done.returncode == 0, done.stderr[-3000:]
    return done


def _two() -> list[str]:
    if not TORCHRUN.exists():
        pytest.skip("torchrun is not installed beside this Python")
    return [str(TORCHRUN), "--standalone", "--nproc-per-node", "2"]


def test_two_processes_train_and_evaluate_like_one(tmp_path):
    """Same seed, same global batch: two gloo processes follow one process's run up to floating-point summation
    order (the tolerance: losses within 1e-5 relative; metrics within 1e-4, since a different summation order can
    swap two nearly tied items for a user; 99% of users' test N@10 identical). One results file, one report."""
    common = ["train", "lightgcn", "--dataset", "synthetic", "train.epochs=3", "train.batch_size=1000",
              "train.threads=1", "--no-progress"]
    _glta([sys.executable], *common, "--run-dir", str(tmp_path / "one"), "--out", str(tmp_path / "one.json"))
    two = _glta(_two(), *common, "--run-dir", str(tmp_path / "two"), "--out", str(tmp_path / "two.json"))
    assert two.stdout.count("results:") == 1  # the main process reports; the other is silent
    one, both = (json.loads((tmp_path / f"{n}.json").read_text()) for n in ("one", "two"))
    assert both["provenance"]["processes"] == 2 and one["provenance"]["processes"] == 1
    for a, b in zip(one["training"]["history"], both["training"]["history"], strict=True):
        assert b["loss"] == pytest.approx(a["loss"], rel=1e-5)
        assert b["valid"]["N@10"] == pytest.approx(a["valid"]["N@10"], abs=1e-4)
    for name, value in one["metrics"]["test"].items():
        assert both["metrics"]["test"][name] == pytest.approx(value, abs=1e-4), name
    assert both["per_user_test"]["users"] == one["per_user_test"]["users"]
    same = np.isclose(both["per_user_test"]["values"], one["per_user_test"]["values"], atol=1e-6)
    assert same.mean() >= 0.99


def test_two_processes_generate_the_texts_one_process_generates(tmp_path):
    """Greedy texts dealt out by batch to two processes, each writing its own shard: after the merge the cache holds
    exactly the one-process texts, and no shard is left behind."""
    common = ["text", "generate", "synthetic", "--limit", "6", "generation.max_new_tokens=4",
              "generation.batch_size=2", "generation.max_history_items=2", "--no-progress"]
    llm = Path(os.environ["GLTA_CACHE_DIR"]) / "llm"  # the session's converted LLM: the GGUF is not converted again
    llm.mkdir(parents=True, exist_ok=True)
    for name in ("one", "two"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "llm").symlink_to(llm)
    alone = _glta([sys.executable], *common, env={"GLTA_CACHE_DIR": str(tmp_path / "one")})
    together = _glta(_two(), *common, env={"GLTA_CACHE_DIR": str(tmp_path / "two")})
    assert "6 generated of      6" in alone.stdout and together.stdout.count("6 generated of      6") == 2
    assert "12 responses in" in together.stdout and "a process (2 processes)" in together.stdout
    for kind in ("profile", "prediction"):
        files = [sorted((tmp_path / n / "texts").glob(f"*/{kind}-*")) for n in ("one", "two")]
        assert [len(f) for f in files] == [1, 1], files  # merged: no shard files remain
        texts = [{(r["key"], r["history"]): r["text"] for r in map(json.loads, f[0].read_text().splitlines())}
                 for f in files]
        assert len(texts[0]) == 6 and texts[0] == texts[1]


@pytest.mark.parametrize("name, kind, machines", [("one-node-gpus", "MULTI_GPU", 1), ("nodes", "MULTI_GPU", 2),
                                                  ("cpu", "MULTI_CPU", 1)])
def test_the_launch_configs_in_the_readme_are_valid_accelerate_configs(name, kind, machines):
    from accelerate.commands.config.config_args import load_config_from_file

    config = load_config_from_file(str(Path(__file__).resolve().parents[1] / "configs" / "accelerate" / f"{name}.yaml"))
    assert str(config.distributed_type).endswith(kind) and config.num_machines == machines


def test_two_processes_resume_after_being_killed(tmp_path):
    """kill -9 of a 2-process run after its first checkpoint, then --resume with 2 processes: the run finishes, its
    history is whole, and it ends where an uninterrupted one-process run ends (within the tolerance above)."""
    import signal
    import time

    common = ["train", "lightgcn", "--dataset", "synthetic", "train.epochs=40", "train.batch_size=1000",
              "train.threads=1", "train.patience=100", "--no-progress"]
    run, out = tmp_path / "two", tmp_path / "two.json"
    where = ["--run-dir", str(run), "--out", str(out)]
    launch = _two()
    killed = subprocess.Popen([*launch, "-m", "glta", *common, *where], stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL, start_new_session=True,
                              env={**os.environ, "OMP_NUM_THREADS": "1"})
    deadline = time.time() + 120
    while not (run / "checkpoint.safetensors").exists() and killed.poll() is None and time.time() < deadline:
        time.sleep(0.02)
    import psutil

    for process in psutil.Process(killed.pid).children(recursive=True):  # torchrun's workers have their own sessions
        process.send_signal(signal.SIGKILL)
    os.killpg(killed.pid, signal.SIGKILL)
    killed.wait()
    if out.exists():
        pytest.skip("the run finished before it could be killed")
    resumed = _glta(launch, *common, *where, "--resume")
    assert "resumed from" in resumed.stdout
    _glta([sys.executable], *common, "--run-dir", str(tmp_path / "one"), "--out", str(tmp_path / "one.json"))
    one, both = (json.loads((tmp_path / f"{n}.json").read_text()) for n in ("one", "two"))
    assert [h["epoch"] for h in both["training"]["history"]] == list(range(40))
    for a, b in zip(one["training"]["history"], both["training"]["history"], strict=True):
        assert b["loss"] == pytest.approx(a["loss"], rel=1e-4)
    assert both["metrics"]["test"]["N@10"] == pytest.approx(one["metrics"]["test"]["N@10"], abs=1e-3)
