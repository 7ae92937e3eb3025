"""GLTA's prompts: what the frozen LLM reads in each stage, laid out as batches.

``Prompts`` holds everything textual that GLTA needs and tokenises it once: the item-text (IA) and user-item (UA)
templates (the UA one split into a per-user cacheable prefix and the body after it), every user's LLM-written
profile and prediction text, the user ids written out for the "w/o UA" variant, and the item descriptions. It lays
out IA's and UA's training batches and the inference batches; the model (``glta.models.glta``) turns a batch into
embeddings, runs the LLM and reads the output slots. Nothing here holds a trainable parameter.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Iterator

import numpy as np

from glta.align.templates import Batch, Sample, Template, assemble, prefix_ids
from glta.data.dataset import RecDataset
from glta.errors import MissingTextsError
from glta.text.generate import generate_command, item_text, load_user_texts, plain_text
from glta.text.llm import LLMConfig, llm_identity

if TYPE_CHECKING:
    from glta.models.glta import GLTAConfig


def texts_identity(config: "GLTAConfig", loaded: str | None = None) -> str:
    """The LLM whose cached texts the prompts read: ``model.texts_llm`` where set, else GLTA's own LLM (``loaded``:
    the identity of the one already loaded; otherwise named from its files without loading it)."""
    if config.texts_llm:
        return llm_identity(LLMConfig(name=config.texts_llm))
    return loaded or llm_identity(config.llm)


def user_texts(dataset: RecDataset, config: "GLTAConfig", identity: str) -> dict[str, dict[int, str]]:
    """The cached LLM-written texts the prompts read, by kind (profile, prediction) and user index. A user without
    one is an error naming the command that writes them, unless ``model.missing_texts=empty``; GLTA asks before it
    loads its LLM, so that the error comes at once."""
    texts: dict[str, dict[int, str]] = {}
    for kind, enabled in (("profile", config.use_profile), ("prediction", config.use_prediction)):
        if not enabled:
            continue
        texts[kind] = load_user_texts(identity, dataset, kind, config.generation)
        missing = dataset.n_users - len(texts[kind])
        if missing and config.missing_texts != "empty":
            raise MissingTextsError(missing, dataset.n_users, kind, identity, texts_command(dataset, config))
    return texts


def texts_command(dataset: RecDataset, config: "GLTAConfig") -> str:
    """The `glta text generate` command that writes the very texts these prompts read: by ``texts_llm`` where set,
    else by GLTA's own LLM (``generate_command``)."""
    return generate_command(dataset, config.texts_llm or config.llm.name, config.generation)


class Prompts:
    def __init__(self, dataset: RecDataset, config: "GLTAConfig", llm,
                 texts: dict[str, dict[int, str]] | None = None):
        """``texts``: ``user_texts``' result where the caller has it already (read here otherwise)."""
        self.config = config
        self.dataset = dataset
        self.train_matrix = dataset.train
        self.n_items = dataset.n_items
        tokenizer = self.tokenizer = llm.tokenizer
        self.texts_identity = texts_identity(config, llm.identity)
        self.pad_id = tokenizer.pad_token_id
        self.ua_template = Template.load(config.ua_template, tokenizer)
        prefix, body = self.ua_template.split_prefix()
        # the text before the first node slot is the same in every epoch: cached per user when prefix_cache is on
        self.ua_prefix = prefix if config.prefix_cache and prefix.segments else None
        self.ua_body = body if self.ua_prefix is not None else self.ua_template
        self.ia_template = Template.load("item_text", tokenizer)
        self.user_fields = self._user_text_tokens(
            dataset, texts if texts is not None else user_texts(dataset, config, self.texts_identity))
        # "w/o UA" writes the user id as text where the user token would stand
        self.user_id_tokens = None if config.use_user_token else [
            tokenizer(plain_text(tokenizer, f" {u}"), add_special_tokens=False).input_ids for u in dataset.user_ids]
        self._descriptions: list[list[int]] | None = None

    # --- text parts, tokenised once -------------------------------------------------------------------
    def _user_text_tokens(self, dataset: RecDataset, texts: dict[str, dict[int, str]]) -> list[dict[str, list[int]]]:
        tokenizer, config = self.tokenizer, self.config
        fields: list[dict[str, list[int]]] = [{} for _ in range(dataset.n_users)]
        for kind, by_user in texts.items():
            for user, text in by_user.items():
                fields[user][kind] = tokenizer(plain_text(tokenizer, " " + text),
                                               add_special_tokens=False).input_ids[: config.text_tokens]
        return fields

    def user_text_digests(self) -> dict[str, str]:
        """Digests of the LLM-written user texts the prompts read (their tokens, as trimmed): ``all`` of them together
        and each kind (profile, prediction), so that texts written again (a fresh machine's cache) are told apart from
        the ones an earlier run read, also between runs reading different kinds (the PF/PD ablations and full GLTA);
        {} when they read none."""
        import hashlib
        import json

        def digest(value) -> str:
            return hashlib.sha256(json.dumps(value, sort_keys=True).encode()).hexdigest()[:16]

        kinds = [kind for kind, on in (("profile", self.config.use_profile), ("prediction", self.config.use_prediction))
                 if on]
        if not kinds:
            return {}
        return {"all": digest(self.user_fields),
                **{kind: digest([fields.get(kind) for fields in self.user_fields]) for kind in kinds}}

    def item_descriptions(self) -> list[list[int]]:
        if self._descriptions is None:
            tokenizer = self.tokenizer
            texts = [plain_text(tokenizer, item_text(self.dataset, i, self.config.item_text_chars))
                     for i in range(self.n_items)]
            self._descriptions = [tokenizer(text, add_special_tokens=False).input_ids for text in texts]
            self._newline = tokenizer("\n", add_special_tokens=False).input_ids
            self._numbers = [tokenizer(f"{n + 1}. ", add_special_tokens=False).input_ids
                             for n in range(self.config.ia_group_size)]
        return self._descriptions

    # --- user-item alignment (UA) --------------------------------------------------------------------
    def trained_users(self) -> np.ndarray:
        """Users with training items: the ones UA trains on and whose prefixes are cached."""
        return np.flatnonzero(np.diff(self.train_matrix.indptr) > 0)

    def sample(self, user: int, items: np.ndarray, fields: dict | None = None) -> Sample:
        """User ``user``'s UA prompt showing ``items``; ``fields`` replaces the user's cached texts (a new user's)."""
        return Sample(user=user, items=list(items),
                      user_text=None if self.config.use_user_token else self.user_id_tokens[user],
                      fields=self.user_fields[user] if fields is None else fields)

    def prefix_ids(self, user: int) -> list[int]:
        """The token ids of user ``user``'s cacheable prefix (the prefix template with the user's texts)."""
        return prefix_ids(self.ua_prefix, self.sample(user, np.array([], dtype=np.int64)))

    def split_history(self, items: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """Shuffle a user's training items into (shown in the prompt, supervised targets)."""
        config = self.config
        items = rng.permutation(items)
        k = config.supervised_slots
        if config.target_mode == "overlap":
            return items[: config.context_items], rng.permutation(items)[:k]
        if len(items) == 1:
            return items, items
        n_targets = min(k, len(items) - 1)
        context = items[: min(config.context_items, len(items) - n_targets)]
        return context, items[len(items) - n_targets:]

    def ua_batches(self, rng: np.random.Generator, batch_size: int) -> Iterator[Batch]:
        """One UA epoch: users in a random order, each with shown items and supervised targets. Only the k
        supervised slots are laid out: slot t attends to the prompt and the slots before it (causal attention), so
        unsupervised slots after the first k change neither the loss nor its gradient."""
        indptr, indices = self.train_matrix.indptr, self.train_matrix.indices
        users = rng.permutation(self.trained_users())
        for start in range(0, len(users), batch_size):
            chosen = users[start:start + batch_size]
            samples, targets = [], []
            for user in chosen:
                context, target = self.split_history(indices[indptr[user]:indptr[user + 1]], rng)
                samples.append(self.sample(int(user), context))
                targets.append(target.tolist())
            yield self.with_prefix(assemble(self.ua_body, samples, self.config.supervised_slots, self.pad_id,
                                            targets), chosen)

    def context(self, user: int) -> np.ndarray:
        """The training items shown when recommending to ``user``: a sample fixed by the user and the seed."""
        items = self.train_matrix[user].indices
        rng = np.random.default_rng([self.config.generation.seed, user])
        return rng.permutation(items)[: self.config.context_items]

    def inference_batch(self, users: np.ndarray, slots: int, left_pad: bool = False) -> Batch:
        """Trained users' prompts with ``slots`` output slots (one and left padding for autoregressive decoding)."""
        samples = [self.sample(int(u), self.context(int(u))) for u in users]
        return self.with_prefix(assemble(self.ua_body, samples, slots, self.pad_id, left_pad=left_pad), users)

    def new_user_batch(self, histories: list[np.ndarray], first_index: int, slots: int) -> Batch:
        """Prompts for users outside the training data (indices from ``first_index``): the full template, their
        given items shown, no LLM-written texts (none were written for them)."""
        samples = [self.sample(first_index + n, np.asarray(h)[: self.config.context_items], fields={})
                   for n, h in enumerate(histories)]
        return assemble(self.ua_template, samples, slots, self.pad_id)

    def with_prefix(self, batch: Batch, users) -> Batch:
        """Mark a body-only batch with the users whose cached prefix keys/values precede it."""
        if self.ua_prefix is not None:
            import torch

            batch.prefix_users = torch.as_tensor(np.asarray(users, dtype=np.int64))
        return batch

    # --- item-text alignment (IA) ---------------------------------------------------------------------
    def ia_batches(self, rng: np.random.Generator) -> Iterator[Batch]:
        """Item-text alignment: item tokens in one order, their descriptions in another; slot t must name the
        item whose description stands t-th."""
        descriptions = self.item_descriptions()
        group, per_batch = self.config.ia_group_size, self.config.ia_batch_size
        order = rng.permutation(self.n_items)
        groups = [order[i:i + group] for i in range(0, len(order), group)]
        for start in range(0, len(groups), per_batch):
            samples, targets = [], []
            for items in groups[start:start + per_batch]:
                shown = rng.permutation(items)
                text: list[int] = []
                for n, item in enumerate(items):
                    text += self._numbers[n] + descriptions[item] + self._newline
                samples.append(Sample(items=list(shown), fields={"descriptions": text}))
                targets.append(list(items))
            yield assemble(self.ia_template, samples, group, self.pad_id, targets)

    def steps(self, stage: str, batch_size: int) -> int:
        """Batches in one epoch of ``stage`` (``ia`` or ``ua``)."""
        if stage == "ia":
            groups = -(-self.n_items // self.config.ia_group_size)
            return -(-groups // self.config.ia_batch_size)
        return -(-len(self.trained_users()) // batch_size)
