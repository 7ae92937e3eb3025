"""GLTA's open design choices, ablations and decoding modes on one data set, compared on validation.

    .venv/bin/python experiments/glta_variants.py --dataset ml-100k [--variants default overlap] [--threads 2]

Each variant is the data set's GLTA config (``configs/<dataset>/glta.yaml``) plus a few overrides, trained with the
same seed and early stopping on validation NDCG@10. Results go to ``results/<dataset>/glta_variants/<name>.json``
(models to ``runs/<dataset>/glta_variants/<name>/``); a finished variant is skipped and an interrupted one resumes
from its checkpoint. The decoding modes need no training: they re-read the ``default`` model
(``glta evaluate ... model.inference=...``). ``results/<dataset>/glta_variants.md`` collects everything.

Design choices are decided by the validation column only; test metrics are listed for the record.
"""

import argparse
import json
from pathlib import Path

from glta.config import build_config
from glta.pipeline import evaluate_run, train

VARIANTS = {
    # DESIGN.md's open choices
    "default": [],
    "overlap": ["model.target_mode=overlap"],
    "paper_order": ["model.ua_template=user_item"],
    # a longer, faster item-text alignment (the default IA ends near chance-level loss: few steps per epoch)
    "ia_long": ["model.ia_epochs=12", "model.ia_lr=5e-3"],
    # the paper's ablations (§4.3-4.4)
    "no_ia": ["model.use_ia=false"],
    "no_ua": ["model.use_user_token=false"],
    "no_pf": ["model.use_profile=false"],
    "no_pd": ["model.use_prediction=false"],
    "no_pf_pd": ["model.use_profile=false", "model.use_prediction=false"],
}
MODES = {"first_logit": "model.inference=first_logit", "autoregressive": "model.inference=autoregressive"}
METRICS = ["P@5", "P@10", "N@5", "N@10"]


def run_variant(dataset: str, name: str, threads: int, progress: bool) -> None:
    out = Path("results") / dataset / "glta_variants" / f"{name}.json"
    if out.exists():
        print(f"{name}: done ({out})")
        return
    run_dir = Path("runs") / dataset / "glta_variants" / name
    overrides = VARIANTS[name] + ([f"train.threads={threads}"] if threads else [])
    config = build_config("glta", dataset, overrides=overrides)
    print(f"=== {name}: {' '.join(VARIANTS[name]) or '(config as is)'}", flush=True)
    train(config, run_dir=run_dir, out=out, resume=(run_dir / "checkpoint.pt").exists(), progress=progress)


def run_mode(dataset: str, mode: str, progress: bool) -> None:
    out = Path("results") / dataset / "glta_variants" / f"mode_{mode}.json"
    if out.exists():
        print(f"mode {mode}: done ({out})")
        return
    print(f"=== mode {mode}", flush=True)
    evaluate_run(Path("runs") / dataset / "glta_variants" / "default", progress=progress, overrides=[MODES[mode]],
                 out=out)


def summary(dataset: str) -> str:
    folder = Path("results") / dataset / "glta_variants"
    lines = ["| variant | overrides | valid N@10 | " + " | ".join(f"test {m}" for m in METRICS) + " | epochs | wall s |",
             "|---|---|---|" + "---|" * len(METRICS) + "---|---|"]
    names = list(VARIANTS) + [f"mode_{m}" for m in MODES]
    for name in names:
        path = folder / f"{name}.json"
        if not path.exists():
            continue
        record = json.loads(path.read_text())
        metrics, prov = record["metrics"], record["provenance"]
        training = record.get("training", {})
        changes = " ".join(VARIANTS.get(name, prov.get("overrides", []))) or "(config)"
        epochs = f"{training['best_epoch']}/{training['epochs_run']}" if training else "—"
        lines.append(f"| {name} | `{changes}` | {metrics['valid']['N@10']:.4f} | "
                     + " | ".join(f"{metrics['test'][m]:.4f}" for m in METRICS)
                     + f" | {epochs} | {prov['wall_seconds']:,.0f}{'*' if training.get('ia_reused') else ''} |")
    note = ("\n\\* the IA stage's result was reused from an earlier variant with the same IA settings; its training "
            "time is not in this wall time\n")
    return "\n".join(lines) + "\n" + (note if any(line.endswith("* |") for line in lines) else "")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", default="ml-100k")
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS) + list(MODES),
                        choices=list(VARIANTS) + list(MODES))
    parser.add_argument("--threads", type=int, default=0)
    parser.add_argument("--no-progress", action="store_true")
    args = parser.parse_args()
    for name in args.variants:
        if name in MODES:
            run_mode(args.dataset, name, not args.no_progress)
        else:
            run_variant(args.dataset, name, args.threads, not args.no_progress)
        table = summary(args.dataset)
        (Path("results") / args.dataset / "glta_variants.md").write_text(table)
    print(summary(args.dataset))


if __name__ == "__main__":
    main()
