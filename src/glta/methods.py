"""Method names (as used on the CLI and in results files) -> recommender classes."""

from __future__ import annotations

from glta.align.glta import GLTA, GLTAPlus
from glta.closed_form import EASE, GFCF
from glta.errors import ConfigError
from glta.graph.hccf import HCCF
from glta.graph.lightgcn import LightGCN
from glta.plus import HCCFPlus, LightGCNPlus
from glta.popularity import Popularity
from glta.recommender import Recommender
from glta.rlmrec import RLMRecCon, RLMRecGen

METHODS: dict[str, type[Recommender]] = {
    "lightgcn": LightGCN, "hccf": HCCF, "lightgcn_plus": LightGCNPlus, "hccf_plus": HCCFPlus,
    "rlmrec_con": RLMRecCon, "rlmrec_gen": RLMRecGen, "glta": GLTA, "glta_plus": GLTAPlus, "pop": Popularity,
    "ease": EASE, "gfcf": GFCF}


def method_class(name: str) -> type[Recommender]:
    if name not in METHODS:
        raise ConfigError(f"unknown method '{name}'; known methods: {', '.join(sorted(METHODS))}")
    return METHODS[name]
