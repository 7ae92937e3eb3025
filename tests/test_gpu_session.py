"""experiments/gpu_session.py: the GGUF travels to a GPU machine in slices over several calls, is joined and checked
there, and the texts and GLTA results that come back are folded into the local cache and results."""

import hashlib
import json
from pathlib import Path

import pytest

from glta.errors import GLTAError
from glta.text.llm import BUNDLED, bundled_gguf
from glta.text.text_cache import TextCache


@pytest.fixture(scope="module")
def gpu_session(experiment):
    return experiment("gpu_session")


@pytest.mark.parametrize("size,extra,budget", [(98, 9, 55), (98, 9, 200), (100, 10, 50), (95, 10, 50), (0, 5, 20)])
def test_calls_cover_the_file_once_and_each_fits(gpu_session, size, extra, budget):
    calls = gpu_session.plan_calls(size, extra, budget)
    assert calls[0][0] == 0 and calls[-1][1] == size
    assert all(a[1] == b[0] for a, b in zip(calls, calls[1:]))  # contiguous, no overlap
    assert all(end - start <= budget for start, end in calls[:-1])
    assert calls[-1][1] - calls[-1][0] + extra <= budget  # the last call also carries the data sets and wheel


def test_extras_larger_than_a_call_are_refused(gpu_session):
    with pytest.raises(SystemExit, match="exceed"):
        gpu_session.plan_calls(100, 60, 50)


def _stage(gpu_session, tmp_path, payload: bytes, budget: int):
    stage = tmp_path / "stage"
    calls = gpu_session.plan_calls(len(payload), 0, budget)
    manifest = {"gguf": "model.gguf", "bytes": len(payload), "sha256": hashlib.sha256(payload).hexdigest(),
                "calls": len(calls), "slices": [{"call": i + 1, "start": a, "end": b} for i, (a, b) in enumerate(calls)]}
    for i, (a, b) in enumerate(calls):
        folder = stage / f"call{i + 1}"
        folder.mkdir(parents=True)
        (folder / f"slice{i + 1}.bin").write_bytes(payload[a:b])
        (folder / "manifest.json").write_text(json.dumps(manifest))
    return stage, manifest


def test_slices_join_to_the_checked_file(gpu_session, tmp_path):
    payload = bytes(range(256)) * 40
    stage, manifest = _stage(gpu_session, tmp_path, payload, budget=3000)
    assert manifest["calls"] == 4
    joined = gpu_session.join_slices(manifest, stage, tmp_path / "joined")
    assert joined.read_bytes() == payload


def test_a_lost_slice_or_a_damaged_one_is_named(gpu_session, tmp_path):
    payload = bytes(range(256)) * 40
    stage, manifest = _stage(gpu_session, tmp_path, payload, budget=3000)
    (stage / "call2" / "slice2.bin").write_bytes(b"x" * 3000)
    with pytest.raises(SystemExit, match="SHA-256"):
        gpu_session.join_slices(manifest, stage, tmp_path / "joined")
    (stage / "call1" / "slice1.bin").unlink()
    with pytest.raises(SystemExit, match=r"call\(s\) \[1\]"):
        gpu_session.join_slices(manifest, stage, tmp_path / "joined2")


def test_the_staged_gguf_stands_in_for_the_package(tmp_path, monkeypatch):
    name = Path(BUNDLED["smollm2-135m"][1]).name
    monkeypatch.setenv("GLTA_GGUF_DIR", str(tmp_path))
    with pytest.raises(GLTAError, match="GLTA_GGUF_DIR"):
        bundled_gguf()
    (tmp_path / name).write_bytes(b"gguf")
    assert bundled_gguf() == tmp_path / name


def test_collect_appends_only_new_records(gpu_session, tmp_path):
    returned = tmp_path / "back" / "data-abc"
    returned.mkdir(parents=True)
    TextCache(returned / "profile-1.jsonl").append([{"key": "1", "history": "h", "text": "gpu one"},
                                                    {"key": "2", "history": "h", "text": "gpu two"}])
    cache = tmp_path / "cache"
    local = TextCache(cache / "texts" / "data-abc" / "profile-1.jsonl")
    local.append([{"key": "1", "history": "h", "text": "cpu one"}])
    assert gpu_session.collect(tmp_path / "back", cache) == {"data-abc/profile-1.jsonl": 1}
    assert local.load() == {("1", "h"): "cpu one", ("2", "h"): "gpu two"}
    assert gpu_session.collect(tmp_path / "back", cache) == {"data-abc/profile-1.jsonl": 0}


def test_the_cuda_check_runs_the_demo_first_and_comes_back(gpu_session, tmp_path, monkeypatch):
    """On the GPU the demo runs before the texts, within its own time; its results files are collected here."""
    calls = []

    def fake_run(command, env, timeout, capture_output, text, cwd):
        calls.append((command[2:4], timeout))
        if command[3] == "demo":
            folder = Path(command[command.index("--results-dir") + 1]) / "synthetic"
            folder.mkdir(parents=True)
            (folder / "glta.json").write_text('{"N@10": 0.1}')
        return type("Done", (), {"returncode": 0, "stdout": "table", "stderr": ""})()

    payload = b"gguf" * 100
    stage, _ = _stage(gpu_session, tmp_path, payload, budget=1000)
    (stage / "call1" / "extra" / "whl").mkdir(parents=True)
    monkeypatch.setattr(gpu_session.subprocess, "run", fake_run)
    monkeypatch.setattr(gpu_session, "ensure_gguf_package", lambda wheels: {})
    out = tmp_path / "out"
    report = gpu_session.run(["ml-100k"], out, seconds=600, batch_size=8, stage=stage, check_seconds=120)
    assert [c[0] for c in calls] == [["glta", "demo"], ["glta", "text"]] and calls[0][1] == 120
    assert report["cuda_demo"]["status"] == "complete"
    assert gpu_session.collect_demo(out, tmp_path / "results") == ["glta.json"]
    assert (tmp_path / "results" / "synthetic" / "cuda" / "gpu_session.json").is_file()


def test_glta_jobs_are_parsed_staged_and_their_results_come_back(gpu_session, tmp_path, monkeypatch):
    """GLTA variants on the GPU: the LightGCN run and the texts travel, the variants run after the texts, and only the
    results files they wrote come back and land in results/."""
    assert gpu_session.parse_glta(["ml-1m:no_ia,no_ua", "amazon-scientific", "ml-1m:no_pf"]) == {
        "ml-1m": ["no_ia", "no_ua", "no_pf"], "amazon-scientific": ["default"]}
    here, there = tmp_path / "here", tmp_path / "there"
    (here / "runs" / "ml-1m" / "lightgcn").mkdir(parents=True)
    (here / "runs" / "ml-1m" / "lightgcn" / "embeddings.safetensors").write_bytes(b"e")
    cache = tmp_path / "cache"
    for folder in ("ml-1m-abc123", "ml-1m-x-def", "ml-100k-abc"):  # only ml-1m's own fingerprint folder travels
        (cache / "texts" / folder).mkdir(parents=True)
        (cache / "texts" / folder / "profile-1.jsonl").write_text("{}")
    monkeypatch.setattr(gpu_session, "ROOT", here)
    extra = tmp_path / "extra"
    gpu_session.stage_glta({"ml-1m": ["no_ia"]}, extra, cache)
    assert sorted(p.name for p in (extra / "cache" / "texts").iterdir()) == ["ml-1m-abc123"]
    with pytest.raises(SystemExit, match="glta pretrain --dataset amazon-scientific"):
        gpu_session.stage_glta({"amazon-scientific": ["default"]}, tmp_path / "extra2", cache)

    (there / "results" / "ml-1m").mkdir(parents=True)
    (there / "results" / "ml-1m" / "lightgcn.json").write_text("{}")  # carried with the tree: stays there
    gpu_session.place_glta_inputs(extra, there / "cache", root=there)
    assert (there / "runs" / "ml-1m" / "lightgcn" / "embeddings.safetensors").is_file()
    assert (there / "cache" / "texts" / "ml-1m-abc123" / "profile-1.jsonl").is_file()
    import os
    import time
    os.utime(there / "results" / "ml-1m" / "lightgcn.json", (time.time() - 60, time.time() - 60))
    commands = []

    def fake_run(command, env, timeout, capture_output, text, cwd):
        commands.append(command[1:])
        (cwd / "results" / "ml-1m" / "glta_variants").mkdir(parents=True, exist_ok=True)
        (cwd / "results" / "ml-1m" / "glta_variants" / "no_ia.json").write_text('{"N@10": 0.3}')
        return type("Done", (), {"returncode": 0, "stdout": "", "stderr": ""})()

    monkeypatch.setattr(gpu_session.subprocess, "run", fake_run)
    out = tmp_path / "out"
    report = gpu_session.run_glta({"ml-1m": ["no_ia"]}, {}, time.time() + 600, out, root=there)
    assert report["ml-1m"]["status"] == "complete"
    assert commands == [[str(there / "experiments" / "glta_variants.py"), "--dataset", "ml-1m", "--variants", "no_ia",
                         "--no-progress"]]
    assert [p.relative_to(out).as_posix() for p in out.rglob("*.json")] == ["results/ml-1m/glta_variants/no_ia.json"]
    assert gpu_session.collect_results(out, tmp_path / "local") == ["ml-1m/glta_variants/no_ia.json"]
    assert (tmp_path / "local" / "ml-1m" / "glta_variants" / "no_ia.json").read_text() == '{"N@10": 0.3}'
