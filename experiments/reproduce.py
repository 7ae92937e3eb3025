"""Reproduce the paper's Table 2, Table 3, Figure 3 and Figure 4 on the project's data sets with one command.

    .venv/bin/python experiments/reproduce.py [--datasets ml-1m amazon-scientific goodreads-once] [--threads 1]
    .venv/bin/python experiments/reproduce.py --plan     # what is done and what is left; trains nothing
    .venv/bin/python experiments/reproduce.py --report   # only rebuild results/paper/ from the results files

For each data set, in this order:
1. the graph baselines with their validation grids (``experiments/baselines.py``): LightGCN first (GLTA projects its
   frozen embeddings), HCCF, LightGCN+, HCCF+;
2. the LLM-written texts: user profiles and predictions (GLTA's UA template, RLMRec's user profiles) and item profiles
   (RLMRec), cached and resumable (``glta text generate``);
3. RLMRec-Con and RLMRec-Gen with their grids;
4. GLTA with the data set's config, its ablations (w/o IA, w/o UA, w/o PF, w/o PD, w/o PF&PD) and its decoding modes
   (AR, FL), through ``experiments/glta_variants.py``;
and finally ``results/paper/``: table2.md, table3.md, figure3.md/.png, figure4.md/.png (``glta.report``).

Every step skips what is done and resumes what was interrupted, so the command can be rerun until it finishes: a
baseline whose results file exists is kept (delete it to redo it); a GLTA variant is kept when its results file was
made with the current config. On a 2-core CPU with SmolLM2-135M the whole reproduction takes days; ``--plan`` shows
what is left.
"""

import argparse
from pathlib import Path

import baselines
import glta_variants
from glta.config import DataConfig, build_config
from glta.report import DATASETS, result_path, write_report

GRAPH_BASELINES = ["lightgcn", "hccf", "lightgcn_plus", "hccf_plus"]
TEXT_BASELINES = ["rlmrec_con", "rlmrec_gen"]
GLTA_VARIANTS = ["default", "no_ia", "no_ua", "no_pf", "no_pd", "no_pf_pd"]
GLTA_MODES = ["first_logit", "autoregressive"]
TEXT_KINDS = "profile,prediction,item_profile"


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


def plan(datasets: list[str]) -> None:
    for dataset in datasets:
        print(f"== {dataset}")
        for method in GRAPH_BASELINES + TEXT_BASELINES:
            path = result_path(Path("results"), dataset, method)
            print(f"  {method:16s} {'done' if path.exists() else 'to do'}")
        texts = missing_texts(dataset)
        print("  texts            " + ", ".join(f"{kind}: {'done' if n == 0 else f'{n:,} to write'}"
                                                for kind, n in texts.items()))
        for name in GLTA_VARIANTS:
            print(f"  glta {name:11s} {'done' if glta_variants.is_done(dataset, name) else 'to do'}")
        for mode in GLTA_MODES:
            path = result_path(Path("results"), dataset, f"mode_{mode}")
            print(f"  glta {mode:11s} {'done' if path.exists() else 'to do'}")


def run_baselines(dataset: str, methods: list[str], threads: int, progress: bool) -> None:
    grids = baselines.grids_for(dataset)
    for method in methods:
        if result_path(Path("results"), dataset, method).exists():
            print(f"{method} on {dataset}: done")
            continue
        baselines.run(dataset, method, threads, grids, progress)


def generate_texts(dataset: str, progress: bool) -> None:
    from glta.cli import main as cli

    if any(missing_texts(dataset).values()):
        cli(["text", "generate", dataset, "--kinds", TEXT_KINDS] + ([] if progress else ["--no-progress"]))


def reproduce(datasets: list[str], threads: int, progress: bool) -> None:
    for dataset in datasets:
        run_baselines(dataset, GRAPH_BASELINES, threads, progress)
        generate_texts(dataset, progress)
        run_baselines(dataset, TEXT_BASELINES, threads, progress)
        glta_variants.run(dataset, GLTA_VARIANTS + GLTA_MODES, threads, progress)
        report(datasets)


def report(datasets: list[str]) -> None:
    for path in write_report(Path("results"), Path("results") / "paper", datasets):
        print(f"wrote {path}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--datasets", nargs="+", default=list(DATASETS))
    parser.add_argument("--threads", type=int, default=0, help="torch threads per training run (0: torch's default)")
    parser.add_argument("--plan", action="store_true", help="show what is done and what is left, train nothing")
    parser.add_argument("--report", action="store_true", help="only rebuild results/paper/ from the results files")
    parser.add_argument("--no-progress", action="store_true")
    args = parser.parse_args()
    if args.plan:
        plan(args.datasets)
    elif args.report:
        report(args.datasets)
    else:
        reproduce(args.datasets, args.threads, not args.no_progress)


if __name__ == "__main__":
    main()
