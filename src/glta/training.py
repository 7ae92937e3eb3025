"""The fit loop every recommender shares: Adam, early stopping on a validation metric, resumable checkpoints.

The loop keeps the best model's weights (by ``train.select_metric`` on the validation split) and, when a
checkpoint folder is given, writes ``checkpoint.safetensors`` (no pickle: see ``glta.checkpoint``) after each evaluation so
that an interrupted run resumes where it stopped (``resume=True``) instead of starting again.
"""

from __future__ import annotations

import copy
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from tqdm.auto import tqdm

from glta.checkpoint import CHECKPOINT_NAME, find_checkpoint, load_checkpoint, save_checkpoint
from glta.config import EvalConfig, TrainConfig
from glta.data.dataset import RecDataset
from glta.device import device_named, module_device, to_device
from glta.evaluation.ranking import RankingEvaluator
from glta.errors import GLTAError
from glta.recommender import Recommender


@dataclass
class FitResult:
    valid: dict
    test: dict
    best_epoch: int
    epochs_run: int
    train_seconds: float
    history: list[dict] = field(default_factory=list)
    stopped_by: str = ""
    # per-user values of the selection metric on test (for paired significance tests): users are dataset indices
    test_per_user: dict = field(default_factory=dict)


def set_seed(seed: int) -> None:
    torch.manual_seed(seed)
    np.random.seed(seed % 2**32)


def evaluate(model: Recommender, evaluator: RankingEvaluator, progress: bool = False,
             calibrate_for: str | None = None, per_user: str | None = None) -> dict:
    """Metrics of ``model`` on ``evaluator``. With ``calibrate_for`` (a metric name; validation only) the model
    first chooses its inference-time settings on this evaluator (``Recommender.calibrate``, e.g. GLTA+'s fusion
    weight) and the metrics are those at the chosen setting."""
    was_training = model.training
    model.eval()
    with torch.no_grad():
        model.prepare_scoring(evaluator.exclude)
        metrics = model.calibrate(evaluator, calibrate_for, progress) if calibrate_for else None
        if metrics is None and per_user:
            values = evaluator.evaluate(model.score, progress=progress, per_user=True)
            metrics = {name: float(v.mean()) for name, v in values.items()}
            metrics["per_user"] = {"metric": per_user, "users": evaluator.users.tolist(),
                                   "values": np.round(values[per_user], 6).tolist()}
        elif metrics is None:
            metrics = evaluator.evaluate(model.score, progress=progress)
    model.train(was_training)
    return metrics


def train_epoch(model: Recommender, batches, optimizer, total: int | None, desc: str, progress: bool) -> list[float]:
    """One pass of optimiser steps over ``batches``, with a progress bar (rate, ETA, last loss)."""
    losses: list[float] = []
    device = module_device(model)
    bar = tqdm(batches, desc=desc, unit="batch", leave=False, disable=not progress, total=total)
    for batch in bar:
        optimizer.zero_grad(set_to_none=True)
        loss = model.loss(to_device(batch, device))
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
        bar.set_postfix(loss=f"{losses[-1]:.4f}", refresh=False)
    return losses


# settings that may change when a run resumes (how long, where and how fast it runs); any other difference between the
# checkpoint's settings and the current ones is refused, so the results never record a setting the run did not use
RESUMABLE_CHANGES = {"train.epochs", "train.patience", "train.threads", "train.device", "eval.batch_size",
                     "model.eval_batch_size", "model.compile"}


def _fixed_settings(model: Recommender, train: TrainConfig, evaluation: EvalConfig) -> dict[str, object]:
    """Flat ``section.key -> value`` of the settings a checkpoint fixes."""
    import dataclasses
    import json

    flat: dict[str, object] = {}

    def walk(prefix: str, value) -> None:
        if dataclasses.is_dataclass(value):
            for f in dataclasses.fields(value):
                walk(f"{prefix}.{f.name}", getattr(value, f.name))
        else:
            flat[prefix] = json.loads(json.dumps(value, default=str))

    for name, section in (("train", train), ("eval", evaluation), ("model", model.config)):
        if dataclasses.is_dataclass(section):
            walk(name, section)
    return {k: v for k, v in flat.items() if k not in RESUMABLE_CHANGES}


def _check_same_settings(saved: dict, now: dict, checkpoint: Path) -> None:
    changed = sorted(k for k in set(saved) | set(now) if saved.get(k) != now.get(k))
    if changed:
        key = changed[0]
        raise GLTAError(f"--resume: {key} was {saved.get(key)!r} when {checkpoint} was written, now {now.get(key)!r}"
                        f"{f' (and {len(changed) - 1} more)' if len(changed) > 1 else ''}; resume with the same "
                        f"settings (only {', '.join(sorted(RESUMABLE_CHANGES))} may change) or start afresh "
                        "without --resume")


def fit(model: Recommender, dataset: RecDataset, train: TrainConfig, evaluation: EvalConfig,
        checkpoint_dir: str | Path | None = None, resume: bool = False, progress: bool = True,
        log: Callable[[str], None] = print) -> FitResult:
    if train.threads:
        torch.set_num_threads(train.threads)
    set_seed(train.seed)
    model.place(device_named(train.device, "train.device"))
    rng = np.random.default_rng(train.seed)
    groups = [g for g in model.parameter_groups(train.lr) if g["params"]]
    optimizer = torch.optim.Adam(groups, lr=train.lr) if groups else None
    full_valid = RankingEvaluator(dataset, "valid", evaluation.ks, evaluation.batch_size)
    valid_eval = full_valid.sample(evaluation.valid_users, train.seed)
    test_eval = RankingEvaluator(dataset, "test", evaluation.ks, evaluation.batch_size)
    best_score, best_epoch, best_state, best_valid = -np.inf, -1, None, {}
    history: list[dict] = []
    start_epoch, bad_rounds, spent = 0, 0, 0.0
    checkpoint = Path(checkpoint_dir) / CHECKPOINT_NAME if checkpoint_dir else None
    if checkpoint and resume and find_checkpoint(checkpoint.parent) is not None:
        state = load_checkpoint(checkpoint, module_device(model))
        if state["identity"] != model.identity():
            raise GLTAError(f"{checkpoint} belongs to another model or data set; delete it or drop --resume")
        if "settings" in state:
            _check_same_settings(state["settings"], _fixed_settings(model, train, evaluation), checkpoint)
        model.load_state_dict(state["model"])
        if optimizer is not None:
            optimizer.load_state_dict(state["optimizer"])
        rng.bit_generator.state = state["rng"]
        torch.set_rng_state(state["torch_rng"])
        start_epoch, bad_rounds, spent = state["epoch"] + 1, state["bad_rounds"], state["seconds"]
        best_score, best_epoch, best_state = state["best_score"], state["best_epoch"], state["best_state"]
        best_valid, history = state["best_valid"], state["history"]
        log(f"resumed from {checkpoint} after epoch {state['epoch']} (best {train.select_metric}={best_score:.4f})")
    stopped_by = f"epoch limit ({train.epochs})"
    started = time.time() - spent
    for epoch in range(start_epoch, train.epochs):
        model.train()
        losses = []
        if optimizer is not None:
            losses = train_epoch(model, model.train_batches(rng, train.batch_size), optimizer,
                                 model.batches_per_epoch(train.batch_size), f"epoch {epoch}", progress)
        record = {"epoch": epoch, "loss": float(np.mean(losses)) if losses else float("nan"),
                  "seconds": round(time.time() - started, 2)}
        if (epoch + 1) % train.eval_every == 0 or epoch == train.epochs - 1:
            valid = evaluate(model, valid_eval, progress=progress, calibrate_for=train.select_metric)
            score = valid[train.select_metric]
            record["valid"] = {train.select_metric: score}
            if getattr(model, "calibration", None):
                record["calibration"] = dict(model.calibration)
            if score > best_score:
                best_score, best_epoch, best_valid, bad_rounds = score, epoch, valid, 0
                best_state = copy.deepcopy(model.state_dict())
            else:
                bad_rounds += 1
            log(f"epoch {epoch:3d}  loss {record['loss']:.4f}  valid {train.select_metric} {score:.4f}  "
                f"best {best_score:.4f}@{best_epoch}  {record['seconds']:.0f}s"
                + (f"  fusion weight {record['calibration']['fusion_weight']}" if "calibration" in record else ""))
            history.append(record)
            if checkpoint:
                save_checkpoint(checkpoint, {
                    "identity": model.identity(), "settings": _fixed_settings(model, train, evaluation), "model": model.state_dict(), "optimizer": optimizer and optimizer.state_dict(),
                    "rng": rng.bit_generator.state, "torch_rng": torch.get_rng_state(), "epoch": epoch,
                    "bad_rounds": bad_rounds, "seconds": time.time() - started, "best_score": best_score,
                    "best_epoch": best_epoch, "best_state": best_state, "best_valid": best_valid,
                    "history": history})
            if bad_rounds >= train.patience:
                stopped_by = f"early stopping (no {train.select_metric} gain in {train.patience} evaluations)"
                break
        else:
            history.append(record)
    train_seconds = time.time() - started
    if best_state is not None:
        model.load_state_dict(best_state)
        chosen = next((r.get("calibration") for r in history if r["epoch"] == best_epoch), None)
        if chosen:
            model.calibration = dict(chosen)  # the settings saved with the best epoch's weights
    if valid_eval.users is not full_valid.users and best_state is not None:
        # report every user, not the sample (and choose inference-time settings on all of them)
        best_valid = evaluate(model, full_valid, progress=progress, calibrate_for=train.select_metric)
    test = evaluate(model, test_eval, progress=progress, per_user=train.select_metric)
    test_per_user = test.pop("per_user")
    epochs_run = history[-1]["epoch"] + 1 if history else 0
    return FitResult(valid=best_valid, test=test, best_epoch=best_epoch, epochs_run=epochs_run,
                     train_seconds=train_seconds, history=history, stopped_by=stopped_by,
                     test_per_user=test_per_user)
