"""Crash safety as a user meets it: `kill -9` in the middle of training or of text generation, then a rerun.

Training resumes from its last checkpoint (losing at most the epoch in flight) and ends with exactly the metrics of
an uninterrupted run; text generation keeps every text it had finished and writes only the rest. Same seed, same
bytes."""

import json
import os
import signal
import subprocess
import sys
import time


def _glta(*argv: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "glta", *argv], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env={**os.environ, "OMP_NUM_THREADS": "1"})


def _kill_when(process: subprocess.Popen, ready, timeout: float = 240) -> None:
    deadline = time.time() + timeout
    while not ready():
        assert process.poll() is None, process.stderr.read().decode()[-2000:]
        assert time.time() < deadline, "the run never reached the point to kill it at"
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait()


TRAIN = ["train", "lightgcn", "--dataset", "synthetic", "--no-progress", "train.epochs=12", "train.patience=100",
         "train.batch_size=512", "model.dim=16", "train.threads=1"]


def test_training_killed_mid_run_resumes_to_the_same_result(tmp_path):
    straight = _glta(*TRAIN, "--run-dir", str(tmp_path / "a"), "--out", str(tmp_path / "a.json"))
    assert straight.wait(timeout=300) == 0, straight.stderr.read().decode()[-2000:]
    killed = _glta(*TRAIN, "--run-dir", str(tmp_path / "b"), "--out", str(tmp_path / "b.json"))
    checkpoint = tmp_path / "b" / "checkpoint.safetensors"
    _kill_when(killed, checkpoint.exists)
    assert not (tmp_path / "b.json").exists()
    resumed = _glta(*TRAIN, "--run-dir", str(tmp_path / "b"), "--out", str(tmp_path / "b.json"), "--resume")
    out, err = resumed.communicate(timeout=300)
    assert resumed.returncode == 0, err.decode()[-2000:]
    assert "resumed from" in out.decode()
    a, b = (json.loads((tmp_path / f"{n}.json").read_text()) for n in "ab")
    assert b["training"]["epochs_run"] == 12
    assert b["metrics"]["test"] == a["metrics"]["test"]  # bit-identical, not approximately
    assert (tmp_path / "a" / "model.safetensors").read_bytes() == (tmp_path / "b" / "model.safetensors").read_bytes()


def test_same_seed_same_bytes(tmp_path):
    for name in "ab":
        done = _glta(*TRAIN, "train.epochs=3", "--run-dir", str(tmp_path / name),
                     "--out", str(tmp_path / f"{name}.json"))
        assert done.wait(timeout=300) == 0
    assert (tmp_path / "a" / "model.safetensors").read_bytes() == (tmp_path / "b" / "model.safetensors").read_bytes()
    # (safetensors writes header metadata in no fixed order, so the embeddings are compared by content)
    from safetensors import safe_open

    files = [safe_open(str(tmp_path / n / "embeddings.safetensors"), "pt") for n in "ab"]
    assert files[0].metadata() == files[1].metadata()
    assert all(files[0].get_tensor(k).equal(files[1].get_tensor(k)) for k in ("user", "item"))


def test_text_generation_killed_mid_run_keeps_what_it_finished(tmp_path):
    from glta.config import DataConfig
    from glta.data import load_dataset
    from glta.text.generate import GenerationConfig, cache_path, template_text
    from glta.text.text_cache import TextCache
    from glta.text.llm import LLMConfig, llm_identity

    # short prompts (two history items), so that the LLM's time goes to the kill and the rerun, not to prefill;
    # the settings give this test a cache file of its own
    argv = ["text", "generate", "synthetic", "--kinds", "profile", "--limit", "8", "--no-progress",
            "generation.batch_size=2", "generation.max_new_tokens=5", "generation.max_history_items=2"]
    dataset = load_dataset(DataConfig(name="synthetic"))
    config = GenerationConfig(batch_size=2, max_new_tokens=5, max_history_items=2)
    cache = TextCache(cache_path(llm_identity(LLMConfig()), dataset, "profile", template_text("profile"), config))
    cache.path.unlink(missing_ok=True)
    first = _glta(*argv)
    _kill_when(first, lambda: len(cache.load()) >= 2)
    before = cache.load()
    assert 2 <= len(before) < 8
    second = _glta(*argv)
    out, err = second.communicate(timeout=300)
    assert second.returncode == 0, err.decode()[-2000:]
    after = cache.load()
    assert len(after) == 8 and all(after[key] == text for key, text in before.items())
    assert f"{8 - len(before)} generated of" in out.decode()
