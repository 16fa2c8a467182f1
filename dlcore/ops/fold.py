"""unfold (im2col) and fold (col2im): sliding 2-D blocks of an (N, C, H, W) image as the columns
of an (N, C * kH * kW, L) matrix, and back (fold sums overlapping blocks).  Each is the other's
adjoint, so each one's backward is the other's forward.  NumPy slicing over the kH * kW kernel
taps (no per-pixel Python loop).

Row order of a column is PyTorch's: channel-major, then kernel row, then kernel column; the L
blocks are in row-major order of the output grid.
"""
import numbers

import numpy as np

from ..autograd import Function
from ..tensor_base import TensorBase
from ..dtypes import is_floating

__all__ = ["unfold", "fold"]


def _pair(v, name, fname):
    if isinstance(v, numbers.Integral) and not isinstance(v, bool):
        return (int(v),) * 2
    try:
        t = tuple(int(e) for e in v)
    except (TypeError, ValueError):
        raise TypeError("%s: %s must be an int or a pair of ints, got %r" % (fname, name, v)) \
            from None
    if len(t) != 2:
        raise ValueError("%s: %s must be an int or a pair of ints, got %r" % (fname, name, v))
    return t


def _geometry(fname, hw, kernel_size, dilation, padding, stride):
    k = _pair(kernel_size, "kernel_size", fname)
    d = _pair(dilation, "dilation", fname)
    p = _pair(padding, "padding", fname)
    s = _pair(stride, "stride", fname)
    if min(k) < 1 or min(d) < 1 or min(s) < 1:
        raise ValueError("%s: kernel_size %s, dilation %s and stride %s must be positive"
                         % (fname, k, d, s))
    if min(p) < 0:
        raise ValueError("%s: padding must be non-negative, got %s" % (fname, p))
    out = tuple((hw[i] + 2 * p[i] - d[i] * (k[i] - 1) - 1) // s[i] + 1 for i in range(2))
    if min(out) < 1:
        raise ValueError("%s: the sliding blocks do not fit: spatial size %s, kernel %s, "
                         "dilation %s, padding %s, stride %s" % (fname, tuple(hw), k, d, p, s))
    return k, d, p, s, out


def _im2col(x, k, d, p, s, out):
    N, C, H, W = x.shape
    xp = np.pad(x, ((0, 0), (0, 0), (p[0], p[0]), (p[1], p[1]))) if p[0] or p[1] else x
    cols = np.empty((N, C, k[0], k[1], out[0], out[1]), dtype=x.dtype)
    for i in range(k[0]):
        r0 = i * d[0]
        for j in range(k[1]):
            c0 = j * d[1]
            cols[:, :, i, j] = xp[:, :, r0:r0 + s[0] * (out[0] - 1) + 1:s[0],
                                  c0:c0 + s[1] * (out[1] - 1) + 1:s[1]]
    return cols.reshape(N, C * k[0] * k[1], out[0] * out[1])


def _col2im(cols, C, hw, k, d, p, s, out):
    N = cols.shape[0]
    H, W = hw
    img = np.zeros((N, C, H + 2 * p[0], W + 2 * p[1]), dtype=cols.dtype)
    c6 = cols.reshape(N, C, k[0], k[1], out[0], out[1])
    for i in range(k[0]):
        r0 = i * d[0]
        for j in range(k[1]):
            c0 = j * d[1]
            img[:, :, r0:r0 + s[0] * (out[0] - 1) + 1:s[0],
                c0:c0 + s[1] * (out[1] - 1) + 1:s[1]] += c6[:, :, i, j]
    return np.ascontiguousarray(img[:, :, p[0]:p[0] + H, p[1]:p[1] + W])


class UnfoldFn(Function):
    def forward(self, x, geom=None):
        self.geom, self.C, self.hw = geom, x.shape[1], x.shape[2:]
        return _im2col(x, *geom)

    def backward(self, g):
        return _col2im(np.asarray(g), self.C, self.hw, *self.geom)


class FoldFn(Function):
    def forward(self, cols, C=1, hw=(1, 1), geom=None):
        self.geom = geom
        return _col2im(cols, C, hw, *geom)

    def backward(self, g):
        return _im2col(np.asarray(g), *self.geom)


def _float(input, fname):
    if not isinstance(input, TensorBase):
        raise TypeError("%s: input must be a Tensor, got %s" % (fname, type(input).__name__))
    if not is_floating(input.dtype):
        raise TypeError("%s: input must be a float tensor, got %s" % (fname, input.dtype))


def unfold(input, kernel_size, dilation=1, padding=0, stride=1):
    """(N, C, H, W) or (C, H, W) -> (N, C * kH * kW, L) (or without N)."""
    _float(input, "unfold")
    if input.ndim not in (3, 4):
        raise ValueError("unfold: input must be 4-D (N, C, H, W) or 3-D (C, H, W), got shape %s"
                         % (tuple(input.shape),))
    x = input.unsqueeze(0) if input.ndim == 3 else input
    geom = _geometry("unfold", x.shape[2:], kernel_size, dilation, padding, stride)
    y = UnfoldFn.apply(x, geom=geom)
    return y.squeeze(0) if input.ndim == 3 else y


def fold(input, output_size, kernel_size, dilation=1, padding=0, stride=1):
    """(N, C * kH * kW, L) or (C * kH * kW, L) -> (N, C, H, W) (or without N), summing
    overlapping blocks."""
    _float(input, "fold")
    if input.ndim not in (2, 3):
        raise ValueError("fold: input must be 3-D (N, C * kH * kW, L) or 2-D, got shape %s"
                         % (tuple(input.shape),))
    x = input.unsqueeze(0) if input.ndim == 2 else input
    hw = _pair(output_size, "output_size", "fold")
    k, d, p, s, out = _geometry("fold", hw, kernel_size, dilation, padding, stride)
    rows, L = x.shape[1], x.shape[2]
    if rows % (k[0] * k[1]):
        raise ValueError("fold: input's dim 1 (%d) must be divisible by kernel_size product "
                         "(%d)" % (rows, k[0] * k[1]))
    if L != out[0] * out[1]:
        raise ValueError("fold: input has %d blocks but output_size %s with kernel %s, dilation "
                         "%s, padding %s, stride %s gives %d" % (L, hw, k, d, p, s,
                                                                 out[0] * out[1]))
    y = FoldFn.apply(x, C=rows // (k[0] * k[1]), hw=hw, geom=(k, d, p, s, out))
    return y.squeeze(0) if input.ndim == 2 else y
