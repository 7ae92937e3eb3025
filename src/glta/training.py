"""The trainer every recommender shares: its stages, Adam, early stopping on a validation metric, checkpoints.

``run_stages`` runs what a model does before its main stage (``Recommender.prepare_training``, then each
``Stage``, e.g. GLTA's item-text alignment, with the stage's result kept in its cache file, then
``Recommender.prepare_main_stage``); ``fit`` runs the main stage. It keeps the best model's weights (by
``train.select_metric`` on the validation split) and, when a checkpoint folder is given, writes
``checkpoint.safetensors`` (no pickle: see ``glta.checkpoint``) after each evaluation so that an interrupted run
resumes where it stopped (``resume=True``) instead of starting again. Test metrics are measured by the caller
(``evaluate_test``), after the model is chosen.

Every step goes through ``train_epoch``: one process, or several launched by accelerate/torchrun, each taking its
share of every batch (``glta.distributed``).
"""

from __future__ import annotations

import copy
import math
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

import numpy as np
import torch

from glta.checkpoint import CHECKPOINT_NAME, UNRECORDED, find_checkpoint, load_checkpoint, save_checkpoint
from glta.config import EvalConfig, TrainConfig
from glta.data.dataset import RecDataset
from glta.device import busy_cpu_warning, device_named, module_device, to_device
from glta.distributed import processes
from glta.evaluation.ranking import RankingEvaluator
from glta.errors import GLTAError
from glta.interrupts import held_to_step_end
from glta.memory import resident_gib, return_freed_memory
from glta.paths import beside_stage, partial_stage_path
from glta.progress import progress_bar
from glta.recommender import Recommender, Stage


@dataclass
class FitResult:
    valid: dict
    best_epoch: int
    epochs_run: int
    train_seconds: float
    history: list[dict] = field(default_factory=list)
    stopped_by: str = ""
    # the chosen model's select_metric for every validation user ({"metric", "users", "values"}), so that two runs
    # can be compared user by user on validation without their saved models (experiments/paired_valid.py)
    per_user_valid: dict | None = None
    # the commits whose code trained it, oldest first: more than one when it was resumed under another commit
    commits: list[str] = field(default_factory=list)
    # the resident memory (GiB) its processes peaked at, those before a resume included (their checkpoints keep it)
    peak_gib: float = 0.0


def set_seed(seed: int) -> None:
    torch.manual_seed(seed)
    np.random.seed(seed % 2**32)


def fusion_note(calibration: dict) -> str:
    """An epoch line's word on GLTA+'s fusion: the chosen weight and, below weight 1, its gain on validation over the
    graph's ranking alone with the Wilcoxon p-value (``GLTA.calibrate``)."""
    over = calibration.get("over_graph")
    weight = calibration["fusion_weight"]
    return f"  fusion weight {weight}" + (f" ({over['gain']:+.4f} over the graph alone, p {over['wilcoxon_p']:.2g})"
                                          if over and weight < 1.0 else "")


def evaluate(model: Recommender, evaluator: RankingEvaluator, progress: bool = False,
             calibrate_for: str | None = None, per_user: str | None = None) -> dict:
    """Metrics of ``model`` on ``evaluator``. With ``calibrate_for`` (a metric name; validation only) the model
    first chooses its inference-time settings on this evaluator (``Recommender.calibrate``, e.g. GLTA+'s fusion
    weight) and the metrics are those at the chosen setting. With ``per_user`` (a metric name) the result also holds
    that metric's value for every user under ``"per_user"``. Several processes split the users between them (a
    calibrating model chooses on all of them in every process, so that all choose alike)."""
    was_training = model.training
    model.eval()
    with torch.no_grad():
        model.prepare_scoring(evaluator.exclude)
        values = model.calibrate(evaluator, calibrate_for, progress) if calibrate_for else None
        if values is None:
            values = _per_user_values(model, evaluator, progress)
        metrics = {name: float(v.mean()) for name, v in values.items()}
        if per_user:
            metrics["per_user"] = per_user_block(evaluator, values, per_user)
    model.train(was_training)
    return metrics


def per_user_block(evaluator: RankingEvaluator, values: dict[str, np.ndarray], metric: str) -> dict:
    """One metric's value for every user of ``evaluator``, as results files keep it (``per_user_test``)."""
    return {"metric": metric, "users": evaluator.users.tolist(), "values": np.round(values[metric], 6).tolist()}


def _per_user_values(model: Recommender, evaluator: RankingEvaluator, progress: bool) -> dict[str, np.ndarray]:
    """Every metric for every user of ``evaluator``, in its user order; each process scores its share of users."""
    procs = processes()
    if not procs.distributed:
        return evaluator.evaluate(model.score, progress=progress, per_user=True)
    mine = procs.users(np.arange(len(evaluator.users)))
    values = evaluator.subset(mine).evaluate(model.score, progress=progress and procs.is_main, per_user=True)
    shares = procs.gather((mine, values))
    order = np.concatenate([positions for positions, _ in shares])
    merged = {}
    for name in values:
        merged[name] = np.empty(len(evaluator.users), dtype=values[name].dtype)
        merged[name][order] = np.concatenate([share[name] for _, share in shares])
    return merged


def evaluate_test(model: Recommender, dataset: RecDataset, evaluation: EvalConfig, per_user: str,
                  progress: bool = False) -> tuple[dict, dict]:
    """The chosen model's test metrics, and the per-user values of metric ``per_user`` (for paired tests; users
    are data set indices)."""
    test = evaluate(model, RankingEvaluator(dataset, "test", evaluation.ks, evaluation.batch_size),
                    progress=progress, per_user=per_user)
    return test, test.pop("per_user")


def evaluate_backbone(model: Recommender, dataset: RecDataset, evaluation: EvalConfig, per_user: str
                      ) -> tuple[dict, dict] | None:
    """For a model built on a frozen graph model (GLTA and GLTA+: ``graph_scores``), that graph model's own test
    ranking from the embeddings the model read: its metrics and the per-user values of ``per_user``, so that a paired
    test against the model's own backbone needs no other results file (a graph run trained again on another machine
    can differ in the last digits from the one in ``results/``). None for every other model."""
    if not hasattr(model, "graph_scores"):
        return None
    evaluator = RankingEvaluator(dataset, "test", evaluation.ks, evaluation.batch_size)
    with torch.no_grad():
        values = evaluator.evaluate(model.graph_scores, per_user=True)
    return {name: float(v.mean()) for name, v in values.items()}, per_user_block(evaluator, values, per_user)


def lr_schedule(optimizer: torch.optim.Optimizer, train: TrainConfig, total_steps: int | None
                ) -> torch.optim.lr_scheduler.LambdaLR | None:
    """The learning-rate schedule ``train.schedule`` over ``total_steps`` optimiser steps (None when constant): a
    factor on every parameter group's own rate, so GLTA's head keeps its fraction of the projectors' rate."""
    if train.schedule == "constant" and not train.warmup_steps:
        return None
    if train.schedule == "cosine" and not total_steps:
        raise GLTAError("train.schedule=cosine needs the number of steps in an epoch, which this method does not "
                        "tell; use train.schedule=constant")
    warmup, floor = train.warmup_steps, train.min_lr_ratio
    total = max(total_steps or 1, warmup + 1)

    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        if train.schedule == "constant":
            return 1.0
        progress = min(1.0, (step - warmup) / max(1, total - warmup))
        return floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * progress))

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


def train_epoch(model: Recommender, batches, optimizer, total: int | None, desc: str, progress: bool,
                step: torch.nn.Module | None = None, scheduler=None, skip: int = 0,
                after_step: Callable[[int, list[float]], None] | None = None,
                done: list[float] | None = None) -> list[float]:
    """One pass of optimiser steps over ``batches``, with a progress bar (rate, ETA, last loss). ``step`` is the
    module called for each batch's loss (``model`` inside DistributedDataParallel when several processes train;
    each then takes its share of every batch). Returns each step's loss over the whole batch.

    An epoch resumed part-way passes ``skip`` (the batches it already trained on: they are drawn, so the random
    draws after them are the same, but not trained on again) and their losses as ``done``. ``after_step(batches,
    losses)`` is called after every step with the batches consumed so far (for checkpoints within the epoch).

    A SIGINT or SIGTERM during a step is held until the step ends (``interrupts.held_to_step_end``; not in a
    distributed run): ``after_step`` is then called with ``now=True`` (a checkpoint, whatever its interval) and the
    run stops with KeyboardInterrupt, so a stopped run loses no trained step."""
    procs = processes()
    step = step or model
    losses: list[float] = list(done or [])
    device = module_device(model)
    batches = iter(batches)
    for _ in range(skip):
        next(batches, None)
    bar = progress_bar(batches, desc=desc, unit="batch", leave=False, progress=progress, total=total,
                       initial=skip)
    consumed = skip
    trim = device.type == "cpu" and model.returns_memory_each_step()
    with held_to_step_end(enabled=not procs.distributed) as stop_asked:
        for batch in bar:
            consumed += 1
            batch = procs.share(batch)
            if batch is None:
                continue
            optimizer.zero_grad(set_to_none=True)
            loss = step(to_device(batch, device))
            loss.backward()
            optimizer.step()
            if scheduler is not None:
                scheduler.step()
            if trim:
                return_freed_memory()
            losses.append(loss.item())
            bar.set_postfix(loss=f"{losses[-1]:.4f}", refresh=False)
            if after_step is not None:
                after_step(consumed, losses, now=stop_asked())
            if stop_asked():
                raise KeyboardInterrupt
    if procs.distributed:  # each process saw its share: the batch's loss is the mean of the shares' losses
        losses = np.mean(procs.gather(losses), axis=0).tolist()
    return losses


class WithinEpoch:
    """Checkpoints within epoch ``epoch``, at most every ``minutes`` (``train.checkpoint_minutes``; never when 0 or
    when nothing is written), so that a run stopped part-way through a long epoch loses at most that much of it.
    ``write(finished, rng_state, in_epoch)`` writes the checkpoint (only the main process writes): the last whole
    epoch, ``rng``'s state at this epoch's start (a resumed epoch draws its batches again from there) and
    ``in_epoch``, the batches trained so far and their losses (``resume_within`` reads it back)."""

    def __init__(self, minutes: float, epoch: int, rng: np.random.Generator,
                 write: Callable[[int, dict, dict], None] | None):
        self.every = minutes * 60 if write is not None and processes().is_main else 0.0
        self.epoch, self.at_start, self.write = epoch, rng.bit_generator.state, write
        self.last = time.time()
        self.steps: tuple[int, list[float]] | None = None  # the latest step's (batches, losses), not yet written
        self.written: int | None = None  # the batches the latest checkpoint of this epoch counted

    def __call__(self, batches: int, losses: list[float], now: bool = False) -> None:
        """After a step: a checkpoint when ``minutes`` have passed since the last, or ``now`` (the run is stopping)."""
        self.steps = (batches, losses)
        if self.every > 0 and (now or time.time() - self.last >= self.every):
            self.flush()

    def flush(self) -> None:
        """Write the latest step's checkpoint unless it is written: a run stopped while it validates an epoch whose
        steps are all done (a sample validation of a GLTA epoch in fp32 runs for minutes) resumes at that
        validation instead of training the epoch's steps since the last timed checkpoint again."""
        if self.every > 0 and self.steps is not None and self.steps[0] != self.written:
            batches, losses = self.steps
            self.write(self.epoch - 1, self.at_start,
                       {"epoch": self.epoch, "batches": batches, "losses": [float(x) for x in losses]})
            self.last, self.written = time.time(), batches


def resume_within(within: dict | None, epoch: int) -> tuple[int, list[float]]:
    """(batches to skip, their losses) for ``epoch`` when a checkpoint's ``in_epoch`` stopped part-way through it."""
    return (within["batches"], within["losses"]) if within and within["epoch"] == epoch else (0, [])


def continued_by(state: dict, commit: str | None) -> list[str]:
    """The commits that trained a run resumed from checkpoint ``state``, ``commit`` (the code continuing it) last;
    ``UNRECORDED`` stands for those of a checkpoint written before checkpoints kept them."""
    commits = list(state.get("commits") or [UNRECORDED])
    return commits + [commit] if commit and commit != commits[-1] else commits


def earlier_peak(state: dict) -> float:
    """The resident peak (GiB) of the processes that trained a run before it was resumed from checkpoint ``state``
    (``peak_gib``; 0 for a checkpoint from before it was kept); with this process's (``resident_gib``), the run's."""
    return float(state.get("peak_gib") or 0.0)


def resumed_where(state: dict) -> str:
    """Where a checkpoint (or a stage's partial file) lets training go on, for the log."""
    within = state.get("in_epoch")
    return (f"in epoch {within['epoch']} after {within['batches']} batches" if within
            else f"after epoch {state['epoch']}")


_threads_checked = False


def use_threads(train: TrainConfig, log: Callable[[str], None] = print) -> None:
    """Set ``train.threads`` torch threads (0: torch's default); the first time in a process, on a CPU run, the main
    process warns when that many would contend with work already running here (``glta.device.busy_cpu_warning``).
    Once a process: one warning says it, and each check waits a quarter second (a grid runs many fits)."""
    global _threads_checked
    if train.threads:
        torch.set_num_threads(train.threads)
    if _threads_checked:
        return
    _threads_checked = True
    if processes().is_main and (train.device == "cpu" or not torch.cuda.is_available()):
        warning = busy_cpu_warning(torch.get_num_threads())
        if warning:
            log(warning)


def run_stages(model: Recommender, train: TrainConfig, progress: bool = True, log: Callable[[str], None] = print,
               commit: str | None = None) -> dict:
    """Prepare ``model`` for training and run its stages before the main one (``Recommender.stages``), then put it
    in its main stage. A stage whose cache file exists is loaded instead of trained. Returns facts for the results
    file: each stage's seconds and final loss (``<stage>_seconds``, ``<stage>_final_loss``; ``<stage>_reused``
    naming the file when it was loaded; ``<stage>_commits``, the commits whose code trained it, when known)."""
    procs = processes()
    use_threads(train, log)
    with procs.main_first():  # caches the model fills (GLTA's prompt prefixes): once, by the main process
        facts = dict(model.prepare_training(train, progress=progress and procs.is_main, log=log))
    return_freed_memory()
    for stage in model.stages(train):
        model.enter_stage(stage.name)
        with stage_turn(stage, log):
            if stage.cache is not None and stage.cache.exists():
                summary = load_stage(model, stage.cache)
                log(f"{stage.name.upper()}: reused the stage's result from {stage.cache} "
                    f"(trained in {summary.get(f'{stage.name}_seconds', 0):.0f}s)")
                facts.update(summary, **{f"{stage.name}_reused": str(stage.cache)})
                continue
            facts.update(train_stage(model, stage, train, progress, log, commit))
        return_freed_memory()  # a stage's peak (GLTA's IA) need not stay with the process through the next
    with procs.main_first():
        facts.update(model.prepare_main_stage(train, progress=progress and procs.is_main, log=log))
    return_freed_memory()
    model.enter_main_stage()
    return facts


@contextmanager
def stage_turn(stage: Stage, log: Callable[[str], None] = print) -> Iterator[None]:
    """Runs whose stage has the same cache file take turns: the first trains the stage, the others wait on a lock
    beside the file and then load what it stored, instead of training the same stage side by side (variants of one
    data set started together, e.g. on a GPU). Not within one distributed run: its processes train together."""
    if stage.cache is None or processes().distributed:
        yield
        return
    from glta.paths import file_lock

    def waiting() -> None:
        log(f"{stage.name.upper()}: another run is training this stage ({stage.cache}); waiting for its result")

    with file_lock(beside_stage(stage.cache, ".lock"), f"{stage.name} stage {stage.cache}", wait=True, on_wait=waiting):
        yield


def train_stage(model: Recommender, stage: Stage, train: TrainConfig, progress: bool = True,
                log: Callable[[str], None] = print, commit: str | None = None) -> dict:
    """Train one stage (entering it) and keep its result in ``stage.cache`` when set; returns its summary.

    With a cache path, the stage also resumes: after each epoch its trainable parameters, optimiser, random states
    and losses go to ``partial_stage_path(stage.cache)`` (keyed like the cache, so by everything the stage depends
    on), and within an epoch every ``train.checkpoint_minutes``; a stage started again continues where the file
    says (after the last finished epoch, or part-way through one); the file is removed once the stage's result is
    stored."""
    procs = processes()
    model.enter_stage(stage.name)
    started = time.time()
    model.train()
    optimizer = torch.optim.Adam(model.parameter_groups(stage.lr), lr=stage.lr)
    step = procs.wrap(model)
    rng = np.random.default_rng(stage.seed)
    losses: list[float] = []
    partial = partial_stage_path(stage.cache) if stage.cache is not None else None
    first, within, before = 0, None, 0.0
    commits = [commit] if commit else []
    if partial is not None and partial.exists():
        state = load_checkpoint(partial, module_device(model))
        trainable = dict(model.named_parameters())
        with torch.no_grad():
            for name, value in state["params"].items():
                trainable[name].copy_(value)
        optimizer.load_state_dict(state["optimizer"])
        rng.bit_generator.state = state["rng"]
        torch.set_rng_state(state["torch_rng"])
        first, losses, within = state["epoch"] + 1, list(state["losses"]), state.get("in_epoch")
        commits, before = continued_by(state, commit), earlier_peak(state)
        started -= state["seconds"]
        log(f"{stage.name.upper()}: resumed from {partial} {resumed_where(state)}")

    def save_partial(finished: int, rng_state: dict, in_epoch: dict | None = None) -> None:
        """The stage so far: ``finished`` its last whole epoch, ``rng_state`` where the next epoch's draws start
        (an epoch under way restarts its draws and skips the batches ``in_epoch`` says it trained on)."""
        save_checkpoint(partial, {
            "params": {name: p for name, p in model.named_parameters() if p.requires_grad},
            "optimizer": optimizer.state_dict(), "rng": rng_state, "torch_rng": torch.get_rng_state(),
            "epoch": finished, "losses": [float(x) for x in losses], "seconds": time.time() - started,
            "in_epoch": in_epoch, "commits": commits, "peak_gib": max(before, resident_gib()), "serves": stage.serves})

    for epoch in range(first, stage.epochs):
        skip, done = resume_within(within, epoch)
        autosave = WithinEpoch(train.checkpoint_minutes, epoch, rng, None if partial is None else save_partial)
        epoch_losses = train_epoch(model, model.train_batches(rng, train.batch_size), optimizer,
                                   model.batches_per_epoch(train.batch_size), f"{stage.name} epoch {epoch}", progress,
                                   step, skip=skip, after_step=autosave, done=done)
        losses += epoch_losses
        log(f"{stage.name.upper()} epoch {epoch}: mean loss {np.mean(epoch_losses):.4f}")
        if partial is not None and procs.is_main and epoch < stage.epochs - 1:
            save_partial(epoch, rng.bit_generator.state)
    summary = {f"{stage.name}_seconds": round(time.time() - started, 2),
               f"{stage.name}_final_loss": float(np.mean(losses[-10:])) if losses else float("nan"),
               **({f"{stage.name}_commits": commits} if commits else {})}
    if stage.cache is not None and procs.is_main:
        save_stage(model, stage.cache, summary, stage.serves)
        partial.unlink(missing_ok=True)
    procs.wait()
    # the stage's peak goes to the run's facts (stages.json carries it to a process that resumes the main stage),
    # not to the cache's summary: a run that reuses the stage's result does not hold its memory
    return {**summary, f"{stage.name}_peak_gib": round(max(before, resident_gib()), 2)}


def save_stage(model: Recommender, path: Path, summary: dict, serves: str = "") -> None:
    """The parameters trainable in the model's current stage, with ``summary`` and ``serves`` (what the result
    belongs to, in words, opening with the data set's name: ``Stage.serves``) in the file's metadata."""
    import json

    from safetensors.torch import save_file

    from glta.paths import atomic_path

    tensors = {name: p.detach().cpu().contiguous() for name, p in model.named_parameters() if p.requires_grad}
    with atomic_path(path) as staging:
        metadata = {"summary": json.dumps(summary), **({"serves": serves} if serves else {})}
        save_file(tensors, str(staging), metadata=metadata)


def load_stage(model: Recommender, path: Path) -> dict:
    """Load a stage's parameters saved by ``save_stage`` into ``model``; returns the stage's summary."""
    import json

    from safetensors import safe_open

    parameters = dict(model.named_parameters())
    with safe_open(str(path), framework="pt") as f:
        for name in f.keys():
            if name not in parameters:
                raise GLTAError(f"{path} holds {name}, which this model does not have; delete the file to train the "
                                "stage again")
            with torch.no_grad():
                parameters[name].copy_(f.get_tensor(name))
        return json.loads(f.metadata()["summary"])


# settings that may change when a run resumes (how long, where and how fast it runs); any other difference between the
# checkpoint's settings and the current ones is refused, so the results never record a setting the run did not use
RESUMABLE_CHANGES = {"train.epochs", "train.patience", "train.threads", "train.device", "train.checkpoint_minutes",
                     "eval.batch_size", "model.eval_batch_size", "model.compile"}


def _fixed_settings(model: Recommender, train: TrainConfig, evaluation: EvalConfig, model_config=None
                    ) -> dict[str, object]:
    """Flat ``section.key -> value`` of the settings a checkpoint fixes (``model_config``: instead of the model's)."""
    import dataclasses
    import json

    flat: dict[str, object] = {}

    def walk(prefix: str, value) -> None:
        if dataclasses.is_dataclass(value):
            for f in dataclasses.fields(value):
                walk(f"{prefix}.{f.name}", getattr(value, f.name))
        else:
            flat[prefix] = json.loads(json.dumps(value, default=str))

    for name, section in (("train", train), ("eval", evaluation), ("model", model_config or model.config)):
        if dataclasses.is_dataclass(section):
            walk(name, section)
    # a cosine schedule is laid out over train.epochs: the run's length is then fixed too
    fixed_length = train.schedule != "constant"
    return {k: v for k, v in flat.items() if k not in RESUMABLE_CHANGES or (k == "train.epochs" and fixed_length)}


def _check_same_settings(saved: dict, now: dict, checkpoint: Path, defaults: dict | None = None) -> None:
    """Refuse a resume whose fixed settings differ from the checkpoint's. An option added to the code after the
    checkpoint was written (absent from ``saved``) counts as the same when it holds its default."""
    defaults = defaults or {}
    changed = sorted(k for k in set(saved) | set(now) if saved.get(k) != now.get(k)
                     and not (k not in saved and k in defaults and now.get(k) == defaults[k]))
    if changed:
        key = changed[0]
        raise GLTAError(f"--resume: {key} was {saved.get(key)!r} when {checkpoint} was written, now {now.get(key)!r}"
                        f"{f' (and {len(changed) - 1} more)' if len(changed) > 1 else ''}; resume with the same "
                        f"settings (only {', '.join(sorted(RESUMABLE_CHANGES))} may change; train.epochs not "
                        "under a learning-rate schedule) or start afresh without --resume")


def _check_resume(saved: dict, train: TrainConfig, evaluation: EvalConfig, model_config, checkpoint: Path) -> None:
    """``_check_same_settings`` for a run about to continue ``checkpoint`` under these settings."""
    defaults = {**_fixed_settings(None, TrainConfig(), EvalConfig(), type(model_config)()),
                "train.epochs": train.epochs}
    _check_same_settings(saved, _fixed_settings(None, train, evaluation, model_config), checkpoint, defaults)


def resumable(run_dir: str | Path, config) -> bool:
    """Whether ``run_dir`` holds a checkpoint written under ``config``'s fixed settings (a ``RunConfig``), so that
    ``train(config, resume=True)`` continues it; False without one, or when it was written under other settings
    (the run must then start again). Scripts that rerun a changed config use it instead of guessing from files."""
    path = find_checkpoint(run_dir)
    if path is None:
        return False
    saved = load_checkpoint(path).get("settings")
    if saved is None:
        return False
    try:
        _check_resume(saved, config.train, config.eval, config.model, path)
    except GLTAError:
        return False
    return True


def fit(model: Recommender, dataset: RecDataset, train: TrainConfig, evaluation: EvalConfig,
        checkpoint_dir: str | Path | None = None, resume: bool = False, progress: bool = True,
        log: Callable[[str], None] = print, commit: str | None = None) -> FitResult:
    """Train the model's main stage with early stopping on validation; the best epoch's weights stay in ``model``.
    ``commit`` (the code's, ``glta.results.git_commit``) is kept in each checkpoint, so that a run resumed under
    another commit says which commits trained it (``FitResult.commits``)."""
    procs = processes()
    use_threads(train, log)
    set_seed(train.seed)
    model.place(procs.device or device_named(train.device, "train.device"))
    show = progress and procs.is_main
    log = log if procs.is_main else (lambda _: None)
    rng = np.random.default_rng(train.seed)
    groups = [g for g in model.parameter_groups(train.lr) if g["params"]]
    optimizer = torch.optim.Adam(groups, lr=train.lr) if groups else None
    per_epoch = model.batches_per_epoch(train.batch_size)
    scheduler = lr_schedule(optimizer, train, per_epoch and per_epoch * train.epochs) if optimizer else None
    full_valid = RankingEvaluator(dataset, "valid", evaluation.ks, evaluation.batch_size)
    valid_eval = full_valid.sample(evaluation.valid_users, train.seed)
    best_score, best_epoch, best_state, best_valid = -np.inf, -1, None, {}
    history: list[dict] = []
    start_epoch, bad_rounds, spent, within, before = 0, 0, 0.0, None, 0.0
    commits = [commit] if commit else []
    checkpoint = Path(checkpoint_dir) / CHECKPOINT_NAME if checkpoint_dir else None
    if checkpoint and resume and find_checkpoint(checkpoint.parent) is not None:
        state = load_checkpoint(checkpoint, module_device(model))
        if state["identity"] != model.identity():
            raise GLTAError(f"{checkpoint} belongs to another model or data set; delete it or drop --resume")
        if "settings" in state:
            _check_resume(state["settings"], train, evaluation, model.config, checkpoint)
        model.load_state_dict(state["model"])
        if optimizer is not None:
            optimizer.load_state_dict(state["optimizer"])
        if scheduler is not None and state.get("scheduler"):
            scheduler.load_state_dict(state["scheduler"])
        rng.bit_generator.state = state["rng"]
        torch.set_rng_state(state["torch_rng"])
        start_epoch, bad_rounds, spent = state["epoch"] + 1, state["bad_rounds"], state["seconds"]
        best_score, best_epoch, best_state = state["best_score"], state["best_epoch"], state["best_state"]
        best_valid, history, within = state["best_valid"], state["history"], state.get("in_epoch")
        commits, before = continued_by(state, commit), earlier_peak(state)
        log(f"resumed from {checkpoint} {resumed_where(state)} (best {train.select_metric}={best_score:.4f})")
    step = procs.wrap(model) if optimizer is not None else model
    stopped_by = f"epoch limit ({train.epochs})"
    early_stop = f"early stopping (no {train.select_metric} gain in {train.patience} evaluations)"
    if bad_rounds >= train.patience:  # it had stopped early when it was interrupted (e.g. in its final evaluation)
        start_epoch, stopped_by = train.epochs, early_stop
    started = time.time() - spent

    def save(finished: int, rng_state: dict, in_epoch: dict | None = None) -> None:
        """The run so far: ``finished`` its last whole epoch, ``rng_state`` where the next epoch's draws start (an
        epoch under way restarts its draws and skips the batches ``in_epoch`` says it trained on)."""
        save_checkpoint(checkpoint, {
            "identity": model.identity(), "settings": _fixed_settings(model, train, evaluation),
            "model": model.state_dict(), "optimizer": optimizer and optimizer.state_dict(),
            "scheduler": scheduler and scheduler.state_dict(),
            "rng": rng_state, "torch_rng": torch.get_rng_state(), "epoch": finished,
            "bad_rounds": bad_rounds, "seconds": time.time() - started, "best_score": best_score,
            "best_epoch": best_epoch, "best_state": best_state, "best_valid": best_valid,
            "history": history, "in_epoch": in_epoch, "commits": commits,
            "peak_gib": max(before, resident_gib())})

    for epoch in range(start_epoch, train.epochs):
        model.train()
        losses = []
        if optimizer is not None:
            skip, done = resume_within(within, epoch)
            autosave = WithinEpoch(train.checkpoint_minutes, epoch, rng, None if checkpoint is None else save)
            losses = train_epoch(model, model.train_batches(rng, train.batch_size), optimizer, per_epoch,
                                 f"epoch {epoch}", show, step, scheduler, skip=skip, after_step=autosave, done=done)
        record = {"epoch": epoch, "loss": float(np.mean(losses)) if losses else float("nan"),
                  "seconds": round(time.time() - started, 2)}
        if (epoch + 1) % train.eval_every == 0 or epoch == train.epochs - 1:
            try:
                valid = evaluate(model, valid_eval, progress=show, calibrate_for=train.select_metric,
                                 per_user=train.select_metric)
            except KeyboardInterrupt:
                if optimizer is not None:
                    autosave.flush()  # every step of the epoch is in it: a resume goes straight to this validation
                raise
            score = valid[train.select_metric]
            record["valid"] = {train.select_metric: score}
            if getattr(model, "calibration", None):
                record["calibration"] = dict(model.calibration)
            if score > best_score:
                best_score, best_epoch, best_valid, bad_rounds = score, epoch, valid, 0
                best_state = copy.deepcopy(model.state_dict())
            else:
                bad_rounds += 1
            loss = f"loss {record['loss']:.4f}" if losses else "no gradient steps"  # a diverged run still shows nan
            log(f"epoch {epoch:3d}  {loss}  valid {train.select_metric} {score:.4f}  "
                f"best {best_score:.4f}@{best_epoch}  {record['seconds']:.0f}s"
                + (fusion_note(record["calibration"]) if "calibration" in record else ""))
            history.append(record)
            if checkpoint and procs.is_main:
                save(epoch, rng.bit_generator.state)
            procs.wait()
            if bad_rounds >= train.patience:
                stopped_by = early_stop
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
        best_valid = evaluate(model, full_valid, progress=show, calibrate_for=train.select_metric,
                              per_user=train.select_metric)
    best_valid = dict(best_valid)
    per_user_valid = best_valid.pop("per_user", None)  # (a checkpoint from before it was kept has none)
    epochs_run = history[-1]["epoch"] + 1 if history else 0
    return FitResult(valid=best_valid, best_epoch=best_epoch, epochs_run=epochs_run, train_seconds=train_seconds,
                     history=history, stopped_by=stopped_by, per_user_valid=per_user_valid, commits=commits,
                     peak_gib=max(before, resident_gib()))
