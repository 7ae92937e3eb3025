"""Small validation-set grid for the project's LightGCN (learning rate x batch size x L2 weight).

    .venv/bin/python benchmarks/lightgcn_grid.py --dataset ml-1m --epochs 40 \
        --out benchmarks/results/lightgcn_grid_ml-1m.json

Each point trains with early stopping on validation NDCG@10 and records its best validation score,
the epoch it was reached and the wall time; the test split is never looked at for the choice.
"""

import argparse
import itertools
import json
import time

import torch

from glta.config import DataConfig, EvalConfig, LightGCNConfig, TrainConfig
from glta.data import load_dataset
from glta.models.lightgcn import LightGCN
from glta.results import machine
from glta.training import fit


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", default="ml-1m")
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument("--eval-every", type=int, default=2)
    parser.add_argument("--lr", type=float, nargs="+", default=[2e-3, 5e-3, 1e-2])
    parser.add_argument("--batch-size", type=int, nargs="+", default=[8192])
    parser.add_argument("--reg", type=float, nargs="+", default=[1e-4])
    parser.add_argument("--threads", type=int, default=0)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    dataset = load_dataset(DataConfig(name=args.dataset))
    rows = []
    for lr, batch, reg in itertools.product(args.lr, args.batch_size, args.reg):
        started = time.time()
        model = LightGCN(dataset, LightGCNConfig(reg_weight=reg))
        result = fit(model, dataset, TrainConfig(epochs=args.epochs, batch_size=batch, lr=lr, patience=5,
                                                 eval_every=args.eval_every), EvalConfig(), progress=False,
                     log=lambda s: None)
        row = {"lr": lr, "batch_size": batch, "reg_weight": reg, "valid_N@10": result.valid.get("N@10"),
               "best_epoch": result.best_epoch, "epochs_run": result.epochs_run,
               "seconds": round(time.time() - started, 1),
               "curve": [(h["epoch"], h["valid"]["N@10"]) for h in result.history if "valid" in h]}
        rows.append(row)
        print(json.dumps({k: v for k, v in row.items() if k != "curve"}), flush=True)
        with open(args.out, "w") as handle:
            json.dump({"dataset": args.dataset, "fingerprint": dataset.fingerprint(), "machine": machine(),
                       "rows": rows}, handle, indent=2)


if __name__ == "__main__":
    main()
