"""GLTA: Training Large Recommendation Models via Graph-Language Token Alignment.

The package is organised by paper concept: ``glta.data`` (data sets, splits), ``glta.evaluation``
(full-ranking protocol), ``glta.graph`` (graph CF encoders such as LightGCN), ``glta.training``
(the shared fit loop) and ``glta.cli`` (the ``glta`` command).
"""

__version__ = "0.1.0"
