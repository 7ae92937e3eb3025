"""Method names (as used on the CLI and in results files) -> recommender classes.

The built-in methods are listed here. Another installed package adds its own through the ``glta.methods`` entry
point group (README, "Adding a method"), e.g. in its ``pyproject.toml``::

    [project.entry-points."glta.methods"]
    itemknn = "my_package.itemknn:ItemKNN"

Its class is a ``glta.recommender.Recommender`` whose ``method`` is that name; from then on ``glta train itemknn``,
``glta tune``, ``glta evaluate``, ``glta recommend`` and ``glta compare`` treat it as they treat a built-in one. A
built-in name is never replaced.
"""

from __future__ import annotations

import dataclasses
import functools
import importlib
from importlib.metadata import EntryPoint, entry_points
from typing import TYPE_CHECKING

from glta.errors import ConfigError

if TYPE_CHECKING:
    from glta.recommender import Recommender

ENTRY_POINT_GROUP = "glta.methods"

# name -> "module:Class"; a class is imported when it is first asked for, so that `glta --help` and the parser
# that lists these names start without loading torch
_WHERE: dict[str, str] = {
    "lightgcn": "glta.models.lightgcn:LightGCN", "hccf": "glta.models.hccf:HCCF",
    "lightgcn_plus": "glta.models.plus:LightGCNPlus", "hccf_plus": "glta.models.plus:HCCFPlus",
    "rlmrec_con": "glta.models.rlmrec:RLMRecCon", "rlmrec_gen": "glta.models.rlmrec:RLMRecGen",
    "glta": "glta.models.glta:GLTA", "glta_plus": "glta.models.glta:GLTAPlus",
    "pop": "glta.models.popularity:Popularity", "ease": "glta.models.closed_form:EASE",
    "gfcf": "glta.models.closed_form:GFCF"}
BUILTIN_NAMES: tuple[str, ...] = tuple(sorted(_WHERE))


@functools.cache
def _registry() -> dict[str, str | EntryPoint]:
    """name -> "module:Class" of a built-in method, or the entry point an installed package registered it by. Read
    once a process."""
    found: dict[str, str | EntryPoint] = dict(_WHERE)
    for point in entry_points(group=ENTRY_POINT_GROUP):
        found.setdefault(point.name, point)  # a built-in name (or a name two packages claim: the first) is kept
    return found


def method_names() -> tuple[str, ...]:
    """Every method ``glta`` can train: the built-in ones and those installed packages register."""
    return tuple(sorted(_registry()))


def method_class(name: str) -> type[Recommender]:
    registry = _registry()
    if name not in registry:
        raise ConfigError(f"unknown method '{name}'; known methods: {', '.join(method_names())}")
    where = registry[name]
    if isinstance(where, EntryPoint):
        return _plugin_class(name)
    module, cls = where.split(":")
    return getattr(importlib.import_module(module), cls)


@functools.cache
def _plugin_class(name: str) -> type[Recommender]:
    """The class an installed package registered for ``name``, checked to fit where glta puts it."""
    from glta.recommender import Recommender

    point = _registry()[name]
    package = point.dist.name if point.dist else "an installed package"
    origin = f"method '{name}' ({point.value}, registered by {package} under the entry points '{ENTRY_POINT_GROUP}')"
    try:
        cls = point.load()
    except Exception as error:  # whatever the package's import raised: one line that names it
        raise ConfigError(f"{origin} cannot be imported: {type(error).__name__}: {error}") from error
    if not (isinstance(cls, type) and issubclass(cls, Recommender)):
        raise ConfigError(f"{origin} is not a glta.recommender.Recommender subclass")
    if getattr(cls, "method", None) != name:
        raise ConfigError(f"{origin}: its class sets method = {getattr(cls, 'method', None)!r}; set it to '{name}' "
                          "(the name in results files and run folders)")
    if not dataclasses.is_dataclass(getattr(cls, "config_class", None)):
        raise ConfigError(f"{origin}: its config_class must be a dataclass of its model.* settings")
    if not isinstance(getattr(cls, "display_name", None), str):
        raise ConfigError(f"{origin}: set display_name, its label in tables")
    return cls


def is_deterministic(name: str) -> bool:
    """Whether method ``name`` trains without randomness (popularity, EASE, GF-CF): one run stands for every seed.
    False for any other name (a GLTA variant, a decoding mode)."""
    return name in _registry() and method_class(name).deterministic
