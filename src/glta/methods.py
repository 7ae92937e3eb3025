"""Method names (as used on the CLI and in results files) -> recommender classes."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from glta.errors import ConfigError

if TYPE_CHECKING:
    from glta.recommender import Recommender

# name -> "module:Class"; a class is imported when it is first asked for, so that `glta --help` and the parser
# that lists these names start without loading torch
_WHERE: dict[str, str] = {
    "lightgcn": "glta.models.lightgcn:LightGCN", "hccf": "glta.models.hccf:HCCF",
    "lightgcn_plus": "glta.models.plus:LightGCNPlus", "hccf_plus": "glta.models.plus:HCCFPlus",
    "rlmrec_con": "glta.models.rlmrec:RLMRecCon", "rlmrec_gen": "glta.models.rlmrec:RLMRecGen",
    "glta": "glta.models.glta:GLTA", "glta_plus": "glta.models.glta:GLTAPlus",
    "pop": "glta.models.popularity:Popularity", "ease": "glta.models.closed_form:EASE",
    "gfcf": "glta.models.closed_form:GFCF"}
METHOD_NAMES: tuple[str, ...] = tuple(sorted(_WHERE))


def method_class(name: str) -> type[Recommender]:
    if name not in _WHERE:
        raise ConfigError(f"unknown method '{name}'; known methods: {', '.join(METHOD_NAMES)}")
    module, cls = _WHERE[name].split(":")
    return getattr(importlib.import_module(module), cls)


def is_deterministic(name: str) -> bool:
    """Whether method ``name`` trains without randomness (popularity, EASE, GF-CF): one run stands for every seed.
    False for any other name (a GLTA variant, a decoding mode)."""
    return name in _WHERE and method_class(name).deterministic
