"""GLTA: Training Large Recommendation Models via Graph-Language Token Alignment.

``glta.data`` (data sets, formats, splits) · ``glta.models`` (one module per method: LightGCN, HCCF, their text
variants, RLMRec, popularity, EASE/GF-CF, GLTA and GLTA+) behind the one interface ``glta.recommender`` and the one
registry ``glta.methods`` (which installed packages extend through the entry points ``glta.methods``) ·
``glta.graph`` and ``glta.align`` (parts the graph models and GLTA are built from) · ``glta.text`` (the frozen LLM,
LLM-written texts, the sentence encoder) · ``glta.training`` (the trainer: stages, early stopping, checkpoints) with
``glta.distributed`` (several processes) · ``glta.evaluation`` (full ranking) · ``glta.pipeline`` (train / evaluate
/ recommend, the Python API) · ``glta.cli`` (the ``glta`` command) · ``glta.report``, ``glta.comparison``,
``glta.significance``, ``glta.results`` (tables, tests, provenance) · ``glta.config``, ``glta.paths`` (typed
settings; where files live) · ``glta.progress`` (bars in a terminal, a line every 10 minutes in a log).
"""

import os

# Back PyTorch's large CPU tensors with transparent huge pages (a PyTorch switch, read once, before torch allocates
# anything; a value already set is kept). Full-ranking evaluation writes a fresh (batch x items) score block per
# batch, and faulting it in 4 KB pages took ~40% of the scoring time at 100,000 x 50,000 (benchmarks/eval_scale.py).
os.environ.setdefault("THP_MEM_ALLOC_ENABLE", "1")

__version__ = "0.1.0"
