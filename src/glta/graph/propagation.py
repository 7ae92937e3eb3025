"""The symmetric-normalised user-item adjacency and a fast propagation step over it (sparse CSR only)."""

from __future__ import annotations

import warnings

import numpy as np
import scipy.sparse as sp
import torch


def normalized_adjacency(train: sp.csr_matrix) -> sp.csr_matrix:
    """D^-1/2 A D^-1/2 for the bipartite graph A = [[0, R], [R^T, 0]], as a CSR matrix; never dense."""
    adjacency = sp.bmat([[None, train], [train.T, None]], format="csr").astype(np.float32)
    degree = np.asarray(adjacency.sum(1)).ravel()
    inverse_sqrt = np.zeros_like(degree)
    np.power(degree, -0.5, out=inverse_sqrt, where=degree > 0)
    scale = sp.diags(inverse_sqrt.astype(np.float32))
    return (scale @ adjacency @ scale).tocsr().astype(np.float32)


def to_torch_csr(matrix: sp.csr_matrix) -> torch.Tensor:
    with warnings.catch_warnings():  # "beta state" notice: CSR matmul is exactly what we rely on
        warnings.simplefilter("ignore", UserWarning)
        return torch.sparse_csr_tensor(
            torch.from_numpy(matrix.indptr.astype(np.int64)), torch.from_numpy(matrix.indices.astype(np.int64)),
            torch.from_numpy(matrix.data.astype(np.float32)), size=matrix.shape, check_invariants=False)


class _SymmetricSpMM(torch.autograd.Function):
    """y = A x for a symmetric sparse A; the gradient is A g, computed with the same fast kernel.

    torch's generic sparse-CSR backward is ~15x slower than its forward on CPU; a symmetric A lets the
    backward reuse the forward kernel.
    """

    @staticmethod
    def forward(ctx, adjacency: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        ctx.adjacency = adjacency
        return adjacency @ x

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        return None, ctx.adjacency @ grad


def propagate(adjacency: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """One propagation step A x with a symmetric sparse adjacency."""
    return _SymmetricSpMM.apply(adjacency, x)


class EdgeDropout:
    """Drop user-item edges of a normalised adjacency at random, keeping it symmetric (both directions of an
    interaction go together), and rescale the kept weights by 1/keep_rate, as HCCF does. Built with numpy
    masks over the fixed CSR layout, so one draw costs a few milliseconds even on ML-1M."""

    def __init__(self, adjacency: sp.csr_matrix, n_users: int):
        adjacency = adjacency.tocsr()
        adjacency.sort_indices()
        self.shape = adjacency.shape
        self.indptr, self.indices, self.data = adjacency.indptr, adjacency.indices, adjacency.data
        rows = np.repeat(np.arange(adjacency.shape[0]), np.diff(adjacency.indptr))
        user = np.where(rows < n_users, rows, self.indices)  # each entry's interaction, as (user, item)
        item = np.where(rows < n_users, self.indices, rows)
        _, self.edge = np.unique(user.astype(np.int64) * adjacency.shape[0] + item, return_inverse=True)
        self.n_edges = int(self.edge.max()) + 1 if len(self.edge) else 0

    def __call__(self, keep_rate: float, generator: torch.Generator | None = None) -> torch.Tensor:
        if keep_rate >= 1.0:
            return to_torch_csr(sp.csr_matrix((self.data, self.indices, self.indptr), shape=self.shape))
        kept_edges = (torch.rand(self.n_edges, generator=generator) < keep_rate).numpy()
        keep = kept_edges[self.edge]
        indptr = np.concatenate([[0], np.cumsum(keep)])[self.indptr]  # kept entries before each row start
        matrix = sp.csr_matrix((self.data[keep] / keep_rate, self.indices[keep], indptr), shape=self.shape)
        return to_torch_csr(matrix)
