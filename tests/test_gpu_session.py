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


@pytest.mark.parametrize("size,files,budget", [(98, {"d": 9}, 55), (98, {"d": 9}, 200), (95, {}, 50),
                                               (100, {"a": 30, "b": 25, "c": 20}, 50), (0, {"d": 5}, 20), (0, {}, 20)])
def test_calls_carry_every_file_once_and_the_gguf_once_and_each_fits(gpu_session, size, files, budget):
    calls = gpu_session.plan_calls(size, files, budget)
    slices = [c["slice"] for c in calls if c["slice"]]
    assert sum(end - start for start, end in slices) == size
    assert all(a[1] == b[0] for a, b in zip(slices, slices[1:])) and (not slices or slices[0][0] == 0)
    assert sorted(n for c in calls for n in c["files"]) == sorted(files)
    for call in calls:
        carried = sum(files[n] for n in call["files"]) + (call["slice"][1] - call["slice"][0] if call["slice"] else 0)
        assert 0 < carried <= budget or (size == 0 and not files)  # every call carries something, none too much


def test_a_file_larger_than_a_call_is_refused(gpu_session):
    with pytest.raises(SystemExit, match="big.npy"):
        gpu_session.plan_calls(100, {"big.npy": 60, "small": 1}, 50)


def test_files_spread_over_calls_are_gathered_there(gpu_session, tmp_path):
    stage = tmp_path / "stage"
    for call, name in ((1, "data/ml-1m/ratings.dat"), (2, "cache/texts/ml-1m-abc/profile-1.jsonl")):
        (stage / f"call{call}" / "extra" / name).parent.mkdir(parents=True)
        (stage / f"call{call}" / "extra" / name).write_text(name)
    manifest = {"files": {"data/ml-1m/ratings.dat": 1, "cache/texts/ml-1m-abc/profile-1.jsonl": 2}}
    merged = gpu_session.merge_extras(manifest, stage)
    assert (merged / "data/ml-1m/ratings.dat").read_text() == "data/ml-1m/ratings.dat"
    assert gpu_session.merge_extras(manifest, stage) == merged  # again (the same command once more): still there
    with pytest.raises(SystemExit, match=r"call\(s\) \[3\]"):
        gpu_session.merge_extras({"files": {**manifest["files"], "whl/gguf.whl": 3}}, stage)


def _stage(gpu_session, tmp_path, payload: bytes, budget: int):
    stage = tmp_path / "stage"
    calls = [c["slice"] for c in gpu_session.plan_calls(len(payload), {}, budget)]
    manifest = {"gguf": "model.gguf", "bytes": len(payload), "sha256": hashlib.sha256(payload).hexdigest(),
                "calls": len(calls),
                "slices": [{"call": i + 1, "start": a, "end": b} for i, (a, b) in enumerate(calls)]}
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


def test_the_cuda_check_runs_the_demo_within_its_own_time_and_comes_back(gpu_session, tmp_path, monkeypatch):
    """On the GPU the demo starts first, within its own time; its results files are collected here."""
    seen = {}

    def fake_jobs(jobs, env, deadline, slots, logs):
        seen.update(jobs=jobs, slots=slots, threads=env["OMP_NUM_THREADS"])
        demo = jobs[0].command
        folder = Path(demo[demo.index("--results-dir") + 1]) / "synthetic"
        folder.mkdir(parents=True)
        (folder / "glta.json").write_text('{"N@10": 0.1}')
        return {job.name: {"status": "complete", "seconds": 1.0, "output_tail": ""} for job in jobs}

    payload = b"gguf" * 100
    stage, _ = _stage(gpu_session, tmp_path, payload, budget=1000)
    (stage / "call1" / "extra" / "whl").mkdir(parents=True)
    monkeypatch.setattr(gpu_session, "run_jobs", fake_jobs)
    monkeypatch.setattr(gpu_session, "ensure_gguf_package", lambda wheels: {})
    monkeypatch.setattr(gpu_session.os, "cpu_count", lambda: 16)
    out = tmp_path / "out"
    report = gpu_session.run(["ml-100k"], out, seconds=600, batch_size=8, stage=stage, check_seconds=120, parallel=4)
    assert [(j.name, j.command[2:4], j.limit) for j in seen["jobs"]] == [
        ("cuda-demo", ["glta", "demo"], 120), ("texts-ml-100k", ["glta", "text"], None)]
    assert seen["slots"] == 4 and seen["threads"] == "4" and report["threads_per_job"] == 4
    assert report["jobs"]["cuda-demo"]["status"] == "complete"
    assert gpu_session.collect_demo(out, tmp_path / "results") == ["glta.json"]
    assert (tmp_path / "results" / "synthetic" / "cuda" / "gpu_session.json").is_file()


def test_glta_jobs_are_parsed_staged_and_their_results_come_back(gpu_session, tmp_path, monkeypatch):
    """GLTA variants on the GPU: the LightGCN run and the texts travel, the variants run after the texts, and only the
    results files they wrote come back and land in results/."""
    assert gpu_session.parse_specs(["ml-1m:no_ia,no_ua", "amazon-scientific", "ml-1m:no_pf"]) == {
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
    # a data set whose LightGCN run is not here: the device trains it first
    assert gpu_session.stage_glta({"amazon-scientific": ["default"]}, tmp_path / "extra2", cache) == [
        "amazon-scientific"]
    # a GLTA+ variant reading the text-aligned LightGCN+ takes that run along too, and says how to make it
    assert gpu_session.graphs_read("ml-1m", ["no_ia", "plus_text_graph@2026", "autoregressive"]) == [
        "lightgcn", "lightgcn_plus"]
    # a LightGCN+ that is not here either: trained there too, on the MiniLM embeddings its results file's config
    # reads, which travel (staged the way the text baselines' are); without a results file, train it here once first
    with pytest.raises(SystemExit, match="train the cell here once first"):
        gpu_session.stage_glta({"ml-1m": ["plus_text_graph"]}, tmp_path / "extra3", cache)
    staged = []
    monkeypatch.setattr(gpu_session, "stage_text_embeddings", lambda methods, extra, results: staged.append(
        (methods, extra, results)))
    assert gpu_session.stage_glta({"ml-1m": ["plus_text_graph"]}, tmp_path / "extra3b", cache) == [
        "ml-1m:lightgcn_plus"]
    assert staged == [({"ml-1m": ["lightgcn_plus"]}, tmp_path / "extra3b", here / "results")]
    (here / "runs" / "ml-1m" / "lightgcn_plus").mkdir(parents=True)
    (here / "runs" / "ml-1m" / "lightgcn_plus" / "embeddings.safetensors").write_bytes(b"p")
    gpu_session.stage_glta({"ml-1m": ["no_ia", "plus_text_graph"]}, tmp_path / "extra4", cache)
    assert (tmp_path / "extra4" / "runs" / "ml-1m" / "lightgcn_plus" / "embeddings.safetensors").read_bytes() == b"p"
    assert (tmp_path / "extra4" / "runs" / "ml-1m" / "lightgcn" / "embeddings.safetensors").is_file()

    (there / "results" / "ml-1m").mkdir(parents=True)
    (there / "results" / "ml-1m" / "lightgcn.json").write_text("{}")  # carried with the tree: stays there
    gpu_session.place_inputs(extra, there / "cache", root=there)
    assert (there / "runs" / "ml-1m" / "lightgcn" / "embeddings.safetensors").is_file()
    assert (there / "cache" / "texts" / "ml-1m-abc123" / "profile-1.jsonl").is_file()
    import os
    import time
    os.utime(there / "results" / "ml-1m" / "lightgcn.json", (time.time() - 60, time.time() - 60))
    began = time.time() - 1
    (there / "results" / "ml-1m" / "glta_variants").mkdir(parents=True, exist_ok=True)
    (there / "results" / "ml-1m" / "glta_variants" / "no_ia.json").write_text('{"N@10": 0.3}')  # what a job wrote
    out = tmp_path / "out"
    assert gpu_session.copy_results(began, out, root=there) == ["ml-1m/glta_variants/no_ia.json"]
    assert [p.relative_to(out).as_posix() for p in out.rglob("*.json")] == ["results/ml-1m/glta_variants/no_ia.json"]
    assert gpu_session.collect_results(out, tmp_path / "local") == ["ml-1m/glta_variants/no_ia.json"]
    assert (tmp_path / "local" / "ml-1m" / "glta_variants" / "no_ia.json").read_text() == '{"N@10": 0.3}'


def test_each_glta_variant_is_its_own_job_after_its_texts(gpu_session, tmp_path):
    jobs = gpu_session.session_jobs(["ml-1m"], {"ml-1m": ["default", "no_ia", "autoregressive", "no_pf_pd"],
                                                "ml-100k": ["gemma"]},
                                    batch_size=384, limit=0, check_seconds=0, out=tmp_path, threads=4,
                                    root=Path("/repo"))
    assert [(j.name, j.after) for j in jobs] == [
        ("texts-ml-1m", ()), ("glta-ml-1m-default", ("texts-ml-1m",)), ("glta-ml-1m-no_ia", ("texts-ml-1m",)),
        ("glta-ml-1m-autoregressive", ("texts-ml-1m", "glta-ml-1m-default")),
        ("glta-ml-1m-no_pf_pd", ()),  # no profile or prediction in its prompts: it starts beside the texts
        ("glta-ml-100k-gemma", ())]
    assert jobs[2].command[1:] == ["/repo/experiments/glta_variants.py", "--dataset", "ml-1m", "--variants", "no_ia",
                                   "--threads", "4", "--no-progress"]


def test_a_lightgcn_run_missing_here_is_trained_there_first_and_comes_back(gpu_session, tmp_path):
    """A fresh machine holds no runs/: the device trains the frozen LightGCN before the GLTA jobs that read it (a
    LightGCN+ variant waits for none), copies the run back, and `collect` puts it where none is here."""
    jobs = gpu_session.session_jobs(["ml-1m"], {"ml-1m": ["default", "plus_text_graph"]}, batch_size=384, limit=0,
                                    check_seconds=0, out=tmp_path / "out", threads=4, root=Path("/repo"),
                                    pretrain=["ml-1m"])
    assert [(j.name, j.after) for j in jobs] == [
        ("texts-ml-1m", ()), ("pretrain-ml-1m", ()), ("glta-ml-1m-default", ("texts-ml-1m", "pretrain-ml-1m")),
        ("glta-ml-1m-plus_text_graph", ("texts-ml-1m",))]
    assert jobs[1].command[1:] == ["-m", "glta", "pretrain", "--dataset", "ml-1m", "--out",
                                   str(tmp_path / "out" / "pretrain" / "ml-1m.json"), "--no-progress", "--resume"]
    there, here = tmp_path / "there", tmp_path / "here"
    (there / "runs" / "ml-1m" / "lightgcn").mkdir(parents=True)
    for name in ("embeddings.safetensors", "run.json", "model.safetensors", "checkpoint.safetensors"):
        (there / "runs" / "ml-1m" / "lightgcn" / name).write_text(name)
    assert gpu_session.copy_graph_runs(["ml-1m", "amazon-scientific"], tmp_path / "out",
                                       root=there) == ["ml-1m/lightgcn"]  # amazon's did not finish: nothing to copy
    assert sorted(p.name for p in (tmp_path / "out" / "runs" / "ml-1m" / "lightgcn").iterdir()) == [
        "embeddings.safetensors", "model.safetensors", "run.json"]
    assert gpu_session.collect_graph_runs(tmp_path / "out", root=here) == ["runs/ml-1m/lightgcn"]
    assert (here / "runs" / "ml-1m" / "lightgcn" / "embeddings.safetensors").read_text() == "embeddings.safetensors"
    (tmp_path / "out" / "runs" / "ml-1m" / "lightgcn" / "embeddings.safetensors").write_text("another")
    assert gpu_session.collect_graph_runs(tmp_path / "out", root=here) == []  # a run here is never replaced
    manifest = {"calls": 1, "datasets": ["ml-1m"], "glta": ["ml-1m:default"], "pretrain": ["ml-1m"]}
    assert "--glta ml-1m:default --pretrain ml-1m --out" in gpu_session.device_command(manifest, 1, 540)


def test_a_text_aligned_graph_missing_here_is_trained_there_before_the_variants_that_read_it(gpu_session, tmp_path):
    """A fresh machine has no runs/amazon-scientific/lightgcn_plus, which amazon's GLTA cells read (`model.graph`):
    prepare stopped and asked for a CPU run of it here first (~13-25 min of a core, ~1 min on the GPU)."""
    out = tmp_path / "out"
    jobs = gpu_session.session_jobs([], {"ml-1m": ["default", "plus_text_graph"]}, batch_size=384, limit=0,
                                    check_seconds=0, out=out, threads=4, root=Path("/repo"),
                                    pretrain=["ml-1m", "ml-1m:lightgcn_plus"])
    assert [(j.name, j.after) for j in jobs] == [
        ("pretrain-ml-1m", ()), ("graph-ml-1m-lightgcn_plus", ()), ("glta-ml-1m-default", ("pretrain-ml-1m",)),
        ("glta-ml-1m-plus_text_graph", ("graph-ml-1m-lightgcn_plus",))]
    assert jobs[1].command[1:] == ["-m", "glta", "train", "lightgcn_plus", "--dataset", "ml-1m", "--out",
                                   str(out / "pretrain" / "ml-1m-lightgcn_plus.json"), "--no-progress", "--resume"]
    there = tmp_path / "there"
    (there / "runs" / "ml-1m" / "lightgcn_plus").mkdir(parents=True)
    (there / "runs" / "ml-1m" / "lightgcn_plus" / "embeddings.safetensors").write_text("e")
    assert gpu_session.copy_graph_runs(["ml-1m", "ml-1m:lightgcn_plus"], out, root=there) == ["ml-1m/lightgcn_plus"]
    assert gpu_session.collect_graph_runs(out, root=tmp_path / "here") == ["runs/ml-1m/lightgcn_plus"]
    manifest = {"calls": 1, "datasets": [], "glta": ["ml-1m:plus_text_graph"], "pretrain": ["ml-1m:lightgcn_plus"]}
    assert "--pretrain ml-1m:lightgcn_plus --out" in gpu_session.device_command(manifest, 1, 540)


def test_a_glta_variant_at_a_seed_is_a_seed_job_of_its_cell(gpu_session, tmp_path):
    jobs = gpu_session.session_jobs(["ml-1m"], {"ml-1m": ["glta_plus@2026"]}, batch_size=384, limit=0,
                                    check_seconds=0, out=tmp_path, threads=4, root=Path("/repo"))
    seed = jobs[1]
    assert (seed.name, seed.after, seed.cell, seed.seed) == ("glta-ml-1m-glta_plus@2026", ("texts-ml-1m",),
                                                             ("ml-1m", "glta_plus"), 2026)
    assert seed.command[1:] == ["/repo/experiments/seeds.py", "--dataset", "ml-1m", "--names", "glta_plus", "--seeds",
                                "2026", "--threads", "4", "--no-progress"]


def test_graph_baselines_are_jobs_too_each_seed_after_its_retrained_grid(gpu_session, tmp_path):
    jobs = gpu_session.session_jobs([], {}, batch_size=384, limit=0, check_seconds=0, out=tmp_path, threads=2,
                                    root=Path("/repo"), seeds={"goodreads-once": ["lightgcn_plus", "hccf"]},
                                    baselines={"goodreads-once": ["lightgcn_plus"]})
    assert [(j.name, j.after) for j in jobs] == [
        ("grid-goodreads-once-lightgcn_plus", ()),
        ("seed-goodreads-once-lightgcn_plus-2026", ("grid-goodreads-once-lightgcn_plus",)),
        ("seed-goodreads-once-lightgcn_plus-2027", ("grid-goodreads-once-lightgcn_plus",)),
        ("seed-goodreads-once-hccf-2026", ()), ("seed-goodreads-once-hccf-2027", ())]
    assert jobs[0].command[1:] == ["/repo/experiments/baselines.py", "--dataset", "goodreads-once", "--methods",
                                   "lightgcn_plus", "--retrain", "--threads", "2", "--no-progress"]
    assert jobs[3].command[1:] == ["/repo/experiments/seeds.py", "--dataset", "goodreads-once", "--names", "hccf",
                                   "--seeds", "2026", "--threads", "2", "--no-progress"]
    with pytest.raises(SystemExit, match="name the methods"):
        gpu_session.parse_specs(["ml-1m"], None, "--seeds")


def test_text_baselines_carry_their_cached_embeddings_and_the_encoder_config(gpu_session, tmp_path, monkeypatch):
    """LightGCN+ reads MiniLM embeddings of the item texts: the cache file it uses travels, with the encoder's config
    files (no weights), under the name that keeps the cache key; LightGCN reads none."""
    from glta.config import build_config
    from glta.text.encoder import TextEncoder, minilm_folder

    monkeypatch.setenv("GLTA_CACHE_DIR", str(tmp_path / "cache"))
    results = tmp_path / "results"
    for method in ("lightgcn", "lightgcn_plus"):
        (results / "synthetic").mkdir(parents=True, exist_ok=True)
        config = build_config(method, "synthetic")
        (results / "synthetic" / f"{method}.json").write_text(json.dumps({"provenance": {"config": config.to_dict()}}))
    gpu_session.stage_text_embeddings({"synthetic": ["lightgcn"]}, tmp_path / "plain", results)
    assert not (tmp_path / "plain").exists()
    extra = tmp_path / "extra"
    gpu_session.stage_text_embeddings({"synthetic": ["lightgcn", "lightgcn_plus"]}, extra, results)
    carried = sorted((extra / "cache" / "text-embeddings").iterdir())
    assert [p.name for p in carried] == [p.name for p in (tmp_path / "cache" / "text-embeddings").glob("*.npy")]
    encoder = extra / "encoder" / minilm_folder().name
    assert (encoder / "config.json").is_file()
    assert TextEncoder(encoder).identity == TextEncoder().identity  # the same cache key there
    with pytest.raises(SystemExit, match="train the cell here once first"):
        gpu_session.stage_text_embeddings({"synthetic": ["hccf_plus"]}, extra, results)


def test_a_baselines_only_session_needs_no_llm(gpu_session, tmp_path, monkeypatch):
    """Without texts or GLTA the call carries no GGUF: nothing is joined, the demo (which trains GLTA) is skipped,
    and the carried encoder config is where the jobs find MiniLM."""
    stage = tmp_path / "stage"
    extra = stage / "call1" / "extra"
    (extra / "encoder" / "model").mkdir(parents=True)
    (extra / "encoder" / "model" / "config.json").write_text("{}")
    (extra / "cache" / "text-embeddings").mkdir(parents=True)
    (extra / "cache" / "text-embeddings" / "abc.npy").write_bytes(b"npy")
    (stage / "call1" / "manifest.json").write_text(json.dumps({"gguf": None, "calls": 1, "slices": []}))
    seen = {}

    def fake_jobs(jobs, env, deadline, slots, logs):
        seen.update(jobs=[j.name for j in jobs], env=env)
        return {}

    monkeypatch.setattr(gpu_session, "run_jobs", fake_jobs)
    gpu_session.run([], tmp_path / "out", seconds=600, batch_size=8, stage=stage, check_seconds=120,
                    seeds=["ml-1m:hccf"])
    assert seen["jobs"] == ["seed-ml-1m-hccf-2026", "seed-ml-1m-hccf-2027"]
    assert seen["env"]["GLTA_TEXT_ENCODER"] == str(stage / "extra" / "encoder" / "model")  # gathered from the calls
    assert "GLTA_GGUF_DIR" not in seen["env"]
    assert (stage / "cache" / "text-embeddings" / "abc.npy").read_bytes() == b"npy"


def test_no_texts_is_said_in_words_and_excludes_datasets(gpu_session, monkeypatch, capsys):
    """`prepare --no-texts` writes no LLM texts (what a bare `--datasets` meant); both together are refused."""
    seen = []

    def stop(datasets, *rest):
        seen.append(datasets)
        raise SystemExit(0)

    monkeypatch.setattr(gpu_session, "prepare", stop)
    for argv in (["prepare", "--no-texts", "--seeds", "ml-1m:hccf"], ["prepare"]):
        with pytest.raises(SystemExit):
            gpu_session.main(argv)
    assert seen == [[], ["amazon-scientific", "goodreads-once"]]
    with pytest.raises(SystemExit) as refused:
        gpu_session.main(["prepare", "--no-texts", "--datasets", "ml-1m"])
    assert refused.value.code == 2 and "not allowed with argument" in capsys.readouterr().err
