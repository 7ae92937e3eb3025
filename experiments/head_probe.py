"""How far the paper GLTA's output side gets with a lossless input: its head and objective without the LLM.

    .venv/bin/python experiments/head_probe.py --dataset ml-100k [--out results/ml-100k/diagnostics/head_probe.json]

The diagnostics of a trained GLTA (``experiments/glta_diagnostics.py``) show that the frozen LLM passes the user token
on poorly. This probe asks the other half of the question: if the LLM passed the user on perfectly, would the paper's
head and objective match LightGCN? The LLM is replaced by a learned linear map of the user's frozen LightGCN embedding
into the LLM's hidden size (what a lossless LLM could hand the head), and everything after it is GLTA's UA stage as the
data set's GLTA config sets it: each user once an epoch, ``supervised_slots`` of the user's training items as targets,
cross-entropy over the whole catalogue, the head a free |I| x hidden matrix starting at zero with the popularity prior
as its bias, at ``head_lr_scale`` of the learning rate, GLTA's batch size and rate. Items are ranked by the head's
logits (a full ranking), early stopping on validation N@10 as GLTA does. Heads compared:

- ``free``: the paper's linear head (as the config sets its rate); ``free_full_rate`` (the head at the full rate),
  ``free_no_prior`` (its bias starting at zero instead of the log popularity), ``free_all_targets`` (every training
  item of the user a target each epoch instead of ``supervised_slots`` of them);
- ``graph``: GLTA+'s graph head, logits c (h M) . E_i through the frozen LightGCN item embeddings (M starts at zero),
  so that every step moves every item; ``graph_free``: both heads summed (GLTA+'s head without its residual);
- ``graph_from_lightgcn`` (and ``_slow``, at a tenth of the rate; ``_all``, every training item a target): the graph
  head started exactly at LightGCN's scores, so the first evaluation is LightGCN itself: whether GLTA's objective
  then moves the ranking beyond LightGCN's or away from it;
- ``*_unseen``: each target's softmax over itself and the user's unseen items only (``model.ua_softmax=unseen``);
- ``*_bpr``: BPR (LightGCN's own objective) on the same targets, each against one uniformly drawn unseen item,
  instead of the softmax: whether any objective on these targets moves the ranking away, or Eq. 3's.

LightGCN's own scores on the same split are the reference. A free head that stays below LightGCN with this input caps
the paper's GLTA whatever the LLM passes on; one that reaches it puts the loss on the LLM's path. Validation only
(no test numbers are read), one seed, seconds to minutes on one core: no LLM is loaded.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from glta.align.gllm import popularity_prior
from glta.config import build_config
from glta.data import load_dataset
from glta.evaluation.ranking import RankingEvaluator
from glta.models.lightgcn import load_embeddings
from glta.results import git_commit, provenance


@dataclass(frozen=True)
class Variant:
    head: str = "free"                # free | graph | both
    head_lr_scale: float | None = None  # None: the config's
    prior: bool = True                # the bias starts at the log popularity (else at zero)
    learn_bias: bool = True
    targets: int | None = None        # per user and epoch; None: the config's supervised_slots; 0: all their items
    lr_scale: float = 1.0             # times the config's learning rate
    start_at_lightgcn: bool = False   # graph head only: logits = <e_u, e_i> before the first step
    unseen_softmax: bool = False      # a target competes only with the items the user has not seen (as ranked)
    # LightGCN's own objective instead of Eq. 3: BPR, each target against one item drawn uniformly from those the
    # user has not seen
    pairwise: bool = False


HEADS = {
    "free": Variant(),                                 # the paper's head as the data set's GLTA config sets it
    "free_full_rate": Variant(head_lr_scale=1.0),
    "free_no_prior": Variant(prior=False),             # the bias starts at zero instead of log popularity
    "free_all_targets": Variant(targets=0),            # every training item of the user a target each epoch
    "free_k20": Variant(targets=20),                   # 20 targets (ML-1M's config supervises 10)
    "free_k40": Variant(targets=40),                   # 40 (GLTA's `slots40` variant)
    "graph": Variant(head="graph"),                    # GLTA+'s graph head alone
    "graph_free": Variant(head="both"),                # the free head plus the graph head (GLTA+'s head)
    # the graph head started exactly at LightGCN's scores (P, M the identity on the embedding's dimensions, no bias):
    # does GLTA's objective move the ranking away from LightGCN's, or beyond it? Also at a tenth of the rate, and
    # with every training item of the user a target
    "graph_from_lightgcn": Variant(head="graph", prior=False, learn_bias=False, start_at_lightgcn=True),
    "graph_from_lightgcn_slow": Variant(head="graph", prior=False, learn_bias=False, start_at_lightgcn=True,
                                        lr_scale=0.1),
    "graph_from_lightgcn_all": Variant(head="graph", prior=False, learn_bias=False, start_at_lightgcn=True,
                                       targets=0),
    # the softmax of each target over that item and the user's unseen items only (the other training items left
    # out of the denominator, as the ranking leaves them out): the objective then asks what the evaluation asks
    "free_unseen": Variant(unseen_softmax=True),
    "free_all_targets_unseen": Variant(targets=0, unseen_softmax=True),
    "graph_unseen": Variant(head="graph", unseen_softmax=True),
    "graph_free_unseen": Variant(head="both", unseen_softmax=True),
    "graph_from_lightgcn_unseen": Variant(head="graph", prior=False, learn_bias=False, start_at_lightgcn=True,
                                          unseen_softmax=True),
    "graph_from_lightgcn_all_unseen": Variant(head="graph", prior=False, learn_bias=False, start_at_lightgcn=True,
                                              targets=0, unseen_softmax=True),
    # the same heads under BPR, the backbone's own objective: is it the softmax objective (Eq. 3) that moves the
    # ranking away from LightGCN's, or would any objective trained on these targets?
    "free_bpr": Variant(pairwise=True),
    "free_all_targets_bpr": Variant(targets=0, pairwise=True),
    "graph_bpr": Variant(head="graph", pairwise=True),
    "graph_from_lightgcn_bpr": Variant(head="graph", prior=False, learn_bias=False, start_at_lightgcn=True,
                                       pairwise=True),
    "graph_from_lightgcn_bpr_slow": Variant(head="graph", prior=False, learn_bias=False, start_at_lightgcn=True,
                                            pairwise=True, lr_scale=0.1),
    "graph_from_lightgcn_all_bpr": Variant(head="graph", prior=False, learn_bias=False, start_at_lightgcn=True,
                                           targets=0, pairwise=True),
}


class LosslessGLTA(nn.Module):
    """h = P e_u (a lossless stand-in for the LLM's hidden state at an output slot), then GLTA's head."""

    def __init__(self, users: torch.Tensor, items: torch.Tensor, hidden: int, head: str, prior: torch.Tensor):
        super().__init__()
        self.users, self.items = users, items
        self.project = nn.Linear(users.shape[1], hidden)
        self.free = nn.Parameter(torch.zeros(len(items), hidden)) if head in ("free", "both") else None
        self.map = nn.Parameter(torch.zeros(hidden, items.shape[1])) if head in ("graph", "both") else None  # M
        self.scale = 1 / math.sqrt(hidden * items.shape[1])
        self.bias = nn.Parameter(prior.clone())

    def start_at_lightgcn(self) -> None:
        """Logits = <e_u, e_i> exactly: P and M copy the embedding's dimensions (the rest zero)."""
        d = self.users.shape[1]
        with torch.no_grad():
            self.project.weight.zero_()
            self.project.bias.zero_()
            self.project.weight[:d, :d] = torch.eye(d)
            self.map.zero_()
            self.map[:d, :d] = torch.eye(d) / self.scale

    def head_parameters(self) -> list[nn.Parameter]:
        return [p for p in (self.free, self.map, self.bias) if p is not None]

    def forward(self, users: torch.Tensor) -> torch.Tensor:
        h = self.project(self.users[users])
        logits = self.bias.expand(len(users), -1)
        if self.free is not None:
            logits = logits + h @ self.free.T
        if self.map is not None:
            logits = logits + self.scale * (h @ self.map) @ self.items.T
        return logits


def targets_for(train, users: np.ndarray, k: int, rng: np.random.Generator) -> torch.Tensor:
    """Up to ``k`` of each user's training items (-100 where a user has fewer), as GLTA's overlap targets."""
    out = torch.full((len(users), k), -100, dtype=torch.long)
    for row, user in enumerate(users):
        items = train.indices[train.indptr[user]:train.indptr[user + 1]]
        chosen = rng.choice(items, size=min(k, len(items)), replace=False)
        out[row, : len(chosen)] = torch.from_numpy(chosen)
    return out


def draw_negatives(train, users: np.ndarray, shape: tuple,
                   rng: np.random.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """BPR's negatives: an item drawn uniformly per (user row, target), and whether the user has not seen it (a seen
    draw is dropped from the loss, where LightGCN's sampler redraws it: at these densities a few per cent of pairs)."""
    negatives = rng.integers(0, train.shape[1], size=shape)
    seen = np.asarray(train[np.repeat(users, shape[1]), negatives.ravel()]).reshape(shape) > 0
    return torch.from_numpy(negatives), torch.from_numpy(~seen)


def train_probe(dataset, config, users, items, name: str, hidden: int, epochs: int, valid: RankingEvaluator,
                seed: int, log=print) -> dict:
    variant = HEADS[name]
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    prior = popularity_prior(dataset.train)  # GLTA's own starting bias
    prior = prior if variant.prior else torch.zeros_like(prior)
    model = LosslessGLTA(users, items, hidden, variant.head, prior)
    model.bias.requires_grad_(variant.learn_bias)
    history, best, best_epoch, waited = [], -1.0, -1, 0
    if variant.start_at_lightgcn:
        model.start_at_lightgcn()
        with torch.no_grad():
            best = valid.evaluate(lambda u: model(torch.as_tensor(u)))["N@10"]
        history.append({"epoch": -1, "loss": None, "valid_N@10": round(best, 4)})
        log(f"{name} before training: valid N@10 {best:.4f}")
    lr = config.train.lr * variant.lr_scale
    scale = variant.head_lr_scale if variant.head_lr_scale is not None else config.model.head_lr_scale
    optimizer = torch.optim.Adam([{"params": list(model.project.parameters()), "lr": lr},
                                  {"params": [p for p in model.head_parameters() if p.requires_grad],
                                   "lr": lr * scale}])
    train = dataset.train.tocsr()
    active = np.flatnonzero(np.diff(train.indptr) > 0)
    batch = config.train.batch_size
    most = int(np.diff(train.indptr).max())
    k = config.model.supervised_slots if variant.targets is None else variant.targets or most
    for epoch in range(epochs):
        model.train()
        losses, order = [], rng.permutation(active)
        for start in range(0, len(active), batch):
            chunk = order[start:start + batch]
            logits = model(torch.from_numpy(chunk))
            targets = targets_for(train, chunk, k, rng)
            present = targets >= 0
            picked = logits.gather(1, targets.clamp_min(0))
            if variant.pairwise:
                # one uniform negative per target; a draw the user has seen is dropped (LightGCN's sampler redraws
                # it: at this density the two differ in a few per cent of the pairs)
                negatives, unseen = draw_negatives(train, chunk, tuple(targets.shape), rng)
                present = present & unseen
                log_probs = nn.functional.logsigmoid(picked - logits.gather(1, negatives))
            elif variant.unseen_softmax:
                # glta.align.gllm.unseen_loss for one row of logits shared by every target: the targets are the
                # user's training items, so each one's rest is the same unseen set (no (B, k, |I|) copy for the
                # all-targets heads, which supervise up to a user's whole history)
                seen = torch.from_numpy(train[chunk].toarray() > 0)
                unseen = torch.logsumexp(logits.masked_fill(seen, float("-inf")), 1, keepdim=True)
                log_probs = picked - torch.logaddexp(unseen, picked)
            else:
                log_probs = picked - torch.logsumexp(logits, 1, keepdim=True)
            loss = -(log_probs * present).sum() / present.sum()
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
        model.eval()
        with torch.no_grad():
            score = valid.evaluate(lambda u: model(torch.as_tensor(u)))["N@10"]
        history.append({"epoch": epoch, "loss": round(float(np.mean(losses)), 4), "valid_N@10": round(score, 4)})
        log(f"{name} epoch {epoch}: loss {np.mean(losses):.4f}, valid N@10 {score:.4f}")
        if score > best:
            best, best_epoch, waited = score, epoch, 0
        else:
            waited += 1
            if waited >= config.train.patience:
                break
    return {"valid_N@10": round(best, 4), "best_epoch": best_epoch, **asdict(variant), "lr": lr,
            "head_lr_scale": scale, "targets_per_user": k, "history": history}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", default="ml-100k", help="built-in data set name")
    parser.add_argument("--heads", nargs="+", default=list(HEADS), choices=list(HEADS),
                        help="the output sides to train")
    parser.add_argument("--hidden", type=int, default=576, help="the LLM's hidden size (SmolLM2-135M: 576)")
    parser.add_argument("--epochs", type=int, default=60, help="the most epochs a head trains (early stopping first)")
    parser.add_argument("--threads", type=int, default=1, help="CPU threads (torch.set_num_threads)")
    parser.add_argument("--out", help="write the measurements (with provenance) to this JSON file")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    started, commit = time.time(), git_commit()
    config = build_config("glta", args.dataset)
    dataset = load_dataset(config.data)
    path = config.model.embeddings or Path("runs") / args.dataset / "lightgcn" / "embeddings.safetensors"
    users, items = load_embeddings(path, dataset)
    valid = RankingEvaluator(dataset, "valid", [10], config.eval.batch_size)
    with torch.no_grad():
        lightgcn = valid.evaluate(lambda u: users[torch.as_tensor(u)] @ items.T)["N@10"]
    print(f"LightGCN (frozen embeddings, dot product): valid N@10 {lightgcn:.4f}", flush=True)
    report = {"dataset": args.dataset, "lightgcn_valid_N@10": round(lightgcn, 4), "hidden": args.hidden,
              "settings": {"lr": config.train.lr, "head_lr_scale": config.model.head_lr_scale,
                           "batch_size": config.train.batch_size, "supervised_slots": config.model.supervised_slots,
                           "patience": config.train.patience, "max_epochs": args.epochs}, "heads": {}}
    for name in args.heads:
        report["heads"][name] = train_probe(dataset, config, users, items, name, args.hidden, args.epochs, valid,
                                            config.train.seed)
        print(f"{name}: best valid N@10 {report['heads'][name]['valid_N@10']:.4f} "
              f"(epoch {report['heads'][name]['best_epoch']}; LightGCN {lightgcn:.4f})", flush=True)
    if args.out:
        report["provenance"] = provenance(config.to_dict(), dataset.fingerprint(), config.train.seed,
                                          time.time() - started, commit=commit, embeddings=str(path))
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(report, indent=1) + "\n")


if __name__ == "__main__":
    main()
