"""LLM-written user text: the profile (paper Fig. 1(c)) and prediction (Fig. 1(d)) of each user, and item profiles.

Prompts are built from the descriptions of a user's **training** items only (``dataset.train``), never from
validation or test items. Long histories are sampled (seeded per user) down to ``max_history_items`` and every
item's text is trimmed to ``max_item_chars``; if the prompt still exceeds ``prompt_token_budget`` tokens, items
are dropped from the end until it fits.

Generation is batched (left padding, KV cache, batches of similar prompt length), greedy by default, with a
bounded number of new tokens. Results are appended to a JSON-lines cache as each batch finishes, keyed by
(model, template, generation settings) in the file name and (user, history fingerprint) per record, so a killed
run loses at most the batch in flight and a rerun regenerates nothing that exists.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from glta.data.dataset import RecDataset

TEMPLATES = Path(__file__).parent / "templates"
USER_KINDS = ("profile", "prediction")


@dataclass
class GenerationConfig:
    max_new_tokens: int = 64
    batch_size: int = 32
    max_history_items: int = 20
    max_item_chars: int = 120
    prompt_token_budget: int = 640
    greedy: bool = True
    temperature: float = 0.7  # used only when greedy is false
    repetition_penalty: float = 1.15  # small models loop ("comedy, comedy, ...") without it
    system_prompt: str = "You are a concise assistant for a recommender system."
    seed: int = 2025


def template_text(kind: str) -> str:
    path = TEMPLATES / f"{kind}.txt"
    if not path.exists():
        raise ValueError(f"no template for '{kind}' in {TEMPLATES}")
    return path.read_text()


def trim(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def history_items(dataset: RecDataset, user: int, config: GenerationConfig) -> np.ndarray:
    """The training items shown for ``user`` (a seeded sample when the history is long)."""
    items = dataset.train[user].indices  # training interactions only: nothing held out can leak
    if len(items) > config.max_history_items:
        rng = np.random.default_rng([config.seed, user])
        items = np.sort(rng.choice(items, config.max_history_items, replace=False))
    return np.asarray(items)


def history_fingerprint(dataset: RecDataset, items: np.ndarray) -> str:
    return hashlib.sha256(",".join(str(dataset.item_ids[i]) for i in items).encode()).hexdigest()[:16]


def item_text(dataset: RecDataset, item: int, limit: int) -> str:
    """Compact item text for prompts: the title, then the other fields ("Heat (1995) | Action, Crime")."""
    fields = dataset.item_text
    title = fields.get("title", [""] * dataset.n_items)[item]
    rest = [fields[name][item] for name in sorted(fields) if name != "title" and fields[name][item]]
    text = " | ".join([t for t in [title] + rest if t]) or f"item {dataset.item_ids[item]}"
    return trim(text, limit)


def item_line(dataset: RecDataset, item: int, config: GenerationConfig) -> str:
    return "- " + item_text(dataset, item, config.max_item_chars)


def chat_prompt(tokenizer, content: str, system: str | None = None) -> str:
    if getattr(tokenizer, "chat_template", None):
        messages = ([{"role": "system", "content": system}] if system else []) + [{"role": "user", "content": content}]
        return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    return content + "\n"


def user_prompt(tokenizer, dataset: RecDataset, user: int, kind: str, config: GenerationConfig,
                template: str | None = None) -> tuple[str, str]:
    """(prompt, history fingerprint) for one user, within the token budget."""
    template = template or template_text(kind)
    items = history_items(dataset, user, config)
    fingerprint = history_fingerprint(dataset, items)  # of the sampled history; the budget cut is deterministic
    lines = [item_line(dataset, i, config) for i in items]
    while True:
        prompt = chat_prompt(tokenizer, template.format(history="\n".join(lines) or "- (no items)"),
                             config.system_prompt)
        if len(lines) <= 1 or len(tokenizer(prompt, add_special_tokens=False).input_ids) <= config.prompt_token_budget:
            break
        lines = lines[:-1]
    return prompt, fingerprint


class TextCache:
    """Append-only JSON-lines store: one record per line, written whole and fsynced per batch.

    A crash mid-write leaves at most one partial last line, which ``load`` skips; the file is never rewritten.
    """

    def __init__(self, path: Path):
        self.path = path

    def load(self) -> dict[tuple[str, str], str]:
        out: dict[tuple[str, str], str] = {}
        if not self.path.exists():
            return out
        with open(self.path, "rb") as handle:
            for raw in handle:
                try:
                    record = json.loads(raw)
                    out[(record["key"], record["history"])] = record["text"]
                except (json.JSONDecodeError, KeyError, UnicodeDecodeError):
                    continue  # a torn final line from an interrupted write
        return out

    def append(self, records: list[dict]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        payload = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records).encode()
        with open(self.path, "ab") as handle:
            if handle.tell() > 0:  # make sure a torn line from a crash does not swallow the next record
                with open(self.path, "rb") as reader:
                    reader.seek(-1, os.SEEK_END)
                    if reader.read(1) != b"\n":
                        payload = b"\n" + payload
            handle.write(payload)
            handle.flush()
            os.fsync(handle.fileno())


def cache_path(llm_identity: str, dataset: RecDataset, kind: str, template: str, config: GenerationConfig) -> Path:
    from glta.data import cache_dir

    settings = {k: v for k, v in dataclasses.asdict(config).items() if k != "batch_size"}
    key = hashlib.sha256(json.dumps({"model": llm_identity, "template": template, "settings": settings},
                                    sort_keys=True).encode()).hexdigest()[:16]
    return cache_dir() / "texts" / f"{dataset.name}-{dataset.fingerprint()}" / f"{kind}-{key}.jsonl"


@torch.no_grad()
def generate_batch(llm, prompts: list[str], config: GenerationConfig) -> tuple[list[str], int]:
    """Generate for a batch of prompts; returns the texts and the number of new tokens produced."""
    tokenizer = llm.tokenizer
    encoded = tokenizer(prompts, return_tensors="pt", padding=True, add_special_tokens=False).to(llm.device)
    kwargs = dict(max_new_tokens=config.max_new_tokens, do_sample=not config.greedy, use_cache=True,
                  pad_token_id=tokenizer.pad_token_id, repetition_penalty=config.repetition_penalty)
    if not config.greedy:
        kwargs["temperature"] = config.temperature
    output = llm.model.generate(**encoded, **kwargs)
    new = output[:, encoded.input_ids.shape[1]:]
    texts, produced = [], 0
    eos = {tokenizer.eos_token_id, tokenizer.pad_token_id}
    for row in new.tolist():
        length = next((i for i, t in enumerate(row) if t in eos), len(row))
        produced += length
        texts.append(" ".join(tokenizer.decode(row[:length], skip_special_tokens=True).split()))
    return texts, produced


@dataclass
class GenerationReport:
    kind: str
    requested: int
    generated: int
    seconds: float
    new_tokens: int
    cache_file: Path

    @property
    def responses_per_second(self) -> float:
        return self.generated / self.seconds if self.seconds else float("nan")


def generate_texts(llm, keyed_prompts: list[tuple[str, str, str]], cache: TextCache, config: GenerationConfig,
                   desc: str, progress: bool = True) -> tuple[int, int, float]:
    """Generate for (key, history fingerprint, prompt) triples missing from ``cache``; append as batches finish."""
    have = cache.load()
    todo = [(k, h, p) for k, h, p in keyed_prompts if (k, h) not in have]
    if not todo:
        return 0, 0, 0.0
    lengths = [len(llm.tokenizer(p, add_special_tokens=False).input_ids) for _, _, p in todo]
    order = np.argsort(lengths, kind="stable")[::-1]  # longest first: the worst batch shows up early
    torch.manual_seed(config.seed)
    started, new_tokens, done = time.time(), 0, 0
    bar = tqdm(total=len(todo), desc=desc, unit="resp", disable=not progress)
    for start in range(0, len(order), config.batch_size):
        batch = [todo[i] for i in order[start:start + config.batch_size]]
        texts, produced = generate_batch(llm, [p for _, _, p in batch], config)
        cache.append([{"key": k, "history": h, "text": t} for (k, h, _), t in zip(batch, texts)])
        new_tokens += produced
        done += len(batch)
        bar.update(len(batch))
        bar.set_postfix(tok_s=f"{new_tokens / max(time.time() - started, 1e-9):.0f}", refresh=False)
    bar.close()
    return done, new_tokens, time.time() - started


def generate_user_texts(llm, dataset: RecDataset, kinds=USER_KINDS, config: GenerationConfig | None = None,
                        users: np.ndarray | None = None, progress: bool = True) -> list[GenerationReport]:
    """Fill the cache with profile/prediction texts for ``users`` (default: every user with training items)."""
    config = config or GenerationConfig()
    if users is None:
        users = np.flatnonzero(np.diff(dataset.train.indptr) > 0)
    reports = []
    for kind in kinds:
        template = template_text(kind)
        cache = TextCache(cache_path(llm.identity, dataset, kind, template, config))
        prompts = []
        for user in users:
            prompt, fingerprint = user_prompt(llm.tokenizer, dataset, int(user), kind, config, template)
            prompts.append((str(dataset.user_ids[user]), fingerprint, prompt))
        done, tokens, seconds = generate_texts(llm, prompts, cache, config, f"{kind} texts", progress)
        reports.append(GenerationReport(kind, len(prompts), done, seconds, tokens, cache.path))
    return reports


def load_user_texts(llm_identity: str, dataset: RecDataset, kind: str,
                    config: GenerationConfig | None = None) -> dict[int, str]:
    """Cached texts of one kind by user index; users whose history changed since generation are left out."""
    config = config or GenerationConfig()
    template = template_text(kind)
    cached = TextCache(cache_path(llm_identity, dataset, kind, template, config)).load()
    out = {}
    for user in range(dataset.n_users):
        fingerprint = history_fingerprint(dataset, history_items(dataset, user, config))
        key = (str(dataset.user_ids[user]), fingerprint)
        if key in cached:
            out[user] = cached[key]
    return out


def item_prompt(tokenizer, dataset: RecDataset, item: int, config: GenerationConfig,
                template: str | None = None) -> tuple[str, str]:
    """(prompt, text fingerprint) for an item profile (used by the RLMRec baselines)."""
    template = template or template_text("item_profile")
    text = item_text(dataset, item, 4 * config.max_item_chars)
    prompt = chat_prompt(tokenizer, template.format(item=text), config.system_prompt)
    return prompt, hashlib.sha256(text.encode()).hexdigest()[:16]


def generate_item_texts(llm, dataset: RecDataset, config: GenerationConfig | None = None,
                        items: np.ndarray | None = None, progress: bool = True) -> GenerationReport:
    config = config or GenerationConfig()
    items = np.arange(dataset.n_items) if items is None else items
    template = template_text("item_profile")
    cache = TextCache(cache_path(llm.identity, dataset, "item_profile", template, config))
    prompts = []
    for item in items:
        prompt, fingerprint = item_prompt(llm.tokenizer, dataset, int(item), config, template)
        prompts.append((str(dataset.item_ids[item]), fingerprint, prompt))
    done, tokens, seconds = generate_texts(llm, prompts, cache, config, "item profiles", progress)
    return GenerationReport("item_profile", len(prompts), done, seconds, tokens, cache.path)
