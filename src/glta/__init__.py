"""GLTA: Training Large Recommendation Models via Graph-Language Token Alignment.

``glta.data`` (data sets, formats, splits) · ``glta.models`` (one module per method: LightGCN, HCCF, their text
variants, RLMRec, popularity, EASE/GF-CF, GLTA and GLTA+) behind the one interface ``glta.recommender`` and the one
registry ``glta.methods`` · ``glta.graph`` and ``glta.align`` (parts the graph models and GLTA are built from) ·
``glta.text`` (the frozen LLM, LLM-written texts, the sentence encoder) · ``glta.training`` (the trainer: stages,
early stopping, checkpoints) with ``glta.distributed`` (several processes) · ``glta.evaluation`` (full ranking) ·
``glta.pipeline`` (train / evaluate / recommend, the Python API) · ``glta.cli`` (the ``glta`` command) ·
``glta.report``, ``glta.significance``, ``glta.results`` (tables, tests, provenance) · ``glta.config``,
``glta.paths`` (typed settings; where files live).
"""

__version__ = "0.1.0"
