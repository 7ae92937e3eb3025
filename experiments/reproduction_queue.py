"""The reproduction's CPU queue: what ``reproduction_plan.plan`` lists as left becomes resumable jobs of one thread
each, run side by side on this machine's cores by ``job_runner.run_jobs`` (``experiments/reproduce.py --jobs N``).

``queue_jobs`` decides the order (the texts and frozen graphs GLTA waits for first, then the longest or shortest
first by the measured time of a like run, seeds and orphaned ablations last) and which jobs share a prefix store;
``run_queue`` runs them until done or a deadline, and any interrupted job continues from its checkpoint when the same
command runs again.
"""

import json
import os
import sys
from pathlib import Path

import glta_variants
from reproduction_plan import GLTA_MODES, Left, plan, retrained_grids
from glta.errors import GLTAError
from glta.report import records
from glta.paths import atomic_write


def queue_jobs(left: Left, logs: Path, workers: int = 1, llm: bool = True, shortest_first: bool = False,
               texts_for: list[str] | None = None, up_front: list[str] | None = None) -> list:
    """What is left as jobs of one thread each for ``job_runner.run_jobs``: the texts and any missing frozen
    LightGCN first (GLTA waits for them), then everything else longest first by the measured time of a like run
    (``shortest_first``: the shortest first, so that a machine held for a few hours finishes whole cells instead of
    starting every long one; a job with no like run measured goes last either way), except the extra seeds of GLTA
    cells, which go after the other jobs (the GLTA cells with no run first), then the baselines' chosen points
    trained again for their per-user values alone (``Left.per_user``), and the seeds of the baselines outside each
    data set's two strongest (``Left.later_seeds``), which go after all of them. Ahead of
    all of them, in that order among themselves, the jobs an earlier queue on this machine started (their log is in
    ``logs``): their checkpoints and caches are here, and a later session may get a fresh machine without them. A
    decoding mode goes right after the run of the default model it reads, or ahead of every job where that model is
    here already: the model is on this machine's disk alone, and hours to train again; where a mode has no run and
    the default's seeds read it out of their models (``Left.mode_seeds``), the first of those seeds goes there, and
    so does a seed trained here whose job stopped before reading its modes (``Left.owed_modes``). A seed of the
    default whose model is on another machine while a mode lacks it (``Left.lost_models``) is trained again
    (``seeds.py --retrain-lost``) after the other GLTA seeds: its cell has the seed already, its modes lack it.
    With two or more workers a data set's texts are written by two processes (``torchrun``; twice the rate of one on
    a 2-core machine, docs/glta.md) taking two of them, or by one where a job an earlier queue started resumes
    beside them. Without ``llm``, only the jobs that never run the LLM: the graph baselines, the references
    and RLMRec where its texts are written (a CPU without hardware bf16, where the LLM runs in fp32, leaves the texts
    and GLTA to a lent GPU). With ``texts_for`` (None: every data set), only those data sets' texts are written and
    the jobs that would wait for the others' are left out; a GLTA cell that reads no LLM-written text (w/o PF&PD)
    still runs, as do the GLTA cells of a data set whose texts are here. An entry ``DATA:KIND,KIND`` writes only
    those kinds of its texts (``goodreads-once:profile,item_profile``: what RLMRec reads, so that a later queue
    trains RLMRec here while the GLTA cells reading predictions wait for a lent GPU), and a GLTA cell reading a kind
    left unwritten is left out too. An ablation (or decoding mode) of a data set
    whose full GLTA has no run and none queued goes last, even one started before: until that run exists it is
    compared with nothing (a frozen graph only such ablations read is trained just before them). ``up_front`` names
    jobs to run before all of these, in its order: a job's name (``seed-ml-1m-rlmrec_con-2027``) or a cell
    (``ml-1m:rlmrec_con``: each of its jobs); a job still waits for what it reads (its texts, its frozen graph)."""
    import dataclasses

    from gpu_session import KINDS, graphs_read, session_jobs, texts_read
    from job_runner import Job, log_name

    from glta.text.generate import GenerationConfig

    retrained = retrained_grids(left)
    grids = {dataset: list(dict.fromkeys(left.mains.get(dataset, []) + retrained.get(dataset, [])))
             for dataset in {**left.mains, **retrained}}
    pops = [Job(f"pop-{dataset}", [sys.executable, "-m", "glta", "train", "pop", "--dataset", dataset, "--no-progress"])
            for dataset, methods in grids.items() if "pop" in methods]  # no grid: experiments/baselines.py has none
    grids = {dataset: [m for m in methods if m != "pop"] for dataset, methods in grids.items()}
    seeds = {dataset: left.seeds.get(dataset, []) + left.glta_seeds.get(dataset, [])
             for dataset in dict.fromkeys([*left.seeds, *left.glta_seeds])}
    wanted = None if texts_for is None else dict(map(texts_spec, texts_for))

    def to_write(dataset: str) -> list[str]:  # the kinds of the data set's texts this queue writes
        kinds = left.text_kinds.get(dataset, KINDS).split(",") if dataset in left.texts else []
        if wanted is None:
            return kinds
        return [kind for kind in kinds if dataset in wanted and (wanted[dataset] is None or kind in wanted[dataset])]

    writes = {dataset: ",".join(kinds) for dataset in left.texts if (kinds := to_write(dataset))}
    jobs = pops + session_jobs(left.texts, left.glta, GenerationConfig().batch_size, limit=0, check_seconds=0,
                               out=logs, threads=1, seeds=seeds, baselines=grids, kinds=writes)
    jobs = [job for job in jobs if job.seed is None or job.cell not in left.seeds_left
            or job.seed in left.seeds_left[job.cell]]  # a seed already trained: no job

    def glta_seed(job) -> bool:
        return job.seed is not None and job.cell[1] in left.glta_seeds.get(job.cell[0], [])

    def reads_llm(job) -> bool:  # a GLTA run, or a seed of one
        return job.name.startswith("glta-") or glta_seed(job)

    def unwritten(job) -> set[str]:  # the kinds of text its prompts read that are still to write
        if not reads_llm(job) or job.cell[0] not in left.texts:
            return set()
        return set(texts_read(*job.cell)) & set(left.text_kinds.get(job.cell[0], KINDS).split(","))

    def waits_for_texts(job) -> bool:  # for texts this queue does not write
        if job.name.startswith("texts-"):
            return not to_write(job.name.removeprefix("texts-"))
        kinds = unwritten(job)
        return bool(kinds) and not kinds <= set(to_write(job.cell[0]))

    if not llm:
        jobs = [job for job in jobs if not (job.name.startswith("texts-") or reads_llm(job))]
    jobs = [job for job in jobs if not waits_for_texts(job)]
    for job in jobs:  # a GLTA job waits for its data set's texts job where it reads a kind that job writes
        texts = f"texts-{job.cell[0]}" if reads_llm(job) else None
        if texts and not unwritten(job):
            job.after = tuple(name for name in job.after if name != texts)
        elif texts and texts not in job.after:
            job.after += (texts,)
        if reads_llm(job):
            job.store = prefix_store(*job.cell)  # its UA stage and evaluations read this store
        if job.cell is not None:
            job.memory = left.memory.get(job.cell)
    first = [job for job in jobs if job.name.startswith("texts-")]
    glta_data = {job.cell[0] for job in jobs if reads_llm(job)}  # a frozen graph serves GLTA only
    for dataset in [dataset for dataset in left.no_lightgcn if dataset in glta_data]:
        name = f"pretrain-{dataset}"
        first.append(Job(name, [sys.executable, "-m", "glta", "pretrain", "--dataset", dataset, "--out",
                                str(logs / f"{name}.json"), "--no-progress", "--resume", "train.threads=1"]))
        for job in jobs:
            if reads_llm(job) and job.cell[0] == dataset:
                job.after += (name,)
    for dataset, graphs in left.no_graph.items():  # another frozen graph a GLTA cell still queued reads
        for graph in graphs:  # its results file goes to the logs: Table 2's row stays the committed run
            readers = [job for job in jobs if reads_llm(job) and job.cell[0] == dataset
                       and graph in graphs_read(dataset, [job.cell[1]])]
            if not readers:
                continue
            name = f"graph-{dataset}-{graph}"
            first.append(Job(name, [sys.executable, "-m", "glta", "train", graph, "--dataset", dataset, "--out",
                                    str(logs / f"{name}.json"), "--no-progress", "--resume", "train.threads=1"]))
            for job in readers:
                job.after += (name,)

    # issue 14's order when compute runs short: the seeds of a baseline that is not among its data set's strongest
    # go last, before them the chosen points trained again for their per-user values alone (``Left.per_user``: the
    # cell has its numbers, its paired tests average fewer seeds), and before those the extra seeds of GLTA cells (a
    # GLTA cell with no run is a "—" in the tables, one with a run has its numbers already: each GLTA run costs hours
    # here); the rest longest (or shortest) first by a
    # like run's measured time, a job without one last, Table 2's GLTA and GLTA+ rows before the ablations of equal
    # time (one measured on a CPU unlike this one in hardware bf16 counts at the measured ratio: ``Left.seconds_here``)
    def main_row(job) -> bool:
        return job.cell is not None and job.cell[1] in ("default", "glta_plus")

    def later(job) -> bool:
        return job.seed is not None and job.cell[1] in left.later_seeds.get(job.cell[0], [])

    def fills(job) -> bool:  # a chosen point trained again for its per-user values alone: after the GLTA seeds
        return job.name.startswith("grid-") and job.cell[1] in left.per_user.get(job.cell[0], [])

    names = {job.name for job in jobs}

    def is_mode(job) -> bool:  # a decoding mode, read out of its data set's default model
        return job.name.startswith("glta-") and job.cell[1] in GLTA_MODES

    def orphan(job) -> bool:  # an ablation of a data set whose full GLTA has no run, none queued: nothing to compare
        dataset, name = job.cell if reads_llm(job) else (None, None)
        return name not in (None, "default", "glta_plus") and dataset in left.no_glta \
            and f"glta-{dataset}-default" not in names

    def retrains(job) -> bool:  # a seed that has its results, trained again for the modes its lost model lacks
        return job.cell is not None and job.cell[1] == "default" and job.seed in left.lost_models.get(job.cell[0], [])

    rest = [job for job in jobs if job not in first]
    if shortest_first:
        rest.sort(key=lambda job: (orphan(job), later(job), fills(job), glta_seed(job), retrains(job),
                                   not left.seconds.get(job.cell), left.seconds_here(job.cell), not main_row(job)))
    else:
        rest.sort(key=lambda job: (not orphan(job), not later(job), not fills(job), not glta_seed(job),
                                   not retrains(job), left.seconds_here(job.cell), main_row(job)), reverse=True)
    queue = first + rest
    started = [job for job in queue if (logs / log_name(job.name)).exists() and not orphan(job)]
    queue = started + [job for job in queue if job not in started]
    for graph in [job for job in queue if job.name.startswith(("pretrain-", "graph-")) and job not in started]:
        readers = [job for job in queue if graph.name in job.after]
        if readers and all(map(orphan, readers)):  # it serves only ablations that wait last: it waits with them
            queue.remove(graph)
            queue.insert(min(map(queue.index, readers)), graph)

    # a decoding mode reads a model that only this machine's disk holds (a fresh machine trains it again, hours, to
    # read a mode out of it): right after that model's run, or first of all where the model is here already; where
    # a mode has no run at all and the default's seeds read it out of their models (``Left.mode_seeds``), the first
    # of those seeds goes there as a mode would
    def fills_mode(job) -> bool:
        dataset = job.cell[0] if glta_seed(job) and job.cell[1] == "default" else None
        empty = [mode for mode in left.mode_seeds.get(dataset, []) if not records(Path("results"), dataset,
                                                                                  f"mode_{mode}")]
        return bool(empty) and job is next(j for j in queue if glta_seed(j) and j.cell == job.cell)

    def owes_modes(job) -> bool:  # a default seed trained here whose modes are still to read (``Left.owed_modes``)
        return glta_seed(job) and job.cell[1] == "default" and job.seed in left.owed_modes.get(job.cell[0], [])

    for dataset in dict.fromkeys(job.cell[0] for job in queue if (is_mode(job) or fills_mode(job))
                                 and not orphan(job)):
        modes = [job for job in queue if (is_mode(job) or fills_mode(job)) and job.cell[0] == dataset]
        queue = [job for job in queue if job not in modes]
        default = [i for i, job in enumerate(queue) if job.name == f"glta-{dataset}-default"]
        at = default[0] + 1 if default else 0
        queue[at:at] = modes
    owed = [job for job in queue if owes_modes(job)]  # their model is here: ahead of everything, minutes each
    queue = owed + [job for job in queue if job not in owed]
    for spec in reversed(up_front or []):  # each named job (or each job of a named cell) to the front, in that order
        named = [job for job in queue if spec in (job.name, ":".join(job.cell or ()))]
        if not named:
            raise GLTAError(f"--first {spec}: no job of that name or cell is left to run; the jobs left: "
                            + (", ".join(job.name for job in queue) or "none"))
        queue = named + [job for job in queue if job not in named]
    # the texts by two processes where no job an earlier queue started here resumes beside them (each holds a
    # worker for hours, and a two-process job waits for two free workers); torchrun, quiet when stopped
    held = sum(not job.name.startswith("texts-") for job in started)
    if workers - held >= 2:
        launch = [sys.executable, str(Path(__file__).with_name("launch.py")), "--standalone", "--nproc-per-node", "2"]
        queue = [dataclasses.replace(job, slots=2, command=launch + job.command[1:]) if job.name.startswith("texts-")
                 else job for job in queue]
    return queue


def texts_spec(entry: str) -> tuple[str, frozenset[str] | None]:
    """A ``--texts-for`` entry: ``DATA`` (every kind its cells read) or ``DATA:KIND,KIND`` -> (data set, kinds)."""
    from glta.text.generate import TEXT_KINDS

    name, colon, listed = entry.partition(":")
    kinds = [kind.strip() for kind in listed.split(",") if kind.strip()]
    wrong = [kind for kind in kinds if kind not in TEXT_KINDS]
    if wrong or (colon and not kinds):
        raise GLTAError(f"--texts-for {entry}: {'unknown kind(s) ' + ', '.join(wrong) if wrong else 'no kind named'}"
                        f"; choose from {', '.join(TEXT_KINDS)} (e.g. {name}:profile,item_profile), or name the "
                        "data set alone for every kind its cells read")
    return name, frozenset(kinds) or None


def job_memory() -> float | None:
    """The bytes the queue's jobs may hold together: 85% of this machine's memory (the rest for the system and the
    page cache a GLTA job's prefix store reads through), None where /proc/meminfo cannot tell."""
    try:
        with open("/proc/meminfo") as meminfo:
            total = next(int(line.split()[1]) for line in meminfo if line.startswith("MemTotal:"))
    except (OSError, StopIteration, ValueError):
        return None
    return 0.85 * total * 1024


def prefix_store(dataset: str, name: str) -> str | None:
    """What tells apart the prefix stores GLTA cells read (``glta.align.prefix``): the data set, the LLM and the
    text the prompts open with, which the PF/PD ablations change (a decoding mode reads its model's); None without a
    store."""
    model = glta_variants.variant_config(dataset, "default" if name in GLTA_MODES else name).model
    if not model.prefix_cache:
        return None
    return "|".join(map(str, (dataset, model.llm.name, model.texts_llm, model.ua_template, model.use_profile,
                              model.use_prediction)))


def run_queue(datasets: list[str], workers: int, hours: float | None, logs: Path, llm: bool = True,
              shortest_first: bool = False, texts_for: list[str] | None = None, up_front: list[str] | None = None
              ) -> None:
    """Run what ``plan`` lists as left (without ``llm``: what never runs the LLM; with ``texts_for``: what does not
    wait for other data sets' texts still to be written; ``up_front``: these jobs before the others), ``workers`` jobs
    side by side (one thread each), until done or ``hours`` have passed; a job stopped then (or by Ctrl-C / SIGTERM)
    keeps its checkpoint and the same command continues it."""
    import signal
    import time

    from job_runner import run_jobs

    jobs = queue_jobs(plan(datasets), logs, workers, llm, shortest_first, texts_for, up_front)
    if not jobs:
        print("nothing left to train")
    else:
        print(f"{len(jobs)} jobs, {workers} at a time, logs in {logs}/:", ", ".join(job.name for job in jobs))

        def interrupt(*_):
            raise KeyboardInterrupt

        signal.signal(signal.SIGTERM, interrupt)  # `kill` stops the jobs cleanly too
        deadline = time.time() + hours * 3600 if hours else float("inf")
        env = dict(os.environ, OMP_NUM_THREADS="1")
        try:
            done = run_jobs(jobs, env, deadline, workers, logs, cwd=Path.cwd(), pair_stores=True,
                            memory=job_memory())
        except KeyboardInterrupt:
            raise SystemExit("reproduce: interrupted; the running jobs were stopped with their checkpoints: the same "
                             "command continues them") from None
        atomic_write(logs / "queue.json", json.dumps(done, indent=1))
        for name, job in done.items():
            print(f"{name:48s} {job['status']} ({job['seconds']:,.0f} s)")
