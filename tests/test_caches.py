"""`glta cache`: what the cache folder holds, and deleting parts of it without touching what a running process holds
or, unasked, what took hours to make."""

import fcntl
import json

import numpy as np
import pytest
from safetensors.numpy import save_file

from glta.caches import clear, entries, summary
from glta.cli import main
from glta.errors import GLTAError


@pytest.fixture
def cache(tmp_path, monkeypatch):
    """A cache folder with two data sets' texts, two prefix stores, an IA stage and two loaded data sets."""
    root = tmp_path / "cache"
    monkeypatch.setenv("GLTA_CACHE_DIR", str(root))
    texts = root / "texts" / "ml-1m-5a080d2704cc7c57"
    texts.mkdir(parents=True)
    (texts / "profile-abc.jsonl").write_text("".join(json.dumps({"key": k, "text": "t"}) + "\n" for k in "123"))
    (texts / "prediction-abc.jsonl").write_text("".join(json.dumps({"key": k, "text": "t"}) + "\n" for k in "12"))
    other = root / "texts" / "amazon-scientific-43f74688897a79be"
    other.mkdir()
    (other / "profile-def.jsonl").write_text(json.dumps({"key": "1", "text": "t"}) + "\n")
    (root / "texts" / "rates.jsonl").write_text("{}\n")  # the machine's measured rates: no cache entry
    for name, serves in (("s1", "ml-1m, user_item_text_first prompts"), ("s2", "amazon-scientific, prompts")):
        store = root / "prefix-kv" / name
        store.mkdir(parents=True)
        (store / "meta.json").write_text(json.dumps({"serves": serves}))
        (store / "kv.bin").write_bytes(b"\0" * 8192)
    (root / "ia").mkdir()
    save_file({"w": np.zeros(4, np.float32)}, str(root / "ia" / "f00d.safetensors"),
              metadata={"summary": json.dumps({"ia_seconds": 4353.3, "ia_final_loss": 8.6434}),
                        "serves": "ml-1m, glta over lightgcn, seed 2025"})
    save_file({"w": np.zeros(2, np.float32)}, str(root / "ia" / "0ld.safetensors"),  # before IA said whose it was
              metadata={"summary": json.dumps({"ia_seconds": 60.0, "ia_final_loss": 4.42})})
    (root / "data").mkdir()
    for name in ("ml-1m-5a080d2704cc7c57", "amazon-scientific-43f74688897a79be"):
        np.savez(root / "data" / f"{name}.npz", x=np.zeros(10))
    return root


def test_every_cache_folder_is_described_once():
    from glta.caches import KINDS
    from glta.paths import CACHE_KINDS, cache_dir

    assert tuple(KINDS) == CACHE_KINDS
    with pytest.raises(ValueError, match="no cache kind 'prefix'"):
        cache_dir("prefix")


def hold(path):
    """Lock ``path`` as a running process would (shared): an exclusive try on another handle then fails."""
    handle = open(path, "a+")
    fcntl.flock(handle, fcntl.LOCK_SH)
    return handle


def test_the_listing_names_each_entry_its_size_and_whether_a_process_holds_it(cache):
    using = hold(cache / "prefix-kv" / "s2" / ".in-use")
    listed = {kind["kind"]: kind for kind in summary()["kinds"]}
    assert [e["about"] for e in listed["texts"]["entries"]] == ["prediction 2, profile 3", "profile 1"]
    assert [e["dataset"] for e in listed["texts"]["entries"]] == ["ml-1m", "amazon-scientific"]
    stores = {e["path"].rsplit("/", 1)[1]: e for e in listed["prefix-kv"]["entries"]}
    assert not stores["s1"]["held"] and stores["s2"]["held"] and stores["s2"]["dataset"] == "amazon-scientific"
    assert sorted((e["about"], e["dataset"] or "") for e in listed["ia"]["entries"]) == [
        ("ml-1m, glta over lightgcn, seed 2025: trained in 4,353 s, final loss 8.64", "ml-1m"),
        ("trained in 60 s, final loss 4.42", "")] and listed["ia"]["expensive"]
    assert sorted(e["dataset"] for e in listed["data"]["entries"]) == ["amazon-scientific", "ml-1m"]
    assert listed["prefix-kv"]["bytes"] >= 2 * 8192 and not listed["prefix-kv"]["expensive"]
    using.close()


def test_clearing_keeps_what_a_running_process_holds(cache):
    using = hold(cache / "prefix-kv" / "s2" / ".in-use")
    deleted, kept = clear(["prefix-kv"])
    assert [e.path.name for e in deleted] == ["s1"] and [e.path.name for e in kept] == ["s2"]
    assert not (cache / "prefix-kv" / "s1").exists() and (cache / "prefix-kv" / "s2" / "kv.bin").exists()
    using.close()
    assert [e.path.name for e in clear(["prefix-kv"])[0]] == ["s2"]  # no longer held


def test_an_expensive_kind_is_deleted_only_when_asked_twice(cache):
    with pytest.raises(GLTAError, match="the texts cache .* takes hours of LLM time .* add --yes"):
        clear(["texts"])
    assert len(entries("texts")) == 2  # nothing deleted
    writing = hold(cache / "texts" / "ml-1m-5a080d2704cc7c57" / ".profile-abc.lock")  # a generation under way
    deleted, kept = clear(["texts"], yes=True)
    assert [e.dataset for e in deleted] == ["amazon-scientific"] and [e.dataset for e in kept] == ["ml-1m"]
    assert (cache / "texts" / "rates.jsonl").exists()  # the rate log is no cache: kept
    writing.close()
    deleted, _ = clear(["ia"], yes=True)
    assert len(deleted) == 2 and not list((cache / "ia").iterdir())


def test_clearing_one_data_set_and_kinds_that_do_not_record_theirs(cache):
    deleted, _ = clear(["data", "prefix-kv"], dataset="ml-1m")
    assert sorted((e.kind, e.path.name) for e in deleted) == \
        [("data", "ml-1m-5a080d2704cc7c57.npz"), ("prefix-kv", "s1")]
    assert [e.dataset for e in entries("data")] == ["amazon-scientific"]
    with pytest.raises(GLTAError, match="the text-embeddings cache does not record its data set"):
        clear(["text-embeddings"], dataset="ml-1m")
    assert clear(["ia"], dataset="amazon-scientific", yes=True) == ([], [])
    deleted, _ = clear(["ia"], dataset="ml-1m", yes=True)  # the IA result that names no data set stays
    assert [e.path.name for e in deleted] == ["f00d.safetensors"] and [e.path.name for e in entries("ia")] == \
        ["0ld.safetensors"]
    with pytest.raises(GLTAError, match="no cache kind 'prefix': choose from texts, ia, prefix-kv"):
        clear(["prefix"])


def test_the_cache_commands(cache, capsys):
    assert main(["cache"]) == 0
    alone = capsys.readouterr().out
    assert main(["cache", "list"]) == 0
    out = capsys.readouterr().out
    assert alone == out  # `glta cache` alone lists
    assert f"cache {cache} ($GLTA_CACHE_DIR)" in out and "prediction 2, profile 3" in out
    assert main(["cache", "list", "--json"]) == 0
    assert {kind["kind"] for kind in json.loads(capsys.readouterr().out)["kinds"]} == \
        {"texts", "ia", "prefix-kv", "text-embeddings", "llm", "data"}
    assert main(["cache", "clear", "ia"]) == 2
    assert "add --yes to delete it anyway" in capsys.readouterr().err
    assert main(["cache", "clear", "prefix-kv", "--dataset", "amazon-scientific"]) == 0
    out = capsys.readouterr().out
    assert "deleted prefix-kv s2" in out and "freed " in out and (cache / "prefix-kv" / "s1").exists()
    assert main(["cache", "clear", "prefix-kv", "--dataset", "amazon-scientific"]) == 0
    out = capsys.readouterr().out
    assert "nothing to delete for amazon-scientific" in out and "freed" not in out
    assert main(["cache", "clear", "ia", "--dataset", "ml-1m", "--yes"]) == 0
    out = capsys.readouterr().out
    assert "deleted ia f00d.safetensors" in out and "freed " in out
    assert "left 1 IA result that records no data set" in out


def test_data_sets_cached_by_an_older_version_are_marked_and_cleared_alone(cache, capsys):
    """Every data cache entry of an older CACHE_VERSION is never read again (its key differs), yet it stayed listed
    as the data set it holds; now it says so, and `glta cache clear data --stale` removes those alone."""
    from glta.config import DataConfig
    from glta.data import load_dataset

    load_dataset(DataConfig(name="synthetic"))  # written now: the current version
    listed = {e.path.name: e for e in entries("data")}
    current = [name for name in listed if name.startswith("synthetic-")]
    assert len(current) == 1 and not listed[current[0]].stale and listed[current[0]].about == "synthetic"
    assert listed["ml-1m-5a080d2704cc7c57.npz"].stale  # the fixture's: no version recorded
    assert "ml-1m (written by an older glta: no longer read)" == listed["ml-1m-5a080d2704cc7c57.npz"].about
    assert main(["cache", "clear", "data", "--stale"]) == 0
    assert "deleted data ml-1m-5a080d2704cc7c57.npz" in capsys.readouterr().out
    assert [e.path.name for e in entries("data")] == current
    assert main(["cache", "clear", "data", "--stale"]) == 0
    assert "nothing to delete" in capsys.readouterr().out


def test_an_unfinished_ia_stage_is_listed_as_such_and_kept_while_its_stage_trains(cache):
    import torch

    from glta.checkpoint import save_checkpoint

    partial = cache / "ia" / "beef.partial.safetensors"  # glta.paths.partial_stage_path of ia/beef.safetensors
    save_checkpoint(partial, {"params": {"w": torch.zeros(3)}, "epoch": 1, "losses": [9.0, 8.5],
                              "in_epoch": {"epoch": 2, "batches": 40}, "serves": "ml-1m, glta over lightgcn, seed 7"})
    training = hold(cache / "ia" / "beef.lock")  # the stage's lock, which a run training it holds
    found = {e.path.name: e for e in entries("ia")}["beef.partial.safetensors"]
    assert found.about == ("ml-1m, glta over lightgcn, seed 7: unfinished: the next run of this stage resumes from it "
                           "in epoch 2 after 40 batches")
    assert found.held and found.dataset == "ml-1m"
    deleted, kept = clear(["ia"], yes=True)
    assert [e.path.name for e in kept] == ["beef.partial.safetensors"] and partial.exists() and len(deleted) == 2
    training.close()
    save_checkpoint(partial, {"epoch": 0, "in_epoch": None})  # a partial file written before it said whose it was
    assert entries("ia")[0].about == "unfinished: the next run of this stage resumes from it after epoch 0"
    assert not entries("ia")[0].held and entries("ia")[0].dataset is None
