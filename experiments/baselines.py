"""Train the paper's six baselines (and the EASE and GF-CF references) on a data set with their validation grids
(paper Table 2's baseline rows).

    .venv/bin/python experiments/baselines.py --dataset amazon-scientific [--methods hccf lightgcn_plus] [--threads 1]

Each method runs ``glta tune`` over the small grid below (resumable: finished points are reused), so the best point by
validation NDCG@10 ends up in ``results/<dataset>/<method>.json`` with the whole grid under ``selection``. The text
variants reuse their backbone's chosen learning rate and L2 weight (so "+" changes only the text term); a backbone
that has not been tuned yet is tuned first. RLMRec needs the LLM-written profiles:
``glta text generate <dataset> --kinds profile,item_profile`` (resumable) must have run.
"""

import argparse
import json
from pathlib import Path

from glta.results import read_results
from glta.tuning import DEFAULT_GRIDS, parse_grid, tune

# method -> (backbone whose choice it inherits, grid): the library's default grids (glta.tuning.DEFAULT_GRIDS, what
# `glta tune` searches without --grid), the text variants inheriting their backbone's choice.
BACKBONES = {"lightgcn_plus": "lightgcn", "hccf_plus": "hccf", "rlmrec_con": "lightgcn", "rlmrec_gen": "lightgcn"}
GRIDS = {method: (BACKBONES.get(method), grid) for method, grid in DEFAULT_GRIDS.items()}
# Where one grid point costs hours on a CPU, fewer points are searched (docs/baselines.md); --full-grid restores
# the grids above. ML-1M: HCCF (~90 s an epoch) keeps its authors' MovieLens settings (configs/ml-1m/hccf.yaml)
# and searches the hypergraph scale only; the text variants (1-2 h a point on one core: their InfoNCE terms cost
# ~7x a LightGCN step at ML-1M's batch of 8,192) run at RLMRec's published weight and temperature.
REDUCED = {
    # HCCF's L2 covers every embedding row each step (as its code does); at 1e-3 Adam shrinks the rows a batch does
    # not touch towards zero and training collapses (ML-1M loss stuck at ln 2), so the large sets keep its 1e-7.
    "ml-1m": {"hccf": {"model.mult": [0.1, 1.0], "model.keep_rate": [1.0], "model.reg_weight": [1e-7]},
              "lightgcn_plus": {"model.align_weight": [0.01], "model.align_temperature": [0.2]},
              "hccf_plus": {"model.align_weight": [0.01], "model.align_temperature": [0.2]},
              "rlmrec_con": {"model.kd_weight": [0.01], "model.kd_temperature": [0.2]},
              "rlmrec_gen": {"model.recon_weight": [0.1], "model.recon_temperature": [0.2]}},
    # goodreads-once: 23k users, and LightGCN needs ~150 epochs there, so each text-method grid point takes hours.
    # Its BPR loss falls to ~0.01, so a contrastive text term at weight 1e-2 (~0.16) outweighs it 16:1 (ML-1M: <1:1)
    # and RLMRec-Con stalled at valid N@10 0.117 (LightGCN 0.169): the contrastive methods also try 1e-3.
    "goodreads-once": {"hccf": {"model.mult": [0.1, 1.0], "model.keep_rate": [0.5, 1.0], "model.reg_weight": [1e-7]},
                       "lightgcn_plus": {"model.align_weight": [0.001, 0.01], "model.align_temperature": [0.2]},
                       "hccf_plus": {"model.align_weight": [0.01], "model.align_temperature": [0.2]},
                       "rlmrec_con": {"model.kd_weight": [0.001, 0.01], "model.kd_temperature": [0.2]},
                       "rlmrec_gen": {"model.recon_weight": [0.01], "model.recon_temperature": [0.2]}},
}
INHERITED = ("train.lr", "train.batch_size", "model.reg_weight", "model.ssl_weight", "model.mult", "model.keep_rate")


def chosen(dataset: str, method: str) -> dict | None:
    """The backbone's chosen grid point; {} when its results came from its config file as is (e.g. ML-1M's LightGCN,
    whose config records the earlier benchmarks/lightgcn_grid.py choice); None when it has not been trained."""
    path = Path("results") / dataset / f"{method}.json"
    if not path.exists():
        return None
    return read_results(path).get("selection", {}).get("chosen", {})


def run(dataset: str, method: str, threads: int, grids: dict, progress: bool, retrain: bool = False) -> None:
    backbone, grid = grids[method]
    fixed = [f"train.threads={threads}"] if threads else []
    if backbone:
        if chosen(dataset, backbone) is None:
            run(dataset, backbone, threads, grids, progress)
        fixed += [f"{k}={json.dumps(v)}" for k, v in chosen(dataset, backbone).items() if k in INHERITED]
    tune(method, dataset, grid, fixed, progress=progress, retrain=retrain)


def grids_for(dataset: str, full: bool = False, entries: list[str] = ()) -> dict:
    """The grids searched on ``dataset``: ``GRIDS``, reduced for large data sets unless ``full``, then ``entries``
    ("METHOD:KEY=V1,V2") replacing single keys."""
    grids = {m: (b, dict(g)) for m, (b, g) in GRIDS.items()}
    if not full:
        for method, keys in REDUCED.get(dataset, {}).items():
            grids[method][1].update(keys)
    for entry in entries:
        method, rest = entry.split(":", 1)
        grids[method][1].update(parse_grid([rest]))
    return grids


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", required=True, help="built-in data set name")
    parser.add_argument("--methods", nargs="+", default=list(GRIDS), choices=list(GRIDS),
                        help="baselines whose grid to run")
    parser.add_argument("--threads", type=int, default=0,
                        help="CPU threads a job trains with (train.threads; 0: the config's)")
    parser.add_argument("--grid", action="append", default=[], metavar="METHOD:KEY=V1,V2",
                        help="replace one method's grid entry, e.g. hccf:train.lr=0.01 (repeatable)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    parser.add_argument("--full-grid", action="store_true", help="ignore the reduced grids of large data sets")
    parser.add_argument("--retrain", action="store_true",
                        help="train every grid point of --methods again unless clean commits of this history "
                             "made it, even with results of the same config (e.g. results from code no commit "
                             "records: experiments/provenance_audit.py lists them), and the chosen point where its "
                             "results keep no per-user test values; repeated after a cut-off, also under a later "
                             "commit, it keeps the points it finished and continues the one under way")
    args = parser.parse_args()
    grids = grids_for(args.dataset, args.full_grid, args.grid)
    for method in args.methods:
        run(args.dataset, method, args.threads, grids, not args.no_progress, args.retrain)


if __name__ == "__main__":
    from glta.interrupts import run_interruptibly

    run_interruptibly(main, "baselines.py", "the same command continues: "
                      "finished grid points are kept, the one under way resumes from its checkpoint")
