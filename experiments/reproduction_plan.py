"""What the paper's reproduction still lacks on this machine, and what it would cost: the ``--plan`` half of
``experiments/reproduce.py``.

``plan`` prints each data set's cells (done with how many seeds, or to do with the measured time of a like run, here or
on another machine, or for a data set whose GLTA never ran, another data set's scaled: ``scaled_default``) and
returns a ``Left``: the texts, frozen graphs, baselines, GLTA cells and seeds still to make, with their measured
times and peak memory (``reproduction_costs``: how a like run's time and memory are found and scaled to this
machine), which ``reproduction_queue.queue_jobs`` turns into jobs for this machine's cores. ``left_line`` sums it in
hours; ``print_commands`` prints the commands that do it, on this CPU and on a lent GPU.
"""

import glob
from dataclasses import dataclass, field
from pathlib import Path

import glta_variants
import reproduction_costs as costs
from glta import report
from glta.config import DataConfig, build_config
from glta.errors import GLTAError
from glta.report import (DATASETS, gpu_name, is_deterministic, load, peak_bytes, records, result_path,
                         strongest_baselines, train_seconds)
from glta.results import EXTRA_SEEDS, seed_path

GRAPH_BASELINES = ["lightgcn", "hccf", "lightgcn_plus", "hccf_plus"]
TEXT_BASELINES = ["rlmrec_con", "rlmrec_gen"]
RLMREC_KINDS = ("profile", "item_profile")  # the LLM-written texts RLMRec reads (the user profiles and item ones)
REFERENCES = ["ease", "gfcf"]  # training-free, beyond the paper
# when compute runs short, GLTA, GLTA+, every ablation and decoding cell and this many of a data set's strongest
# baselines (the paper's six, by validation N@10) get their seeds before the other baselines (issue 14)
PRIORITY_BASELINES = 2
GLTA_VARIANTS = list(report.GLTA_VARIANTS)  # a list: the plan adds "glta_plus" and the decoding modes to it
GLTA_MODES = ["first_logit", "autoregressive"]


def missing_texts(dataset: str) -> dict[str, int]:
    """How many users (items) still lack each LLM-written text GLTA and RLMRec read (0 = complete)."""
    import numpy as np

    from glta.data import load_dataset
    from glta.text.generate import load_item_texts, load_user_texts
    from glta.text.llm import llm_identity

    model = build_config("glta", dataset).model  # the LLM and generation settings GLTA reads its texts with
    data = load_dataset(DataConfig(name=dataset))
    identity, config = llm_identity(model.llm), model.generation
    users = int((np.diff(data.train.indptr) > 0).sum())
    missing = {kind: users - len(load_user_texts(identity, data, kind, config)) for kind in ("profile", "prediction")}
    missing["item_profile"] = data.n_items - len(load_item_texts(identity, data, config))
    return missing


SEEDS = 1 + len(EXTRA_SEEDS)  # every cell's goal: mean ± std over its main run and experiments/seeds.py's


def needed_texts(dataset: str) -> dict[str, int]:
    """``missing_texts`` less the item profiles where no RLMRec cell is left to train: only RLMRec reads them (GLTA
    reads the user texts, LightGCN+ and HCCF+ the items' own descriptions), and a fresh machine need not spend a
    core's quarter hour (ML-1M) to hours (goodreads-once) writing them again for nothing."""
    texts = missing_texts(dataset)
    if not any(rlmrec_left(dataset, method) for method in TEXT_BASELINES):
        texts.pop("item_profile")
    return texts


def rlmrec_left(dataset: str, method: str) -> bool:
    """Whether a cell that reads the item profiles (RLMRec's) is still to train, wholly or in part: no run, fewer
    than ``SEEDS`` seeds, a grid made from no clean commit (trained again), or a main run that keeps no per-user test
    values (its chosen point trained again: ``Left.per_user``)."""
    from glta.results import provenance_status
    from glta.tuning import has_per_user_values

    runs = records(Path("results"), dataset, method)
    return not runs or len(runs) < SEEDS or provenance_status(runs[0]["provenance"]) != "clean" \
        or not has_per_user_values(runs[0])


def cell_status(dataset: str, name: str, estimate: dict | None = None, scale: tuple[float, str] | None = None,
                ia_saved: tuple[float, str] = (0.0, "")) -> str:
    """done (seeds so far, the measured cost of one, on a machine like this one where one was: ``like_run``) or to
    do (the measured cost of a like run, when one exists; times ``scale``'s ratio where it says how such a run
    compares with the like one elsewhere: ``time_ratio``; less ``ia_saved``'s seconds, the like run's IA, where this
    cell reuses an IA result, and why: ``ia_saving``)."""
    runs = records(Path("results"), dataset, name)
    if runs and is_deterministic(name):
        return f"done, deterministic: needs no seeds ({costs.cost(runs[0])})"
    if runs:
        return f"done, {len(runs)} of {SEEDS} seeds ({costs.cost(costs.like_run(runs))} a seed)"
    skipped, why = ia_saved
    less = f" less its IA's {skipped:,.0f} s, whose result {why}" if skipped else ""
    if estimate and scale:
        return (f"to do (~{(train_seconds(estimate) - skipped) * scale[0]:,.0f} s: the default's {costs.cost(estimate)}"
                f"{less} times this cell's ratio to it on {scale[1]})")
    if estimate and skipped:
        return f"to do (~{train_seconds(estimate) - skipped:,.0f} s: a like run's {costs.cost(estimate)}{less})"
    return "to do" + (f" (a like run took {costs.cost(estimate)})" if estimate else "")


def ia_saving(dataset: str, name: str, default: dict | None, default_trains: bool = False) -> tuple[float, str]:
    """Seconds of ``default``'s run (its IA stage) that a training run of GLTA variant ``name`` skips, and why: the
    same IA result is in this machine's cache (``cached_ia``), or, with ``default_trains`` (the default is to be
    trained here too), the variant's IA is the default's (the PF/PD and w/o UA ablations), which the default's run
    makes and the variant then reads, or waits for when the two start together (``ia_result_path``). (0, "") where it
    trains IA of its own, has none, or no run says what IA costs."""
    from glta.models.glta import cached_ia, ia_result_path

    seconds = float((default or {}).get("training", {}).get("ia_seconds") or 0.0)
    if not seconds or name in GLTA_MODES:
        return 0.0, ""
    try:
        config = glta_variants.variant_config(dataset, name)
        if cached_ia(config, dataset) is not None:
            return seconds, "is cached here"
        if default_trains and name != "default" and (path := ia_result_path(config, dataset)) is not None and \
                path == ia_result_path(glta_variants.variant_config(dataset, "default"), dataset):
            return seconds, "the default's run here makes first"
    except (GLTAError, OSError, KeyError):  # an LLM or embeddings file not readable here: count IA
        pass
    return 0.0, ""


def time_ratio(dataset: str, name: str) -> tuple[float, str] | None:
    """How a GLTA cell's training time compares with the default's on the first other data set where both ran
    (ML-1M: GLTA+ 4,090 s against 28,525 s), to estimate a cell with no run of its own from the data set's default:
    None where no other data set has both, or for the default itself. A decoding mode's time is its evaluation's
    wall time (``mode_seconds``; ML-1M's FL: 1,219 s). Only two runs timed on the same kind of machine (the same GPU,
    or CPUs alike in hardware bf16) give a ratio: amazon-scientific's w/o PF&PD in fp32 against its default in bf16
    would count the CPUs' difference in as the cell's."""
    if name == "default":
        return None
    for other in DATASETS:
        if other == dataset:
            continue
        default = load(Path("results"), other, "default")
        cell = load(Path("results"), other, f"mode_{name}") if name in GLTA_MODES else \
            next(iter(records(Path("results"), other, name)), None)
        seconds = costs.mode_seconds(other, name) if name in GLTA_MODES else cell and train_seconds(cell)
        if default and seconds and train_seconds(default) > 0 and costs.timed_alike(cell, default):
            return seconds / train_seconds(default), other
    return None


@dataclass
class Left:
    """What the reproduction still lacks (``plan``), per data set: the names each kind of job would train."""

    texts: list[str] = field(default_factory=list)  # data sets whose LLM-written texts are incomplete
    # data set -> the kinds of its texts still to write that its cells left read (the texts job's --kinds)
    text_kinds: dict[str, str] = field(default_factory=dict)
    glta: dict[str, list[str]] = field(default_factory=dict)  # GLTA variants, GLTA+ and decoding modes not run
    mains: dict[str, list[str]] = field(default_factory=dict)  # baselines without a results file
    grids: dict[str, list[str]] = field(default_factory=dict)  # grids made from code no commit records
    # baselines whose main run (seed 2025) keeps no per-user test values, made before they were recorded: their
    # grid is retrained (``--retrain``), which trains only the chosen point again, with the same config and seed
    per_user: dict[str, list[str]] = field(default_factory=dict)
    seeds: dict[str, list[str]] = field(default_factory=dict)  # baseline cells short of SEEDS training seeds
    glta_seeds: dict[str, list[str]] = field(default_factory=dict)  # GLTA variants and GLTA+ short of them
    no_lightgcn: list[str] = field(default_factory=list)  # data sets whose frozen LightGCN is not in runs/ here
    # data set -> the other frozen graph models (LightGCN+, ...) its GLTA cells read (``model.graph``) not in runs/ here
    no_graph: dict[str, list[str]] = field(default_factory=dict)
    seconds: dict[tuple[str, str], float] = field(default_factory=dict)  # (data set, name): a like run's time
    # (data set, name) whose like run trained on a GPU: its time orders the queue, but a CPU total leaves it out
    gpu_timed: set[tuple[str, str]] = field(default_factory=set)
    # (data set, name): a GLTA cell whose like run was timed on a CPU that differs from this one in hardware bf16 (its
    # LLM in bf16 there, in fp32 here, or the reverse): summed apart from this CPU's total, as that CPU's hours, unless
    # ``cpu_ratio`` says how the two compare
    other_cpu_timed: set[tuple[str, str]] = field(default_factory=set)
    # this CPU's GLTA time over the other kind's and the data sets that measured it (``cpu_ratio``), if measured
    cpu_ratio: tuple[float, list[str]] | None = None
    # (data set, name): a GLTA cell whose like run was timed on a CPU alike in hardware bf16 but unlike this one in
    # AMX: counted as this CPU's time, times ``amx_ratio`` where that is measured (``costs.cpu_ratio(feature="amx")``)
    amx_timed: set[tuple[str, str]] = field(default_factory=set)
    amx_ratio: tuple[float, list[str]] | None = None
    # the same two ratios for a UA epoch (``costs.cpu_ratio(stage="ua")``), where measured: a like run's fit loop
    # (``fit_seconds``) counts at them, its IA and other LLM stages at the two above
    cpu_ua_ratio: tuple[float, list[str]] | None = None
    amx_ua_ratio: tuple[float, list[str]] | None = None
    fit_seconds: dict[tuple[str, str], float] = field(default_factory=dict)  # the fit loop's part of ``seconds``
    text_seconds: dict[str, float] = field(default_factory=dict)  # data set -> one process's time for its texts left
    # data set -> one process's time for the texts RLMRec reads alone (``RLMREC_KINDS``), where RLMRec waits for them
    # and GLTA's predictions are missing too (None: no rate measured)
    rlmrec_text_seconds: dict[str, float | None] = field(default_factory=dict)
    memory: dict[tuple[str, str], float | None] = field(default_factory=dict)  # (data set, name): a like run's peak
    # data set -> the baselines short of seeds that are not among its two strongest: their seeds go last (issue 14)
    later_seeds: dict[str, list[str]] = field(default_factory=dict)
    no_glta: list[str] = field(default_factory=list)  # data sets whose full GLTA has no run: its ablations wait
    # data set -> the decoding modes its default's seeds still to train read out of their models (in the seeds' jobs)
    mode_seeds: dict[str, list[str]] = field(default_factory=dict)
    # data set -> the default's seeds trained here whose job stopped before it had read every mode out of the model,
    # which is on this machine alone (``owed_mode_seeds``): their jobs run again to read them, training nothing
    owed_modes: dict[str, list[int]] = field(default_factory=dict)
    # data set -> the default's seeds whose results came from another machine without their model, which a decoding
    # mode still lacks (``lost_mode_seeds``): their jobs train them again (``seeds.py --retrain-lost``)
    lost_models: dict[str, list[int]] = field(default_factory=dict)
    owed_seconds: dict[str, float] = field(default_factory=dict)  # data set -> those reads' estimated seconds
    # (data set, name) of ``seeds``/``glta_seeds`` -> the extra seeds it still lacks (absent: every one of them)
    seeds_left: dict[tuple[str, str], list[int]] = field(default_factory=dict)
    # (data set, name): a GLTA cell of a data set whose default has no run anywhere, estimated by scaling another data
    # set's default run on a machine like this one (``scaled_default``): counted in the total and named as such, but
    # not a like run's time, so it does not order the queue (``seconds`` does)
    scaled: dict[tuple[str, str], float] = field(default_factory=dict)
    scaled_basis: dict[tuple[str, str], str] = field(default_factory=dict)  # how each ``scaled`` cell was scaled

    def seconds_here(self, cell: tuple[str, str] | None) -> float:
        """A like run's time for ``cell`` as this CPU would take it: a time measured only on a CPU unlike this one in
        hardware bf16 (in AMX) times ``cpu_ratio`` (``amx_ratio``) where that is measured, its fit loop's part at
        ``cpu_ua_ratio`` (``amx_ua_ratio``) where that one is; else as measured; 0 when no like run has one."""
        seconds = self.seconds.get(cell, 0.0)
        ratio, ua_ratio = self.ratios(cell)
        if not ratio:
            return seconds
        if not ua_ratio:
            return seconds * ratio[0]
        fit = min(self.fit_seconds.get(cell, 0.0), seconds)
        return (seconds - fit) * ratio[0] + fit * ua_ratio[0]

    def ratios(self, cell: tuple[str, str] | None) -> tuple[tuple[float, list[str]] | None, ...]:
        """The measured ratios (IA and other LLM stages, UA epochs) that scale ``cell``'s like run to this CPU."""
        if cell in self.other_cpu_timed:
            return self.cpu_ratio, self.cpu_ua_ratio
        if cell in self.amx_timed:
            return self.amx_ratio, self.amx_ua_ratio
        return None, None


def plan(datasets: list[str]) -> Left:
    """Print what is done and what is left for each data set, with measured costs; return what is left."""
    left = Left(cpu_ratio=costs.cpu_ratio(), amx_ratio=costs.cpu_ratio(feature="amx"),
                cpu_ua_ratio=costs.cpu_ratio(stage="ua"), amx_ua_ratio=costs.cpu_ratio(feature="amx", stage="ua"))
    for dataset in datasets:
        print(f"== {dataset}")
        texts = needed_texts(dataset)
        unwritten = sum(texts.values())
        user_rate, caveat, per_process = costs.text_rate(dataset)  # per_process: this machine's own, one process's
        item = costs.local_rate(("item_profile",), dataset)
        item_rate = item[0] if item else None  # this machine's own, else the user texts' rate stands in
        plan_baselines(dataset, left, texts_written=not any(texts.get(kind) for kind in RLMREC_KINDS))
        print("  texts            " + ", ".join(f"{kind}: {'done' if n == 0 else f'{n:,} to write'}"
                                                for kind, n in texts.items())
              + costs.text_hours(texts, user_rate, caveat, item_rate, per_process))
        if unwritten:
            left.texts.append(dataset)
            left.text_kinds[dataset] = ",".join(kind for kind, missing in texts.items() if missing)
            if seconds := costs.text_seconds(texts, user_rate, item_rate):
                left.text_seconds[dataset] = seconds
            rlmrec = {kind: texts[kind] for kind in RLMREC_KINDS if kind in texts}
            if any(rlmrec.values()) and any(n for kind, n in texts.items() if kind not in rlmrec):
                alone = costs.alone_ratio() if rlmrec.get("profile") else None  # no prediction to share the reading
                rate = user_rate * alone if user_rate and alone else user_rate
                left.rlmrec_text_seconds[dataset] = costs.text_seconds(rlmrec, rate, item_rate or user_rate)
        plan_glta(dataset, left)
    return left


def plan_baselines(dataset: str, left: Left, texts_written: bool) -> None:
    """Each baseline's status; into ``left`` the ones without a results file, the grids to train again (made from no
    clean commit) and the cells short of seeds. RLMRec's only where ``texts_written`` (the kinds it reads,
    ``RLMREC_KINDS``, are all in the cache: the predictions GLTA reads need not be)."""
    from glta.results import provenance_status
    from glta.tuning import has_per_user_values

    strongest = strongest_baselines(Path("results"), dataset, PRIORITY_BASELINES)
    for method in ["pop"] + GRAPH_BASELINES + REFERENCES + TEXT_BASELINES:
        runs = records(Path("results"), dataset, method)
        unclean = bool(runs) and not is_deterministic(method) and provenance_status(runs[0]["provenance"]) != "clean"
        no_values = bool(runs) and not unclean and not has_per_user_values(runs[0])
        print(f"  {method:16s} {cell_status(dataset, method)}"
              + (" — made from no clean commit of this history: its grid and seeds are trained again"
                 + (" once its texts are written" if method in TEXT_BASELINES and not texts_written else "")
                 if unclean else "")
              + (" — its main run keeps no per-user test values (the paired tests average the seeds that do): its "
                 "chosen point is trained again"
                 + (" once its texts are written" if method in TEXT_BASELINES and not texts_written else "")
                 if no_values else "") + under_way(dataset, method))
        if method in TEXT_BASELINES and not texts_written:
            continue  # RLMRec's profile embeddings are made here, from texts written first (by a queue before)
        if not runs:
            left.mains.setdefault(dataset, []).append(method)
            continue
        timed = costs.like_run(runs)
        left.seconds[dataset, method] = train_seconds(timed)
        if gpu_name(timed):  # timed on a GPU only: this CPU's pace where a run of the cell is under way here
            epochs, pace = runs[0].get("training", {}).get("epochs_run"), pace_here(dataset, method)
            if epochs and pace:
                left.seconds[dataset, method] = epochs * pace
            else:
                left.gpu_timed.add((dataset, method))
        left.memory[dataset, method] = peak_bytes(runs[0])
        if is_deterministic(method):
            continue
        if unclean:
            left.grids.setdefault(dataset, []).append(method)
        elif no_values:
            left.per_user.setdefault(dataset, []).append(method)
        if len(runs) < SEEDS or method in left.grids.get(dataset, []):
            left.seeds.setdefault(dataset, []).append(method)
            if method not in left.grids.get(dataset, []):  # a grid trained again trains every seed again
                left.seeds_left[dataset, method] = seeds_without_file(dataset, method)
            if method not in strongest:
                left.later_seeds.setdefault(dataset, []).append(method)


def plan_glta(dataset: str, left: Left) -> None:
    """GLTA's variants, decoding modes and GLTA+: their status; into ``left`` the ones not run, the trained ones short
    of seeds, and whether the frozen LightGCN they need is missing here."""
    default = load(Path("results"), dataset, "default")
    todo = [name for name in GLTA_VARIANTS + ["glta_plus"] if not records(Path("results"), dataset, name)]
    # a mode not read out of the default's main run, whose model is not here: each training seed of the default still
    # to come reads it out of its own new model (experiments/seeds.py); only where none is left to come is the main
    # run trained again for it, every mode then read out of the new model anew
    seeds_to_come = seeds_without_file(dataset, "default") if default is not None else []
    owed = owed_mode_seeds(dataset) if default is not None else []
    retrain = default is not None and "default" not in todo and not seeds_to_come and not owed \
        and glta_variants.model_needed(dataset, GLTA_MODES)
    # the default's seeds whose model is on another machine while a mode lacks them: trained again, once the main
    # model a mode needs is here (where it is trained again first, a later plan queues these)
    lost = sorted({seed for mode in GLTA_MODES for seed in lost_mode_seeds(dataset, mode)}) \
        if default is not None and not retrain else []
    if seeds_to_come or owed or lost:
        left.mode_seeds[dataset] = [mode for mode in GLTA_MODES if any(
            not glta_variants.mode_seed_is_done(dataset, mode, seed) for seed in seeds_to_come + owed + lost)]
    if lost:
        left.lost_models[dataset] = lost
    if retrain:
        todo += ["default"] + GLTA_MODES
    else:  # a mode reads the default model: trained first or here
        todo += [mode for mode in GLTA_MODES if not glta_variants.mode_is_done(dataset, mode)
                 and ("default" in todo or glta_variants.model_here(dataset))]
    ratios = {name: time_ratio(dataset, name) for name in GLTA_VARIANTS + ["glta_plus"] + GLTA_MODES}
    saved = {name: ia_saving(dataset, name, default, "default" in todo) for name in todo}  # IA a cell reuses
    mode_basis: dict[str, str] = {}  # how each decoding mode's time was estimated, for its line
    if not records(Path("results"), dataset, "default"):
        left.no_glta.append(dataset)
    if todo:
        left.glta[dataset] = todo
        # a training run's time for each variant; a decoding mode's evaluation where it ran before, here or on
        # another data set (scaled like a variant), else the other mode's (an evaluation, not a training run: it
        # belongs before the training runs), else no estimate (it goes last)
        left.seconds.update({(dataset, name): (train_seconds(default) - saved[name][0])
                             * (ratios.get(name) or (1.0,))[0] for name in todo if default and name not in GLTA_MODES})
        left.fit_seconds.update({(dataset, name): costs.fit_seconds(default) * (ratios.get(name) or (1.0,))[0]
                                 for name in todo if default and name not in GLTA_MODES})
        estimates = mode_estimates(dataset, [mode for mode in GLTA_MODES if mode in todo], default, ratios)
        left.seconds.update({(dataset, mode): seconds for mode, (seconds, _) in estimates.items()})
        mode_basis.update({mode: basis for mode, (_, basis) in estimates.items()})
        left.memory.update({(dataset, name): costs.own_peak(default) for name in todo})  # a mode's process loads it too
        if default is None and (scaled := scaled_default(dataset, left)):  # no like run: another data set's, scaled
            seconds, basis = scaled
            for name in todo:
                ratio, other = ratios.get(name) or (1.0, "")
                if name in GLTA_MODES and not other:
                    continue  # an evaluation measured nowhere: no scale of a training run says what it costs
                left.scaled[dataset, name] = seconds * ratio
                left.scaled_basis[dataset, name] = basis if name == "default" else "the default's estimate" + (
                    f" times {ratio:.2f}, this cell's time over the default's on {other}" if other else
                    " (no other data set has timed this cell against its default)")
        if default and gpu_name(default):  # every estimate above scales the default's time
            left.gpu_timed.update((dataset, name) for name in todo if (dataset, name) in left.seconds)
        elif default and costs.bf16_differs(default):
            left.other_cpu_timed.update((dataset, name) for name in todo if (dataset, name) in left.seconds)
        elif default and costs.amx_differs(default):
            left.amx_timed.update((dataset, name) for name in todo if (dataset, name) in left.seconds)
    seed_modes = mode_estimates(dataset, left.mode_seeds.get(dataset, []), default, ratios)
    if owed:
        left.owed_modes[dataset] = owed
        left.owed_seconds[dataset] = sum(seed_modes[mode][0] for seed in owed for mode in seed_modes
                                         if not glta_variants.mode_seed_is_done(dataset, mode, seed))
    for name in GLTA_VARIANTS + ["glta_plus"]:
        runs = records(Path("results"), dataset, name)
        reads = owed + lost if name == "default" else []
        if runs and (len(runs) < SEEDS or reads):  # experiments/seeds.py repeats a variant's recorded config
            left.glta_seeds.setdefault(dataset, []).append(name)
            left.seeds_left[dataset, name] = sorted(seeds_without_file(dataset, name) + reads)
            like = costs.like_run(runs)
            left.seconds[dataset, name], left.fit_seconds[dataset, name] = train_seconds(like), costs.fit_seconds(like)
            if name == "default":  # its seeds' jobs read the decoding modes out of their models too
                left.seconds[dataset, name] += sum(seconds for seconds, _ in seed_modes.values())
            if gpu_name(like):
                left.gpu_timed.add((dataset, name))
            elif costs.bf16_differs(like):
                left.other_cpu_timed.add((dataset, name))
            elif costs.amx_differs(like):
                left.amx_timed.add((dataset, name))
            left.memory[dataset, name] = costs.own_peak(like)
    if (todo or dataset in left.glta_seeds) and \
            not (Path("runs") / dataset / "lightgcn" / "embeddings.safetensors").is_file():
        left.no_lightgcn.append(dataset)
    from gpu_session import graphs_read

    missing = [graph for graph in graphs_read(dataset, todo + left.glta_seeds.get(dataset, []))
               if graph != "lightgcn" and not (Path("runs") / dataset / graph / "embeddings.safetensors").is_file()]
    if missing:
        left.no_graph[dataset] = missing
    for name in GLTA_VARIANTS:
        stale = name != "default" and records(Path("results"), dataset, name) and \
            not glta_variants.is_done(dataset, name)
        print(f"  glta {name:11s} {cell_status(dataset, name, default, ratios[name], saved.get(name, (0.0, '')))}"
              + (" — made with an earlier config: retrained by the next run" if stale else "")
              + (" — its model is not on this machine: trained again for the decoding modes, which are read out "
                 "of the new one" if name == "default" and retrain else "")
              + (f" — seed{'s' * (len(lost) > 1)} {', '.join(map(str, lost))} trained again here for the decoding "
                 "modes, whose model is on another machine (see the modes' lines)" if name == "default" and lost
                 else "")
              + here_at_ratio(left, dataset, name) + scaled_note(left, dataset, name) + under_way(dataset, name))
    for mode in GLTA_MODES:
        done = glta_variants.mode_is_done(dataset, mode)
        stale = not done and result_path(Path("results"), dataset, f"mode_{mode}").exists()
        seeds = int(done) + sum(glta_variants.mode_seed_is_done(dataset, mode, seed) for seed in EXTRA_SEEDS)
        seconds = left.seconds.get((dataset, mode))
        estimate = "" if seconds is None else f", ~{seconds:,.0f} s{mode_basis[mode]}"
        coming = [seed for seed in sorted(seeds_to_come + owed) if mode in left.mode_seeds.get(dataset, [])
                  and not glta_variants.mode_seed_is_done(dataset, mode, seed)]
        print(f"  glta {mode:11s} {f'done, {seeds} of {SEEDS} seeds' if seeds else 'to do'} (an evaluation of the "
              f"default model{estimate})"
              + (" — read out of a model of an earlier config: evaluated again by the next run" if stale else "")
              + (" — read out of the default model again once that is trained again" if done and retrain else "")
              + (f" — read out of the default's seed{'s' * (len(coming) > 1)} {', '.join(map(str, coming))} as "
                 "experiments/seeds.py trains them, in their jobs"
                 + (f" (~{seed_modes[mode][0]:,.0f} s each{seed_modes[mode][1]})" if mode in seed_modes else "")
                 if coming else "")
              + lost_note(dataset, mode) + scaled_note(left, dataset, mode))
    print(f"  {'glta_plus':16s} {cell_status(dataset, 'glta_plus', default, ratios['glta_plus'])}"
          f"{here_at_ratio(left, dataset, 'glta_plus')}{scaled_note(left, dataset, 'glta_plus')}"
          f"{under_way(dataset, 'glta_plus')}")


def lost_note(dataset: str, mode: str) -> str:
    """Why a decoding mode stays short of seeds that were trained: their models are on another machine."""
    lost = lost_mode_seeds(dataset, mode)
    if not lost:
        return ""
    return (f" — seed{'s' * (len(lost) > 1)} {', '.join(map(str, lost))} of the default trained on another machine, "
            f"whose model is not here: the queue trains {'them' if len(lost) > 1 else 'it'} again and reads this mode "
            "out of the new model (`experiments/seeds.py --retrain-lost`, the results file it replaces kept under "
            "seeds/replaced/; a default's seed costs what the default's line says)")


def scaled_default(dataset: str, left: Left | None = None) -> tuple[float, str] | None:
    """The default GLTA's training time on ``dataset``, where it has no run, scaled from the first other data set
    whose default has a run timed on a machine like this one (``timed_here``): that run's IA seconds times the ratio
    of the items (IA reads every item's text), the rest (prefix store, UA and its validation) times the ratio of the
    training users, at that run's number of epochs. Where no data set has such a run, one timed on another CPU counts
    at the ratios ``left`` measured between that kind of CPU and this one (IA and the rest apart, as ``Left.scale``
    counts a cell's like run; on the AVX2-only EPYC, ML-1M's default from a CPU with hardware bf16). Sequence lengths
    (history, texts) and where early stopping ends differ between data sets, so this is a scale, not a measurement:
    (seconds, how it was scaled), or None where no such run exists or a data set cannot be read here."""
    def cpu_scale(run: dict) -> tuple[float, float, str] | None:  # (IA ratio, rest ratio, what they are) or None
        if costs.timed_here(run):
            return 1.0, 1.0, ""
        if left is not None and costs.bf16_differs(run):
            ratio, ua_ratio = left.cpu_ratio, left.cpu_ua_ratio
        elif left is not None and costs.amx_differs(run):
            ratio, ua_ratio = left.amx_ratio, left.amx_ua_ratio
        else:
            return None
        if not ratio:
            return None
        rest = (ua_ratio or ratio)[0]
        return ratio[0], rest, f" at {ratio[0]:.2f} (IA) and {rest:.2f} (the rest) of that CPU's time here"

    found = None
    for other in DATASETS:
        if other == dataset:
            continue
        runs = [run for run in records(Path("results"), other, "default") if not gpu_name(run)]
        here = next((run for run in runs if costs.timed_here(run)), None)
        if here is not None:
            found = other, here, cpu_scale(here)
            break
        if found is None:
            found = next(((other, run, scale) for run in runs if (scale := cpu_scale(run))), None)
    if found is None:
        return None
    other, like, (ia_ratio, rest_ratio, how) = found
    try:
        (users, items), (like_users, like_items) = costs.dataset_sizes(dataset), costs.dataset_sizes(other)
    except (GLTAError, OSError):
        return None
    ia = float(like.get("training", {}).get("ia_seconds") or 0.0)
    seconds = ia * ia_ratio * items / like_items + (train_seconds(like) - ia) * rest_ratio * users / like_users
    return seconds, (f"{other}'s default ({costs.cost(like)}){how} scaled to {users:,} users (from {like_users:,}) "
                     f"and {items:,} items (from {like_items:,})")


def scaled_note(left: Left, dataset: str, name: str) -> str:
    """For a GLTA cell that no like run has timed: its scaled estimate here (``scaled_default``), for its line."""
    if (dataset, name) not in left.scaled:
        return ""
    return f"; ~{left.scaled[dataset, name]:,.0f} s here by scale, no like run: {left.scaled_basis[dataset, name]}"


def mode_estimates(dataset: str, modes: list[str], default: dict | None, ratios: dict
                   ) -> dict[str, tuple[float, str]]:
    """Each decoding mode's evaluation time on ``dataset`` and how it was estimated: where it ran here before, else
    from another data set scaled like a variant (``ratios``: ``time_ratio``'s), else another mode's (estimated here,
    or measured on ``dataset``); a mode with none of these is left out."""
    measured = {mode: seconds for mode in GLTA_MODES if (seconds := costs.mode_seconds_here(dataset, mode))}
    estimates: dict[str, tuple[float, str]] = {}
    for mode in modes:
        if mode in measured:
            estimates[mode] = measured[mode], ""
        elif default and ratios.get(mode):
            estimates[mode] = (train_seconds(default) * ratios[mode][0],
                               f" by its ratio to the default on {ratios[mode][1]}")
    known = {mode: seconds for mode, (seconds, _) in estimates.items()} | measured
    for mode in (mode for mode in modes if mode not in estimates):
        if like := next(iter(known), None):
            estimates[mode] = known[like], f" as {like}'s: measured nowhere yet"
    return estimates


def here_at_ratio(left: Left, dataset: str, name: str) -> str:
    """For a cell timed only on a CPU unlike this one in hardware bf16 (or in AMX): its time here at
    ``Left.cpu_ratio`` (``Left.amx_ratio``)."""
    cell = (dataset, name)
    ratio, ua_ratio = left.ratios(cell)
    if not ratio or cell not in left.seconds:
        return ""
    return f"; here ~{left.seconds_here(cell):,.0f} s at the measured {costs.ratio_words(ratio, ua_ratio)}"


@dataclass
class Remaining:
    """What ``Left`` lists, in seconds of one core by the measured time of like runs (``seconds_left``)."""

    total: float  # on this CPU, the texts included
    texts: float  # the texts' part of it (one process's measured rate)
    unknown: list[str]  # jobs no like run has timed on a CPU: not counted
    elsewhere: float = 0.0  # GLTA jobs timed only on a CPU unlike this one in hardware bf16: that CPU's seconds
    elsewhere_jobs: list[str] = field(default_factory=list)
    scaled_jobs: list[str] = field(default_factory=list)  # such jobs counted in ``total`` by ``Left.cpu_ratio``
    amx_scaled_jobs: list[str] = field(default_factory=list)  # jobs counted in ``total`` by ``Left.amx_ratio``
    estimated_jobs: list[str] = field(default_factory=list)  # jobs counted in ``total`` by ``Left.scaled``
    spent: float = 0.0  # what runs under way here have trained already: left out of ``total`` (``spent_here``)


def seconds_left(left: Left) -> Remaining:
    """What ``left`` lists in seconds of one core, by the measured time of like runs (``Left.seconds``; the texts at
    one process's measured rate). A seed already made is not counted again; a grid trained again counts its chosen
    point's time. A job timed only on a GPU is named, not counted; a GLTA job timed only on a CPU that differs from
    this one in hardware bf16 counts at that time times ``Left.cpu_ratio`` where one is measured, else is summed
    apart (its LLM runs in another precision here). A run under way here counts what its like run's time leaves
    after what it has trained already, and at least an epoch at its own pace (``spent_here``)."""
    remaining = Remaining(0.0, 0.0, [])

    def add(dataset: str, name: str, what: str, times: int = 1, seeds: bool = False) -> None:
        if not times:
            return
        if (seconds := left.seconds.get((dataset, name))) is None and (dataset, name) in left.scaled:
            remaining.total += left.scaled[dataset, name] * times  # no like run: another data set's, scaled
            remaining.estimated_jobs.append(what)
        elif seconds is None or (dataset, name) in left.gpu_timed:
            remaining.unknown.append(what)  # a GPU's seconds say little of this CPU's
        elif (dataset, name) in left.other_cpu_timed and left.cpu_ratio:
            remaining.total += count(left.seconds_here((dataset, name)), times, dataset, name, seeds)
            remaining.scaled_jobs.append(what)
        elif (dataset, name) in left.other_cpu_timed:
            remaining.elsewhere += seconds * times
            remaining.elsewhere_jobs.append(what)
        else:  # this CPU's time, or one alike in bf16 but not in AMX at ``Left.amx_ratio`` where measured
            remaining.total += count(left.seconds_here((dataset, name)), times, dataset, name, seeds)
            if (dataset, name) in left.amx_timed and left.amx_ratio:
                remaining.amx_scaled_jobs.append(what)

    def count(seconds: float, times: int, dataset: str, name: str, seeds: bool) -> float:
        # a GLTA cell's own run, or a cell's extra seeds: less what their runs under way here have trained
        runs = spent_here(dataset, name, seeds) if seeds or name in GLTA_VARIANTS + ["glta_plus"] else []
        spent = sum(min(trained, max(seconds - pace, 0.0)) for trained, pace in runs[:times])
        remaining.spent += spent
        return seconds * times - spent

    def seeds_missing(dataset: str, name: str, retrained: bool) -> int:  # a lost model's seed is trained again too
        lost = left.lost_models.get(dataset, []) if name == "default" else []
        return len(EXTRA_SEEDS) if retrained else len(seeds_without_file(dataset, name)) + len(lost)

    remaining.texts = sum(left.text_seconds.values())
    remaining.total += remaining.texts + sum(left.owed_seconds.values())  # modes read out of seeds trained here
    remaining.unknown += [f"{dataset}'s texts" for dataset in left.texts if dataset not in left.text_seconds]
    for dataset in left.no_lightgcn:
        add(dataset, "lightgcn", f"{dataset}'s frozen LightGCN")
    for dataset, graphs in left.no_graph.items():
        for graph in graphs:
            add(dataset, graph, f"{dataset}'s frozen {graph}")
    for kind, cells in (("", left.mains), ("grid of ", left.grids), ("chosen point of ", left.per_user),
                        ("glta ", left.glta)):
        for dataset, names in cells.items():
            for name in names:
                add(dataset, name, f"{dataset} {kind}{name}")
    for kind, cells in (("", left.seeds), ("glta ", left.glta_seeds)):
        for dataset, names in cells.items():
            for name in names:
                missing = seeds_missing(dataset, name, name in left.grids.get(dataset, []))
                add(dataset, name, f"{dataset} {kind}{name}'s seeds", missing, seeds=True)
    # a cell with no run yet gets its extra seeds once it has one (a later plan lists them): counted now too, or the
    # total would leave out two of every such cell's three runs; a decoding mode is read out of each of the default's
    # seeds where the default is to train for the first time, else (its model trained again) once
    for kind, cells in (("", left.mains), ("glta ", left.glta)):
        for dataset, names in cells.items():
            for name in (name for name in names if not is_deterministic(name)):
                owner = "default" if name in GLTA_MODES else name
                missing = len(seeds_without_file(dataset, owner)) if owner in names else 0
                add(dataset, name, f"{dataset} {kind}{name}'s seeds", missing, seeds=True)
    return remaining


def spent_here(dataset: str, name: str, seeds: bool) -> list[tuple[float, float]]:
    """(seconds trained so far, seconds an epoch) of each run of a cell under way on this machine: its extra seeds'
    runs, or else the cell's own (a GLTA variant's); a grid point's are left out (a grid counts one point's time)."""
    from glta.checkpoint import CHECKPOINT_NAME, checkpoint_spent

    return [spent for label, folder in run_folders(dataset, name).items()
            if (label.startswith("seed ") if seeds else label == "")
            and (spent := checkpoint_spent(folder / CHECKPOINT_NAME))]


def named(jobs: list[str], most: int = 6) -> str:
    return ", ".join(jobs[:most]) + (f" and {len(jobs) - most} more" if len(jobs) > most else "")


def left_line(left: Left, workers: int = 2) -> str:
    """The plan's total: hours of one core for what is left, and of wall time with ``workers`` jobs side by side."""
    from glta.device import cpu_flags, cpu_has_bf16

    remaining = seconds_left(left)
    total, texts, unknown = remaining.total, remaining.texts, remaining.unknown
    if not total and not unknown and not remaining.elsewhere_jobs:
        return "Left: nothing"
    there, here = ("with", "fp32") if not cpu_has_bf16() else ("without", "bf16")
    amx_here = "amx_bf16" in cpu_flags()
    scaled = ""
    if remaining.scaled_jobs:
        scaled = (f"; {named(remaining.scaled_jobs)}, timed only on a CPU {there} hardware bf16, count at "
                  f"{costs.ratio_words(left.cpu_ratio, left.cpu_ua_ratio)} times that CPU's time: this one's over it "
                  f"{costs.measured_by(left.cpu_ratio, left.cpu_ua_ratio)}")
    return (f"Left: ~{total / 3600:,.1f} h of one core on this CPU by the measured time of like runs"
            + (f" (the texts ~{texts / 3600:,.1f} h of it)" if texts else "")
            + f", ~{total / workers / 3600:,.1f} h of wall time for `--jobs {workers}` with every core busy"
            + (f"; apart from it, ~{remaining.elsewhere / 3600:,.1f} h of one core on a CPU {there} hardware bf16, "
               f"the only kind that timed {named(remaining.elsewhere_jobs)} (their LLM runs in {here} here; no stage "
               "has trained on both kinds of CPU to say how the times compare)" if remaining.elsewhere_jobs else "")
            + scaled
            + (f"; {named(remaining.amx_scaled_jobs)}, timed on a CPU {'without' if amx_here else 'with'} AMX, "
               f"count at {costs.ratio_words(left.amx_ratio, left.amx_ua_ratio)} times that time: this one's over it "
               f"{costs.measured_by(left.amx_ratio, left.amx_ua_ratio)}" if remaining.amx_scaled_jobs else "")
            + (f"; {named(remaining.estimated_jobs)}, which no like run has timed, count at another data set's "
               "default scaled by users and items (their lines above)" if remaining.estimated_jobs else "")
            + (f"; not counted: {named(unknown)}, which no like run has timed on a CPU" if unknown else "")
            + (f"; runs under way here count what they have left (~{remaining.spent / 3600:,.1f} h of them trained "
               "already)" if remaining.spent else ""))


def run_folders(dataset: str, name: str) -> dict[str, Path]:
    """The folders on this machine where a cell's runs keep their checkpoints, by what each is: a GLTA variant's own
    run (""), a baseline's grid points and either's extra seeds (``experiments/seeds.py``'s folders, named after the
    cell's results file: ``glta-2026`` for the default's)."""
    runs = Path("runs") / dataset
    folders = {"": glta_variants.variant_paths(dataset, name)[1]} if name in GLTA_VARIANTS + ["glta_plus"] else {}
    folders |= {f"grid point {folder.name}": folder for folder in sorted((runs / name / "grid").glob("*/"))}
    stem = result_path(Path("results"), dataset, name).stem  # experiments/seeds.py names its folders after it
    return folders | {f"seed {folder.name.rsplit('-', 1)[1]}": folder
                      for folder in sorted((runs / "seeds").glob(f"{glob.escape(stem)}-*/"))
                      if folder.name.rsplit("-", 1)[1].isdigit()}


def pace_here(dataset: str, name: str) -> float | None:
    """Seconds an epoch of a cell's runs under way on this machine (the slowest of them), None where none has timed
    an epoch yet."""
    from glta.checkpoint import CHECKPOINT_NAME, checkpoint_pace

    paces = [pace for folder in run_folders(dataset, name).values()
             if (pace := checkpoint_pace(folder / CHECKPOINT_NAME))]
    return max(paces, default=None)


def run_results(dataset: str, name: str, label: str) -> Path:
    """The results file a run folder of ``run_folders`` writes when it finishes, by its label there."""
    if label.startswith("seed "):
        return seed_path(result_path(Path("results"), dataset, name), int(label.removeprefix("seed ")))
    if label.startswith("grid point "):
        return Path("results") / dataset / "grid" / name / f"{label.removeprefix('grid point ')}.json"
    return glta_variants.variant_paths(dataset, name)[0]


def under_way(dataset: str, name: str) -> str:
    """Where the interrupted runs of a cell stand on this machine (their checkpoints), for the plan's line, and the
    finished runs here whose results file is missing (a queue's results reset before they were collected): the
    queue stops on those rather than train them over, so the plan names them and the way back."""
    from glta.checkpoint import CHECKPOINT_NAME, checkpoint_progress
    from glta.tuning import finished_run

    folders = run_folders(dataset, name)
    like = records(Path("results"), dataset, name)
    like_epochs = like[0].get("training", {}).get("epochs_run") if like else None
    found = [f"{what}: {progress}".removeprefix(": ") for what, folder in folders.items()
             if (progress := checkpoint_progress(folder / CHECKPOINT_NAME, like_epochs))]
    lost = [f"{folder} ({out} missing)" for what, folder in folders.items()
            if finished_run(folder) is not None and not (out := run_results(dataset, name, what)).exists()]
    return ((f"; under way here: {'; '.join(found)} (the queue continues it)" if found else "")
            + (f"; finished here without its results file: {'; '.join(lost)}: bring the file back "
               "(experiments/collect_queue.py from a queue's worktree) or write one with `glta evaluate --run-dir "
               "RUN --out FILE`" if lost else ""))


def owed_mode_seeds(dataset: str) -> list[int]:
    """The default's extra seeds whose results file is written and whose model is on this machine, but which lack a
    decoding mode read out of that model: their ``experiments/seeds.py`` job stopped between the two (the model is
    here alone, and hours to train again), so it runs again, and reads the modes without training."""
    return [seed for seed in EXTRA_SEEDS if seed not in seeds_without_file(dataset, "default")
            and (glta_variants.seed_model(dataset, seed) / "run.json").is_file()
            and any(not glta_variants.mode_seed_is_done(dataset, mode, seed) for mode in GLTA_MODES)]


def lost_mode_seeds(dataset: str, mode: str) -> list[int]:
    """The default's extra seeds whose results file is written but whose model is not on this machine (trained on
    another) and which lack ``mode``: no job can read it out, only that seed trained again (hours; the queue won't)."""
    return [seed for seed in EXTRA_SEEDS if seed not in seeds_without_file(dataset, "default")
            and not (glta_variants.seed_model(dataset, seed) / "run.json").is_file()
            and not glta_variants.mode_seed_is_done(dataset, mode, seed)]


def seeds_without_file(dataset: str, name: str) -> list[int]:
    """The extra seeds of a cell (a method, GLTA variant or GLTA+) that have no results file yet."""
    return [seed for seed in EXTRA_SEEDS if not seed_path(result_path(Path("results"), dataset, name), seed).exists()]


def missing_seeds(dataset: str, names: list[str]) -> list[str]:
    """``<name>@<seed>`` for each extra seed a GLTA cell lacks (experiments/gpu_session.py's spelling)."""
    return [f"{name}@{seed}" for name in names for seed in seeds_without_file(dataset, name)]


def specs(names: dict[str, list[str]]) -> str:
    return " ".join(f"{dataset}:{','.join(methods)}" for dataset, methods in names.items())


def print_commands(left: Left) -> None:
    """The commands that do what is left: the CPU queue, and the calls for a lent GPU."""
    from gpu_session import reads_texts

    from glta.device import cpu_has_bf16

    slow = not cpu_has_bf16()  # the LLM runs in fp32 here: texts and GLTA slower (docs/glta.md, Compute)
    cheapest = min(left.text_seconds, key=left.text_seconds.get) if left.text_seconds else None
    measured = slow and left.cpu_ratio and cheapest  # GLTA in fp32 here takes a measured multiple of the time
    if measured:
        ratio, measured_on = left.cpu_ratio
        flags, why = f" --texts-for {cheapest}", (
            f"  (this CPU has no hardware bf16: its GLTA took {ratio:.2f} times the time of one with it, an IA stage "
            f"trained on both ({', '.join(measured_on)}); --texts-for {cheapest}: the fewest texts, "
            f"~{left.text_seconds[cheapest] / 3600:,.1f} h of one process, then the GLTA cells that read them; "
            "--texts-for takes several data sets, and without it every data set's texts come first)")
    elif slow:
        flags, why = " --no-llm", ("  (--no-llm: this CPU has no hardware bf16, so the LLM would run in fp32, slower "
                                   "by an amount no stage trained on both kinds of CPU has measured yet; the texts "
                                   "and GLTA wait for a lent GPU)")
    else:
        flags, why = "", ""
    print("On this CPU, in the background (every job resumes; README, \"Reproducing the paper\"): nohup "
          f".venv/bin/python experiments/reproduce.py --jobs 2 --hours 2.5{flags} --no-progress > reproduce.log 2>&1 &"
          + why)
    textless = [f"{dataset} {name}{what}" for cells, what in ((left.glta, ""), (left.glta_seeds, "'s seeds"))
                for dataset, names in cells.items() for name in names
                if slow and dataset in left.texts and not reads_texts(dataset, name)]
    if textless and not measured:  # textless is empty where the LLM has bf16 here
        print("  --no-texts instead of --no-llm also trains, in fp32, the GLTA cells that read no LLM-written text: "
              + ", ".join(textless))
    if textless and measured:  # the other choice: no core spent on texts, both on what reads none
        print(f"  --no-texts instead of --texts-for {cheapest} writes no texts here: both cores train what reads "
              f"none (the GLTA cells {', '.join(textless)}, and the graph baselines), and the cells that read texts "
              "wait for a lent GPU")
    if slow and not measured and cheapest:  # the data set whose texts cost least: the GLTA cells they unlock
        print(f"  --texts-for {cheapest} instead also writes {cheapest}'s texts here (~"
              f"{left.text_seconds[cheapest] / 3600:,.1f} h of one process, the fewest), then trains the GLTA cells "
              "that read them")
    for dataset, seconds in left.rlmrec_text_seconds.items():  # RLMRec's cells wait for texts: only its kinds
        every = left.text_seconds.get(dataset)
        cost = f" (~{seconds / 3600:,.1f} h of one process against ~{every / 3600:,.1f} h for every kind)" \
            if seconds and every else ""
        print(f"  --texts-for {dataset}:{','.join(RLMREC_KINDS)} writes only the texts RLMRec reads{cost}; the "
              "next queue then trains its RLMRec cells here, while the GLTA cells that read predictions wait")
    print_gpu_commands(left)


def retrained_grids(left: Left) -> dict[str, list[str]]:
    """Data set -> the baselines whose grid a queue or a GPU call trains again (``--retrain``): those made from code
    no commit records, and those whose chosen point keeps no per-user values."""
    return {dataset: list(dict.fromkeys(left.grids.get(dataset, []) + left.per_user.get(dataset, [])))
            for dataset in dict.fromkeys([*left.grids, *left.per_user])}


def print_gpu_commands(left: Left) -> None:
    """The calls for a lent GPU, and what they train first that is not here."""
    # on a GPU only what travels: a decoding mode needs its default model there (a frozen LightGCN missing here is
    # trained there first); a cell's missing seeds go as <variant>@<seed>
    glta = {dataset: [name for name in left.glta.get(dataset, []) if name not in GLTA_MODES
                      or "default" in left.glta[dataset]] + missing_seeds(dataset, left.glta_seeds.get(dataset, []))
            + [f"default@{seed}" for seed in left.lost_models.get(dataset, [])]  # trained again there for the modes
            for dataset in dict.fromkeys([*left.glta, *left.glta_seeds])}
    glta = {dataset: names for dataset, names in glta.items() if names}
    if left.texts or glta:
        print("On a lent GPU (README, \"GPU users\"): .venv/bin/python experiments/gpu_session.py prepare "
              + (f"--datasets {' '.join(left.texts)}" if left.texts else "--no-texts")
              + (f" --glta {specs(glta)}" if glta else "")
              + "  (jobs side by side; a GLTA variant starts once its data set's texts are written)")
    retrained = retrained_grids(left)
    if left.seeds or retrained:
        print("Graph baselines on a lent GPU (one call, no LLM): .venv/bin/python experiments/gpu_session.py prepare "
              "--no-texts" + (f" --baselines {specs(retrained)}" if retrained else "")
              + (f" --seeds {specs(left.seeds)}" if left.seeds else "")
              + "  (--baselines: grids trained again, each point clean commits of this history did not make and"
                " a chosen point without per-user values)")
    if left.no_lightgcn:
        print("GLTA on " + ", ".join(left.no_lightgcn) + " reads a frozen LightGCN that is not here: a GPU call trains "
              "it there first and `collect` brings it back; the CPU queue trains it itself (`glta pretrain --dataset "
              f"{left.no_lightgcn[0]}`)")
    for dataset, graphs in left.no_graph.items():
        them = "them" if len(graphs) > 1 else "it"
        print(f"GLTA cells on {dataset} read {', '.join(graphs)} (`model.graph`), not trained here: a GPU call trains "
              f"{them} there first (on MiniLM embeddings made here and carried) and `collect` brings {them} back; "
              f"the CPU queue trains {them} itself")
