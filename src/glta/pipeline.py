"""Train, evaluate, save and reload any method: what the CLI and the Python API both call.

A run folder (default ``runs/<dataset>/<method>/``) holds ``model.safetensors`` (the trained weights),
``run.json`` (the config and the data fingerprint) and, while training, ``checkpoint.safetensors`` for resuming
(pickle-free, see ``glta.checkpoint``).
LightGCN also writes ``embeddings.safetensors``: the frozen E_u and E_i that GLTA's stages project.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import shutil
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file, save_file

from glta import paths
from glta.checkpoint import CHECKPOINT_NAME, find_checkpoint
from glta.config import RunConfig, build_config, config_from_dict, deep_merge, parse_override
from glta.data import load_dataset
from glta.data.dataset import RecDataset
from glta.errors import GLTAError
from glta.evaluation.ranking import RankingEvaluator, recommend_top_k
from glta.methods import method_class
from glta.progress import bars_shown
from glta.recommender import Recommender
from glta.results import check_writable, git_commit, provenance, write_results
from glta.text.llm import hide_library_progress
from glta.distributed import processes
from glta.training import evaluate, evaluate_backbone, evaluate_test, fit, run_stages, use_threads


default_run_dir = paths.run_dir
default_results_path = paths.results_file


@dataclass
class TrainedRun:
    config: RunConfig
    dataset: RecDataset
    model: Recommender
    results_path: Path | None
    run_dir: Path
    record: dict


def train(config: RunConfig, data_root: str | None = None, run_dir: str | Path | None = None,
          out: str | Path | None = None, resume: bool = False, progress: bool = True, log=print) -> TrainedRun:
    """Train ``config.method`` on ``config.data``, save the model, write the results file. Output paths are checked
    before training, and the run folder is locked against a second trainer while this one runs."""
    started = time.time()
    commit = git_commit()
    if not bars_shown(progress):
        hide_library_progress()
    use_threads(config.train, log)  # a busy-CPU warning comes before the data and the model load
    dataset = load_dataset(config.data, data_root)
    for split in ("valid", "test"):
        if getattr(dataset, split).nnz == 0:
            raise GLTAError(f"no user of {dataset.name} has a {split} interaction, so nothing could be evaluated: "
                            f"users need at least data.min_user_interactions={config.data.min_user_interactions} "
                            "interactions (and enough of them for data.valid_ratio / data.test_ratio)")
    run_dir = Path(run_dir or default_run_dir(dataset.name, config.method))
    path = Path(out) if out else default_results_path(dataset.name, config.method)
    procs = processes()
    if not procs.is_main:  # the main process checks, locks and writes; the others train their share
        return _train_locked(config, dataset, run_dir, path, resume, progress, lambda _: None, started, commit)
    check_writable(path)
    check_writable(run_dir / "model.safetensors", "run folder file")
    with paths.folder_lock(run_dir):
        return _train_locked(config, dataset, run_dir, path, resume, progress, log, started, commit)


def _train_locked(config: RunConfig, dataset: RecDataset, run_dir: Path, path: Path, resume: bool, progress: bool,
                  log, started: float, commit: str) -> TrainedRun:
    procs = processes()
    torch.manual_seed(config.train.seed)
    with procs.main_first():  # converted LLMs and other caches a model builds: once, by the main process
        model = method_class(config.method)(dataset, config.model)
    log(f"{config.method} on {dataset.name}: {dataset.n_users} users, {dataset.n_items} items, "
        f"{dataset.train.nnz} train / {dataset.valid.nnz} valid / {dataset.test.nnz} test interactions"
        + (f"; {procs.world} processes" if procs.distributed else ""))
    stages_file = run_dir / "stages.json"
    if resume and find_checkpoint(run_dir) is not None and stages_file.exists():
        model.enter_main_stage()  # the checkpoint holds the weights of the earlier stages
        stages = json.loads(stages_file.read_text())
        log(f"resuming: earlier stages already ran ({', '.join(stages) or 'none'})")
    else:
        stages = run_stages(model, config.train, progress=progress, log=log, commit=commit)
        if procs.is_main:
            run_dir.mkdir(parents=True, exist_ok=True)
            paths.atomic_write(stages_file, json.dumps(stages))
    result = fit(model, dataset, config.train, config.eval, checkpoint_dir=run_dir, resume=resume,
                 progress=progress, log=log, commit=commit)
    test, per_user_test = evaluate_test(model, dataset, config.eval, config.train.select_metric,
                                        progress=progress and procs.is_main)
    backbone = evaluate_backbone(model, dataset, config.eval, config.train.select_metric) if procs.is_main else None
    record = {"training": {"best_epoch": result.best_epoch, "epochs_run": result.epochs_run,
                           "train_seconds": round(result.train_seconds, 2), "stopped_by": result.stopped_by,
                           **stages,
                           **({"calibration": model.calibration} if getattr(model, "calibration", None) else {}),
                           "history": result.history},
              "per_user_test": per_user_test,
              **({"backbone": {"test": backbone[0]}, "per_user_backbone_test": backbone[1]} if backbone else {}),
              **({"per_user_valid": result.per_user_valid} if result.per_user_valid else {})}
    if procs.is_main:
        save_run(model, config, dataset, run_dir)
        wall = time.time() - started
        inputs = model.inputs()
        trained_by = list(dict.fromkeys([c for key, value in stages.items() if key.endswith("_commits")
                                         for c in value] + result.commits))
        resumed = {"trained_by_commits": trained_by} if trained_by != [commit] else {}
        peak = max([result.peak_gib] + [value for key, value in stages.items() if key.endswith("_peak_gib")])
        prov = provenance(config.to_dict(), dataset.fingerprint(), config.train.seed, wall, commit=commit,
                          peak_gib=peak, processes=procs.world, **({"inputs": inputs} if inputs else {}), **resumed)
        write_results(path, config.method, dataset.name, result.valid, test, prov, **record)
        (run_dir / CHECKPOINT_NAME).unlink(missing_ok=True)  # finished: the saved model supersedes it
        stages_file.unlink(missing_ok=True)
    procs.wait()
    return TrainedRun(config, dataset, model, path, run_dir, {"valid": result.valid, "test": test, **record})


def save_run(model: Recommender, config: RunConfig, dataset: RecDataset, run_dir: Path) -> None:
    run_dir.mkdir(parents=True, exist_ok=True)
    tensors = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    with paths.atomic_path(run_dir / "model.safetensors") as staging:
        save_file(tensors, str(staging))
    paths.atomic_write(run_dir / "run.json", json.dumps({"config": config.to_dict(), "identity": model.identity(),
                                                         "data": dataset.stats()}, indent=2, default=str))
    if hasattr(model, "save_embeddings"):
        model.save_embeddings(run_dir / "embeddings.safetensors")


# Settings that change how a trained model is read out, not what was trained: `glta evaluate` accepts them
# (train.threads: the CPU threads this evaluation runs on, as the busy-CPU warning suggests).
INFERENCE_OVERRIDES = ("model.inference", "model.eval_batch_size", "eval.batch_size", "eval.ks", "train.threads")


def inference_overrides(overrides: list[str] | None) -> dict:
    """Parse ``KEY=VALUE`` overrides for a trained model; only ``INFERENCE_OVERRIDES`` keys are allowed."""
    merged: dict = {}
    for text in overrides or []:
        key = text.split("=", 1)[0].strip()
        if key not in INFERENCE_OVERRIDES:
            raise GLTAError(f"'{key}' cannot change after training; a trained model accepts only "
                            f"{', '.join(INFERENCE_OVERRIDES)} (retrain to change anything else)")
        merged = deep_merge(merged, parse_override(text))
    return merged


def load_run(run_dir: str | Path, data_root: str | None = None,
             overrides: list[str] | None = None) -> tuple[RunConfig, RecDataset, Recommender]:
    """Reload a trained model; refuses a run whose data fingerprint differs from the data found now.
    ``overrides`` may change inference-time settings only (``INFERENCE_OVERRIDES``), e.g. GLTA's decoding mode."""
    run_dir = Path(run_dir)
    meta_path = run_dir / "run.json"
    if not meta_path.exists():
        raise GLTAError(f"{run_dir} holds no trained run (no run.json): train it first with `glta train`")
    try:
        meta = json.loads(meta_path.read_text())
        changes = inference_overrides(overrides)
        trained = config_from_dict(meta["config"])

        def has(key: str) -> bool:
            section, _, name = key.partition(".")
            return hasattr(getattr(trained, section), name)

        for key in (f"{section}.{name}" for section, values in changes.items() for name in values):
            if not has(key):
                raise GLTAError(f"{trained.method} has no setting {key}; of the inference-time settings it has "
                                f"{', '.join(k for k in INFERENCE_OVERRIDES if has(k)) or 'none'}")
        ks = changes.get("eval", {}).get("ks")
        select_k = trained.train.select_metric.partition("@")[2]
        if isinstance(ks, list) and select_k.isdigit() and int(select_k) not in ks \
                and all(isinstance(k, int) and not isinstance(k, bool) and k >= 1 for k in ks):  # else: its error
            # the selection metric's cut-off is evaluated too: its per-user values are what a results file keeps
            # for the paired tests (an evaluation selects nothing, so this is no setting to refuse)
            changes["eval"]["ks"] = [*ks, int(select_k)]
        config = config_from_dict(deep_merge(meta["config"], changes))
        meta["identity"]["dataset_fingerprint"]
    except (ValueError, KeyError, TypeError, UnicodeDecodeError) as error:
        if isinstance(error, GLTAError):
            raise
        raise GLTAError(f"{meta_path} is damaged ({type(error).__name__}: {str(error)[:120]}); retrain the run "
                        "(`glta train ...`) to write it again") from None
    if "threads" in changes.get("train", {}):  # else torch's threads stay as the caller set them
        use_threads(config.train, log=lambda line: print(line, file=sys.stderr))  # stdout may be --json
    dataset = load_dataset(config.data, data_root)
    if dataset.fingerprint() != meta["identity"]["dataset_fingerprint"]:
        raise GLTAError(f"{run_dir} was trained on data fingerprint {meta['identity']['dataset_fingerprint']}, "
                        f"but the data found now has {dataset.fingerprint()}: retrain, or point at the same data")
    weights = run_dir / "model.safetensors"
    try:
        state = load_file(str(weights))
    except Exception as error:  # safetensors raises its own error type for a truncated or foreign file
        raise GLTAError(f"{weights} is missing or damaged ({str(error).splitlines()[0][:120]}); retrain the run") \
            from None
    model = method_class(config.method).from_saved(dataset, config.model, state)
    saved, now = meta["identity"], model.identity()
    different = {key: (saved.get(key), now.get(key)) for key in set(saved) | set(now) if saved.get(key) != now.get(key)}
    if different:
        details = "; ".join(f"{key}: trained with {a!r}, found {b!r}" for key, (a, b) in sorted(different.items()))
        raise GLTAError(f"{run_dir} does not match what is loaded now ({details}). Load it with the same LLM "
                        "and data set it was trained on, or retrain")
    try:
        model.load_state_dict(state)
    except RuntimeError as error:
        raise GLTAError(f"{weights} does not fit the {config.method} model described by run.json "
                        f"({str(error).splitlines()[0][:120]}); retrain the run") from None
    model.enter_main_stage()  # a trained model is past its warm-up stages (GLTA: in UA, as when it was tested)
    model.eval()
    return config, dataset, model


def evaluate_run(run_dir: str | Path, data_root: str | None = None, progress: bool = True,
                 overrides: list[str] | None = None, out: str | Path | None = None) -> dict:
    """Valid and test metrics of a trained model (with inference-time ``overrides``); written as a results file
    with provenance to ``out`` when given."""
    started, commit = time.time(), git_commit()
    if not bars_shown(progress):
        hide_library_progress()
    config, dataset, model = load_run(run_dir, data_root, overrides)
    metrics = {split: evaluate(model, RankingEvaluator(dataset, split, config.eval.ks, config.eval.batch_size),
                               progress=progress, per_user=config.train.select_metric)
               for split in ("valid", "test")}
    per_user = {split: metrics[split].pop("per_user") for split in ("valid", "test")}
    if out is not None:
        inputs = model.inputs()  # what this evaluation read: GLTA's prompts read the texts cached here now
        prov = provenance(config.to_dict(), dataset.fingerprint(), config.train.seed, time.time() - started,
                          commit=commit, evaluated_run=str(run_dir), overrides=list(overrides or []),
                          **({"inputs": inputs} if inputs else {}))
        write_results(out, config.method, dataset.name, metrics["valid"], metrics["test"], prov,
                      per_user_test=per_user["test"], per_user_valid=per_user["valid"])
    return metrics


def _check_k(k) -> None:
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise GLTAError(f"-k {k}: ask for at least 1 recommendation")


class LoadedRun:
    """A trained run loaded once and asked many times: what a service answering requests from Python keeps (the
    functions below, like `glta recommend`, open the run for each question: for GLTA that is the LLM, seconds to
    minutes each time). Every known interaction (train, valid and test) is kept out of the answers, and the model's
    scoring is prepared once.

        served = LoadedRun.open("runs/ml-1m/lightgcn")
        served.recommend(["1", "2"], k=10)               # known users, by their original ids
        served.recommend_for_items(["1193", "661"], k=10)  # a user not in the data, by items they interacted with
    """

    def __init__(self, config: RunConfig, dataset: RecDataset, model: Recommender):
        self.config, self.dataset, self.model = config, dataset, model
        self.exclude = (dataset.train + dataset.valid + dataset.test).tocsr()
        self._users = {str(u): i for i, u in enumerate(dataset.user_ids)}
        self._items = {str(i): n for n, i in enumerate(dataset.item_ids)}
        self._titles = dataset.item_text.get("title")
        with torch.no_grad():
            model.prepare_scoring(self.exclude)

    @classmethod
    def open(cls, run_dir: str | Path, data_root: str | None = None, overrides: list[str] | None = None) -> LoadedRun:
        """``load_run``'s run (``overrides``: inference-time settings only), ready to answer."""
        return cls(*load_run(run_dir, data_root, overrides))

    def _item(self, index: int, score: float) -> dict:
        return {"item": str(self.dataset.item_ids[index]), "title": self._titles[index] if self._titles else "",
                "score": float(score)}

    def _known_items(self, ids: list[str], skip_unknown: bool, option: str = "") -> tuple[list[int], list[str]]:
        """The item indices of the known ones among ``ids`` (original item ids), and the unknown ids: an unknown id
        stops the call with the way out (``option`` opens the message), or with ``skip_unknown`` is left out."""
        unknown = [str(i) for i in ids if str(i) not in self._items]
        if unknown and not skip_unknown:
            raise GLTAError(f"{option}unknown item id(s) {unknown[:5]} in {self.dataset.name}; {self._item_example}, "
                            "or leave out the ids the model was not trained on with --skip-unknown (skip_unknown=True)")
        return [self._items[str(i)] for i in ids if str(i) in self._items], unknown

    @property
    def _item_example(self) -> str:
        return f"give the data set's original item ids, e.g. {list(self.dataset.item_ids[:3])}"

    def item_filter(self, exclude_items: list[str] | None = None, only_items: list[str] | None = None,
                    skip_unknown: bool = False) -> torch.Tensor | None:
        """The items no answer may hold, as a bool per item (None: no filter): ``exclude_items`` (e.g. out of
        stock) and every item outside ``only_items`` (a candidate set), both by *original* ids. An unknown id is an
        error, or with ``skip_unknown`` left out."""
        if exclude_items is None and only_items is None:
            return None
        banned = torch.zeros(self.dataset.n_items, dtype=torch.bool)
        if only_items is not None:
            allowed, _ = self._known_items(only_items, skip_unknown, "only_items: ")
            if not allowed:
                raise GLTAError(f"only_items: none of the {len(only_items)} given item ids is known in "
                                f"{self.dataset.name}, so nothing could be recommended; {self._item_example}")
            banned[:] = True
            banned[torch.tensor(allowed, dtype=torch.long)] = False
        if exclude_items is not None:
            banned[torch.tensor(self._known_items(exclude_items, skip_unknown, "exclude_items: ")[0],
                                dtype=torch.long)] = True
        return banned

    def recommend(self, users: list[str], k: int = 10, exclude_items: list[str] | None = None,
                  only_items: list[str] | None = None, skip_unknown: bool = False) -> list[dict]:
        """Top-k unseen items for users given by their *original* ids: item ids, titles and scores; with
        ``exclude_items`` / ``only_items`` (``item_filter``) among the allowed items alone."""
        unknown = [u for u in users if str(u) not in self._users]
        if unknown:
            raise GLTAError(f"unknown user id(s) {unknown[:5]} in {self.dataset.name}; ids are the data set's "
                            f"original user ids, e.g. {list(self.dataset.user_ids[:3])}")
        _check_k(k)
        banned = self.item_filter(exclude_items, only_items, skip_unknown)
        rows = np.array([self._users[str(u)] for u in users])
        with torch.no_grad():
            items, scores = recommend_top_k(self.model.score, self.dataset, rows, min(k, self.dataset.n_items),
                                            self.exclude, banned)
        # a user with fewer than k items left unseen (and allowed) gets fewer: seen and filtered items (score -inf)
        # are never returned
        return [{"user": str(user), "items": [self._item(i, s) for i, s in zip(user_items, user_scores)
                                              if np.isfinite(s)]}
                for user, user_items, user_scores in zip(users, items, scores)]

    def recommend_for_items(self, items: list[str], k: int = 10, skip_unknown: bool = False,
                            exclude_items: list[str] | None = None, only_items: list[str] | None = None) -> dict:
        """Top-k for a user who is not in the training data, given the original ids of items they interacted with
        (cold start: folded into the trained model without retraining; see ``Recommender.score_new_users``).
        An id the model was not trained on (an item added to the catalogue since) stops the call, or with
        ``skip_unknown`` is left out and listed under ``skipped``, as long as one given item is known.
        ``exclude_items`` / ``only_items``: as for ``recommend``."""
        _check_k(k)
        banned = self.item_filter(exclude_items, only_items, skip_unknown)
        if not items:
            raise GLTAError("--items needs at least one item id")
        known, unknown = self._known_items(items, skip_unknown)
        if not known:
            raise GLTAError(f"none of the given item ids is known in {self.dataset.name} ({unknown[:5]}); "
                            f"{self._item_example}")
        given = np.array(sorted(set(known)), dtype=np.int64)
        with torch.no_grad():
            scores = self.model.score_new_users([given]).float()
        scores[0, torch.from_numpy(given)] = float("-inf")  # never recommend what the user already has
        if banned is not None:
            scores[0, banned.to(scores.device)] = float("-inf")
        top = torch.topk(scores[0], min(k, self.dataset.n_items))
        return {"user": None, "items": [self._item(i, v) for v, i in zip(top.values.tolist(), top.indices.tolist())
                                        if np.isfinite(v)], "skipped": unknown}

    def export(self, out: str | Path, k: int = 50, batch_size: int = 1024, progress: bool = True,
               exclude_items: list[str] | None = None, only_items: list[str] | None = None,
               skip_unknown: bool = False) -> Path:
        """Top-k unseen items for every user of the data set, written in batches to ``out`` (``.csv`` or
        ``.parquet``): one row per (user, rank) with the original user and item ids and the score; with
        ``exclude_items`` / ``only_items`` among the allowed items alone (as for ``recommend``).

        Resumable: each finished batch is kept beside ``out`` (``.<name>.parts-<key>/``) until the file is written,
        so an export stopped part-way (GLTA's reads every user's prompt through the LLM) continues where it stopped
        when called again with the same model, settings, ``k`` and ``batch_size``; parts of any other export to
        ``out`` are removed."""
        import pandas as pd
        from glta.progress import progress_bar

        out = _check_export(out, k)
        dataset = self.dataset
        banned = self.item_filter(exclude_items, only_items, skip_unknown)
        users = np.arange(dataset.n_users)
        parts = self._export_parts(out, k, batch_size, banned)
        starts = list(range(0, len(users), batch_size))
        todo = [start for start in starts if not (parts / f"{start:09d}.npz").exists()]
        for start in progress_bar(todo, desc="recommend", unit="batch", progress=progress, total=len(starts),
                                  initial=len(starts) - len(todo)):
            chunk = users[start:start + batch_size]
            items, scores = recommend_top_k(self.model.score, dataset, chunk, min(k, dataset.n_items), self.exclude,
                                            banned)
            keep = np.isfinite(scores)
            rows, ranks = np.nonzero(keep)
            with paths.atomic_path(parts / f"{start:09d}.npz") as staging:
                with open(staging, "wb") as file:
                    np.savez(file, users=chunk[rows], ranks=ranks + 1, items=items[keep], scores=scores[keep])
        frames = []
        for start in starts:
            with np.load(parts / f"{start:09d}.npz", allow_pickle=False) as part:
                frames.append(pd.DataFrame({"user": dataset.user_ids[part["users"]], "rank": part["ranks"],
                                            "item": dataset.item_ids[part["items"]], "score": part["scores"]}))
        table = pd.concat(frames, ignore_index=True)
        with paths.atomic_path(out) as staging:
            if out.suffix == ".csv":
                table.to_csv(staging, index=False)
            else:
                table.to_parquet(staging, index=False, engine="pyarrow")
        shutil.rmtree(parts)
        return out

    def _export_parts(self, out: Path, k: int, batch_size: int, banned: torch.Tensor | None = None) -> Path:
        """The folder that keeps an export's finished batches, named by what they depend on (the model's weights
        and settings, the data, ``k``, ``batch_size``, the items filtered out); other exports' folders for ``out``
        are removed."""
        from glta.results import tensors_sha256

        key = json.dumps({"identity": self.model.identity(), "config": asdict(self.config),
                          "weights": tensors_sha256(*self.model.state_dict().values()), "k": k,
                          "batch_size": batch_size,
                          **({"banned": tensors_sha256(banned)} if banned is not None else {})},
                         sort_keys=True, default=str)
        prefix = f".{out.name}.parts-"
        folder = out.with_name(prefix + hashlib.sha256(key.encode()).hexdigest()[:16])
        for other in out.parent.iterdir() if out.parent.is_dir() else []:
            if other.name.startswith(prefix) and other != folder and other.is_dir():
                shutil.rmtree(other)
        folder.mkdir(parents=True, exist_ok=True)
        return folder


def _check_export(out: str | Path, k) -> Path:
    """A recommendations file that can be written, checked before a model is loaded or a user scored."""
    out = Path(out)
    if out.suffix not in (".csv", ".parquet"):
        raise GLTAError(f"--out {out}: write recommendations to a .csv or .parquet file")
    if out.suffix == ".parquet" and importlib.util.find_spec("pyarrow") is None:
        raise GLTAError(f"--out {out}: writing .parquet needs pyarrow (`.venv/bin/pip install pyarrow`); or use .csv")
    _check_k(k)
    check_writable(out, "recommendations file")
    return out


def recommend(run_dir: str | Path, users: list[str], k: int = 10, data_root: str | None = None,
              overrides: list[str] | None = None, **filters) -> list[dict]:
    """Top-k unseen items for users given by their *original* ids (``LoadedRun.recommend``, the run opened for this
    call with inference-time ``overrides``, e.g. GLTA's decoding mode; ``filters``: ``exclude_items``,
    ``only_items``, ``skip_unknown``)."""
    return LoadedRun.open(run_dir, data_root, overrides).recommend(users, k, **filters)


def recommend_for_items(run_dir: str | Path, items: list[str], k: int = 10, data_root: str | None = None,
                        overrides: list[str] | None = None, skip_unknown: bool = False, **filters) -> dict:
    """Top-k for a user who is not in the training data (``LoadedRun.recommend_for_items``, the run opened for
    this call)."""
    _check_k(k)
    return LoadedRun.open(run_dir, data_root, overrides).recommend_for_items(items, k, skip_unknown, **filters)


def export_recommendations(run_dir: str | Path, out: str | Path, k: int = 50, data_root: str | None = None,
                           batch_size: int = 1024, progress: bool = True, overrides: list[str] | None = None,
                           **filters) -> Path:
    """Every user's top-k to a ``.csv`` or ``.parquet`` file (``LoadedRun.export``; the file is checked before the
    run is opened)."""
    _check_export(out, k)
    return LoadedRun.open(run_dir, data_root, overrides).export(out, k, batch_size, progress, **filters)


__all__ = ["build_config", "train", "load_run", "evaluate_run", "LoadedRun", "recommend", "recommend_for_items",
           "export_recommendations"]
