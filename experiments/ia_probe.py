"""How GLTA's item-text alignment (IA) loss moves under a config, without the UA stage or any evaluation.

    .venv/bin/python experiments/ia_probe.py --dataset ml-100k --epochs 3 model.head=tied model.ia_head_bias=false

Prints, per IA epoch, the mean loss (through the trainer's own stage loop), next to the loss of a
uniform guess over the catalogue (ln |I|): an IA stage that learns item identity ends well below it. Also prints the
norm of the LLM's last hidden states at the output slots, which sets how far one optimiser step moves the logits.
"""

import argparse
import math
import time

import numpy as np
import torch

from glta.models.glta import GLTA
from glta.config import build_config
from glta.data import load_dataset
from glta.recommender import Stage
from glta.training import train_stage


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", default="ml-100k")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("overrides", nargs="*", metavar="KEY=VALUE")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    config = build_config("glta", args.dataset, overrides=args.overrides + ["model.prefix_cache=false"])
    dataset = load_dataset(config.data)
    torch.manual_seed(config.train.seed)
    model = GLTA(dataset, config.model)
    model.enter_stage("ia")
    print(f"uniform guess: ln {model.n_items} = {math.log(model.n_items):.3f}")
    batch = next(model.train_batches(np.random.default_rng(0), 1))
    with torch.no_grad():
        captured = []
        logits = model.logits
        model.logits = lambda hidden, *rest: captured.append(hidden.float()) or logits(hidden, *rest)
        model.output_logits(batch)
        model.logits = logits
    print(f"hidden state norm at the output slots: {captured[0].norm(dim=-1).mean():.1f}")
    stage = Stage("ia", args.epochs, config.model.ia_lr, config.train.seed + 1)  # no cache: always trained
    started = time.time()
    train_stage(model, stage, config.train, progress=False,
                log=lambda line: print(f"{line} ({time.time() - started:.0f} s)", flush=True))

if __name__ == "__main__":
    main()
