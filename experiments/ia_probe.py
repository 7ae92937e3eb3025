"""How GLTA's item-text alignment (IA) loss moves under a config, without the UA stage or any evaluation.

    .venv/bin/python experiments/ia_probe.py --dataset ml-100k --epochs 3 model.head=tied model.ia_head_bias=false

Prints, per IA epoch, the mean loss (through the trainer's own stage loop), next to the loss of a
uniform guess (ln |I| over the catalogue; ln of the group size under ``model.ia_loss=group``): an IA stage that
learns item identity ends well below it. Also prints the norm of the LLM's last hidden states at the output slots,
which sets how far one optimiser step moves the logits. IA needs no LLM-written texts, so the profile and prediction
fields are left out of the prompts.

``--out FILE`` keeps the measurement: every epoch's mean loss and time, with provenance, written after each epoch;
the stage's checkpoint sits beside the file (written every ``train.checkpoint_minutes`` and after each epoch), so
the same command continues a stopped probe where it stopped.
An earlier session's probe of a long IA lost its log with its machine; this one's numbers stay with the repository.
"""

import argparse
import json
import math
import time
from pathlib import Path

import numpy as np
import torch

from glta.config import build_config
from glta.data import load_dataset
from glta.errors import GLTAError
from glta.models.glta import GLTA
from glta.paths import atomic_write
from glta.recommender import Stage
from glta.results import git_commit, provenance
from glta.text.llm import hide_library_progress
from glta.training import train_stage


def chance_loss(model: GLTA) -> tuple[float, str]:
    """The loss of a uniform guess over what IA's softmax runs over, and its name."""
    if model.config.ia_loss == "group":
        return math.log(model.config.ia_group_size), f"ln {model.config.ia_group_size} (the group)"
    return math.log(model.n_items), f"ln {model.n_items} (the catalogue)"


# IA reads no LLM-written text, and the probe trains no UA stage: no prefix store, no profile or prediction fields
PROBE_OVERRIDES = ["model.prefix_cache=false", "model.use_profile=false", "model.use_prediction=false"]


def kept_report(out: Path | None, dataset: str, overrides: list[str], epochs: int) -> dict | None:
    """The report an earlier probe of these settings left in ``out`` (finished or not), None if there is none; a
    report of other settings there is an error (it is not overwritten)."""
    if out is None or not out.exists():
        return None
    earlier = json.loads(out.read_text())
    if (earlier.get("dataset"), earlier.get("overrides"),
            earlier.get("epochs_planned")) != (dataset, overrides, epochs):
        raise GLTAError(f"{out} holds a probe of other settings ({earlier.get('dataset')}, "
                        f"{earlier.get('overrides')}, {earlier.get('epochs_planned')} epochs); name another --out")
    return earlier


def finished(out: Path | None, report: dict | None) -> str | None:
    """The line saying that the probe kept in ``out`` has finished (``report``: ``kept_report``'s), None if not."""
    if report is None or not report.get("finished"):
        return None
    return f"{out}: finished already (final loss {report['final_loss']:.4f})"


def measure(model: GLTA, config, dataset, overrides: list[str], epochs: int, out: Path | None = None,
            commit: str | None = None, log=print) -> dict:
    """Train ``model``'s IA stage for ``epochs`` and return the report (per-epoch mean losses against the chance
    loss); with ``out``, the report is kept there after every epoch and the stage resumes from its checkpoint."""
    started = time.time()
    report = {"dataset": dataset.name, "overrides": overrides, "epochs_planned": epochs, "epochs": []}
    if (earlier := kept_report(out, dataset.name, overrides, epochs)) is not None:
        if line := finished(out, earlier):
            log(line)
            return earlier
        report["epochs"] = earlier["epochs"]
        started -= earlier.get("seconds", 0.0)
    model.enter_stage("ia")
    chance, chance_name = chance_loss(model)
    log(f"uniform guess: {chance_name} = {chance:.3f}")
    batch = next(model.train_batches(np.random.default_rng(0), 1))
    with torch.no_grad():
        captured = []
        logits = model.logits
        model.logits = lambda hidden, *rest: captured.append(hidden.float()) or logits(hidden, *rest)
        model.output_logits(batch)
        model.logits = logits
    norm = float(captured[0].norm(dim=-1).mean())
    log(f"hidden state norm at the output slots: {norm:.1f}")
    report |= {"chance_loss": round(chance, 4), "chance": chance_name, "hidden_norm": round(norm, 2)}
    cache = None
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        cache = out.with_name(out.name.removesuffix(".json").replace(".", "_") + ".ia.safetensors")

    def epoch_done(line: str) -> None:
        if out is not None and line.startswith("IA epoch "):  # "IA epoch 3: mean loss 7.5912": kept, then shown
            epoch, loss = line.removeprefix("IA epoch ").split(": mean loss ")
            report["epochs"] = [row for row in report["epochs"] if row["epoch"] < int(epoch)] + [
                {"epoch": int(epoch), "mean_loss": float(loss), "seconds": round(time.time() - started, 1)}]
            report["seconds"] = round(time.time() - started, 1)
            atomic_write(out, json.dumps(report, indent=1) + "\n")
        log(f"{line} ({time.time() - started:.0f} s)")

    stage = Stage("ia", epochs, config.model.ia_lr, config.train.seed + 1, cache=cache)
    summary = train_stage(model, stage, config.train, progress=False, log=epoch_done, commit=commit)
    report |= {"finished": True, "final_loss": summary["ia_final_loss"], "seconds": round(time.time() - started, 1),
               "provenance": provenance(config.to_dict(), dataset.fingerprint(), config.train.seed,
                                        time.time() - started, commit=commit,
                                        trained_by_commits=summary.get("ia_commits", [commit]))}
    if out is not None:
        atomic_write(out, json.dumps(report, indent=1) + "\n")
        cache.unlink(missing_ok=True)  # the probe keeps its numbers, not the trained parameters
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", default="ml-100k", help="built-in data set name")
    parser.add_argument("--epochs", type=int, default=3, help="IA epochs")
    parser.add_argument("--threads", type=int, default=1, help="CPU threads (torch.set_num_threads)")
    parser.add_argument("--out", help="keep every epoch's loss (with provenance) in this JSON file; resumable")
    parser.add_argument("overrides", nargs="*", metavar="KEY=VALUE", help="GLTA config overrides, e.g. model.head=tied")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    hide_library_progress()  # the probe draws no bars: its log keeps the epochs' lines
    commit = git_commit()
    try:
        config = build_config("glta", args.dataset, overrides=args.overrides + PROBE_OVERRIDES)
        dataset = load_dataset(config.data)
        out = Path(args.out) if args.out else None
        if line := finished(out, kept_report(out, dataset.name, args.overrides, args.epochs)):
            print(line)  # said before the LLM is loaded, not after
            return
        torch.manual_seed(config.train.seed)
        model = GLTA(dataset, config.model)
        measure(model, config, dataset, args.overrides, args.epochs, out, commit,
                log=lambda line: print(line, flush=True))
    except GLTAError as error:
        raise SystemExit(f"ia_probe: error: {error}") from None


if __name__ == "__main__":
    main()
