"""GLTA user-item alignment (UA) and evaluation throughput on ML-1M, as a fraction of a matmul peak measured in the
same run.

    .venv/bin/python benchmarks/glta_throughput.py --users 96 --batch-size 16 32 \
        --out benchmarks/results/glta_throughput_ml-1m.json

Two layouts of the UA template are timed on the same users, LightGCN embeddings and LLM-written texts:

- ``user_item`` (the user and item tokens first, then profile and prediction): every token of every sample goes
  through the LLM forward and backward each step;
- ``user_item_text_first`` + prefix cache: the profile/prediction keys/values are computed once per user (timed
  separately: a one-off cost per data set) and each step runs only the remainder.

FLOPs are counted, not sampled: per real token, 2 x (decoder linear parameters) forward and as much again for the
input-gradient backward (the LLM's weights get no gradient), plus attention (4 x width x context per layer forward,
twice that backward) and the GLLM head. Peak: the best of a few bf16 (and fp32) matmuls shaped like the model's.
Needs ``glta pretrain --dataset ml-1m`` and the ML-1M texts (``glta text generate ml-1m``).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import scipy.sparse as sp
import torch


def matmul_peak(dtype: torch.dtype, seconds: float = 2.0) -> dict:
    best = {}
    for m, k, n in ((4096, 576, 1536), (4096, 1536, 576), (2048, 2048, 2048)):
        a, b = torch.randn(m, k, dtype=dtype), torch.randn(k, n, dtype=dtype)
        a @ b
        count, started = 0, time.time()
        while time.time() - started < seconds / 3:
            a @ b
            count += 1
        rate = 2 * m * k * n * count / (time.time() - started)
        best[f"{m}x{k}x{n}"] = round(rate / 1e9, 1)
    return {"gflops_by_shape": best, "gflops": max(best.values())}


def decoder_linear_params(model) -> int:
    layers = model.base_model.layers
    return sum(p.numel() for layer in layers for name, p in layer.named_parameters()
               if p.dim() == 2)


def step_flops(batch, config, linear: int, n_items: int, prefix_lengths: torch.Tensor | None, backward: bool) -> float:
    """FLOPs of one forward (+ input-gradient backward) over a batch's real tokens."""
    mask = batch.attention_mask
    tokens = int(mask.sum())
    width, layers = config.hidden_size, config.num_hidden_layers
    # context seen by each query token: its position among real tokens (+ the cached prefix)
    context = mask.cumsum(1) * mask
    if prefix_lengths is not None:
        context = context + prefix_lengths[:, None] * mask
    attention = 4 * width * float(context.sum()) * layers
    slots = batch.out_positions.numel()
    head = 2 * width * n_items * slots
    forward = 2 * linear * tokens + attention + head
    if not backward:
        return forward
    return forward + 2 * linear * tokens + 2 * attention + 2 * head


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--users", type=int, default=96)
    parser.add_argument("--batch-size", type=int, nargs="+", default=[16])
    parser.add_argument("--threads", type=int, default=0)
    parser.add_argument("--steps", type=int, default=4, help="timed steps per setting (after one warm-up step)")
    parser.add_argument("--templates", nargs="+", default=["user_item", "user_item_text_first"])
    parser.add_argument("--compile", action="store_true",
                        help="also time each setting with the decoder layers compiled (model.compile=true)")
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    from glta.models.glta import GLTA, GLTAConfig, compile_decoder
    from glta.config import DataConfig
    from glta.data import load_dataset
    from glta.models.lightgcn import load_embeddings
    from glta.results import git_commit, machine
    from glta.text.llm import load_llm

    dataset = load_dataset(DataConfig(name="ml-1m"))
    llm = load_llm()
    embeddings = load_embeddings(Path("runs/ml-1m/lightgcn/embeddings.safetensors"), dataset)
    peak = {"bf16": matmul_peak(torch.bfloat16), "fp32": matmul_peak(torch.float32)}
    print("matmul peak GFLOP/s:", {k: v["gflops"] for k, v in peak.items()}, flush=True)
    linear = decoder_linear_params(llm.model)
    peak_flops = peak["bf16" if llm.dtype == torch.bfloat16 else "fp32"]["gflops"] * 1e9
    rows = []
    rng = np.random.default_rng(0)
    # eager rows first: compiling changes the shared LLM in place
    for template, compiled in [(t, c) for c in ([False, True] if args.compile else [False]) for t in args.templates]:
        model = GLTA(dataset, GLTAConfig(ua_template=template, prefix_cache=template != "user_item"), llm=llm,
                     embeddings=embeddings)
        model.enter_stage("ua")
        with_texts = [u for u in range(dataset.n_users) if model.prompts.user_fields[u]]
        users = np.sort(rng.choice(with_texts, size=min(args.users, len(with_texts)), replace=False))
        keep = sp.diags(np.isin(np.arange(dataset.n_users), users).astype(np.float32))
        model.prompts.train_matrix = (keep @ dataset.train).tocsr()  # only the sampled users form batches
        model.prompts.train_matrix.eliminate_zeros()
        prefix_seconds = None
        store = model.prefix_kv()
        if store is not None:
            started = time.time()
            store.fill(users, progress=False)
            prefix_seconds = time.time() - started
        compile_check = None
        if compiled:
            probe = next(iter(model.train_batches(np.random.default_rng(2), args.batch_size[0])))
            with torch.no_grad():
                eager_loss = float(model.loss(probe))
            compile_decoder(llm.model)
            started = time.time()
            with torch.no_grad():
                compiled_loss = float(model.loss(probe))
            compile_check = {"eager_loss": round(eager_loss, 5), "compiled_loss": round(compiled_loss, 5),
                             "first_call_seconds": round(time.time() - started, 1)}
            print("compile check:", compile_check, flush=True)
        optimizer = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=1e-4)
        for batch_size in args.batch_size:
            batches = list(model.train_batches(np.random.default_rng(1), batch_size))
            warm = 2 if compiled else 1  # a compiled model's second step still compiles the backward's shapes
            timed = batches[warm: warm + args.steps]
            model.train()
            warm_started = time.time()
            for batch in batches[:warm]:
                optimizer.zero_grad()
                model.loss(batch).backward()
            warm_seconds = time.time() - warm_started
            flops = tokens = samples = 0.0
            started = time.time()
            for batch in timed:
                optimizer.zero_grad()
                model.loss(batch).backward()
                optimizer.step()
                lengths = store.lengths[batch.prefix_users.numpy()] if store is not None else None
                flops += step_flops(batch, llm.model.config, linear, dataset.n_items,
                                    torch.from_numpy(lengths) if lengths is not None else None, True)
                tokens += float(batch.attention_mask.sum())
                samples += len(batch.token_ids)
            train_seconds = time.time() - started
            model.eval()
            eval_users = users[: 2 * batch_size]
            model.prepare_scoring(dataset.train)
            model.config.eval_batch_size = batch_size
            if compiled:  # compile the no-grad variants outside the timing
                with torch.no_grad():
                    model.score(torch.from_numpy(users[-batch_size:]))
            started = time.time()
            with torch.no_grad():
                model.score(torch.from_numpy(eval_users))
            eval_seconds = time.time() - started
            eval_batches = [model.prompts.inference_batch(chunk, model.config.output_slots)
                            for chunk in np.array_split(eval_users, max(1, len(eval_users) // batch_size))]
            eval_flops = sum(step_flops(b, llm.model.config, linear, dataset.n_items,
                                        torch.from_numpy(store.lengths[b.prefix_users.numpy()]) if store else None,
                                        False) for b in eval_batches)
            eval_tokens = sum(float(b.attention_mask.sum()) for b in eval_batches)
            per_user_train = train_seconds / samples
            row = {"template": template, "prefix_cache": store is not None, "batch_size": batch_size,
                   "compiled": compiled, "warm_up_seconds": round(warm_seconds, 1),
                   "train": {"samples_per_s": round(samples / train_seconds, 2),
                             "tokens_per_s": round(tokens / train_seconds, 1),
                             "tokens_per_sample": round(tokens / samples, 1),
                             "gflops": round(flops / train_seconds / 1e9, 1),
                             "fraction_of_peak": round(flops / train_seconds / peak_flops, 3),
                             "projected_ua_epoch_minutes_ml1m": round(per_user_train * 6040 / 60, 1)},
                   "eval": {"users_per_s": round(len(eval_users) / eval_seconds, 2),
                            "tokens_per_s": round(eval_tokens / eval_seconds, 1),
                            "gflops": round(eval_flops / eval_seconds / 1e9, 1),
                            "fraction_of_peak": round(eval_flops / eval_seconds / peak_flops, 3),
                            "projected_full_eval_minutes_ml1m": round(6040 / (len(eval_users) / eval_seconds) / 60, 1)}}
            if compile_check is not None:
                row["compile_check"] = compile_check
            if prefix_seconds is not None:
                row["prefix"] = {"seconds_per_user": round(prefix_seconds / len(users), 3),
                                 "projected_minutes_ml1m": round(prefix_seconds / len(users) * 6040 / 60, 1),
                                 "mean_prefix_tokens": round(float(store.lengths[users].mean()), 1)}
            rows.append(row)
            print(json.dumps(row), flush=True)
    record = {"benchmark": "glta_throughput", "dataset": "ml-1m", "users": int(args.users), "llm": llm.identity,
              "dtype": str(llm.dtype), "threads": torch.get_num_threads(), "decoder_linear_params": linear,
              "peak": peak, "rows": rows, "git_commit": git_commit(), "machine": machine()}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(record, indent=2) + "\n")


if __name__ == "__main__":
    main()
