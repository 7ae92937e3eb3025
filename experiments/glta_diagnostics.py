"""Where a trained GLTA loses LightGCN's signal: three measurements on a saved run, on validation only.

    .venv/bin/python experiments/glta_diagnostics.py --run-dir runs/ml-100k/glta \
        [--out results/ml-100k/diagnostics_glta.json]

1. **Mean user token.** Validation N@10 as trained, and again with every user's token built from the mean user
   embedding (everything else unchanged: the same prompts, texts and items). The drop is how much of the ranking
   comes from the user token, i.e. from LightGCN's user signal reaching the head. (GLTA+'s residual score and fusion
   read the embeddings directly and are left as they are; its ``glta`` part is also measured alone, fusion weight 0.)
2. **Linear probe.** A ridge regression from the LLM's last hidden state at the first output slot back to the
   user's LightGCN embedding, fitted on 80% of the users and scored (R^2) on the other 20%; next to it the same
   probe from the user token itself (what the LLM was given) and from hidden states of shuffled users (chance).
3. **IA loss.** One pass of the item-text alignment batches with the trained item projector and head, without
   training: the mean cross-entropy with the softmax over the whole catalogue (against ln |I|) and over the
   sample's own group of items (against ln group size). A stage that learned the task ends well below both.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path

import numpy as np
import torch

from glta.evaluation.ranking import RankingEvaluator
from glta.pipeline import load_run
from glta.results import provenance, git_commit
from glta.training import evaluate


def mean_user_token(model, valid: RankingEvaluator) -> dict:
    as_trained = evaluate(model, valid)["N@10"]
    projector = model.user_projector
    original = projector.forward
    mean = model.user_nodes.mean(0, keepdim=True)
    projector.forward = lambda nodes: original(mean.expand_as(nodes))
    try:
        with_mean = evaluate(model, valid)["N@10"]
    finally:
        projector.forward = original
    return {"valid_N@10": round(as_trained, 4), "valid_N@10_mean_user_token": round(with_mean, 4),
            "relative_drop": round(1 - with_mean / as_trained, 4) if as_trained else None}


def first_slot_states(model, users: np.ndarray, batch_size: int = 32) -> torch.Tensor:
    """The LLM's last hidden state at the first output slot for each user (the UA prompt used at inference)."""
    captured = []
    logits = model.logits
    model.logits = lambda hidden, batch_users=None: captured.append(hidden[:, 0].float()) or logits(hidden, batch_users)
    try:
        with torch.no_grad():
            for start in range(0, len(users), batch_size):
                chunk = users[start:start + batch_size]
                model.output_logits(model.prompts.inference_batch(chunk, 1))
    finally:
        model.logits = logits
    return torch.cat(captured)


def ridge_r2(x: np.ndarray, y: np.ndarray, seed: int = 0, alpha: float = 1.0) -> float:
    from sklearn.linear_model import Ridge

    order = np.random.default_rng(seed).permutation(len(x))
    cut = int(0.8 * len(x))
    fit, held = order[:cut], order[cut:]
    mean, std = x[fit].mean(0), x[fit].std(0) + 1e-6
    probe = Ridge(alpha=alpha).fit((x[fit] - mean) / std, y[fit])
    return float(probe.score((x[held] - mean) / std, y[held]))


def linear_probe(model, max_users: int = 2000, seed: int = 0) -> dict:
    users = model.prompts.trained_users()
    if len(users) > max_users:
        users = np.sort(np.random.default_rng(seed).choice(users, max_users, replace=False))
    states = first_slot_states(model, users).numpy()
    target = model.user_nodes[torch.from_numpy(users)].numpy()
    with torch.no_grad():
        tokens = model.user_projector(model.user_nodes[torch.from_numpy(users)]).numpy()
    shuffled = np.random.default_rng(seed + 1).permutation(len(users))
    return {"users": int(len(users)), "r2_first_slot_hidden": round(ridge_r2(states, target, seed), 4),
            "r2_user_token": round(ridge_r2(tokens, target, seed), 4),
            "r2_shuffled_users": round(ridge_r2(states[shuffled], target, seed), 4)}


def ia_loss(model, seed: int = 0) -> dict:
    import torch.nn.functional as F

    from glta.align.gllm import group_loss

    stage = model.stage
    model.enter_stage("ia")
    total, grouped, n = 0.0, 0.0, 0
    try:
        with torch.no_grad():
            for batch in model.train_batches(np.random.default_rng(seed), 0):
                logits = model.output_logits(batch)  # (B, group, |I|)
                targets = batch.targets
                valid = targets >= 0
                total += F.cross_entropy(logits[valid], targets[valid], reduction="sum").item()
                # the softmax over the sample's own group: the items shown in its prompt (model.ia_loss=group)
                grouped += group_loss(logits, targets).item() * int(valid.sum())
                n += int(valid.sum())
    finally:
        model.enter_stage(stage)
    return {"ia_loss_catalogue": round(total / n, 4), "ln_items": round(math.log(model.n_items), 4),
            "ia_loss_group": round(grouped / n, 4), "ln_group": round(math.log(model.config.ia_group_size), 4)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--run-dir", required=True, help="a trained GLTA run folder")
    parser.add_argument("--out", help="write the measurements (with provenance) to this JSON file")
    parser.add_argument("--threads", type=int, default=1, help="CPU threads (torch.set_num_threads)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    started, commit = time.time(), git_commit()
    config, dataset, model = load_run(args.run_dir)
    valid = RankingEvaluator(dataset, "valid", [10], config.eval.batch_size)
    report = {"run": args.run_dir, "method": config.method}
    if getattr(model.config, "fusion", False):
        report["fusion_weight"] = float(model.fusion_weight)
        report["mean_user_token_fused"] = mean_user_token(model, valid)
        with torch.no_grad():
            chosen = float(model.fusion_weight)
            model.fusion_weight.fill_(0.0)
            report["mean_user_token"] = mean_user_token(model, valid)  # the GLTA part alone
            model.fusion_weight.fill_(chosen)
    else:
        report["mean_user_token"] = mean_user_token(model, valid)
    print(json.dumps(report, indent=1), flush=True)
    report["linear_probe"] = linear_probe(model)
    print(json.dumps(report["linear_probe"]), flush=True)
    report["ia"] = ia_loss(model)
    print(json.dumps(report["ia"]), flush=True)
    if args.out:
        report["provenance"] = provenance(config.to_dict(), dataset.fingerprint(), config.train.seed,
                                          time.time() - started, commit=commit)
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(report, indent=1) + "\n")


if __name__ == "__main__":
    main()
