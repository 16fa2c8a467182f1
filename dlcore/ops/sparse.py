"""Embedding lookup: rows of a weight matrix gathered by integer indices; the gradient is dense
(a scatter-add of the output gradient into a zero matrix of the weight's shape)."""
import numpy as np

from ..autograd import Function, no_grad
from ..tensor_base import TensorBase, wrap

__all__ = ["embedding"]


def _scatter_rows(flat, rows, n):
    """A zero (n, d) matrix with rows[i] added into row flat[i], in the order of i.

    np.add.at over whole rows is NumPy's slow general path (~8x slower here than on one
    dimension): the same additions, in the same order, go through its one-dimensional fast
    path on element indices, so the result is bitwise that of the row-wise scatter."""
    d = rows.shape[-1]
    out = np.zeros((n, d), rows.dtype)
    if flat.size and d:
        elems = (flat.astype(np.intp, copy=False)[:, None] * d + np.arange(d)).reshape(-1)
        np.add.at(out.reshape(-1), elems, np.ascontiguousarray(rows).reshape(-1))
    return out


class Embedding(Function):
    def forward(self, weight, idx, padding_idx=None, scale_grad_by_freq=False):
        if self.requires_grad:
            self.idx, self.shape = idx, weight.shape
            self.padding_idx, self.scale = padding_idx, scale_grad_by_freq
        return weight[idx]

    def backward(self, g):
        n, d = self.shape
        flat = self.idx.reshape(-1)
        g2 = np.ascontiguousarray(g).reshape(-1, d)
        if self.scale:
            counts = np.bincount(flat, minlength=n)
            g2 = g2 / counts[flat][:, None].astype(g2.dtype)
        dw = _scatter_rows(flat, g2, n)
        if self.padding_idx is not None:
            dw[self.padding_idx] = 0
        return dw, None

    def backward_graph(self, g):
        n, d = self.shape
        flat = self.idx.reshape(-1)
        coef = np.ones(flat.shape, g.dtype)
        if self.scale:
            coef = coef / np.bincount(flat, minlength=n)[flat]
        if self.padding_idx is not None:
            coef[flat == self.padding_idx] = 0
        scaled = g * wrap(coef.reshape(self.idx.shape + (1,)).astype(g.dtype))
        return ScatterRows.apply(scaled, idx=self.idx, n=n), None


class ScatterRows(Function):
    """Rows of g added into a zero (n, d) matrix at the given row indices (the embedding's
    gradient as an op); linear, its backward gathers the rows back."""
    LINEAR = True

    def forward(self, g, idx=None, n=0):
        d = g.shape[-1]
        out = _scatter_rows(idx.reshape(-1), g.reshape(-1, d), n)
        self.idx = idx
        return out

    def backward(self, gg):
        return gg[self.idx]


def _renorm_(weight, idx, max_norm, norm_type):
    """PyTorch's max_norm: rows looked up whose norm exceeds max_norm are rescaled in place."""
    rows = np.unique(idx)
    w = weight._data
    norms = np.linalg.norm(w[rows].astype(np.float64), ord=norm_type, axis=1)
    big = norms > max_norm
    if np.any(big):
        scale = (max_norm / (norms[big] + 1e-7)).astype(w.dtype)
        with no_grad():
            w[rows[big]] *= scale[:, None]


def embedding(input, weight, padding_idx=None, max_norm=None, norm_type=2.0,
              scale_grad_by_freq=False, sparse=False):
    """F.embedding: weight[input] for an integer tensor `input` of any shape."""
    if not isinstance(weight, TensorBase) or weight.ndim != 2:
        raise ValueError("embedding: weight must be a 2-D Tensor (num_embeddings, embedding_dim), "
                         "got %s" % (tuple(weight.shape) if isinstance(weight, TensorBase)
                                     else type(weight).__name__,))
    if sparse:
        raise ValueError("embedding: sparse gradients are not supported (dlcore's gradient is "
                         "dense); pass sparse=False")
    idx = input._data if isinstance(input, TensorBase) else np.asarray(input)
    if idx.dtype.kind not in "iu":
        raise TypeError("embedding: input must hold integer indices (int64/int32), got %s"
                        % idx.dtype)
    n = weight.shape[0]
    if idx.size and (idx.min() < 0 or idx.max() >= n):
        bad = idx.min() if idx.min() < 0 else idx.max()
        raise IndexError("embedding: index %d is out of range for %d embeddings"
                         % (int(bad), n))
    if padding_idx is not None:
        if isinstance(padding_idx, bool) or not isinstance(padding_idx, (int, np.integer)):
            raise TypeError("embedding: padding_idx must be an int or None, got %r"
                            % (padding_idx,))
        if not -n <= padding_idx < n:
            raise ValueError("embedding: padding_idx must be within num_embeddings (%d), got %d"
                             % (n, padding_idx))
        padding_idx = padding_idx % n
    idx = idx.astype(np.int64, copy=False)
    if max_norm is not None:
        _renorm_(weight, idx, float(max_norm), float(norm_type))
    return Embedding.apply(weight, idx, padding_idx=padding_idx,
                           scale_grad_by_freq=scale_grad_by_freq)
