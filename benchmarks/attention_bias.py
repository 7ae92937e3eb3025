"""GLTA's training attention (``glta.text.attention``): scores masked by ``masked_fill`` against scores given a bias of
0 or -inf, on real ML-1M UA steps, the two kernels taking turns in one process.

    .venv/bin/python benchmarks/attention_bias.py --users 96 --steps 4 --rounds 2 --threads 1 \\
        --out benchmarks/results/attention_bias_ml-1m.json

Each round trains a fresh GLTA (same seed, same batches) for ``--steps`` UA steps with each kernel and times every
step; the record says whether the two kernels gave the same losses, trained parameters and scores to the last bit.
``masked`` is the kernel as it was before the bias (kept here as the reference). Needs ``glta pretrain --dataset
ml-1m`` and the ML-1M texts (``glta text generate ml-1m``).
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import glta  # noqa: F401  (first: it sets PyTorch's huge-page switch, read when torch loads)
import numpy as np
import scipy.sparse as sp
import torch


def masked(query, key, value, attention_mask, scaling):
    """The grouped attention with its scores masked by ``masked_fill`` (the kernel before the bias)."""
    batch, heads, q_len, dim = query.shape
    kv_heads, keys = key.shape[1], key.shape[2]
    groups = heads // kv_heads
    grouped = query.reshape(batch, kv_heads, groups * q_len, dim)
    scores = torch.matmul(grouped, key.transpose(2, 3)).view(batch, kv_heads, groups, q_len, keys) * scaling
    if attention_mask is None:
        rows = torch.arange(q_len)[:, None] + (keys - q_len)
        attention_mask = (torch.arange(keys)[None, :] <= rows)[None, None]
    mask = attention_mask[:, :, -q_len:, :keys].unsqueeze(2)
    scores = scores.masked_fill(~mask, float("-inf")) if mask.dtype == torch.bool else scores + mask
    probs = torch.softmax(scores, dim=-1, dtype=torch.float32).to(value.dtype)
    output = torch.matmul(probs.view(batch, kv_heads, groups * q_len, keys), value)
    return output.view(batch, heads, q_len, dim).transpose(1, 2).contiguous(), None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--users", type=int, default=96)
    parser.add_argument("--steps", type=int, default=4, help="UA steps of batch 32 per kernel and round")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    import glta.text.attention as attention
    from glta.config import DataConfig
    from glta.data import load_dataset
    from glta.models.glta import GLTA, GLTAConfig
    from glta.models.lightgcn import load_embeddings
    from glta.results import git_commit, machine
    from glta.text.llm import load_llm

    kernels = {"masked": masked, "bias": attention._grouped}
    dataset = load_dataset(DataConfig(name="ml-1m"))
    llm = load_llm()
    embeddings = load_embeddings(Path("runs/ml-1m/lightgcn/embeddings.safetensors"), dataset)
    users = np.sort(np.random.default_rng(0).choice(dataset.n_users, args.users, replace=False))
    keep = sp.diags(np.isin(np.arange(dataset.n_users), users).astype(np.float32))

    def train(kernel) -> dict:
        attention._grouped = kernels[kernel]  # what grouped_query_attention calls
        torch.manual_seed(0)
        model = GLTA(dataset, GLTAConfig(ua_template="user_item_text_first", prefix_cache=True), llm=llm,
                     embeddings=embeddings)
        model.enter_stage("ua")
        model.prompts.train_matrix = (keep @ dataset.train).tocsr()  # only the sampled users form batches
        model.prompts.train_matrix.eliminate_zeros()
        model.prefix_kv().fill(users, progress=False)
        optimizer = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=1e-3)
        model.train()
        losses, seconds = [], []
        for batch in list(model.train_batches(np.random.default_rng(1), 32))[: args.steps]:
            started = time.time()
            optimizer.zero_grad()
            loss = model.loss(batch)
            loss.backward()
            optimizer.step()
            seconds.append(time.time() - started)
            losses.append(loss.item())
        model.eval()
        with torch.no_grad():
            scores = model.score(torch.from_numpy(users[:32]))
        return {"losses": losses, "seconds": seconds, "scores": scores,
                "state": {name: value.detach().clone() for name, value in model.state_dict().items()}}

    runs = {kernel: [] for kernel in kernels}
    for _ in range(args.rounds):
        for kernel in kernels:
            runs[kernel].append(train(kernel))
    first = {kernel: found[0] for kernel, found in runs.items()}
    same = {"losses": first["masked"]["losses"] == first["bias"]["losses"],
            "parameters": all(torch.equal(value, first["bias"]["state"][name])
                              for name, value in first["masked"]["state"].items()),
            "scores": torch.equal(first["masked"]["scores"], first["bias"]["scores"])}
    steps = {kernel: [round(s, 3) for run in found for s in run["seconds"]] for kernel, found in runs.items()}
    mean = {kernel: float(np.mean(values)) for kernel, values in steps.items()}
    record = {"benchmark": "attention_bias", "dataset": "ml-1m", "users": args.users, "batch_size": 32,
              "steps_per_round": args.steps, "rounds": args.rounds, "threads": torch.get_num_threads(),
              "same_to_the_last_bit": same, "step_seconds": steps,
              "mean_step_seconds": {kernel: round(value, 3) for kernel, value in mean.items()},
              "bias_speedup": round(mean["masked"] / mean["bias"], 3),
              "load_average_at_end": [round(load, 2) for load in os.getloadavg()],
              "git_commit": git_commit(), "machine": machine()}
    shown = ("same_to_the_last_bit", "mean_step_seconds", "bias_speedup", "load_average_at_end")
    print(json.dumps({key: record[key] for key in shown}), flush=True)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(record, indent=2) + "\n")


if __name__ == "__main__":
    main()
