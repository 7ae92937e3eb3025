"""RecBole 1.2.1 LightGCN on the project's exact ML-1M split: the reference for the foundation's LightGCN.

Runs in a *separate* virtual environment (see ``benchmarks/README.md`` and ``../shared/notes``), never in
the project's. Step 1 (project venv) writes the split as RecBole benchmark files:

    .venv/bin/python -c "from glta.data import load_dataset, DataConfig; \
        from glta.data.export import export_recbole; \
        export_recbole(load_dataset(DataConfig(name='ml-1m')), 'runs/recbole/ml1m', 'ml1m')"

Step 2 (RecBole venv) trains and evaluates, printing one JSON line with metrics and wall time:

    TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD=1 /path/to/recbole-venv/bin/python benchmarks/recbole_lightgcn.py \
        --data runs/recbole --epochs 300 --out benchmarks/results/recbole_lightgcn_ml-1m.json
"""

import argparse
import json
import platform
import sys
import time
import types

sys.modules.setdefault("ray", types.ModuleType("ray"))  # imported by recbole.quick_start, unused for a plain run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", required=True, help="folder holding <name>/<name>.{train,valid,test}.inter")
    parser.add_argument("--name", default="ml1m")
    parser.add_argument("--epochs", type=int, default=300)
    parser.add_argument("--time-budget", type=float, default=0, help="seconds; stop training after this (0 = none)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()

    import torch

    torch.set_num_threads(args.threads)
    from recbole.config import Config
    from recbole.data import create_dataset, data_preparation
    from recbole.model.general_recommender import LightGCN
    from recbole.trainer import Trainer
    from recbole.utils import init_seed

    settings = {
        "data_path": args.data, "benchmark_filename": ["train", "valid", "test"], "gpu_id": "",
        "use_gpu": False, "load_col": {"inter": ["user_id", "item_id"]}, "epochs": args.epochs,
        "train_batch_size": 4096, "eval_batch_size": 4096000, "learning_rate": 1e-3, "embedding_size": 64,
        "n_layers": 3, "reg_weight": 1e-4, "stopping_step": 10, "eval_step": 1, "seed": 2025,
        "metrics": ["Recall", "NDCG", "Precision", "Hit", "MRR"], "topk": [5, 10, 20], "valid_metric": "NDCG@10",
        "eval_args": {"split": {"RS": [1, 0, 0]}, "order": "RO", "group_by": "user", "mode": "full"},
        "train_neg_sample_args": {"distribution": "uniform", "sample_num": 1}, "show_progress": False,
        "checkpoint_dir": f"{args.data}/saved",
    }
    config = Config(model="LightGCN", dataset=args.name, config_dict=settings)
    init_seed(config["seed"], config["reproducibility"])
    dataset = create_dataset(config)
    train, valid, test = data_preparation(config, dataset)
    model = LightGCN(config, train.dataset).to(config["device"])
    trainer = Trainer(config, model)

    class BudgetSpent(Exception):
        pass

    epochs_run = []
    original = trainer._train_epoch
    start = time.time()

    def timed_epoch(*a, **k):
        if args.time_budget and time.time() - start > args.time_budget:
            raise BudgetSpent  # the best checkpoint so far is on disk; evaluate() reloads it
        epochs_run.append(time.time())
        return original(*a, **k)

    trainer._train_epoch = timed_epoch
    try:
        trainer.fit(train, valid, saved=True, show_progress=False)
        stopped = "early stopping or epoch limit"
    except BudgetSpent:
        stopped = f"time budget of {args.time_budget:.0f} s"
    train_seconds = time.time() - start
    test_result = trainer.evaluate(test, load_best_model=True, show_progress=False)

    def rename(r):
        return {k.replace("recall", "R").replace("ndcg", "N").replace("precision", "P").replace("hit", "Hit")
                .replace("mrr", "MRR"): float(v) for k, v in dict(r).items()}

    out = {"method": "recbole-lightgcn", "recbole": "1.2.1", "dataset": args.name, "test": rename(test_result),
           "valid_best_N@10": float(trainer.best_valid_score), "stopped_by": stopped,
           "train_wall_seconds": train_seconds, "epochs_run": len(epochs_run), "settings": settings,
           "machine": platform.platform(), "threads": args.threads}
    with open(args.out, "w") as handle:
        json.dump(out, handle, indent=2)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
