"""The evaluation protocol shared by GLTA and every baseline (full ranking, masked seen items)."""

from glta.evaluation.metrics import all_metrics
from glta.evaluation.ranking import RankingEvaluator, recommend_top_k

__all__ = ["RankingEvaluator", "all_metrics", "recommend_top_k"]
