"""Vector p-norms (`Tensor.norm`), the nuclear norm, and the standard deviation's square root.

Both are roots of a reduction that is 0 exactly when the input is all zeros (or constant); the
plain `sqrt` has an infinite slope there, which multiplied by the reduction's zero gradient gives
NaN.  PyTorch defines these gradients as 0 at that point, and so do we.
"""
import math

import numpy as np

from ..autograd import Function
from .arith import Sqrt
from ..tensor_base import wrap
from ..shapes import expand_reduced as _expand_back
from ..shapes import norm_axes
from ..dtypes import is_floating


class RootAtZero(Sqrt):
    """sqrt whose gradient is 0 where the result is 0 (std's and the 2-norm's convention)."""

    def backward(self, g):
        out = self.out
        with np.errstate(divide="ignore", invalid="ignore"):
            grad = g / (2 * out)
        return np.where(out == 0, np.zeros((), grad.dtype), grad)

    def backward_graph(self, g):
        a = self.parents[0]
        zero = wrap(self.out == 0)
        safe = a.masked_fill(zero, 1.0)  # keeps 1/sqrt finite where the result is 0
        return (g / (2 * RootAtZero.apply(safe))).masked_fill(zero, 0.0)


class PNorm(Function):
    """(sum |x|^p)^(1/p) for a finite p other than 0, with a zero gradient where x or the norm
    is 0 (the slope there is undefined or infinite; PyTorch takes 0)."""

    def forward(self, a, p=2.0, axis=None, keepdim=False):
        # float32 sums of |x|^p overflow for |x| ~ 1e20 whose norm is representable; float64 not
        ab = np.abs(a.astype(np.float64) if a.dtype == np.float32 else a)
        if p == 1:
            out = np.sum(ab, axis=axis, keepdims=keepdim)
        elif p == 2:
            out = np.sqrt(np.sum(ab * ab, axis=axis, keepdims=keepdim))
        else:
            with np.errstate(divide="ignore", over="ignore"):
                out = np.sum(ab ** p, axis=axis, keepdims=keepdim) ** (1.0 / p)
        out = np.asarray(out, dtype=a.dtype)
        if self.requires_grad:
            self.a, self.out, self.p, self.axis, self.keepdim = a, out, p, axis, keepdim
        return out

    def backward(self, g):
        a, p = self.a, self.p
        if p == 1:
            return _expand_back(g, a.shape, self.axis, self.keepdim) * np.sign(a)
        o = _expand_back(self.out, a.shape, self.axis, self.keepdim)
        ge = _expand_back(g, a.shape, self.axis, self.keepdim)
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            if p == 2:
                grad = ge * a / o
            else:
                grad = ge * np.sign(a) * (np.abs(a) / o) ** (p - 1)
        zero = (o == 0) | (a == 0)
        return np.where(zero, np.zeros((), grad.dtype), grad)

    def backward_graph(self, g):
        a, p, axis = self.parents[0], self.p, self.axis
        keep = tuple(1 if axis is None or i in axis else n for i, n in enumerate(a.shape))
        ge = g.reshape(keep)
        if p == 1:
            return ge * wrap(np.sign(self.a))
        o = _expand_back(self.out, self.a.shape, axis, self.keepdim)
        zero = wrap((o == 0) | ((self.a == 0) & (p != 2)))  # a/o is smooth at a = 0
        # the norm is taken of the true values (rows whose norm is 0 made all ones, so that
        # nothing divides by 0); single zero entries are replaced only where they would be
        # raised to a negative power; the masked places give 0 as in backward()
        norm = PNorm.apply(a.masked_fill(wrap(o == 0), 1.0), p=p, axis=axis, keepdim=True)
        if p == 2:
            grad = ge * a / norm
        else:
            grad = ge * wrap(np.sign(self.a)) * (a.masked_fill(zero, 1.0).abs() / norm) ** (p - 1)
        return grad.masked_fill(zero, 0.0)


class CountNonzero(Function):
    """The 0-"norm": how many entries are non-zero, in the input's dtype; its gradient is 0."""

    def forward(self, a, axis=None, keepdim=False):
        self.shape = a.shape
        return np.asarray(np.count_nonzero(a, axis=axis, keepdims=keepdim), dtype=a.dtype)

    def backward(self, g):
        return np.zeros(self.shape, g.dtype)


class NuclearNorm(Function):
    """The sum of the singular values of the matrices over the two `axes`; its gradient is
    U V^T of the reduced SVD (the derivative where the singular values are distinct and
    non-zero, and the subgradient torch's SVD backward gives elsewhere)."""

    def forward(self, a, axes=(-2, -1), keepdim=False):
        m = np.moveaxis(a, axes, (-2, -1))
        u, s, vt = np.linalg.svd(m, full_matrices=False)
        out = s.sum(-1)
        if keepdim:
            out = np.expand_dims(out, tuple(sorted(axes)))
        if self.requires_grad:
            self.uvt, self.axes, self.keepdim = u @ vt, axes, keepdim
        return np.array(out, dtype=a.dtype)  # (0-d stays 0-d)

    def backward(self, g):
        if self.keepdim:
            g = np.squeeze(g, tuple(sorted(self.axes)))
        grad = g[..., None, None] * self.uvt
        return np.ascontiguousarray(np.moveaxis(grad, (-2, -1), self.axes))


def nuclear_norm(t, dim=None, keepdim=False):
    """norm(p='nuc'): over the input's 2 dims, or the 2 dims `dim` names."""
    if dim is None:
        if t.ndim != 2:
            raise ValueError("norm: p='nuc' without dim needs a 2-D input, got shape %s"
                             % (tuple(t.shape),))
        dim = (0, 1)
    axes = norm_axes(dim, t.ndim, "norm")
    if axes is None or len(axes) != 2:
        raise ValueError("norm: p='nuc' needs exactly 2 dims, got dim=%r" % (dim,))
    return NuclearNorm.apply(t, axes=tuple(axes), keepdim=keepdim)


def vector_norm(t, p=2, dim=None, keepdim=False):
    """Tensor.norm: p in (int, float, inf, -inf, 'fro', 'nuc'); the dtype must be floating."""
    if not is_floating(t.dtype):
        raise TypeError("norm: input must be a floating tensor, got %s" % t.dtype)
    if isinstance(p, str):
        if p == "nuc":
            return nuclear_norm(t, dim, keepdim)
        if p != "fro":
            raise ValueError("norm: p must be a number, 'fro' or 'nuc', got %r" % (p,))
        p = 2
    if isinstance(p, bool) or not isinstance(p, (int, float, np.integer, np.floating)):
        raise TypeError("norm: p must be a number, got %s" % type(p).__name__)
    p = float(p)
    if math.isnan(p):
        raise ValueError("norm: p must not be NaN")
    axis = norm_axes(dim, t.ndim, "norm")
    reduced = t.shape if axis is None else [t.shape[i] for i in axis]
    if p < 0 and 0 in reduced:
        raise ValueError("norm: a norm with p=%g of an empty set of values has no value "
                         "(input shape %s, dim %s)" % (p, tuple(t.shape), dim))
    if p == math.inf:
        return t.abs().amax(dim=axis, keepdim=keepdim)
    if p == -math.inf:
        return t.abs().amin(dim=axis, keepdim=keepdim)
    if p == 0:
        return CountNonzero.apply(t, axis=axis, keepdim=keepdim)
    return PNorm.apply(t, p=p, axis=axis, keepdim=keepdim)

