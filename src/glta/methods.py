"""Method names (as used on the CLI and in results files) -> recommender classes."""

from __future__ import annotations

from glta.align.glta import GLTA
from glta.errors import ConfigError
from glta.graph.lightgcn import LightGCN
from glta.popularity import Popularity
from glta.recommender import Recommender

METHODS: dict[str, type[Recommender]] = {"lightgcn": LightGCN, "pop": Popularity, "glta": GLTA}


def method_class(name: str) -> type[Recommender]:
    if name not in METHODS:
        raise ConfigError(f"unknown method '{name}'; known methods: {', '.join(sorted(METHODS))}")
    return METHODS[name]
