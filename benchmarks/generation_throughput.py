"""Generation throughput on a data set's user prompts (ML-1M by default): the project's batched generator vs
llama.cpp batch-1, same GGUF.

    .venv/bin/python benchmarks/generation_throughput.py --users 64 --out benchmarks/results/generation_ml-1m.json
    .venv/bin/python benchmarks/generation_throughput.py --users 64 --llama-cpp --out ...   # also llama.cpp
    .venv/bin/python benchmarks/generation_throughput.py --dataset goodreads-once --users 64 --seed 0 \
        --batch-size 64 --threads 1 --no-encoder --out benchmarks/results/generation_goodreads-once_float32.json
    .venv/bin/python benchmarks/generation_throughput.py --users 16 --int8-dynamic --out ...  # also int8 weights
    .venv/bin/python benchmarks/generation_throughput.py --users 64 --batch-size 64 --threads 1 \
        --strided-head --out benchmarks/results/generation_ml-1m_head_input.json  # also without the head's fix
    .venv/bin/python benchmarks/generation_throughput.py --users 32 --batch-size 32 --threads 1 --dtype float32 \
        --strided-head --out benchmarks/results/generation_ml-1m_head_input_float32.json  # the LLM in fp32

``--strided-head`` runs the profile+prediction prompts once more with the LM head's contiguous-input hook removed
(``glta.text.llm._contiguous_input``: generate's first step hands the head a strided slice, which torch's linear
turned into one copy of the vocabulary matrix per prompt), then once more with it, and compares the texts.

``--int8-dynamic`` runs the project's profile prompts once more with every linear layer of the LLM quantised to int8
by torch's dynamic quantisation (per-channel weights, activations quantised per batch: the usual CPU way when there
is no hardware bf16), and counts how many of its texts are the same as the unquantised model's.

llama.cpp runs through ``llama-cpp-python`` in a separate virtual environment (``benchmarks/.llama-venv``), never
in the project's: ``--llama-cpp`` creates it on first use (the package compiles llama.cpp: ~5 min on 2 idle cores,
~27 min beside two training jobs).
Both sides get the same prompt token ids and write a user's profile and prediction after one shared prefill of its
history; llama.cpp decodes greedily in a loop that applies transformers' repetition penalty (every token of the
prompt and of the answer so far, not llama.cpp's last 64) and stops at the same token ids, with the same cap on new
tokens. Reported: responses/s and new tokens/s of each, and how many of llama.cpp's texts equal the project's (the
GGUF's 4-bit weights run as they are in llama.cpp, dequantised in the project).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
LLAMA_VENV = HERE / ".llama-venv"

LLAMA_SIDE = r'''
import json, sys, time
import numpy as np
import llama_cpp
from llama_cpp import Llama
spec = json.load(open(sys.argv[1]))
llm = Llama(model_path=spec["gguf"], n_ctx=1024, n_threads=spec["threads"], n_threads_batch=spec["threads"],
            n_batch=512, verbose=False)
vocab, stop, penalty = llm.n_vocab(), set(spec["stop"]), spec["repetition_penalty"]
new_tokens, started, out = 0, time.time(), []
for prompt in spec["prompts"]:  # one user: its shared prefix once, then each kind's suffix after it
    llm.reset()
    llm.eval(prompt["prefix"])
    produced_by_kind = {}
    for kind, suffix in prompt["suffixes"].items():
        llm.n_tokens = len(prompt["prefix"])  # eval() drops the cache after this: the prefix stays
        llm.eval(suffix)
        seen = np.zeros(vocab, bool)
        seen[prompt["prefix"] + suffix] = True
        produced = []
        while len(produced) < spec["max_new_tokens"]:
            logits = np.ctypeslib.as_array(llama_cpp.llama_get_logits_ith(llm._ctx.ctx, -1), shape=(vocab,)).copy()
            hit = logits[seen]  # transformers' repetition penalty: every token of the prompt and the answer so far
            logits[seen] = np.where(hit < 0, hit * penalty, hit / penalty)
            token = int(np.argmax(logits))
            if token in stop:
                break
            produced.append(token)
            seen[token] = True
            llm.eval([token])
        new_tokens += len(produced)
        produced_by_kind[kind] = produced
    out.append(produced_by_kind)
json.dump({"seconds": time.time() - started, "responses": sum(map(len, out)), "new_tokens": new_tokens,
           "tokens": out}, open(sys.argv[2], "w"))
'''


def ensure_llama_venv() -> Path:
    python = LLAMA_VENV / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(LLAMA_VENV)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "--quiet", "llama-cpp-python==0.3.36"], check=True,
                       env={**os.environ, "CMAKE_ARGS": "-DGGML_NATIVE=ON"})
    return python


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", default="ml-1m")
    parser.add_argument("--users", type=int, default=64)
    parser.add_argument("--seed", type=int, default=None,
                        help="draw the users at random with this seed (default: the data set's first users; a data "
                             "set whose user ids follow some order, such as activity, gets a biased sample from them)")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--max-new-tokens", type=int, default=64)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--llama-cpp", action="store_true", help="also run llama.cpp (installs it when missing)")
    parser.add_argument("--int8-dynamic", action="store_true",
                        help="also run the profile prompts with the LLM's linear layers dynamically quantised to int8")
    parser.add_argument("--strided-head", action="store_true",
                        help="also run the profile+prediction prompts without the LM head's contiguous-input hook")
    parser.add_argument("--no-encoder", action="store_true",
                        help="skip the MiniLM timing (it encodes every item's text: minutes on a large catalogue)")
    parser.add_argument("--dtype", default="auto", help="the LLM's dtype (llm.dtype): auto, bfloat16 or float32")
    parser.add_argument("--out", required=True)
    args = parser.parse_args()

    import numpy as np
    import torch

    torch.set_num_threads(args.threads)
    from glta.config import DataConfig
    from glta.data import load_dataset
    from glta.results import git_commit, machine
    from glta.text.generate import GenerationConfig, generate_batch, user_prompts
    from glta.text.llm import LLMConfig, bundled_gguf, load_llm

    dataset = load_dataset(DataConfig(name=args.dataset))
    started = time.time()
    llm = load_llm(LLMConfig(dtype=args.dtype))  # the first load also imports transformers (may convert the GGUF)
    first_load = time.time() - started
    started = time.time()
    llm = load_llm(LLMConfig(dtype=args.dtype))
    load_seconds = time.time() - started
    config = GenerationConfig(max_new_tokens=args.max_new_tokens, batch_size=args.batch_size)
    with_items = np.flatnonzero(np.diff(dataset.train.indptr) > 0)  # the users `glta text generate` writes for
    users = with_items[:args.users]
    if args.seed is not None:
        drawn = np.random.default_rng(args.seed).choice(with_items, min(args.users, len(with_items)), replace=False)
        users = np.sort(drawn)
    prompts = [user_prompts(llm.tokenizer, dataset, int(u), ("profile", "prediction"), config) for u in users]
    order = np.argsort([-len(p["profile"].prefix) for p in prompts], kind="stable")
    prompts = [prompts[i] for i in order]
    result = {"dataset": args.dataset, "users": len(users), "user_seed": args.seed, "batch_size": args.batch_size,
              "max_new_tokens": args.max_new_tokens, "llm": llm.identity, "dtype": str(llm.dtype),
              "llm_first_load_seconds_in_process": round(first_load, 3),
              "llm_load_seconds": round(load_seconds, 3), "mean_prompt_tokens": float(np.mean(
                  [len(p["profile"].prefix) + len(p["profile"].suffix) for p in prompts])),
              "git_commit": git_commit(), "machine": machine(),
              "load_average_at_start": [round(x, 2) for x in os.getloadavg()]}  # other jobs on the cores

    def run(kinds, texts=None):
        produced, begin = 0, time.time()
        for start in range(0, len(prompts), args.batch_size):
            batch = prompts[start:start + args.batch_size]
            if len(kinds) == 1:
                k = kinds[0]
                out = generate_batch(llm, [p[k].prefix + p[k].suffix for p in batch], {k: []}, config)
            else:
                out = generate_batch(llm, [p[kinds[0]].prefix for p in batch],
                                     {k: batch[0][k].suffix for k in kinds}, config)
            produced += sum(tokens for _, tokens in out.values())
            if texts is not None:
                for kind in kinds:
                    texts.setdefault(kind, []).extend(out[kind][0])
        seconds = time.time() - begin
        responses = len(prompts) * len(kinds)
        return {"responses": responses, "seconds": round(seconds, 2), "new_tokens": produced,
                "responses_per_s": responses / seconds, "new_tokens_per_s": produced / seconds}

    if not args.no_encoder:
        from glta.text.encoder import TextEncoder
        from glta.text.generate import item_text

        encoder = TextEncoder()
        texts = [item_text(dataset, i, 200) for i in range(dataset.n_items)]
        encoder.encode(texts[:64])  # warm-up
        begin = time.time()
        encoder.encode(texts)
        seconds = time.time() - begin
        result["minilm"] = {"texts": len(texts), "seconds": round(seconds, 2), "texts_per_s": len(texts) / seconds}
        print("MiniLM:", json.dumps(result["minilm"]), flush=True)
    plain: dict[str, list[str]] = {}
    result["project_profile_only"] = run(["profile"], plain)
    print("project, profile prompts:", json.dumps(result["project_profile_only"]), flush=True)
    shared: dict[str, list[str]] = {}
    result["project_profile_and_prediction_shared_prefix"] = run(["profile", "prediction"], shared)
    print("project, profile+prediction:", json.dumps(result["project_profile_and_prediction_shared_prefix"]),
          flush=True)
    if args.strided_head:
        from glta.text.llm import _contiguous_input

        head = llm.model.get_output_embeddings()
        hooks = dict(head._forward_pre_hooks)
        assert any(hook is _contiguous_input for hook in hooks.values())  # what this run removes: the fix itself
        head._forward_pre_hooks.clear()
        strided: dict[str, list[str]] = {}
        side = run(["profile", "prediction"], strided)
        side["same_text_as_contiguous"] = sum(a == b for k in strided for a, b in zip(shared[k], strided[k]))
        result["project_profile_and_prediction_strided_head"] = side
        print("project, profile+prediction, strided head input:", json.dumps(side), flush=True)
        head._forward_pre_hooks.update(hooks)
        again: dict[str, list[str]] = {}
        side = run(["profile", "prediction"], again)  # the fixed head once more: the machine's load may drift
        side["same_text_as_first_run"] = sum(a == b for k in again for a, b in zip(shared[k], again[k]))
        result["project_profile_and_prediction_shared_prefix_again"] = side
        print("project, profile+prediction, again:", json.dumps(side), flush=True)
    if args.int8_dynamic:
        from torch.ao.quantization import per_channel_dynamic_qconfig, quantize_dynamic

        unquantised = llm.model
        llm.model = quantize_dynamic(unquantised, {torch.nn.Linear: per_channel_dynamic_qconfig}, dtype=torch.qint8)
        int8: dict[str, list[str]] = {}
        side = run(["profile"], int8)
        side["same_text_as_unquantised"] = sum(a == b for a, b in zip(plain["profile"], int8["profile"]))
        side["texts"] = [f"{a} || int8: {b}" for a, b in zip(plain["profile"][:3], int8["profile"][:3])]
        result["project_profile_only_int8_dynamic"] = side
        print("project, profile prompts, int8 dynamic:", json.dumps(side), flush=True)
        llm.model = unquantised
    if args.llama_cpp:
        python = ensure_llama_venv()
        kinds = ("profile", "prediction")
        tokenizer = llm.tokenizer
        with tempfile.TemporaryDirectory() as tmp:
            spec = {"gguf": str(bundled_gguf()), "threads": args.threads, "max_new_tokens": args.max_new_tokens,
                    "repetition_penalty": config.repetition_penalty,
                    "stop": sorted({tokenizer.eos_token_id, tokenizer.pad_token_id}),
                    "prompts": [{"prefix": p["profile"].prefix, "suffixes": {k: p[k].suffix for k in kinds}}
                                for p in prompts]}
            Path(tmp, "spec.json").write_text(json.dumps(spec))
            Path(tmp, "side.py").write_text(LLAMA_SIDE)
            subprocess.run([str(python), str(Path(tmp, "side.py")), str(Path(tmp, "spec.json")),
                            str(Path(tmp, "out.json"))], check=True)
            side = json.loads(Path(tmp, "out.json").read_text())
        tokens = side.pop("tokens")
        texts = {k: [" ".join(tokenizer.decode(user[k], skip_special_tokens=True).split()) for user in tokens]
                 for k in kinds}
        side["responses_per_s"] = side["responses"] / side["seconds"]
        side["new_tokens_per_s"] = side["new_tokens"] / side["seconds"]
        side["same_text_as_project"] = {k: sum(a == b for a, b in zip(shared[k], texts[k])) for k in kinds}
        side["texts"] = [f"{a} || llama.cpp: {b}" for a, b in zip(shared["profile"][:3], texts["profile"][:3])]
        result["llama_cpp_batch1_profile_and_prediction_shared_prefix"] = side
        mine = result["project_profile_and_prediction_shared_prefix"]
        result["speedup_responses_per_s"] = mine["responses_per_s"] / side["responses_per_s"]
        print("llama.cpp batch-1:", json.dumps(side), flush=True)
        print(f"project / llama.cpp responses/s: {result['speedup_responses_per_s']:.2f}x")
    result["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
