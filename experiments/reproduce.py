"""Reproduce the paper's Table 2, Table 3, Figure 3 and Figure 4 on the project's data sets with one command.

    .venv/bin/python experiments/reproduce.py [--datasets ml-1m amazon-scientific goodreads-once] [--threads 1]
    .venv/bin/python experiments/reproduce.py --plan     # what is done and what is left; trains nothing
    .venv/bin/python experiments/reproduce.py --report   # only rebuild results/paper/, README's claims, ledgers
    .venv/bin/python experiments/reproduce.py --jobs 2 --hours 2.5   # what --plan lists, two jobs side by side
    .venv/bin/python experiments/reproduce.py --jobs 2 --until 17:00 # the same, stopped at a clock time

For each data set, in this order:
1. popularity, then the graph baselines with their validation grids (``experiments/baselines.py``): LightGCN first
   (GLTA projects its frozen embeddings), HCCF, LightGCN+, HCCF+; then the two training-free references beyond the
   paper, EASE and GF-CF (one setting each, chosen on validation);
2. the LLM-written texts: user profiles and predictions (GLTA's UA template, RLMRec's user profiles) and item profiles
   (RLMRec's alone, so written only while an RLMRec cell is left to train), cached and resumable
   (``glta text generate``);
3. RLMRec-Con and RLMRec-Gen with their grids;
4. GLTA with the data set's config, its ablations (w/o IA, w/o UA, w/o PF, w/o PD, w/o PF&PD) and its decoding modes
   (AR, FL), through ``experiments/glta_variants.py``;
5. GLTA+ (beyond the paper; ``configs/<dataset>/glta_plus.yaml`` when the data set has one, else GLTA+'s defaults);
and finally ``results/paper/``: table2.md, table3.md, figure3.md/.png, figure4.md/.png (``glta.report``), and the
paired tests and the paper's claims against them, significance.md and claims.md (``experiments/significance.py``;
the claims table in README.md too, except after a ``--jobs`` queue, which leaves its checkout's README alone), and
``results/<dataset>/glta_runs.md``, every GLTA run of a data set with its per-epoch validation
(``experiments/glta_runs.py``).

Every step skips what is done and resumes what was interrupted, so the command can be rerun until it finishes: a
baseline whose results file exists is kept (delete it to redo it); a GLTA variant is kept when its results file was
made with the current config. On a 2-core CPU with SmolLM2-135M the whole reproduction takes days; ``--plan`` shows
what is left.

``--jobs N`` runs what ``--plan`` lists as left, seeds included, as separate processes of one thread each, N at a
time (``experiments/job_runner.py``): the texts and any missing frozen LightGCN first, since GLTA waits
for them, then the rest longest first by the measured time of a like run, the seeds of the baselines outside a data
set's two strongest (by validation N@10) last. Each job resumes from its checkpoints, so ``--hours`` or ``--until
HH:MM`` (or Ctrl-C, or ``kill``) stops them cleanly and the same command continues; each job's log is under
``--logs`` (``runs/reproduce/``), with every job's status in ``queue.json``.

The plan lives in ``reproduction_plan.py`` (what is left), its measured costs in ``reproduction_costs.py`` (a like
run's time and memory, scaled to this machine) and the queue in ``reproduction_queue.py`` (the order of the jobs
and their runner); this script is their command line and the one-process reproduction.
"""

import argparse
import datetime
from pathlib import Path

import baselines
import glta_runs
import glta_variants
import significance
from reproduction_plan import GLTA_MODES, GLTA_VARIANTS, GRAPH_BASELINES, REFERENCES, TEXT_BASELINES, left_line, \
    needed_texts, plan, print_commands
from reproduction_queue import run_queue, texts_spec
from glta.config import build_config
from glta.errors import GLTAError
from glta.report import DATASETS, REPORTED_DATASETS, result_path, write_report


def run_baselines(dataset: str, methods: list[str], threads: int, progress: bool) -> None:
    grids = baselines.grids_for(dataset)
    for method in methods:
        if result_path(Path("results"), dataset, method).exists():
            print(f"{method} on {dataset}: done")
            continue
        baselines.run(dataset, method, threads, grids, progress)


def run_method(dataset: str, method: str, threads: int, progress: bool) -> None:
    """Train a method with the data set's config (or the method's defaults) unless its results file exists; an
    interrupted run resumes from its checkpoint."""
    from glta.pipeline import default_run_dir, train
    from glta.training import resumable

    if result_path(Path("results"), dataset, method).exists():
        print(f"{method} on {dataset}: done")
        return
    config = build_config(method, dataset, overrides=[f"train.threads={threads}"] if threads else [])
    resume = resumable(default_run_dir(dataset, method), config)  # a checkpoint of another config restarts
    train(config, resume=resume, progress=progress)


def generate_texts(dataset: str, progress: bool) -> None:
    from glta.cli import main as cli

    texts = needed_texts(dataset)
    if any(texts.values()):
        cli(["text", "generate", dataset, "--kinds", ",".join(texts)] + ([] if progress else ["--no-progress"]))


def reproduce(datasets: list[str], threads: int, progress: bool) -> None:
    for dataset in datasets:
        run_method(dataset, "pop", threads, progress)
        run_baselines(dataset, GRAPH_BASELINES + REFERENCES, threads, progress)
        generate_texts(dataset, progress)
        run_baselines(dataset, TEXT_BASELINES, threads, progress)
        glta_variants.run(dataset, GLTA_VARIANTS + GLTA_MODES, threads, progress)
        run_method(dataset, "glta_plus", threads, progress)
        refresh(datasets)


def refresh(trained: list[str], readme: bool = True) -> None:
    """After training: ``results/paper/`` again, over the paper's three data sets (never narrowed to the ones just
    trained, which would drop the others' columns), when any of them was trained; README.md's claims table too
    unless ``readme`` is False (a ``--jobs`` queue, whose worktree's checkout stays clean for its next restart)."""
    if any(dataset in DATASETS for dataset in trained):
        report(list(DATASETS), readme=readme)


def report(datasets: list[str], readme: bool = True) -> None:
    """``results/paper/``'s tables and figures, the paired tests and the claims table (``significance.write``),
    with ``readme`` the claims table in README.md too, and each data set's ledger of GLTA runs (``glta_runs``) and
    table of GLTA variants (``glta_variants.summary``)."""
    written = write_report(Path("results"), Path("results") / "paper", datasets)
    written += significance.write(Path("results"), list(REPORTED_DATASETS), Path("README.md") if readme else None)
    written += glta_runs.write(Path("results"), list(REPORTED_DATASETS))
    written += [glta_variants.write_summary(dataset) for dataset in REPORTED_DATASETS  # this checkout's code
                if (Path("results") / dataset / "glta_variants.md").exists()]
    for path in written:
        print(f"wrote {path}")


def hours_until(clock: str, now: datetime.datetime | None = None) -> float:
    """Hours from ``now`` to the next ``HH:MM`` on this machine's clock (today's, else tomorrow's): a queue stopped
    before a session's known end, without working out the hours by hand."""
    try:
        hour, minute = (int(part) for part in clock.split(":"))
        now = now or datetime.datetime.now()
        target = now.replace(hour=hour, minute=minute, second=0, microsecond=0)
    except ValueError:
        raise GLTAError(f"--until {clock}: give a clock time as HH:MM, e.g. --until 17:00") from None
    if target <= now:
        target += datetime.timedelta(days=1)
    return (target - now).total_seconds() / 3600


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--datasets", nargs="+", default=list(DATASETS),
                        help="the data sets to reproduce (default: all three)")
    parser.add_argument("--threads", type=int, default=0, help="torch threads per training run (0: torch's default)")
    parser.add_argument("--plan", action="store_true", help="show what is done and what is left, train nothing")
    parser.add_argument("--report", action="store_true",
                        help="only rebuild results/paper/, README.md's claims table and each data set's "
                             "glta_runs.md and glta_variants.md from the results files")
    parser.add_argument("--jobs", type=int, default=0, metavar="N",
                        help="run what --plan lists as left, N jobs side by side with one thread each (resumable)")
    stop = parser.add_mutually_exclusive_group()
    stop.add_argument("--hours", type=float, default=None, help="with --jobs: stop the jobs cleanly after this long")
    stop.add_argument("--until", metavar="HH:MM",
                      help="with --jobs: stop the jobs cleanly at this time of this machine's clock (the next one)")
    parser.add_argument("--logs", default="runs/reproduce", help="with --jobs: where each job's log goes")
    parser.add_argument("--no-llm", action="store_true",
                        help="with --jobs: leave out every job that runs the LLM (texts, GLTA, GLTA+ and their seeds): "
                             "for a CPU without hardware bf16, where the LLM runs in fp32 (slower: --plan says how "
                             "much where measured)")
    written = parser.add_mutually_exclusive_group()
    written.add_argument("--no-texts", action="store_true",
                         help="with --jobs: write no LLM texts and leave out the jobs that wait for them; the GLTA "
                              "cells that read none (w/o PF&PD) or whose texts are here still run (in fp32 on a CPU "
                              "without hardware bf16: hours a cell)")
    written.add_argument("--texts-for", nargs="+", metavar="DATASET[:KINDS]",
                         help="with --jobs: write only these data sets' LLM texts (as --no-texts for the others): on "
                              "a CPU without hardware bf16, the smallest data set's texts first; DATASET:KIND,KIND "
                              "writes only those kinds (goodreads-once:profile,item_profile: what RLMRec reads, which "
                              "a later queue then trains, while GLTA's cells that read predictions wait)")
    parser.add_argument("--shortest-first", action="store_true",
                        help="with --jobs: after the texts and frozen LightGCN, the shortest jobs first (by a like "
                             "run's measured time) instead of the longest: whole cells finish within a session")
    parser.add_argument("--first", nargs="+", metavar="JOB",
                        help="with --jobs: run these jobs before the rest, in this order: a job's name as the queue "
                             "lists it (seed-ml-1m-rlmrec_con-2027) or a cell (ml-1m:rlmrec_con, each of its jobs); "
                             "they still wait for the texts and frozen graph they read, and while a GLTA job runs "
                             "a free core goes first to a job reading its prefix store (the page cache holds one)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    args = parser.parse_args()
    try:
        named = [texts_spec(entry)[0] for entry in args.texts_for or []]
    except GLTAError as error:
        parser.error(str(error))
    if outside := [name for name in named if name not in args.datasets]:
        parser.error(f"--texts-for {outside[0]}: not among --datasets ({' '.join(args.datasets)}); add it there or "
                     "leave it out")
    try:
        if args.until:
            args.hours = hours_until(args.until)
            print(f"reproduce: the jobs stop at {args.until} ({args.hours:.2f} h from now)", flush=True)
        if args.plan:
            left = plan(args.datasets)
            print(left_line(left))
            print_commands(left)
        elif args.jobs:
            run_queue(args.datasets, args.jobs, args.hours, Path(args.logs), llm=not args.no_llm,
                      shortest_first=args.shortest_first, texts_for=[] if args.no_texts else args.texts_for,
                      up_front=args.first)
            refresh(args.datasets, readme=False)
        elif args.report:
            report(args.datasets)
        else:
            reproduce(args.datasets, args.threads, not args.no_progress)
    except GLTAError as error:
        raise SystemExit(f"reproduce: error: {error}") from None


if __name__ == "__main__":
    main()
