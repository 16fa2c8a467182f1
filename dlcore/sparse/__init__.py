"""dl.sparse: a minimal COO sparse tensor for graph networks (dlcore.ops.sparse_coo):
`dl.sparse_coo_tensor`, `Tensor.to_sparse`, `dl.sparse.mm` / `dl.spmm` (sparse @ dense,
differentiable in the dense operand and the sparse values), `to_dense`, `coalesce`."""
import numpy as _np

from ..ops.sparse_coo import SparseCOOTensor, mm, sparse_coo_tensor  # noqa: F401

__all__ = ["SparseCOOTensor", "mm", "spmm", "sparse_coo_tensor", "addmm", "sum",
           "FloatTensor", "DoubleTensor"]

spmm = mm


def addmm(mat, mat1, mat2, beta=1.0, alpha=1.0):
    """beta * mat + alpha * (mat1 @ mat2), mat1 sparse."""
    return mat * beta + mm(mat1, mat2) * alpha


def sum(input, dim=None):  # noqa: A001  (PyTorch's name)
    if not isinstance(input, SparseCOOTensor):
        raise TypeError("sparse.sum: input must be a sparse COO tensor, got %s"
                        % type(input).__name__)
    dense = input.to_dense()
    return dense.sum() if dim is None else dense.sum(dim)


def FloatTensor(indices, values, size):
    """The legacy constructor torch.sparse.FloatTensor(indices, values, size)."""
    return sparse_coo_tensor(indices, values, size, dtype=_np.float32)


def DoubleTensor(indices, values, size):
    return sparse_coo_tensor(indices, values, size, dtype=_np.float64)
