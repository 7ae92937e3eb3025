"""experiments/gpu_texts.py: the GGUF travels to a GPU machine in slices over several calls, is joined and checked
there, and the texts that come back are folded into the local cache."""

import hashlib
import json
from pathlib import Path

import pytest

from glta.errors import GLTAError
from glta.text.llm import BUNDLED, bundled_gguf
from glta.text.text_cache import TextCache


@pytest.fixture(scope="module")
def gpu_texts(experiment):
    return experiment("gpu_texts")


@pytest.mark.parametrize("size,extra,budget", [(98, 9, 55), (98, 9, 200), (100, 10, 50), (95, 10, 50), (0, 5, 20)])
def test_calls_cover_the_file_once_and_each_fits(gpu_texts, size, extra, budget):
    calls = gpu_texts.plan_calls(size, extra, budget)
    assert calls[0][0] == 0 and calls[-1][1] == size
    assert all(a[1] == b[0] for a, b in zip(calls, calls[1:]))  # contiguous, no overlap
    assert all(end - start <= budget for start, end in calls[:-1])
    assert calls[-1][1] - calls[-1][0] + extra <= budget  # the last call also carries the data sets and wheel


def test_extras_larger_than_a_call_are_refused(gpu_texts):
    with pytest.raises(SystemExit, match="exceed"):
        gpu_texts.plan_calls(100, 60, 50)


def _stage(gpu_texts, tmp_path, payload: bytes, budget: int):
    stage = tmp_path / "stage"
    calls = gpu_texts.plan_calls(len(payload), 0, budget)
    manifest = {"gguf": "model.gguf", "bytes": len(payload), "sha256": hashlib.sha256(payload).hexdigest(),
                "calls": len(calls), "slices": [{"call": i + 1, "start": a, "end": b} for i, (a, b) in enumerate(calls)]}
    for i, (a, b) in enumerate(calls):
        folder = stage / f"call{i + 1}"
        folder.mkdir(parents=True)
        (folder / f"slice{i + 1}.bin").write_bytes(payload[a:b])
        (folder / "manifest.json").write_text(json.dumps(manifest))
    return stage, manifest


def test_slices_join_to_the_checked_file(gpu_texts, tmp_path):
    payload = bytes(range(256)) * 40
    stage, manifest = _stage(gpu_texts, tmp_path, payload, budget=3000)
    assert manifest["calls"] == 4
    joined = gpu_texts.join_slices(manifest, stage, tmp_path / "joined")
    assert joined.read_bytes() == payload


def test_a_lost_slice_or_a_damaged_one_is_named(gpu_texts, tmp_path):
    payload = bytes(range(256)) * 40
    stage, manifest = _stage(gpu_texts, tmp_path, payload, budget=3000)
    (stage / "call2" / "slice2.bin").write_bytes(b"x" * 3000)
    with pytest.raises(SystemExit, match="SHA-256"):
        gpu_texts.join_slices(manifest, stage, tmp_path / "joined")
    (stage / "call1" / "slice1.bin").unlink()
    with pytest.raises(SystemExit, match=r"call\(s\) \[1\]"):
        gpu_texts.join_slices(manifest, stage, tmp_path / "joined2")


def test_the_staged_gguf_stands_in_for_the_package(tmp_path, monkeypatch):
    name = Path(BUNDLED["smollm2-135m"][1]).name
    monkeypatch.setenv("GLTA_GGUF_DIR", str(tmp_path))
    with pytest.raises(GLTAError, match="GLTA_GGUF_DIR"):
        bundled_gguf()
    (tmp_path / name).write_bytes(b"gguf")
    assert bundled_gguf() == tmp_path / name


def test_collect_appends_only_new_records(gpu_texts, tmp_path):
    returned = tmp_path / "back" / "data-abc"
    returned.mkdir(parents=True)
    TextCache(returned / "profile-1.jsonl").append([{"key": "1", "history": "h", "text": "gpu one"},
                                                    {"key": "2", "history": "h", "text": "gpu two"}])
    cache = tmp_path / "cache"
    local = TextCache(cache / "texts" / "data-abc" / "profile-1.jsonl")
    local.append([{"key": "1", "history": "h", "text": "cpu one"}])
    assert gpu_texts.collect(tmp_path / "back", cache) == {"data-abc/profile-1.jsonl": 1}
    assert local.load() == {("1", "h"): "cpu one", ("2", "h"): "gpu two"}
    assert gpu_texts.collect(tmp_path / "back", cache) == {"data-abc/profile-1.jsonl": 0}


def test_the_cuda_check_runs_the_demo_first_and_comes_back(gpu_texts, tmp_path, monkeypatch):
    """On the GPU the demo runs before the texts, within its own time; its results files are collected here."""
    calls = []

    def fake_run(command, env, timeout, capture_output, text):
        calls.append((command[2:4], timeout))
        if command[3] == "demo":
            folder = Path(command[command.index("--results-dir") + 1]) / "synthetic"
            folder.mkdir(parents=True)
            (folder / "glta.json").write_text('{"N@10": 0.1}')
        return type("Done", (), {"returncode": 0, "stdout": "table", "stderr": ""})()

    payload = b"gguf" * 100
    stage, _ = _stage(gpu_texts, tmp_path, payload, budget=1000)
    (stage / "call1" / "extra" / "whl").mkdir(parents=True)
    monkeypatch.setattr(gpu_texts.subprocess, "run", fake_run)
    monkeypatch.setattr(gpu_texts, "ensure_gguf_package", lambda wheels: {})
    out = tmp_path / "out"
    report = gpu_texts.run(["ml-100k"], out, seconds=600, batch_size=8, stage=stage, check_seconds=120)
    assert [c[0] for c in calls] == [["glta", "demo"], ["glta", "text"]] and calls[0][1] == 120
    assert report["cuda_demo"]["status"] == "complete"
    assert gpu_texts.collect_demo(out, tmp_path / "results") == ["glta.json"]
    assert (tmp_path / "results" / "synthetic" / "cuda" / "gpu_texts.json").is_file()
