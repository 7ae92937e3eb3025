"""Serving a trained model: users outside the training data (cold start) and every user's top-k to a file."""

import json

import pandas as pd
import pytest
import torch

from glta.cli import main
from glta.models.closed_form import EASE, EASEConfig
from glta.config import EvalConfig, LightGCNConfig, TrainConfig
from glta.evaluation.ranking import RankingEvaluator
from glta.models.lightgcn import LightGCN
from glta.models.popularity import Popularity
from glta.training import fit


def _n_at_10(score_fn, dataset) -> float:
    evaluator = RankingEvaluator(dataset, "test", [10])
    return evaluator.evaluate(score_fn)["N@10"]


def test_folded_in_users_rank_almost_as_well_as_trained_ones(synthetic):
    """Each test user scored as if unseen in training, from their training items only, by LightGCN's propagation
    rule: close to the trained embeddings' quality and far above popularity."""
    torch.manual_seed(0)
    model = LightGCN(synthetic, LightGCNConfig(dim=32))
    fit(model, synthetic, TrainConfig(epochs=20, batch_size=1024, lr=0.01, patience=5), EvalConfig(), progress=False,
        log=lambda s: None)
    model.eval()
    model.prepare_scoring()
    trained = _n_at_10(model.score, synthetic)
    histories = {u: synthetic.train[u].indices for u in range(synthetic.n_users)}
    folded = _n_at_10(lambda users: model.score_new_users([histories[int(u)] for u in users]), synthetic)
    popular = _n_at_10(Popularity(synthetic).score, synthetic)
    assert folded >= 0.8 * trained and folded > 1.5 * popular


def test_ease_cold_start_is_exact(synthetic):
    model = EASE(synthetic, EASEConfig(l2=50.0))
    users = torch.arange(5)
    histories = [synthetic.train[u].indices for u in range(5)]
    assert torch.allclose(model.score_new_users(histories), model.score(users), atol=1e-5)


@pytest.fixture(scope="module")
def lightgcn_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("serve")
    assert main(["train", "lightgcn", "--dataset", "synthetic", "--run-dir", str(folder / "run"), "--out",
                 str(folder / "r.json"), "--no-progress", "train.epochs=3", "model.dim=16"]) == 0
    return folder / "run"


def test_recommend_for_a_new_user_from_the_cli(lightgcn_run, capsys):
    from glta.config import DataConfig
    from glta.data import load_dataset

    data = load_dataset(DataConfig(name="synthetic"))
    given = [str(data.item_ids[i]) for i in (3, 17, 42)]
    capsys.readouterr()
    assert main(["recommend", "--run-dir", str(lightgcn_run), "--items", ",".join(given), "-k", "7", "--json"]) == 0
    recs = json.loads(capsys.readouterr().out)[0]["items"]
    assert len(recs) == 7 and not {r["item"] for r in recs} & set(given)
    every = ",".join(str(i) for i in data.item_ids)  # a new user who has interacted with the whole catalogue
    assert main(["recommend", "--run-dir", str(lightgcn_run), "--items", every, "-k", "7"]) == 0
    assert capsys.readouterr().out.splitlines()[1] == ("  none: every item of the catalogue is among the ones this "
                                                       "user interacted with")
    assert main(["recommend", "--run-dir", str(lightgcn_run), "--items", "no-such-item"]) == 2
    assert "unknown item id" in capsys.readouterr().err
    assert main(["recommend", "--run-dir", str(lightgcn_run), "--items", given[0], "--user", "3"]) == 2
    assert "exactly one of" in capsys.readouterr().err


def test_items_added_to_the_catalogue_since_training_can_be_left_out(lightgcn_run, capsys):
    """A new user's history may hold items the model never saw: by default that stops with the way out; with
    --skip-unknown the known ones answer as they would alone, and the left-out ids are named."""
    from glta import pipeline

    served = pipeline.LoadedRun.open(lightgcn_run)
    given = [str(i) for i in served.dataset.item_ids[[3, 17, 42]]]
    with pytest.raises(pipeline.GLTAError, match="--skip-unknown"):
        served.recommend_for_items(given + ["new-1"], k=5)
    answer = served.recommend_for_items(["new-1", *given, "new-2"], k=5, skip_unknown=True)
    alone = served.recommend_for_items(given, k=5)
    assert answer["items"] == alone["items"] and answer["skipped"] == ["new-1", "new-2"] and alone["skipped"] == []
    with pytest.raises(pipeline.GLTAError, match="none of the given item ids"):
        served.recommend_for_items(["new-1"], k=5, skip_unknown=True)
    capsys.readouterr()
    assert main(["recommend", "--run-dir", str(lightgcn_run), "--items", ",".join(["new-1", *given]), "-k", "5",
                 "--skip-unknown", "--json"]) == 0
    out = capsys.readouterr()
    assert json.loads(out.out)[0]["items"] == alone["items"]
    assert "left out 1 item id(s) the model was not trained on: new-1" in out.err
    assert main(["recommend", "--run-dir", str(lightgcn_run), "--user", "3", "--skip-unknown"]) == 2
    assert "--skip-unknown goes with --items" in capsys.readouterr().err


def test_recommend_all_users_to_a_file(lightgcn_run, tmp_path, capsys):
    from glta.config import DataConfig
    from glta.data import load_dataset

    data = load_dataset(DataConfig(name="synthetic"))
    out = tmp_path / "recs.csv"
    assert main(["recommend", "--run-dir", str(lightgcn_run), "--all", "--out", str(out), "-k", "5",
                 "--no-progress"]) == 0
    table = pd.read_csv(out, dtype={"user": str, "item": str})
    assert len(table) == 5 * data.n_users and set(table["rank"]) == {1, 2, 3, 4, 5}
    known = (data.train + data.valid + data.test).tocsr()
    index = {u: n for n, u in enumerate(data.user_ids)}
    items = {i: n for n, i in enumerate(data.item_ids)}
    assert not any(known[index[u], items[i]] for u, i in zip(table["user"], table["item"]))
    assert main(["recommend", "--run-dir", str(lightgcn_run), "--all"]) == 2
    assert "--out" in capsys.readouterr().err


def test_an_export_stopped_part_way_continues_where_it_stopped(lightgcn_run, tmp_path):
    """Every user's top-k in batches: a stop after two batches keeps them; the same export again scores only the
    rest and writes the file an uninterrupted export writes, and leaves no parts behind. Another export to the same
    file (another k) reuses none of them."""
    from glta import pipeline

    served = pipeline.LoadedRun.open(lightgcn_run)
    whole = served.export(tmp_path / "whole.csv", k=4, batch_size=64, progress=False)
    batches, score, out = -(-served.dataset.n_users // 64), served.model.score, tmp_path / "recs.csv"

    def export(k: int = 4, stop_after: int | None = None) -> int:
        """The batches scored by an export to ``out`` (stopped after ``stop_after`` of them)."""
        scored = []

        def counting(users):
            if len(scored) == stop_after:
                raise KeyboardInterrupt
            scored.append(len(users))
            return score(users)

        served.model.score = counting
        try:
            served.export(out, k=k, batch_size=64, progress=False)
        except KeyboardInterrupt:
            assert not out.exists()
        return len(scored)

    assert export(stop_after=2) == 2 and len(list(tmp_path.glob(".recs.csv.parts-*/*.npz"))) == 2
    assert export() == batches - 2 and out.read_text() == whole.read_text()
    assert not list(tmp_path.glob(".*.parts-*"))
    out.unlink()
    export(stop_after=2)
    assert export(k=5) == batches  # another k: the stopped export's batches do not fit, and are removed
    assert export() == batches


def test_a_run_loaded_once_answers_like_the_per_call_functions(lightgcn_run, tmp_path, monkeypatch):
    """LoadedRun opens the run once and then answers known users, a new user and the export exactly as the
    functions that open it for each call."""
    from glta import pipeline

    served = pipeline.LoadedRun.open(lightgcn_run)
    users = [str(u) for u in served.dataset.user_ids[:4]]
    given = [str(i) for i in served.dataset.item_ids[[3, 17, 42]]]
    assert served.recommend(users, k=6) == pipeline.recommend(lightgcn_run, users, k=6)
    assert served.recommend_for_items(given, k=6) == pipeline.recommend_for_items(lightgcn_run, given, k=6)
    served.export(tmp_path / "a.csv", k=3, progress=False)
    pipeline.export_recommendations(lightgcn_run, tmp_path / "b.csv", k=3, progress=False)
    assert (tmp_path / "a.csv").read_text() == (tmp_path / "b.csv").read_text()
    opened = []
    monkeypatch.setattr(pipeline, "load_run", lambda *a, **kw: opened.append(a))
    for _ in range(3):  # a service's requests: the model is not read again
        assert len(served.recommend(users[:1], k=2)[0]["items"]) == 2
    assert not opened
    with pytest.raises(pipeline.GLTAError, match="unknown user id"):
        served.recommend(["no-such-user"])


def test_cold_start_experiment_scores_the_trained_and_the_folded_in_users_alike(lightgcn_run, experiment):
    """experiments/cold_start.py: the same test users, trained and folded in from their training items, with a
    paired test; folding a LightGCN user in by its own propagation rule keeps most of its quality."""
    row = experiment("cold_start").cold_start(lightgcn_run, batch_size=256, progress=False)
    assert row["method"] == "lightgcn" and row["users"] > 100
    assert 0 < row["trained_N@10"] < 1 and row["ratio"] > 0.8 and 0 <= row["wilcoxon_p"] <= 1


def test_items_can_be_excluded_or_the_answer_kept_to_a_candidate_set(lightgcn_run, tmp_path, capsys):
    """An excluded item (out of stock) is never returned and the others keep their order; with only_items every
    answer lies in the candidate set, which may hold fewer items than k; both for known users, a new user, the
    export and the CLI (ids comma-separated or @FILE); an unknown id stops with the way out."""
    from glta import pipeline

    served = pipeline.LoadedRun.open(lightgcn_run)
    plain = [r["item"] for r in served.recommend(["3"], k=8)[0]["items"]]
    out = [plain[0], plain[3]]
    kept = [r["item"] for r in served.recommend(["3"], k=6, exclude_items=out)[0]["items"]]
    assert kept == [i for i in plain if i not in out][:6]
    candidates = [str(i) for i in served.dataset.item_ids[:60]]
    allowed = set(candidates) - set(plain[:1])
    only = served.recommend(["3", "4"], k=10, only_items=candidates, exclude_items=plain[:1])
    assert all(r["item"] in allowed for entry in only for r in entry["items"])
    assert [r["item"] for r in served.recommend(["3"], k=10, only_items=plain[2:4])[0]["items"]] == plain[2:4]
    given = [str(i) for i in served.dataset.item_ids[[3, 17, 42]]]
    new_plain = [r["item"] for r in served.recommend_for_items(given, k=5)["items"]]
    new_kept = [r["item"] for r in served.recommend_for_items(given, k=4, exclude_items=new_plain[:1])["items"]]
    assert new_kept == new_plain[1:5]
    with pytest.raises(pipeline.GLTAError, match="exclude_items: unknown item id.*--skip-unknown"):
        served.recommend(["3"], k=5, exclude_items=["gone"])
    assert [r["item"] for r in served.recommend(["3"], k=5, exclude_items=["gone"], skip_unknown=True)[0]["items"]] \
        == plain[:5]
    with pytest.raises(pipeline.GLTAError, match="only_items: none of the 1 given item ids is known"):
        served.recommend(["3"], k=5, only_items=["gone"], skip_unknown=True)
    export = served.export(tmp_path / "recs.csv", k=5, progress=False, only_items=candidates)
    table = pd.read_csv(export, dtype={"user": str, "item": str})
    assert set(table["item"]) <= set(candidates) and len(table) == 5 * served.dataset.n_users
    listed = tmp_path / "stock.txt"
    listed.write_text(f"{out[0]}\n\n{out[1]}\n")
    capsys.readouterr()
    assert main(["recommend", "--run-dir", str(lightgcn_run), "--user", "3", "-k", "6", "--exclude-items",
                 f"@{listed}", "--json"]) == 0
    assert [r["item"] for r in json.loads(capsys.readouterr().out)[0]["items"]] == kept
    seen = [str(served.dataset.item_ids[i]) for i in served.exclude[served._users["3"]].indices[:2]]
    assert served.recommend(["3"], k=5, only_items=seen)[0]["items"] == []
    assert main(["recommend", "--run-dir", str(lightgcn_run), "--user", "3", "--only-items", ",".join(seen)]) == 0
    assert capsys.readouterr().out.splitlines()[1] == ("  none: every allowed item is among the ones this user "
                                                       "interacted with")
    history = tmp_path / "history.txt"
    history.write_text("\n".join(str(i) for i in served.dataset.item_ids[:12]) + "\n")
    assert main(["recommend", "--run-dir", str(lightgcn_run), "--items", f"@{history}", "-k", "3"]) == 0
    ids = [str(i) for i in served.dataset.item_ids[:12]]
    assert capsys.readouterr().out.splitlines()[0] == f"new user with items {', '.join(ids[:10])} and 2 more:"
    assert main(["recommend", "--run-dir", str(lightgcn_run), "--user", "3", "--only-items", f"@{tmp_path}/no"]) == 2
    assert "--only-items @" in capsys.readouterr().err
