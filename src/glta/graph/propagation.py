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
