"""Validation-set grid search for any method: train every grid point, keep the best by validation NDCG@10.

Each point is an ordinary run (``runs/<data>/<method>/grid/<point>/``, ``results/<data>/grid/<method>/<point>.json``),
so a grid killed half-way resumes: points whose results file exists with the same config are not retrained, and the
point under way continues from its checkpoint. With ``retrain`` (for grids made from code no commit records) both
are kept only where clean commits of this history made them, so a cut-off retraining resumes too, also under a
later commit. The chosen point's results file becomes ``results/<data>/<method>.json`` with the whole grid recorded
under ``selection``, and its model is copied to ``runs/<data>/<method>/`` for ``glta evaluate`` and ``glta
recommend``; what ``glta train`` left in those places is moved aside first (``keep_replaced``). The test split is
never looked at for the choice. Without a grid of its own, a method searches its default grid (``DEFAULT_GRIDS``:
the one ``experiments/baselines.py`` searches for Table 2).
"""

from __future__ import annotations

import itertools
import json
import os
import shutil
import time
from pathlib import Path

from glta.checkpoint import UNRECORDED, checkpoint_commits, find_checkpoint
from glta.config import RunConfig, build_config, model_config_class, read_yaml
from glta.data import dataset_name
from glta.paths import atomic_write, folder_lock
from glta.errors import ConfigError, GLTAError
from glta.pipeline import default_results_path, default_run_dir, train
from glta.results import commits_status, dumps, provenance_status, read_results

# Each method's validation grid when none is given: small on purpose (CPU time is the limit), and the grid
# experiments/baselines.py searches for the paper's Table 2 (fewer points there on large data sets: docs/baselines.md).
DEFAULT_GRIDS: dict[str, dict[str, list]] = {
    "lightgcn": {"train.lr": [0.005, 0.02], "model.reg_weight": [1e-4, 1e-3]},
    # HCCF's authors tune the hypergraph view's scale ("mult"), the edge keep rate and L2 (among others); at scale 1
    # its hypergraph view swamped the graph view here (amazon-scientific valid N@10 0.032 vs LightGCN's 0.086)
    "hccf": {"model.mult": [0.01, 0.1, 1.0], "model.keep_rate": [0.5, 1.0], "model.reg_weight": [1e-7, 1e-3]},
    "lightgcn_plus": {"model.align_weight": [0.01, 0.1], "model.align_temperature": [0.2, 0.5]},
    "hccf_plus": {"model.align_weight": [0.01, 0.1], "model.align_temperature": [0.2, 0.5]},
    "rlmrec_con": {"model.kd_weight": [0.01, 0.1], "model.kd_temperature": [0.2, 0.5]},
    "rlmrec_gen": {"model.recon_weight": [0.01, 0.1], "model.recon_temperature": [0.2, 0.5]},
    # training-free references beyond the paper (glta.models.closed_form): one setting each
    # (amazon-scientific chose the first grids' edges, l2 50 and weight 1.0: both grids were widened)
    "ease": {"model.l2": [10.0, 50.0, 200.0, 500.0, 1000.0, 3000.0]},
    "gfcf": {"model.ideal_weight": [0.0, 0.1, 0.3, 0.5, 1.0, 2.0]},
}
# why a method has no default grid, and what to do instead
NO_DEFAULT_GRID = {
    "pop": "popularity has no setting to tune: `glta train pop`",
    "glta": "a GLTA grid point costs hours on a CPU, so its grid is never implied: name the keys to search, e.g. "
            "--grid model.head_lr_scale=0.1,0.3 (docs/glta.md lists what was searched and chosen)",
}
NO_DEFAULT_GRID["glta_plus"] = NO_DEFAULT_GRID["glta"]


def default_grid(method: str) -> dict[str, list]:
    """The grid ``glta tune <method>`` searches when none is given (a copy: callers may change it)."""
    if method not in DEFAULT_GRIDS:
        raise ConfigError(f"{method} has no default grid: "
                          + NO_DEFAULT_GRID.get(method, "name the keys to search, e.g. --grid train.lr=0.001,0.01"))
    return {key: list(values) for key, values in DEFAULT_GRIDS[method].items()}


def parse_grid(entries: list[str]) -> dict[str, list]:
    """``["train.lr=0.001,0.01", "model.dim=32"]`` -> ``{"train.lr": [0.001, 0.01], "model.dim": [32]}``."""
    grid: dict[str, list] = {}
    for entry in entries:
        if "=" not in entry:
            raise ConfigError(f"grid entry '{entry}' must look like key.sub=v1,v2 (e.g. train.lr=0.001,0.01)")
        key, raw = entry.split("=", 1)
        if key.strip().startswith(("data.", "eval.")) or key.strip() == "train.select_metric":
            raise ConfigError(f"--grid {key.strip()}: a grid compares its points on one validation set by one metric, "
                              f"and {key.strip()} changes what is compared; give it as a fixed KEY=VALUE override "
                              "(every point then shares it), and search a model or training setting")
        grid[key.strip()] = [read_yaml(value, f"the value '{value}' of grid entry '{entry}'")
                             for value in raw.split(",")]
    return grid


def grid_points(method: str, dataset: str | None, grid: dict[str, list], overrides: list[str] | None = None,
                config_files: list | None = None, config_dir: str | Path | None = None, data_path: str | None = None,
                data_format: str | None = None) -> list[tuple[dict, RunConfig]]:
    """Each point of ``grid`` with the settings it trains with (the fixed ``overrides``, then the point's values),
    in the order ``tune`` trains them; a key no config has is refused before anything trains."""
    keys, points = list(grid), []
    for values in itertools.product(*(grid[k] for k in keys)):
        point = dict(zip(keys, values))
        settings = [f"{k}={json.dumps(v)}" for k, v in point.items()]
        config = build_config(method, dataset, config_files, list(overrides or []) + settings, config_dir)
        if data_path:
            config.data.path, config.data.format = data_path, data_format
        points.append((point, config))
    return points


def grid_text(grid: dict[str, list]) -> str:
    """``{"train.lr": [0.01, 0.1]}`` -> ``train.lr=0.01,0.1`` (keys joined by "; "), as logs and --print-config say."""
    return "; ".join(f"{key}={','.join(map(str, values))}" for key, values in grid.items())


def point_name(point: dict) -> str:
    return "_".join(f"{key.split('.')[-1]}={value}" for key, value in point.items()) or "default"


def point_files(label: str, method: str, name: str) -> tuple[Path, Path]:
    """A grid point's results file and run folder (``label``: the data set's name)."""
    return Path("results") / label / "grid" / method / f"{name}.json", default_run_dir(label, method) / "grid" / name


def trained_point(out: Path, config: RunConfig, retrain: bool = False) -> bool:
    """Whether the results file ``out`` holds this very config, so ``tune`` reuses it instead of training; with
    ``retrain`` only where clean commits of this history made it."""
    saved = read_results(out)["provenance"] if Path(out).exists() else {}
    return same_config(saved.get("config"), config.to_dict()) and (
        not retrain or (bool(saved.get("git_commit")) and provenance_status(saved) == "clean"))


# Options whose default changed after they were introduced: the value that reproduces what the code did before the
# option existed. A results file made before then lacks the key and ran with this value, not today's default.
BEHAVIOUR_BEFORE_OPTION = {("model", "head_lr_scale"): 1.0}


def same_config(saved: dict | None, config: dict) -> bool:
    """Whether a finished run ran this config. Thread counts and how often checkpoints are written may differ
    between runs (they change no result), and an option added to the code after the run was made (absent from
    ``saved``) counts as the same when it holds the value that gives the behaviour from before the option: its
    default, or ``BEHAVIOUR_BEFORE_OPTION`` where the default changed. The same holds the other way round (an
    option absent from ``config``, as when two results files of different ages are compared)."""
    if saved is None:
        return False

    def plain(c):
        c = json.loads(json.dumps(c, default=str))
        for key in ("threads", "checkpoint_minutes"):
            c.get("train", {}).pop(key, None)
        return c

    saved, config = plain(saved), plain(config)
    defaults = plain(RunConfig(method=config.get("method", "lightgcn"),
                               model=model_config_class(config.get("method", "lightgcn"))()).to_dict())

    def fill(old: dict, new: dict, default: dict, section: str = "") -> dict:
        out = dict(old)
        for key, value in new.items():
            before = BEHAVIOUR_BEFORE_OPTION.get((section, key), default.get(key))
            if key not in old and key in default and value == before:
                out[key] = value
            elif isinstance(value, dict) and isinstance(old.get(key), dict):
                out[key] = fill(old[key], value, default.get(key, {}) if isinstance(default.get(key), dict) else {},
                                key)
        return out

    return fill(saved, config, defaults) == fill(config, saved, defaults)


def has_per_user_values(record: dict) -> bool:
    """Whether a results record keeps per-user test values (the paired tests' input; runs made before they were
    recorded keep none)."""
    return bool((record.get("per_user_test") or {}).get("values"))


def finished_run(run_dir: Path) -> dict | None:
    """The ``run.json`` of the finished model ``run_dir`` holds (``run.json`` and ``model.safetensors``, no
    checkpoint left), or None: nothing there, a run under way, or an unreadable ``run.json``."""
    run_dir = Path(run_dir)
    meta = run_dir / "run.json"
    if not (run_dir / "model.safetensors").exists() or not meta.exists() or find_checkpoint(run_dir) is not None:
        return None
    try:
        return json.loads(meta.read_text())
    except (OSError, ValueError):
        return None


def unrecorded_run(run_dir: Path, out: Path, config: RunConfig) -> str | None:
    """A one-line error when ``run_dir`` holds a finished model of ``config`` whose results file ``out`` is missing,
    as when a queue's results were reset before they were collected: training it again would spend the run's hours
    and overwrite the model. None otherwise (nothing there, a run under way, another config)."""
    run_dir, out = Path(run_dir), Path(out)
    if out.exists() or not same_config((finished_run(run_dir) or {}).get("config"), config.to_dict()):
        return None
    return (f"{run_dir} holds a finished run of this config but its results file {out} is missing: put that file "
            f"back (a queue's worktree: experiments/collect_queue.py), write one from the model with `glta evaluate "
            f"--run-dir {run_dir} --out {out}` (without its training history), or delete {run_dir} to train it again")


def clean_checkpoint(run_dir: Path, log=print) -> bool:
    """Whether the checkpoint in ``run_dir`` may be resumed by a retraining, whose point is a run every piece of
    whose code a clean commit of this history records: only if each commit that trained it so far is one."""
    checkpoint = find_checkpoint(run_dir)
    if checkpoint is None:
        return False
    commits = checkpoint_commits(checkpoint) or [UNRECORDED]
    if commits_status(commits) == "clean":
        return True
    log(f"{checkpoint} was trained by {', '.join(commits)}, not only clean commits of this history: starting afresh")
    return False


def keep_replaced(final: Path, target: Path, select_metric: str = "N@10", log=print) -> None:
    """Move aside a method's results file and model that no grid chose, before a grid's choice takes their place.
    A grid's earlier choice is a copy of one of its points (``results/<data>/grid/``, ``runs/<data>/<method>/grid/``),
    but what ``glta train`` or ``glta pretrain`` wrote there is the only copy, and LightGCN's holds the frozen
    embeddings GLTA reads. They are kept as ``results/<data>/replaced/<method>-<time>.json`` and
    ``runs/<data>/<method>/replaced-<time>/`` (``glta evaluate --run-dir`` reads them), and a line says so."""
    if not final.exists():
        return
    try:
        old = read_results(final)
    except GLTAError:  # not a results file: no grid's either, so it is kept as it is
        old = {}
    if "selection" in old:
        return
    now = stamp = time.strftime("%Y%m%d-%H%M%S")
    for n in itertools.count(2):  # two in one second: neither overwrites the other
        kept, model = final.parent / "replaced" / f"{final.stem}-{stamp}.json", target / f"replaced-{stamp}"
        if not kept.exists() and not model.exists():
            break
        stamp = f"{now}-{n}"
    kept.parent.mkdir(parents=True, exist_ok=True)
    os.replace(final, kept)
    files = [file for file in target.iterdir() if file.is_file() and not file.name.startswith(".")] \
        if target.is_dir() else []  # the run's files; not its lock, nor the grid's and earlier runs' folders
    if files:
        model.mkdir()
        for file in files:
            os.replace(file, model / file.name)
    valid = ((old.get("metrics") or {}).get("valid") or {}).get(select_metric)
    score = f" (valid {select_metric} {valid:.4f})" if valid is not None else ""
    log(f"{final} is no grid's choice (`glta train` wrote it){score}: kept as {kept}"
        + (f", its model as {model}" if files else ""))


def tune(method: str, dataset: str | None, grid: dict[str, list] | None, overrides: list[str] | None = None,
         config_files: list | None = None, config_dir: str | Path | None = None, data_root: str | None = None,
         select_metric: str = "N@10", progress: bool = True, log=print, retrain: bool = False,
         data_path: str | None = None, data_format: str | None = None) -> dict:
    """Train every point of ``grid`` (the method's default grid when empty) and keep the best on validation as the
    method's results file and run folder. ``dataset`` names a built-in data set, or the data set read from
    ``data_path`` (in ``data_format``; named as ``glta train`` names it: ``data.name`` where the settings give one,
    else after the path). A point whose results file holds this very config is reused; with ``retrain`` (e.g. points
    made from code no commit records) only if clean commits of this history made it (``provenance_status``), so a
    retraining cut off half-way keeps the points it finished and the checkpoint of the one under way; and with
    ``retrain`` the chosen point is trained again where its results keep no per-user test values (made before they
    were recorded; paired tests need them), the same config and seed, so that the method's results file has them."""
    if not dataset and not data_path:
        raise ConfigError("name a data set (e.g. --dataset ml-1m) or give --data-path PATH [--format FORMAT]")
    if not grid:
        grid = default_grid(method)
        log(f"[{method}] no grid given: searching its default grid, {grid_text(grid)}")
    overrides = list(overrides or [])
    points = grid_points(method, dataset, grid, overrides, config_files, config_dir, data_path, data_format)
    label = dataset_name(points[0][1].data)  # where `glta train` would put it: data.name, else the path's name
    configs = {point_name(point): config for point, config in points}

    def fit(point: dict, again: bool = False) -> dict:
        """The grid point's row, trained here unless its results can be reused (``again``: trained regardless)."""
        name = point_name(point)
        config = configs[name]
        out, run_dir = point_files(label, method, name)
        if not again and trained_point(out, config, retrain):
            log(f"[{method} {name}] already trained: reusing {out}")
        else:
            if not again and (problem := unrecorded_run(run_dir, out, config)):
                raise GLTAError(problem)
            log(f"[{method} {name}] training" + (" again: its results keep no per-user test values" if again else ""))
            train(config, data_root, run_dir, out, resume=not retrain or clean_checkpoint(run_dir, log),
                  progress=progress, log=log)
        record = read_results(out)
        row = {"point": point, "name": name, "valid": record["metrics"]["valid"].get(select_metric),
               "best_epoch": record["training"]["best_epoch"],
               "train_seconds": record["training"]["train_seconds"], "results": str(out), "run": str(run_dir)}
        log(f"[{method} {name}] valid {select_metric} {row['valid']:.4f}")
        return row

    rows = [fit(point) for point, _ in points]
    best = max(rows, key=lambda row: row["valid"])
    again: set[str] = set()  # each point at most once: a method that keeps no per-user values ends here
    while retrain and best["name"] not in again and not has_per_user_values(read_results(best["results"])):
        again.add(best["name"])
        rows[rows.index(best)] = fit(best["point"], again=True)  # the same config and seed, now with them
        best = max(rows, key=lambda row: row["valid"])
    record = read_results(best["results"])
    final, target = default_results_path(label, method), default_run_dir(label, method)
    busy = (f"another process is training in {target}; this grid's points are kept: run the same `glta tune` again "
            "once it is done, to write the choice there")
    with folder_lock(target, busy=busy):  # a `glta train` under way there keeps its folder
        keep_replaced(final, target, select_metric, log)
        record["selection"] = {"metric": f"valid {select_metric}", "grid": grid, "fixed_overrides": overrides,
                               "chosen": best["point"], "points": rows,
                               "train_seconds_all_points": round(sum(r["train_seconds"] for r in rows), 1)}
        final.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(final, dumps(record))
        for file in Path(best["run"]).iterdir():
            if file.is_file() and not file.name.startswith("."):  # not the point's lock file
                shutil.copy2(file, target / file.name)
    log(f"[{method}] chose {best['name']} (valid {select_metric} {best['valid']:.4f}) -> {final}")
    return record
