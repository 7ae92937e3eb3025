"""Train a table cell's chosen configuration again with other training seeds.

    .venv/bin/python experiments/seeds.py --dataset ml-1m --names lightgcn ease gfcf --seeds 2026 2027 --threads 1
    .venv/bin/python experiments/seeds.py --dataset ml-100k --names default no_ia --seeds 2026 2027

A name is a method (``results/<data>/<method>.json``, e.g. a grid's chosen point) or a GLTA variant of
``experiments/glta_variants.py`` (``default`` is the data set's GLTA run). Each seed reruns exactly the config that
file records (``provenance.config``) with ``train.seed`` changed: model initialisation, batch sampling and UA's
prompt/target sampling change; the split, the frozen LightGCN embeddings GLTA projects and the LLM-written texts do
not. A variant whose main run was never trained takes the variant's current config, so two variants can be compared
at another seed on one machine without training their main runs first. Results go to
``results/<data>/[glta_variants/]seeds/<name>-<seed>.json`` (run folders under ``runs/<data>/seeds/``), where
``glta.report`` (mean ± std in the tables, error bars in the figures) and ``experiments/significance.py`` (paired
tests over users and seeds) find them. Finished seeds are skipped, an interrupted one resumes from its checkpoint.
Decoding modes (``mode_*``) are read out of a model, not trained: each seed of ``default`` (the GLTA row) also reads
Figure 4's modes out of its new model (``glta_variants/seeds/mode_<mode>-<seed>.json``), so a mode gets its seeds
with GLTA's and is compared with the very runs it was read out of; ``--no-modes`` leaves them out. A seed of
``default`` whose results file came from another machine, without its model, cannot have its modes read here:
``--retrain-lost`` trains it again (its results file is kept aside under ``seeds/replaced/``) and reads them out of
the new model, as ``experiments/reproduce.py`` queues it.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from glta_variants import MODES, PLUS_VARIANTS, VARIANTS, mode_seed_is_done, run_mode_seed, seed_model, variant_config

from glta.config import config_from_dict
from glta.pipeline import train
from glta.report import is_deterministic, result_path
from glta.results import EXTRA_SEEDS, read_results, seed_path
from glta.training import resumable
from glta.tuning import same_config, unrecorded_run


def lost_model(dataset: str, seed: int) -> bool:
    """Whether the default's seed ``seed`` has a results file but no model here (it trained on another machine) while a
    decoding mode still lacks that seed: only training it again lets the mode be read out of it."""
    return seed_path(result_path(Path("results"), dataset, "default"), seed).exists() \
        and not (seed_model(dataset, seed) / "run.json").is_file() \
        and any(not mode_seed_is_done(dataset, mode, seed) for mode in MODES)


def keep_aside(out: Path) -> Path:
    """Move a results file that a run about to train replaces to ``replaced/<name>-<time>.json`` beside it; where
    a copy of it is kept there already (a queue's worktree restores its tracked files before each start), that one."""
    folder = out.parent / "replaced"
    same = [kept for kept in sorted(folder.glob(f"{out.stem}-*.json")) if kept.read_bytes() == out.read_bytes()]
    if same:
        out.unlink()
        return same[0]
    kept = folder / f"{out.stem}-{time.strftime('%Y%m%d-%H%M%S')}.json"
    kept.parent.mkdir(parents=True, exist_ok=True)
    out.rename(kept)
    return kept


def run_seed(dataset: str, name: str, seed: int, threads: int = 0, progress: bool = True,
             retrain_lost: bool = False) -> Path:
    main = result_path(Path("results"), dataset, name)
    if is_deterministic(name):
        print(f"{name}: deterministic, every seed gives the main run ({main}); nothing to train")
        return main
    if main.exists():
        config = config_from_dict(read_results(main)["provenance"]["config"])
    elif name in VARIANTS or name in PLUS_VARIANTS:
        # a GLTA variant not trained yet: its config is the variant's current one (a same-machine comparison of two
        # variants at a seed of their own, without training either main run first)
        config = variant_config(dataset, name)
    else:
        raise SystemExit(f"{main} does not exist: train the cell once first (its config is what the seeds repeat)")
    if seed == config.train.seed:
        if not main.exists():
            raise SystemExit(f"{name}: seed {seed} is its main run's: train it with experiments/glta_variants.py "
                             f"--dataset {dataset} --variants {name}")
        print(f"{name}: seed {seed} is the main run's ({main})")
        return main
    config.train.seed = seed
    if threads:
        config.train.threads = threads
    out = seed_path(main, seed)
    if retrain_lost and name == "default" and lost_model(dataset, seed):
        print(f"{name} seed {seed}: its model is not on this machine (its results came from another) and a decoding "
              f"mode still lacks the seed: trained again, the results file it replaces kept as {keep_aside(out)}",
              flush=True)
    if out.exists() and same_config(read_results(out)["provenance"].get("config"), config.to_dict()):
        print(f"{name} seed {seed}: done ({out})")
        return out
    run_dir = Path("runs") / dataset / "seeds" / out.stem
    if problem := unrecorded_run(run_dir, out, config):
        raise SystemExit(problem)
    print(f"=== {name} seed {seed} -> {out}", flush=True)
    train(config, run_dir=run_dir, out=out, resume=resumable(run_dir, config), progress=progress)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", required=True, help="built-in data set name")
    parser.add_argument("--names", nargs="+", required=True, help="methods or GLTA variants (default, no_ia, ...)")
    parser.add_argument("--seeds", nargs="+", type=int, default=list(EXTRA_SEEDS), help="training seeds to add")
    parser.add_argument("--threads", type=int, default=0,
                        help="CPU threads a job trains with (train.threads; 0: the config's)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    parser.add_argument("--no-modes", action="store_true", help="with default: leave the decoding modes out")
    parser.add_argument("--retrain-lost", action="store_true",
                        help="with default: train again a seed whose model is on another machine while a decoding "
                             "mode still lacks it (its results file is kept under seeds/replaced/)")
    args = parser.parse_args()
    run_seeds(args.dataset, args.names, args.seeds, args.threads, not args.no_progress, modes=not args.no_modes,
              retrain_lost=args.retrain_lost)


def run_seeds(dataset: str, names: list[str], seeds: list[int], threads: int = 0, progress: bool = True,
              modes: bool = True, retrain_lost: bool = False) -> None:
    """Each name's seeds in turn; with ``modes``, each new seed of ``default`` then has the decoding modes read out
    of its model (``glta_variants.run_mode_seed``); ``retrain_lost``: see ``lost_model``."""
    for name in names:
        for seed in seeds:
            out = run_seed(dataset, name, seed, threads, progress, retrain_lost)
            if name == "default" and modes and out.parent.name == "seeds":  # not the main run's seed
                for mode in MODES:
                    run_mode_seed(dataset, mode, seed, progress)


if __name__ == "__main__":
    from glta.interrupts import run_interruptibly

    run_interruptibly(main, "seeds.py", "the same command continues: "
                      "finished seeds are kept, the one under way resumes from its checkpoint")
