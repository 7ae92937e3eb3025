"""Method names (as used on the CLI and in results files) -> recommender classes."""

from __future__ import annotations

from glta.errors import ConfigError
from glta.models.closed_form import EASE, GFCF
from glta.models.glta import GLTA, GLTAPlus
from glta.models.hccf import HCCF
from glta.models.lightgcn import LightGCN
from glta.models.plus import HCCFPlus, LightGCNPlus
from glta.models.popularity import Popularity
from glta.models.rlmrec import RLMRecCon, RLMRecGen
from glta.recommender import Recommender

METHODS: dict[str, type[Recommender]] = {
    "lightgcn": LightGCN, "hccf": HCCF, "lightgcn_plus": LightGCNPlus, "hccf_plus": HCCFPlus,
    "rlmrec_con": RLMRecCon, "rlmrec_gen": RLMRecGen, "glta": GLTA, "glta_plus": GLTAPlus, "pop": Popularity,
    "ease": EASE, "gfcf": GFCF}


def method_class(name: str) -> type[Recommender]:
    if name not in METHODS:
        raise ConfigError(f"unknown method '{name}'; known methods: {', '.join(sorted(METHODS))}")
    return METHODS[name]
