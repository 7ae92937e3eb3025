"""Side-by-side: the project's LightGCN vs RecBole 1.2.1's LightGCN on the same ML-1M split.

    .venv/bin/python benchmarks/compare_lightgcn_recbole.py \
        --ours results/ml-1m/lightgcn.json --recbole benchmarks/results/recbole_lightgcn_ml-1m.json \
        --out benchmarks/results/lightgcn_vs_recbole_ml-1m.md
"""

import argparse
import json
from pathlib import Path

METRICS = ("P@5", "P@10", "N@5", "N@10", "R@20", "N@20")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ours", required=True)
    parser.add_argument("--recbole", required=True)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    ours, theirs = json.loads(Path(args.ours).read_text()), json.loads(Path(args.recbole).read_text())
    ours_training = ours["training"]
    ours_epochs = ours_training["epochs_run"]
    rows = [
        ("project LightGCN", ours["metrics"]["test"], ours_training["train_seconds"], ours_epochs,
         ours["provenance"]["machine"]["torch_threads"], ours_training["stopped_by"]),
        ("RecBole 1.2.1 LightGCN", theirs["test"], theirs["train_wall_seconds"], theirs["epochs_run"],
         theirs["threads"], theirs["stopped_by"]),
    ]
    lines = [f"| implementation | {' | '.join(METRICS)} | train wall s | epochs | s/epoch | threads | stopped by |",
             "|---" * (len(METRICS) + 6) + "|"]
    for name, metrics, seconds, epochs, threads, stopped in rows:
        lines.append(f"| {name} | " + " | ".join(f"{metrics[m]:.4f}" for m in METRICS)
                     + f" | {seconds:.0f} | {epochs} | {seconds / max(epochs, 1):.1f} | {threads} | {stopped} |")
    ratio = rows[0][2] / rows[1][2]
    lines.append("")
    lines.append(f"Test N@10: project {rows[0][1]['N@10']:.4f} vs RecBole {rows[1][1]['N@10']:.4f}; "
                 f"training wall time ratio project/RecBole = {ratio:.3f}.")
    lines.append(f"Data fingerprint {ours['provenance']['data_fingerprint']}; project commit "
                 f"{ours['provenance']['git_commit']}; RecBole settings: batch "
                 f"{theirs['settings']['train_batch_size']}, lr {theirs['settings']['learning_rate']}, "
                 f"reg {theirs['settings']['reg_weight']}, d={theirs['settings']['embedding_size']}, "
                 f"{theirs['settings']['n_layers']} layers.")
    text = "\n".join(lines) + "\n"
    Path(args.out).write_text(text)
    print(text)


if __name__ == "__main__":
    main()
