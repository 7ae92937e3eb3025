"""LLM-written user text: the profile (paper Fig. 1(c)) and prediction (Fig. 1(d)) of each user, and item profiles.

Prompts are built from the descriptions of a user's **training** items only (``dataset.train``), never from
validation or test items. Long histories are sampled (seeded per user) down to ``max_history_items``, every
item's text is trimmed to ``max_item_chars``, and items are dropped from the end until the prompt fits
``prompt_token_budget`` tokens.

Both user templates start with the same text (the user's history) and differ only in the closing question, so a
prompt is a *shared prefix* plus a per-kind *suffix*, as token ids. Generation prefills each batch's prefixes once
and reuses their keys/values for the profile and the prediction continuation (left padding, KV cache, batches of
similar length, greedy by default, bounded new tokens). Results are appended to a JSON-lines cache as each batch
finishes, keyed by (model, template, generation settings) in the file name and (user, history fingerprint) per
record, so a killed run loses at most the batch in flight and a rerun regenerates nothing that exists.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import hashlib
import json
import shlex
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from glta.data.dataset import RecDataset
from glta.distributed import processes
from glta.progress import progress_bar
from glta.text.compat import cache_argument
from glta.text.text_cache import TextCache

TEMPLATES = Path(__file__).parent / "templates"
USER_KINDS = ("profile", "prediction")
TEXT_KINDS = (*USER_KINDS, "item_profile")  # what `glta text generate --kinds` writes
HISTORY_SLOT = "{history}"


@dataclass
class GenerationConfig:
    max_new_tokens: int = 64
    batch_size: int = 64  # per-step decoding overhead is shared by the batch: larger is faster on CPU
    max_history_items: int = 12
    max_item_chars: int = 80
    prompt_token_budget: int = 400
    greedy: bool = True
    temperature: float = 0.7  # used only when greedy is false
    repetition_penalty: float = 1.15  # small models loop ("comedy, comedy, ...") without it
    system_prompt: str = "You are a concise assistant for a recommender system."
    seed: int = 2025


def generate_command(dataset: RecDataset, llm_name: str, generation: GenerationConfig, kinds: str = "") -> str:
    """The `glta text generate` command that writes the texts a stage reads: the data set with its ``data.*``
    settings, the LLM by name where it is not the bundled one, and every generation setting the text cache is keyed
    by that is not the default (the batch size is not one), quoted for a shell; ``kinds``: its --kinds."""
    from glta.text.llm import LLMConfig

    words = [f"llm.name={llm_name}"] if llm_name != LLMConfig.name else []
    default = GenerationConfig()
    words += [f"generation.{f.name}={getattr(generation, f.name)}" for f in dataclasses.fields(default)
              if f.name != "batch_size" and getattr(generation, f.name) != getattr(default, f.name)]
    return " ".join(["glta text generate", dataset.cli_source(""), *([f"--kinds {kinds}"] if kinds else []),
                     *map(shlex.quote, words)])


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


def special_strings(tokenizer) -> list[str]:
    """The strings the tokenizer would read as special or control tokens (``<|im_start|>``, ``<bos>``, ...)."""
    cached = getattr(tokenizer, "_glta_special_strings", None)
    if cached is None:
        found = set(getattr(tokenizer, "all_special_tokens", []) or [])
        for token in (getattr(tokenizer, "added_tokens_decoder", None) or {}).values():
            if getattr(token, "special", False):
                found.add(str(token))
        cached = sorted((t for t in found if t), key=len, reverse=True)
        try:
            tokenizer._glta_special_strings = cached
        except AttributeError:
            pass
    return cached


def plain_text(tokenizer, text: str) -> str:
    """Data text (titles, descriptions, LLM-written texts) made unable to become special tokens: a zero-width space
    after the first character of each special-token string it contains. Text without them is returned as is."""
    for special in special_strings(tokenizer):
        if special in text:
            text = text.replace(special, special[0] + "\u200b" + special[1:])
    return text


def chat_prompt(tokenizer, content: str, system: str | None = None) -> str:
    if getattr(tokenizer, "chat_template", None):
        messages = ([{"role": "system", "content": system}] if system else []) + [{"role": "user", "content": content}]
        return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    return content + "\n"


@dataclass
class Prompt:
    """A prompt as token ids: ``prefix`` (shared by the kinds of one user) + ``suffix`` (the kind's question)."""

    key: str  # the user's or item's original id
    fingerprint: str  # of the history (or item text) it was built from
    prefix: list[int]
    suffix: list[int]

    def text(self, tokenizer) -> str:
        return tokenizer.decode(self.prefix + self.suffix)


def split_template(tokenizer, template: str, system: str | None) -> tuple[str, str]:
    """Render the chat prompt around a placeholder and cut it there: (text before, text after) the history."""
    marker = "\x00HISTORY\x00"
    rendered = chat_prompt(tokenizer, template.replace(HISTORY_SLOT, marker), system)
    before, after = rendered.split(marker)
    return before, after


def user_prompts(tokenizer, dataset: RecDataset, user: int, kinds, config: GenerationConfig) -> dict[str, Prompt]:
    """The user's prompt for each kind. The prefix (system, instruction head, history) is identical across
    kinds when the templates share their text before ``{history}``; the suffix holds the kind's question."""
    items = history_items(dataset, user, config)
    fingerprint = history_fingerprint(dataset, items)  # of the sampled history; the budget cut is deterministic
    lines = [plain_text(tokenizer, item_line(dataset, i, config)) for i in items]
    parts = {kind: split_template(tokenizer, template_text(kind), config.system_prompt) for kind in kinds}
    suffixes = {kind: tokenizer(after, add_special_tokens=False).input_ids for kind, (_, after) in parts.items()}
    longest_suffix = max(len(s) for s in suffixes.values())
    while True:
        history = "\n".join(lines) or "- (no items)"
        prefixes = {kind: tokenizer(before + history, add_special_tokens=False).input_ids
                    for kind, (before, _) in parts.items()}
        if len(lines) <= 1 or max(len(p) for p in prefixes.values()) + longest_suffix <= config.prompt_token_budget:
            break
        lines = lines[:-1]
    key = str(dataset.user_ids[user])
    return {kind: Prompt(key, fingerprint, prefixes[kind], suffixes[kind]) for kind in kinds}


def user_prompt(tokenizer, dataset: RecDataset, user: int, kind: str, config: GenerationConfig) -> tuple[str, str]:
    """(prompt text, history fingerprint) for one user and kind."""
    prompt = user_prompts(tokenizer, dataset, user, (kind,), config)[kind]
    return prompt.text(tokenizer), prompt.fingerprint


def item_source(dataset: RecDataset, item: int, config: GenerationConfig) -> tuple[str, str]:
    """The item text an item profile is written from, and its fingerprint (part of the cache key)."""
    text = item_text(dataset, item, 4 * config.max_item_chars)
    return text, hashlib.sha256(text.encode()).hexdigest()[:16]


def item_prompt(tokenizer, dataset: RecDataset, item: int, config: GenerationConfig) -> Prompt:
    """An item-profile prompt (for the RLMRec baselines): the whole prompt is the prefix."""
    text, fingerprint = item_source(dataset, item, config)
    rendered = chat_prompt(tokenizer, template_text("item_profile").format(item=plain_text(tokenizer, text)),
                           config.system_prompt)
    ids = tokenizer(rendered, add_special_tokens=False).input_ids
    return Prompt(str(dataset.item_ids[item]), fingerprint, ids, [])


def cache_path(llm_identity: str, dataset: RecDataset, kind: str, template: str, config: GenerationConfig) -> Path:
    from glta.paths import cache_dir

    settings = {k: v for k, v in dataclasses.asdict(config).items() if k != "batch_size"}
    key = hashlib.sha256(json.dumps({"model": llm_identity, "template": template, "settings": settings},
                                    sort_keys=True).encode()).hexdigest()[:16]
    return cache_dir("texts") / f"{dataset.name}-{dataset.fingerprint()}" / f"{kind}-{key}.jsonl"


def _left_pad(sequences: list[list[int]], pad_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    width = max(len(s) for s in sequences)
    ids = torch.full((len(sequences), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(sequences), width), dtype=torch.long)
    for row, sequence in enumerate(sequences):
        ids[row, width - len(sequence):] = torch.tensor(sequence)
        mask[row, width - len(sequence):] = 1
    return ids, mask


def _decode(tokenizer, new: torch.Tensor) -> tuple[list[str], int]:
    texts, produced = [], 0
    stop = {tokenizer.eos_token_id, tokenizer.pad_token_id}
    for row in new.tolist():
        length = next((i for i, t in enumerate(row) if t in stop), len(row))
        produced += length
        texts.append(" ".join(tokenizer.decode(row[:length], skip_special_tokens=True).split()))
    return texts, produced


@torch.no_grad()
def generate_batch(llm, prefixes: list[list[int]], suffixes: dict[str, list[int]],
                   config: GenerationConfig) -> dict[str, tuple[list[str], int]]:
    """Generate one continuation per kind for a batch of prefixes, prefilling the prefixes once.

    Returns, per kind, the texts and the number of new tokens produced.
    """
    tokenizer, model = llm.tokenizer, llm.model
    ids, mask = _left_pad(prefixes, tokenizer.pad_token_id)
    ids, mask = ids.to(llm.device), mask.to(llm.device)
    kwargs = dict(max_new_tokens=config.max_new_tokens, do_sample=not config.greedy, use_cache=True,
                  pad_token_id=tokenizer.pad_token_id, repetition_penalty=config.repetition_penalty)
    if not config.greedy:
        kwargs["temperature"] = config.temperature
    shared, name = None, cache_argument(model)
    if len(suffixes) > 1 or any(suffixes.values()):
        positions = (mask.cumsum(-1) - 1).clamp(min=0)  # what generate() derives from a left-padded mask
        prefill = model.model(input_ids=ids, attention_mask=mask, position_ids=positions, use_cache=True)
        shared = getattr(prefill, name)
    out = {}
    for kind, suffix in suffixes.items():
        tail = torch.tensor(suffix, dtype=torch.long, device=ids.device).expand(len(prefixes), -1)
        full_ids = torch.cat([ids, tail], 1)
        full_mask = torch.cat([mask, torch.ones_like(tail)], 1)
        extra = {name: copy.deepcopy(shared)} if shared is not None and suffix else {}
        output = model.generate(input_ids=full_ids, attention_mask=full_mask, **extra, **kwargs)
        out[kind] = _decode(tokenizer, output[:, full_ids.shape[1]:])
    return out


@dataclass
class GenerationReport:
    """What one call wrote for one kind. The kinds of a call share its prefills, so ``seconds`` is the call's wall
    time, the same for each of them, and ``call_kinds``/``processes`` say who shared it."""

    kind: str
    requested: int
    generated: int
    seconds: float
    new_tokens: int
    cache_file: Path
    call_kinds: tuple[str, ...] = ()
    processes: int = 1


def rates_path() -> Path:
    """The machine's log of generation rates (one JSON line per process and call), beside the text caches."""
    from glta.paths import cache_dir

    return cache_dir("texts") / "rates.jsonl"


# A call records its rate so far every this many seconds, as well as when it ends: a process killed outright (a
# session's hard stop, the kernel's OOM killer) runs no ``finally``, and its hours of texts would leave no rate.
RATE_LOG_SECONDS = 600.0


def log_rate(llm, kinds: list[str], responses: int, new_tokens: int, seconds: float, processes_: int,
             batch_size: int, dataset: str | None = None, prompt_tokens: float | None = None,
             call: str | None = None) -> None:
    """Record what one process generated and in how long, with what tells machines apart (CPU model, bf16, device,
    precision), the batch size it was asked for, the data set and its prompts' mean length in tokens (a data set of
    long histories reads more tokens a response), so that ``measured_rate`` can plan text generation from this
    machine's own runs. A call that records itself several times (``RATE_LOG_SECONDS``) names itself by ``call``:
    its latest record stands for it."""
    if not responses or seconds <= 0:
        return
    from datetime import datetime, timezone

    from glta.device import cpu_has_bf16, cpu_info

    record = {"finished_at": datetime.now(timezone.utc).isoformat(timespec="seconds"), "llm": llm.identity,
              "device": llm.device.type, "dtype": str(llm.dtype).removeprefix("torch."), "cpu": cpu_info()[0],
              "bf16": cpu_has_bf16(), "threads": torch.get_num_threads(), "processes": processes_,
              "kinds": list(kinds), "batch_size": int(batch_size), "responses": int(responses),
              "new_tokens": int(new_tokens), "seconds": round(seconds, 3), "dataset": dataset,
              "prompt_tokens": None if prompt_tokens is None else round(float(prompt_tokens), 1), "call": call}
    try:
        TextCache(rates_path()).append([record])
    except OSError:  # a read-only cache still generates
        pass


def measured_rate(device: str = "cpu", dtype: str | None = None, kinds: tuple[str, ...] | None = None,
                  recent: int = 8, dataset: str | None = None) -> tuple[float, int] | None:
    """Responses a second of one generating process on this machine (its CPU model, ``device`` and ``dtype``), over
    its ``recent`` latest logged calls, a process's call by its latest record (of calls that wrote one of ``kinds``
    when given: item profiles have prompts of their own; of calls on ``dataset``'s prompts when given: its history
    lengths set how much each prompt reads), and how many calls that is; None before the first such call here.
    Only the latest count: a
    machine's log outlives the code that wrote it, and a faster release (the contiguous LM head input made bf16
    generation 1.28x faster: docs/measurements.md) would otherwise be averaged with every slower call before it.
    A call that wrote less than one full batch of each kind (a trial such as ``glta text generate --limit 4``) is
    left out: its small batches run several times slower per response than a full run's (on an AVX2-only CPU, 4
    users took 28 s a response against ~3-5 s at batch 16-64), and as the only call it would set the plan's time
    for every text left."""
    from glta.device import cpu_info

    path = rates_path()
    if not path.exists():
        return None
    cpu, calls = cpu_info()[0], {}
    for number, line in enumerate(path.read_text(errors="replace").splitlines()):
        try:
            record = json.loads(line)
            here = (record["cpu"], record["device"]) == (cpu, device) and (not dtype or record["dtype"] == dtype)
            wanted = (not kinds or set(kinds) & set(record["kinds"])) and \
                (dataset is None or record.get("dataset") == dataset)
            full = record["responses"] >= record.get("batch_size", GenerationConfig.batch_size) * len(record["kinds"])
            if here and wanted and full:
                call = record.get("call") or number  # a call's latest record stands for it, placed where it came
                calls.pop(call, None)
                calls[call] = (int(record["responses"]), float(record["seconds"]))
        except (json.JSONDecodeError, KeyError, TypeError, ValueError):
            continue  # a torn last line
    counted = list(calls.values())[-recent:]
    seconds = sum(s for _, s in counted)
    return (sum(r for r, _ in counted) / seconds, len(counted)) if seconds > 0 else None


def dataset_rate(device: str, dtype: str | None, kinds: tuple[str, ...] | None,
                 dataset: str | None) -> tuple[float, int, bool] | None:
    """``measured_rate`` over this machine's calls on ``dataset``'s prompts where there were any, else over its calls
    on any data set, and whether it is the data set's own: (rate, calls, own), or None before any call here."""
    if dataset and (own := measured_rate(device, dtype, kinds, dataset=dataset)):
        return (*own, True)
    return (*any_, False) if (any_ := measured_rate(device, dtype, kinds)) else None


def _generate(llm, prompts: dict[str, list[Prompt]], caches: dict[str, TextCache], config: GenerationConfig,
              desc: str, progress: bool, dataset: str) -> list[GenerationReport]:
    """``_fill`` the caches while holding each kind's lock: a second ``glta text generate`` of the same texts stops
    with a one-line error instead of writing them all again beside the first (the ranks of one distributed run share
    the locks)."""
    from glta.paths import file_lock

    distributed = processes().distributed
    with contextlib.ExitStack() as held:
        for kind, cache in caches.items():
            held.enter_context(file_lock(
                cache.path.with_name(f".{cache.path.stem}.lock"), f"{kind} texts", shared=distributed,
                busy=f"another process is writing the {kind} texts of {cache.path.parent.name} "
                     f"({cache.path}); wait for it (what it writes is kept), or stop it and run this again"))
        return _fill(llm, prompts, caches, config, desc, progress, dataset)


def _fill(llm, prompts: dict[str, list[Prompt]], caches: dict[str, TextCache], config: GenerationConfig,
          desc: str, progress: bool, dataset: str) -> list[GenerationReport]:
    """Generate every missing (kind, key, fingerprint) of ``dataset``'s prompts; ``prompts[kind][j]`` are aligned
    across kinds. Several processes deal the batches out between them (each batch is laid out exactly as one process
    would lay it out, so the merged texts are the same) and append to their own cache shards."""
    procs = processes()
    kinds = list(prompts)
    have = {kind: caches[kind].load() for kind in kinds}
    procs.wait()  # every process has read the caches before any of them appends
    count = len(prompts[kinds[0]])
    todo = [j for j in range(count)
            if any((prompts[k][j].key, prompts[k][j].fingerprint) not in have[k] for k in kinds)]
    stats = {kind: [0, 0] for kind in kinds}  # generated, new tokens
    started = time.time()
    if todo:
        lengths = np.array([len(prompts[kinds[0]][j].prefix) for j in todo])
        order = [todo[i] for i in np.argsort(-lengths, kind="stable")]  # longest first, similar lengths together
        batches = [order[start:start + config.batch_size] for start in range(0, len(order), config.batch_size)]
        mine = batches[procs.rank::procs.world]
        shard = procs.rank if procs.distributed else None
        writers = {kind: TextCache(caches[kind].path, shard) for kind in kinds}
        torch.manual_seed(config.seed)
        total = sum(map(len, mine)) * len(kinds)
        first = prompts[kinds[0]]  # the kinds share their history: the first kind's prompt lengths stand for all
        prompt_tokens = np.mean([len(first[j].prefix) + len(first[j].suffix) for batch in mine for j in batch]) \
            if mine else None
        if procs.is_main:
            print(_outlook_line(llm, desc, kinds, total, procs.world, config.batch_size, dataset), flush=True)
        bar = progress_bar(total=total, desc=desc, unit="resp", units="responses", progress=progress)
        call, logged = uuid.uuid4().hex[:12], started

        def record_rate() -> None:
            log_rate(llm, kinds, sum(s[0] for s in stats.values()), sum(s[1] for s in stats.values()),
                     time.time() - started, procs.world, config.batch_size, dataset, prompt_tokens, call)

        try:
            for batch in mine:
                suffixes = {kind: prompts[kind][batch[0]].suffix for kind in kinds}
                results = generate_batch(llm, [prompts[kinds[0]][j].prefix for j in batch], suffixes, config)
                for kind in kinds:
                    texts, produced = results[kind]
                    writers[kind].append([{"key": prompts[kind][j].key, "history": prompts[kind][j].fingerprint,
                                           "text": text} for j, text in zip(batch, texts)])
                    stats[kind][0] += len(batch)
                    stats[kind][1] += produced
                bar.update(len(batch) * len(kinds))
                tokens = sum(s[1] for s in stats.values())
                bar.set_postfix(new_tok_s=f"{tokens / max(time.time() - started, 1e-9):.0f}", refresh=False)
                if time.time() - logged >= RATE_LOG_SECONDS:  # what a process killed outright has done still counts
                    record_rate()
                    logged = time.time()
        finally:  # an interrupted run's rate counts too
            bar.close()
            record_rate()
    if procs.distributed:
        shares = procs.gather(stats)
        stats = {kind: [sum(share[kind][n] for share in shares) for n in (0, 1)] for kind in kinds}
        procs.wait()  # every shard is complete
        if procs.is_main:
            for kind in kinds:
                caches[kind].merge_shards()
        procs.wait()
    else:  # shards an interrupted distributed run left: this process holds the locks, so it folds them in
        for kind in kinds:
            caches[kind].merge_shards()
    seconds = time.time() - started
    return [GenerationReport(kind, count, stats[kind][0], seconds, stats[kind][1], caches[kind].path, tuple(kinds),
                             procs.world) for kind in kinds]


def _outlook_line(llm, desc: str, kinds: list[str], total: int, world: int, batch_size: int,
                  dataset: str | None = None) -> str:
    """What a call says before its first batch: how many responses this process writes and, at this machine's
    measured rate (``measured_rate``: its calls on ``dataset`` where there were any, else on any data set), about
    how long that takes; without one, where the LLM runs in fp32 on a CPU, that the first batch alone may take
    minutes (the bar moves only when a batch is done)."""
    share = f" (this process's share; {world} processes)" if world > 1 else ""
    line = f"{desc}: {total:,} responses to write{share}"
    measured = dataset_rate(llm.device.type, str(llm.dtype).removeprefix("torch."), tuple(kinds), dataset)
    if measured:
        rate, calls, own = measured
        on = f" on {dataset}" if own else (" on other data sets" if dataset else "")
        return (line + f", ~{total / rate / 3600:.1f} h at this machine's measured {rate:.2g} responses/s a process "
                f"({calls} earlier call{'s' * (calls != 1)}{on})")
    if llm.device.type == "cpu" and llm.dtype == torch.float32:
        from glta.device import cpu_has_bf16

        first = min(batch_size, total // max(len(kinds), 1))
        why = "" if cpu_has_bf16() else " (no hardware bf16)"  # else llm.dtype=float32 was asked for
        return (line + f"; the LLM runs in fp32 on this CPU{why}, so its first batch ({first} prompts) "
                "may take minutes before any progress shows; a GPU writes all of them in minutes (README, \"GPU "
                "users\")")
    return line


def generate_user_texts(llm, dataset: RecDataset, kinds=USER_KINDS, config: GenerationConfig | None = None,
                        users: np.ndarray | None = None, progress: bool = True) -> list[GenerationReport]:
    """Fill the caches with profile/prediction texts for ``users`` (default: every user with training items)."""
    config = config or GenerationConfig()
    kinds = list(kinds)
    if not kinds:
        return []
    if users is None:
        users = np.flatnonzero(np.diff(dataset.train.indptr) > 0)
    caches = {kind: TextCache(cache_path(llm.identity, dataset, kind, template_text(kind), config)) for kind in kinds}
    per_user = [user_prompts(llm.tokenizer, dataset, int(u), kinds, config) for u in users]
    prefixes_agree = all(len({tuple(p[k].prefix) for k in kinds}) == 1 for p in per_user)
    if prefixes_agree:
        return _generate(llm, {k: [p[k] for p in per_user] for k in kinds}, caches, config, "user texts", progress,
                         dataset.name)
    reports = []  # templates that differ before {history}: no shared prefix, one pass per kind
    for kind in kinds:
        reports += _generate(llm, {kind: [p[kind] for p in per_user]}, {kind: caches[kind]}, config,
                             f"{kind} texts", progress, dataset.name)
    return reports


def generate_item_texts(llm, dataset: RecDataset, config: GenerationConfig | None = None,
                        items: np.ndarray | None = None, progress: bool = True) -> GenerationReport:
    config = config or GenerationConfig()
    items = np.arange(dataset.n_items) if items is None else items
    cache = TextCache(cache_path(llm.identity, dataset, "item_profile", template_text("item_profile"), config))
    prompts = [item_prompt(llm.tokenizer, dataset, int(i), config) for i in items]
    return _generate(llm, {"item_profile": prompts}, {"item_profile": cache}, config, "item profiles", progress,
                     dataset.name)[0]


def load_user_texts(llm_identity: str, dataset: RecDataset, kind: str,
                    config: GenerationConfig | None = None) -> dict[int, str]:
    """Cached texts of one kind by user index; users whose history changed since generation are left out."""
    config = config or GenerationConfig()
    cached = TextCache(cache_path(llm_identity, dataset, kind, template_text(kind), config)).load()
    out = {}
    for user in range(dataset.n_users):
        fingerprint = history_fingerprint(dataset, history_items(dataset, user, config))
        key = (str(dataset.user_ids[user]), fingerprint)
        if key in cached:
            out[user] = cached[key]
    return out


def load_item_texts(llm_identity: str, dataset: RecDataset, config: GenerationConfig | None = None) -> dict[int, str]:
    """Cached item profiles by item index; items whose text changed since generation are left out."""
    config = config or GenerationConfig()
    cached = TextCache(cache_path(llm_identity, dataset, "item_profile", template_text("item_profile"), config)).load()
    out = {}
    for item in range(dataset.n_items):
        key = (str(dataset.item_ids[item]), item_source(dataset, item, config)[1])
        if key in cached:
            out[item] = cached[key]
    return out
