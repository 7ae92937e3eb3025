"""Node projectors (paper Eq. 1 and 2): V = W E + b, mapping frozen graph embeddings (d) into the LLM's token
space (its hidden size h). The paper writes W as d x d; with an LLM of width h it has to be h x d."""

from __future__ import annotations

from torch import nn


class NodeProjector(nn.Linear):
    """A linear layer from node-embedding width to LLM hidden width (item: Eq. 1, user: Eq. 2)."""

    def __init__(self, node_dim: int, hidden_size: int):
        super().__init__(node_dim, hidden_size, bias=True)
