"""Typed run configuration: dataclasses filled from YAML files plus dotted command-line overrides.

Merge order (later wins): dataclass defaults -> ``configs/<dataset>/<method>.yaml`` when present ->
``--config FILE`` -> ``key.sub=value`` overrides. Unknown keys, ill-typed values, numbers out of range and a value
that is not one of its field's ``Literal`` choices are errors that name the key, raised when the config is built, so
a typo never silently falls back to a default nor waits for an LLM to load.
"""

from __future__ import annotations

import dataclasses
import difflib
import types
import typing
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

from glta.errors import ConfigError


@dataclass
class DataConfig:
    """Which data set to load and how to split it (see DESIGN.md, "Evaluation protocol")."""

    name: str = "synthetic"
    path: str | None = None  # a folder or file; overrides the built-in location under the data root
    format: str | None = None  # loader name, needed with ``path`` unless the folder says it (see glta.data.formats)
    split: Literal["default", "given", "random", "leave-last", "temporal"] = "default"  # default: its data set's own
    valid_ratio: float = 0.1  # random/temporal: share of a user's interactions (given: share of the train part)
    test_ratio: float = 0.1
    min_user_interactions: int = 3  # users with fewer interactions stay train-only
    seed: int = 2025
    # format csv: the columns holding the ids and the time, where the header names them otherwise than the loader
    # knows (user, user_id, ...; item, item_id, asin, ...; timestamp, time, date, ...); items.csv's key column is
    # looked up by item_column's name first
    user_column: str | None = None
    item_column: str | None = None
    time_column: str | None = None
    rating_column: str | None = None  # (rating, score, stars, ... by default) read where min_rating is set
    # keep only interactions rated this or more (formats whose files carry ratings: MovieLens, Amazon, Goodreads,
    # csv, recbole); an unrated one is dropped, and so are users and items left with none. None: every one is a
    # positive (the paper's protocol)
    min_rating: float | None = None
    # keep the k-core (after min_rating): users and items with at least this many interactions, dropping again
    # until none has fewer, as the Amazon 5-core files are made; 0 keeps every user and item
    k_core: int = 0

    def check_relations(self, key: Callable[[str], str]) -> None:
        if self.valid_ratio + self.test_ratio >= 1:
            raise ConfigError(f"{key('valid_ratio')} + {key('test_ratio')} must be below 1, got {self.valid_ratio} + "
                              f"{self.test_ratio}")


@dataclass
class TrainConfig:
    """The shared fit loop: optimiser, epochs, early stopping on a validation metric."""

    epochs: int = 300
    batch_size: int = 8192
    lr: float = 5e-3
    patience: int = 10  # evaluations without improvement before stopping
    eval_every: int = 1  # epochs between validation evaluations
    seed: int = 2025
    threads: int = 0  # torch intra-op threads; 0 = leave torch's default
    device: str = "auto"  # where graph models train and score: auto (a GPU when one is visible) | cpu | cuda[:N]
    select_metric: str = "N@10"
    # learning rate over the run's optimiser steps: constant, or cosine from lr down to min_lr_ratio x lr at the
    # last step of `epochs` (after `warmup_steps` of linear warm-up from 0; early stopping may end the run sooner)
    schedule: Literal["constant", "cosine"] = "constant"
    warmup_steps: int = 0
    min_lr_ratio: float = 0.0
    # with a checkpoint folder: also write the checkpoint within an epoch at most this often, so a run stopped
    # part-way through a long epoch (GLTA's take many minutes on a CPU) resumes there; 0 = only after evaluations
    checkpoint_minutes: float = 10.0


@dataclass
class EvalConfig:
    ks: list[int] = field(default_factory=lambda: [5, 10, 20])
    batch_size: int = 1024  # users scored at once: memory is O(batch_size x items)
    # > 0: the per-epoch validation checks (early stopping) use a fixed, seeded sample of this many validation users,
    # for models whose full evaluation is slow (GLTA); the reported valid and test numbers always use every user
    valid_users: int = 0


@dataclass
class LightGCNConfig:
    dim: int = 64
    layers: int = 3
    reg_weight: float = 1e-4  # L2 on the batch's ego embeddings, as in LightGCN
    init_std: float = 0.1


@dataclass
class PopularityConfig:
    """Most-popular ranking has nothing to set."""


def model_config_class(method: str) -> type:
    """The ``model.*`` settings class of ``method``, as its Recommender class names it (``config_class``).
    The method registry (``glta.methods``) imports the models, which import this module: it is read here, when a
    config is built, rather than at import time."""
    from glta.methods import method_class

    return method_class(method).config_class


@dataclass
class RunConfig:
    method: str = "lightgcn"
    data: DataConfig = field(default_factory=DataConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)
    model: Any = field(default_factory=LightGCNConfig)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def check_relations(self, key: Callable[[str], str]) -> None:
        allowed = [f"{m}@{k}" for k in self.eval.ks for m in ("P", "R", "N", "Hit", "MRR")]
        if self.train.select_metric not in allowed:
            raise ConfigError(f"train.select_metric={self.train.select_metric} is not computed; choose one of "
                              f"{', '.join(allowed)} (or add its k to eval.ks)")


def _coerce(value: Any, annotation: Any, key: str) -> Any:
    """Check ``value`` against a dataclass field annotation, converting the harmless cases (int -> float)."""
    origin = typing.get_origin(annotation)
    if annotation is Any:
        return value
    if origin is Literal:  # which of its choices it is, ``check_ranges`` checks (also for configs built in Python)
        if isinstance(value, str):
            return value
        raise ConfigError(f"config key '{key}' expects one of {', '.join(map(str, typing.get_args(annotation)))}, "
                          f"got {value!r}")
    if origin in (typing.Union, types.UnionType):
        options = typing.get_args(annotation)
        if value is None and type(None) in options:
            return None
        errors = []
        for option in options:
            if option is type(None):
                continue
            try:
                return _coerce(value, option, key)
            except ConfigError as error:
                errors.append(str(error))
        raise ConfigError(errors[0] if errors else f"{key}: bad value {value!r}")
    if origin is list:
        (inner,) = typing.get_args(annotation)
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"config key '{key}' expects a list, got {value!r}")
        return [_coerce(v, inner, f"{key}[]") for v in value]
    if dataclasses.is_dataclass(annotation):
        return from_dict(annotation, value, key)
    if annotation is float and isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if annotation is float and isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            pass
    if isinstance(annotation, type) and isinstance(value, annotation) and not (
        annotation is int and isinstance(value, bool)
    ):
        return value
    raise ConfigError(f"config key '{key}' expects {getattr(annotation, '__name__', annotation)}, got {value!r}")


# Allowed ranges of numeric options, by field name (the same name means the same kind of quantity in every section).
# A value outside its range is a ConfigError naming the key and the range, raised when the config is built.
_POSITIVE_INT = ("batch_size", "epochs", "eval_every", "patience", "dim", "layers", "hyperedges", "output_slots",
                 "supervised_slots", "ia_batch_size", "ia_group_size", "item_text_chars", "eval_batch_size",
                 "max_history_items", "max_item_chars", "max_new_tokens", "prompt_token_budget",
                 "min_user_interactions")
_NON_NEGATIVE = ("threads", "warmup_steps", "ideal_rank", "ideal_weight", "l2", "valid_users", "context_items",
                 "text_tokens", "ia_epochs", "seed", "k_core", "reg_weight", "align_weight", "kd_weight",
                 "recon_weight", "ssl_weight", "mult", "checkpoint_minutes")
_POSITIVE = ("lr", "ia_lr", "head_lr_scale", "init_std", "align_temperature", "kd_temperature", "recon_temperature",
             "temperature", "repetition_penalty")
_UNIT_OPEN = ("valid_ratio", "test_ratio", "mask_ratio")  # in [0, 1)
_UNIT_CLOSED = ("keep_rate", "leaky", "min_lr_ratio")  # in [0, 1]


def _check_range(name: str, value: Any, key: str) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return
    import math

    if not math.isfinite(value):
        raise ConfigError(f"config key '{key}' must be a finite number, got {value!r}")
    rules = ((_POSITIVE_INT, value >= 1, ">= 1"), (_NON_NEGATIVE, value >= 0, ">= 0"), (_POSITIVE, value > 0, "> 0"),
             (_UNIT_OPEN, 0 <= value < 1, "in [0, 1)"), (_UNIT_CLOSED, 0 <= value <= 1, "in [0, 1]"))
    for names, ok, allowed in rules:
        if name in names and not ok:
            raise ConfigError(f"config key '{key}' must be {allowed}, got {value!r}")


def check_ranges(obj: Any, prefix: str = "") -> None:
    """Check every numeric option of a (nested) config dataclass against its allowed range, every option with
    ``Literal`` choices against them, and the relations between a section's options: a config class states its own
    in a ``check_relations(key)`` method (ratios summing below 1, a selection metric that is computed, ...), which
    raises a ConfigError naming the keys as ``key(field name)`` spells them (``data.valid_ratio``)."""
    hints = typing.get_type_hints(type(obj))
    for f in dataclasses.fields(obj):
        value, key = getattr(obj, f.name), f"{prefix}.{f.name}" if prefix else f.name
        options = typing.get_args(hints[f.name]) if typing.get_origin(hints.get(f.name)) is Literal else ()
        if options and value not in options:
            raise ConfigError(f"{key}={value} is not one of its choices; choose one of {', '.join(map(str, options))}")
        if dataclasses.is_dataclass(value):
            check_ranges(value, key)
        elif f.name == "ks" and isinstance(value, list):
            if not value or any(isinstance(k, bool) or not isinstance(k, int) or k < 1 for k in value):
                raise ConfigError(f"config key '{key}' must list cut-offs >= 1, e.g. [5, 10, 20]; got {value!r}")
        else:
            _check_range(f.name, value, key)
    relations = getattr(obj, "check_relations", None)
    if callable(relations):
        relations(lambda name: f"{prefix}.{name}" if prefix else name)


def from_dict(cls: type, values: dict | None, prefix: str = "") -> Any:
    """Build dataclass ``cls`` from a (possibly nested) dict, rejecting unknown keys."""
    values = values or {}
    if not isinstance(values, dict):
        raise ConfigError(f"config section '{prefix or cls.__name__}' must be a mapping, got {values!r}")
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - names)
    if unknown:
        where = f"section '{prefix}'" if prefix else "the top level"
        guesses = {key: difflib.get_close_matches(key, names, n=1) for key in unknown}
        hint = "; ".join(f"did you mean '{g[0]}' for '{key}'?" for key, g in guesses.items() if g)
        raise ConfigError(f"unknown config key(s) {unknown} in {where}; " + (f"{hint} " if hint else "")
                          + f"known keys: {sorted(names)}")
    kwargs = {name: _coerce(v, hints[name], f"{prefix}.{name}" if prefix else name) for name, v in values.items()}
    return cls(**kwargs)


def deep_merge(base: dict, update: dict) -> dict:
    merged = dict(base)
    for key, value in update.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def read_yaml(text: str, where: str):
    """``text`` read as YAML; a syntax error is one line naming ``where`` it came from, the line and column and the
    problem (PyYAML's own message spans several lines)."""
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        at = f" (line {mark.line + 1}, column {mark.column + 1})" if mark is not None else ""
        problem = getattr(error, "problem", None) or str(error).splitlines()[0]
        raise ConfigError(f"{where} is not valid YAML{at}: {problem}") from None


def parse_override(text: str) -> dict:
    """``train.lr=0.01`` -> ``{"train": {"lr": 0.01}}`` (the value is read as YAML)."""
    if "=" not in text:
        raise ConfigError(f"override '{text}' must look like key.sub=value, e.g. train.lr=0.01")
    key, raw = text.split("=", 1)
    value = read_yaml(raw, f"the value of override '{text}'") if raw != "" else None
    out: dict = {}
    node = out
    parts = key.strip().split(".")
    if not all(parts):
        raise ConfigError(f"override '{text}' has an empty key part")
    for part in parts[:-1]:
        node = node.setdefault(part, {})
    node[parts[-1]] = value
    return out


def load_yaml(path: str | Path) -> dict:
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"config file {path} does not exist")
    loaded = read_yaml(path.read_text(), f"config file {path}") or {}
    if not isinstance(loaded, dict):
        raise ConfigError(f"config file {path} must hold a mapping at the top level")
    return loaded


def default_config_file(method: str, dataset: str, config_dir: str | Path | None = None) -> Path | None:
    """``<config_dir>/<dataset>/<method>.yaml`` if there is one (``config_dir`` default: ``paths.config_dir()``)."""
    from glta.paths import config_dir as default_dir

    candidate = Path(config_dir or default_dir()) / dataset / f"{method}.yaml"
    return candidate if candidate.is_file() else None


def build_config(
    method: str,
    dataset: str | None = None,
    files: list[str | Path] | None = None,
    overrides: list[str] | None = None,
    config_dir: str | Path | None = None,
    merged_from: list[str] | None = None,
) -> RunConfig:
    """Merge defaults, the data set's config file, explicit files and overrides into a ``RunConfig``. The data set
    is ``dataset``, else the one the files or overrides name (``data.name``; its config file is then merged before
    them all the same); a file or override naming another data set than ``dataset`` is refused. ``merged_from``,
    when given, receives what was merged, in order (``glta train --print-config`` says it)."""
    model_class = model_config_class(method)
    layers = [load_yaml(path) for path in files or []] + [parse_override(text) for text in overrides or []]
    named = [layer["data"]["name"] for layer in layers
             if isinstance(layer, dict) and isinstance(layer.get("data"), dict) and "name" in layer["data"]]
    others = [name for name in named if name != dataset]
    if dataset and others:  # else one data set's settings would train another
        raise ConfigError(f"data.name={others[0]} (a --config file or an override) contradicts the data set the "
                          f"command names, {dataset}, whose settings would be merged first: name one data set")
    dataset = dataset or (named[-1] if named else None)
    # the method's own fit-loop defaults (e.g. GLTA's batches of 32 users, not LightGCN's 8192 pairs)
    merged: dict = {"method": method, "train": dict(getattr(model_class, "TRAIN_DEFAULTS", {})),
                    "eval": dict(getattr(model_class, "EVAL_DEFAULTS", {}))}
    sources = [f"{method}'s defaults"]
    if dataset:
        default_file = default_config_file(method, dataset, config_dir)
        if default_file:
            merged = deep_merge(merged, load_yaml(default_file))
            sources.append(str(default_file))
        merged = deep_merge(merged, {"data": {"name": dataset}})
    for layer in layers:
        merged = deep_merge(merged, layer)
    sources += [str(path) for path in files or []] + list(overrides or [])
    if merged_from is not None:
        merged_from += sources
    if merged.get("method", method) != method:
        raise ConfigError(f"config says method '{merged['method']}' but the command trains '{method}': a file of "
                          f"another method's settings (its model and train sections are that method's) is no "
                          f"{method} config; give the data.* settings as overrides, or a file with the data section "
                          f"alone")
    model_values = merged.pop("model", {})
    top_level = {f.name for f in dataclasses.fields(RunConfig)}
    model_keys = {f.name for f in dataclasses.fields(model_class)}
    misplaced = sorted(k for k in merged if k not in top_level and k in model_keys)
    if misplaced:
        raise ConfigError(f"{', '.join(misplaced)}: part of the '{method}' model config; put it under 'model' "
                          f"(as an override: model.{misplaced[0]}..., not {misplaced[0]}...)")
    config = from_dict(RunConfig, {k: v for k, v in merged.items() if k != "method"})
    config.method = method
    config.model = from_dict(model_class, model_values, "model")
    check_ranges(config)
    return config


def config_from_dict(raw: dict) -> RunConfig:
    """A run config from its dict form (``RunConfig.to_dict()``, as results files and run folders record it),
    range-checked like one built from files."""
    config = RunConfig(method=raw["method"], data=from_dict(DataConfig, raw.get("data")),
                       train=from_dict(TrainConfig, raw.get("train")), eval=from_dict(EvalConfig, raw.get("eval")),
                       model=from_dict(model_config_class(raw["method"]), raw.get("model"), "model"))
    check_ranges(config)
    return config
