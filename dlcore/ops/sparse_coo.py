"""A minimal sparse COO tensor (what graph-network scripts use): indices (sparse_dim, nnz) and
values (nnz, *dense_dims), coalesce, to_dense, and sparse @ dense with gradients for the dense
operand and for the values.

SparseCOOTensor is not a Tensor (dense ops do not accept it, as in PyTorch without sparse
kernels); it is built by dl.sparse_coo_tensor or Tensor.to_sparse and consumed by to_dense and
dl.sparse.mm.  The matmul gathers the dense rows each entry reads and scatter-adds the
products (np.add.at), so its cost is O(nnz * columns).
"""
import numbers

import numpy as np

from ..autograd import Function
from ..shapes import Size
from ..tensor_base import TensorBase, wrap
from .shape import Cat

__all__ = ["SparseCOOTensor", "sparse_coo_tensor", "mm", "SparseMethods"]


class ToDense(Function):
    def forward(self, values, indices=None, shape=None):
        self.indices = indices
        out = np.zeros(shape, dtype=values.dtype)
        np.add.at(out, tuple(indices), values)
        return out

    def backward(self, g):
        return np.asarray(g)[tuple(self.indices)]


class SparseDenseMM(Function):
    """(n, m) sparse with values v at (rows, cols) times (m, k) dense."""

    def forward(self, values, dense, rows=None, cols=None, n=0):
        self.rows, self.cols, self.values, self.dense = rows, cols, values, dense
        out = np.zeros((n,) + dense.shape[1:], dtype=np.result_type(values, dense))
        np.add.at(out, rows, values.reshape((-1,) + (1,) * (dense.ndim - 1)) * dense[cols])
        return out

    def backward(self, g):
        g = np.asarray(g)
        gv = gd = None
        if self.needs_input_grad[0]:
            gv = (g[self.rows] * self.dense[self.cols]).reshape(len(self.rows), -1).sum(1)
            gv = gv.astype(self.values.dtype)
        if self.needs_input_grad[1]:
            gd = np.zeros(self.dense.shape, dtype=g.dtype)
            np.add.at(gd, self.cols,
                      self.values.reshape((-1,) + (1,) * (g.ndim - 1)) * g[self.rows])
            gd = gd.astype(self.dense.dtype)
        return gv, gd


class SparseCOOTensor:
    """indices: int64 array (sparse_dim, nnz); values: a Tensor (nnz, *dense_dims)."""

    is_sparse = True
    layout = "sparse_coo"

    def __init__(self, indices, values, shape, coalesced=False):
        self._idx, self._vals = indices, values
        self._shape = tuple(int(s) for s in shape)
        self._coalesced = bool(coalesced)

    # ---- what it is --------------------------------------------------------------------
    @property
    def shape(self):
        return Size(self._shape)

    def size(self, dim=None):
        return self.shape if dim is None else self._shape[dim]

    @property
    def dtype(self):
        return self._vals.dtype

    @property
    def device(self):
        return "cpu"

    @property
    def ndim(self):
        return len(self._shape)

    def dim(self):
        return len(self._shape)

    def sparse_dim(self):
        return self._idx.shape[0]

    def dense_dim(self):
        return len(self._shape) - self._idx.shape[0]

    def _nnz(self):
        return self._idx.shape[1]

    @property
    def requires_grad(self):
        return self._vals.requires_grad

    def requires_grad_(self, requires_grad=True):
        self._vals.requires_grad_(requires_grad)
        return self

    @property
    def grad(self):
        g = self._vals.grad
        return None if g is None else SparseCOOTensor(self._idx, g, self._shape, self._coalesced)

    def is_coalesced(self):
        return self._coalesced

    # ---- parts -------------------------------------------------------------------------
    def _indices(self):
        return wrap(self._idx)

    def _values(self):
        return self._vals

    def indices(self):
        if not self._coalesced:
            raise RuntimeError("Cannot get indices on an uncoalesced tensor, please call "
                               ".coalesce() first")
        return wrap(self._idx)

    def values(self):
        if not self._coalesced:
            raise RuntimeError("Cannot get values on an uncoalesced tensor, please call "
                               ".coalesce() first")
        return self._vals

    # ---- conversions -------------------------------------------------------------------
    def coalesce(self):
        """Duplicates summed, entries in row-major order of their indices."""
        if self._coalesced:
            return self
        sd = self._idx.shape[0]
        if self._nnz() == 0:
            return SparseCOOTensor(self._idx, self._vals, self._shape, True)
        flat = np.ravel_multi_index(tuple(self._idx), self._shape[:sd])
        uniq, inverse = np.unique(flat, return_inverse=True)
        idx = np.stack(np.unravel_index(uniq, self._shape[:sd])).astype(np.int64)
        dense_dims = tuple(self._vals.shape[1:])
        vals = ToDense.apply(self._vals, indices=inverse.reshape(1, -1),
                             shape=(len(uniq),) + dense_dims)
        return SparseCOOTensor(idx.reshape(sd, -1), vals, self._shape, True)

    def to_dense(self):
        sd = self._idx.shape[0]
        return ToDense.apply(self._vals, indices=self._idx.reshape(sd, -1), shape=self._shape)

    def to_sparse(self):
        return self

    def detach(self):
        return SparseCOOTensor(self._idx, self._vals.detach(), self._shape, self._coalesced)

    def to(self, dtype):
        return SparseCOOTensor(self._idx, self._vals.to(dtype), self._shape, self._coalesced)

    def float(self):
        return self.to(np.float32)

    def double(self):
        return self.to(np.float64)

    def t(self):
        if self.sparse_dim() != 2 or self.dense_dim():
            raise ValueError("t: expects a 2-D sparse tensor, got shape %s" % (self._shape,))
        return SparseCOOTensor(self._idx[::-1].copy(), self._vals, self._shape[::-1], False)

    # ---- arithmetic ----------------------------------------------------------------------
    def __mul__(self, other):
        if isinstance(other, numbers.Number):
            return SparseCOOTensor(self._idx, self._vals * other, self._shape, self._coalesced)
        raise TypeError("sparse * %s is not supported (multiply by a number)"
                        % type(other).__name__)

    __rmul__ = __mul__

    def __matmul__(self, other):
        return mm(self, other)

    def __rmatmul__(self, other):
        """dense (k, n) @ sparse (n, m) -> dense (k, m), as (sparse.T @ dense.T).T."""
        if not isinstance(other, TensorBase) or other.ndim != 2:
            raise TypeError("dense @ sparse: the dense operand must be a 2-D Tensor, got %r"
                            % (other,))
        return mm(self.t(), other.t()).t()

    def __add__(self, other):
        """sparse + sparse -> sparse (entries concatenated, uncoalesced, as torch's)."""
        if isinstance(other, SparseCOOTensor):
            if other._shape != self._shape:
                raise ValueError("sparse + sparse: shapes %s and %s differ"
                                 % (self._shape, other._shape))
            vals = Cat.apply(self._vals, other._vals.to(self._vals.dtype), dim=0)
            return SparseCOOTensor(np.concatenate([self._idx, other._idx], 1), vals,
                                   self._shape, False)
        raise TypeError("add(sparse, %s) is not supported; use dense + sparse (a dense result)"
                        " or sparse.to_dense() + other" % type(other).__name__)

    def __neg__(self):
        return SparseCOOTensor(self._idx, -self._vals, self._shape, self._coalesced)

    def __sub__(self, other):
        if isinstance(other, SparseCOOTensor):
            return self + (-other)
        raise TypeError("sub(sparse, %s) is not supported; use dense - sparse (a dense result)"
                        " or sparse.to_dense() - other" % type(other).__name__)

    def mm(self, other):
        return mm(self, other)

    def __repr__(self):
        return "tensor(indices=%s,\n       values=%s,\n       size=%s, nnz=%d, " \
               "layout=sparse_coo)" % (self._idx.tolist(), self._vals._data.tolist(),
                                       self._shape, self._nnz())


def _int_indices(indices):
    idx = indices._data if isinstance(indices, TensorBase) else np.asarray(indices)
    if idx.dtype.kind not in "iu":
        raise TypeError("sparse_coo_tensor: indices must be an integer tensor, got %s"
                        % idx.dtype)
    if idx.ndim != 2:
        raise ValueError("sparse_coo_tensor: indices must be 2-D (sparse_dim, nnz), got shape %s"
                         % (idx.shape,))
    return np.ascontiguousarray(idx, dtype=np.int64)


def sparse_coo_tensor(indices, values, size=None, dtype=None, device=None, requires_grad=False,
                      check_invariants=None, is_coalesced=None):
    """A COO sparse tensor with values[i] at indices[:, i] (duplicates add up)."""
    idx = _int_indices(indices)
    if isinstance(values, TensorBase):
        vals = values
    else:
        arr = np.asarray(values)
        if arr.dtype.kind == "f" and dtype is None and not isinstance(values, np.ndarray):
            # Python floats default to float32; NumPy arrays keep their dtype (as in torch)
            arr = arr.astype(np.float32)
        vals = wrap(arr)
    if dtype is not None:
        vals = vals.to(dtype)
    if vals.ndim < 1 or vals.shape[0] != idx.shape[1]:
        raise ValueError("sparse_coo_tensor: values must have one entry per index column "
                         "(%d), got shape %s" % (idx.shape[1], tuple(vals.shape)))
    sd = idx.shape[0]
    if idx.size and idx.min() < 0:
        raise ValueError("sparse_coo_tensor: indices must be non-negative")
    if size is None:
        size = tuple((idx.max(1) + 1).tolist() if idx.shape[1] else [0] * sd) + \
            tuple(vals.shape[1:])
    size = tuple(int(s) for s in size)
    if len(size) != sd + vals.ndim - 1:
        raise ValueError("sparse_coo_tensor: size %s must have %d sparse dims plus the values' "
                         "%d dense dims" % (size, sd, vals.ndim - 1))
    if tuple(size[sd:]) != tuple(vals.shape[1:]):
        raise ValueError("sparse_coo_tensor: the dense dims of size %s must match the values' "
                         "trailing shape %s" % (size[sd:], tuple(vals.shape[1:])))
    if idx.shape[1] and (idx.max(1) >= np.asarray(size[:sd])).any():
        raise ValueError("sparse_coo_tensor: an index is out of bounds for size %s" % (size,))
    if requires_grad:
        vals.requires_grad_(True)
    return SparseCOOTensor(idx, vals, size, bool(is_coalesced))


def mm(mat1, mat2):
    """sparse (n, m) @ dense (m, k) -> dense (n, k), differentiable in both (for the sparse
    operand: in its values)."""
    if not isinstance(mat1, SparseCOOTensor):
        raise TypeError("sparse.mm: mat1 must be a sparse COO tensor, got %s"
                        % type(mat1).__name__)
    if not isinstance(mat2, TensorBase):
        raise TypeError("sparse.mm: mat2 must be a dense Tensor, got %s" % type(mat2).__name__)
    if mat1.sparse_dim() != 2 or mat1.dense_dim():
        raise ValueError("sparse.mm: mat1 must be 2-D sparse with scalar values, got shape %s"
                         % (mat1._shape,))
    if mat2.ndim not in (1, 2) or mat2.shape[0] != mat1._shape[1]:
        raise ValueError("sparse.mm: shapes %s and %s cannot be multiplied"
                         % (mat1._shape, tuple(mat2.shape)))
    if mat1.dtype != mat2.dtype:
        raise TypeError("sparse.mm: mat1 (%s) and mat2 (%s) must have the same dtype"
                        % (mat1.dtype, mat2.dtype))
    return SparseDenseMM.apply(mat1._vals, mat2, rows=mat1._idx[0], cols=mat1._idx[1],
                               n=mat1._shape[0])


class SparseMethods:
    """The Tensor methods of this family (a dense Tensor's side of the conversions)."""

    __slots__ = ()
    is_sparse = False

    def to_sparse(self, sparse_dim=None):
        sd = self.ndim if sparse_dim is None else int(sparse_dim)
        if not 0 < sd <= self.ndim:
            raise ValueError("to_sparse: sparse_dim must be in [1, %d], got %r"
                             % (self.ndim, sparse_dim))
        a = self._data
        lead = a.reshape(a.shape[:sd] + (-1,))
        nz = np.nonzero((lead != 0).any(-1))
        idx = np.stack(nz).astype(np.int64).reshape(sd, -1)
        vals = self[nz] if self.requires_grad else wrap(a[nz])
        return SparseCOOTensor(idx, vals, a.shape, coalesced=True)

    def to_sparse_coo(self):
        return self.to_sparse()

    def to_dense(self):
        return self
