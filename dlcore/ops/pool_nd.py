"""1-D and 3-D pooling on the 2-D pooling kernels (dlcore.ops.pool).

1-D pooling is 2-D pooling of a one-row image.  3-D pooling is separable: a box window's max
(or sum) is the max (sum) over depth of the max (sum) over height and width, and PyTorch's
divisors (with or without padding counted, ceil_mode windows clipped) are products of one
factor per dim, so one 2-D pass over (H, W) and one over (D, 1) give the 3-D result, forward
and backward, with the 2-D kernels' gradients.
"""
import numbers

import numpy as np

from ..tensor_base import TensorBase, wrap
from .conv import _pair
from .pool import (adaptive_avg_pool2d, adaptive_max_pool2d, avg_pool2d, check_pool_padding,
                   max_pool2d)
from .half import via_float32
from .autocast import float32_policy

__all__ = ["max_pool1d", "avg_pool1d", "adaptive_avg_pool1d", "adaptive_max_pool1d",
           "max_pool3d", "avg_pool3d", "adaptive_avg_pool3d", "adaptive_max_pool3d"]


def _batched(fname, input, nd):
    if not isinstance(input, TensorBase):
        raise TypeError("%s: input must be a Tensor, got %s" % (fname, type(input).__name__))
    if input.dtype != np.float32 and input.dtype != np.float64:
        raise TypeError("%s: expected a float32 or float64 input, got %s" % (fname, input.dtype))
    if input.ndim == nd + 1:
        return input.unsqueeze(0), True
    if input.ndim != nd + 2:
        dims = {1: "(N, C, L)", 3: "(N, C, D, H, W)"}[nd]
        raise ValueError("%s: input must be %d-D %s (or %d-D without the batch dim), got shape %s"
                         % (fname, nd + 2, dims, nd + 1, tuple(input.shape)))
    return input, False


def _unbatch(y, unbatched):
    return y.squeeze(0) if unbatched else y


def _stride(stride, kernel, fname, n):
    if stride is None or (not isinstance(stride, numbers.Integral) and len(stride) == 0):
        return kernel
    return _pair(stride, "stride", fname, n)


# ---- 1-D -------------------------------------------------------------------------------------
def _args1d(fname, input, kernel_size, stride, padding):
    """(input with a batch dim, whether one was added, kernel, stride, padding) as 1-tuples."""
    x, unb = _batched(fname, input, 1)
    k = _pair(kernel_size, "kernel_size", fname, 1)
    return x, unb, k, _stride(stride, k, fname, 1), _pair(padding, "padding", fname, 1)


@via_float32
def max_pool1d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
               return_indices=False):
    x, unb, k, s, p = _args1d("max_pool1d", input, kernel_size, stride, padding)
    d = _pair(dilation, "dilation", "max_pool1d", 1)
    check_pool_padding("max_pool1d", k, p)
    out = max_pool2d(x.unsqueeze(2), (1,) + k, (1,) + s, (0,) + p, (1,) + d, ceil_mode,
                     return_indices)
    if return_indices:
        return _unbatch(out[0].squeeze(2), unb), _unbatch(out[1].squeeze(2), unb)
    return _unbatch(out.squeeze(2), unb)


@via_float32
def avg_pool1d(input, kernel_size, stride=None, padding=0, ceil_mode=False,
               count_include_pad=True):
    x, unb, k, s, p = _args1d("avg_pool1d", input, kernel_size, stride, padding)
    y = avg_pool2d(x.unsqueeze(2), (1,) + k, (1,) + s, (0,) + p, ceil_mode, count_include_pad)
    return _unbatch(y.squeeze(2), unb)


def _size1(output_size, fname):
    t = _pair(output_size, "output_size", fname, 1)
    return t[0]


@via_float32
def adaptive_avg_pool1d(input, output_size):
    x, unb = _batched("adaptive_avg_pool1d", input, 1)
    L = _size1(output_size, "adaptive_avg_pool1d")
    return _unbatch(adaptive_avg_pool2d(x.unsqueeze(2), (1, L)).squeeze(2), unb)


@via_float32
def adaptive_max_pool1d(input, output_size, return_indices=False):
    x, unb = _batched("adaptive_max_pool1d", input, 1)
    L = _size1(output_size, "adaptive_max_pool1d")
    out = adaptive_max_pool2d(x.unsqueeze(2), (1, L), return_indices)
    if return_indices:
        return _unbatch(out[0].squeeze(2), unb), _unbatch(out[1].squeeze(2), unb)
    return _unbatch(out.squeeze(2), unb)


# ---- 3-D -------------------------------------------------------------------------------------
def _triple_args(fname, kernel_size, stride, padding, dilation):
    k = _pair(kernel_size, "kernel_size", fname, 3)
    s = _stride(stride, k, fname, 3)
    p = _pair(padding, "padding", fname, 3)
    d = _pair(dilation, "dilation", fname, 3)
    return k, s, p, d


def _depth_indices(idx_hw, idx_d, shape_hw, D, H, W):
    """3-D flat argmax indices from the (H, W) pass's and the depth pass's indices."""
    N, C, Do, Ho, Wo = idx_d.shape[0], idx_d.shape[1], idx_d.shape[2], shape_hw[0], shape_hw[1]
    d = idx_d.reshape(N, C, Do, Ho * Wo) // (Ho * Wo)  # the depth the winner came from
    hw = idx_hw.reshape(N, C, D, Ho * Wo)
    picked = np.take_along_axis(hw, d, axis=2)
    return (d * (H * W) + picked).reshape(N, C, Do, Ho, Wo)


@float32_policy
@via_float32
def max_pool3d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
               return_indices=False):
    fname = "max_pool3d"
    x, unb = _batched(fname, input, 3)
    k, s, p, d = _triple_args(fname, kernel_size, stride, padding, dilation)
    check_pool_padding(fname, k, p)
    N, C, D, H, W = x.shape
    r = max_pool2d(x.reshape(N, C * D, H, W), k[1:], s[1:], p[1:], d[1:], ceil_mode,
                   return_indices)
    y_hw, i_hw = r if return_indices else (r, None)
    Ho, Wo = y_hw.shape[2], y_hw.shape[3]
    r = max_pool2d(y_hw.reshape(N, C, D, Ho * Wo), (k[0], 1), (s[0], 1), (p[0], 0), (d[0], 1),
                   ceil_mode, return_indices)
    y, i_d = r if return_indices else (r, None)
    y = y.reshape(N, C, y.shape[2], Ho, Wo)
    if return_indices:
        idx = _depth_indices(i_hw._data, i_d._data, (Ho, Wo), D, H, W)
        return _unbatch(y, unb), _unbatch(wrap(idx), unb)
    return _unbatch(y, unb)


@float32_policy
@via_float32
def avg_pool3d(input, kernel_size, stride=None, padding=0, ceil_mode=False,
               count_include_pad=True, divisor_override=None):
    fname = "avg_pool3d"
    x, unb = _batched(fname, input, 3)
    k, s, p, _ = _triple_args(fname, kernel_size, stride, padding, 1)
    if divisor_override is not None and (isinstance(divisor_override, bool) or not isinstance(
            divisor_override, numbers.Integral) or divisor_override == 0):
        raise ValueError("avg_pool3d: divisor_override must be a non-zero int, got %r"
                         % (divisor_override,))
    one = None if divisor_override is None else 1  # sums, divided once at the end
    N, C, D, H, W = x.shape
    y = avg_pool2d(x.reshape(N, C * D, H, W), k[1:], s[1:], p[1:], ceil_mode,
                   count_include_pad, one)
    Ho, Wo = y.shape[2], y.shape[3]
    y = avg_pool2d(y.reshape(N, C, D, Ho * Wo), (k[0], 1), (s[0], 1), (p[0], 0), ceil_mode,
                   count_include_pad, one)
    y = y.reshape(N, C, y.shape[2], Ho, Wo)
    if divisor_override is not None:
        y = y / float(divisor_override)
    return _unbatch(y, unb)


def _size3(output_size, x, fname):
    if isinstance(output_size, numbers.Integral) and not isinstance(output_size, bool):
        return (int(output_size),) * 3
    try:
        t = tuple(output_size)
    except TypeError:
        raise TypeError("%s: output_size must be an int or a triple, got %r"
                        % (fname, output_size)) from None
    if len(t) != 3:
        raise ValueError("%s: output_size must have 3 elements, got %r" % (fname, output_size))
    return tuple(x.shape[2 + i] if t[i] is None else int(t[i]) for i in range(3))


@float32_policy
def adaptive_avg_pool3d(input, output_size):
    fname = "adaptive_avg_pool3d"
    x, unb = _batched(fname, input, 3)
    Do, Ho, Wo = _size3(output_size, x, fname)
    N, C, D, H, W = x.shape
    y = adaptive_avg_pool2d(x.reshape(N, C * D, H, W), (Ho, Wo))
    y = adaptive_avg_pool2d(y.reshape(N, C, D, Ho * Wo), (Do, Ho * Wo))
    return _unbatch(y.reshape(N, C, Do, Ho, Wo), unb)


def adaptive_max_pool3d(input, output_size, return_indices=False):
    fname = "adaptive_max_pool3d"
    x, unb = _batched(fname, input, 3)
    Do, Ho, Wo = _size3(output_size, x, fname)
    N, C, D, H, W = x.shape
    r = adaptive_max_pool2d(x.reshape(N, C * D, H, W), (Ho, Wo), return_indices)
    y_hw, i_hw = r if return_indices else (r, None)
    r = adaptive_max_pool2d(y_hw.reshape(N, C, D, Ho * Wo), (Do, Ho * Wo), return_indices)
    y, i_d = r if return_indices else (r, None)
    y = y.reshape(N, C, Do, Ho, Wo)
    if return_indices:
        idx = _depth_indices(i_hw._data, i_d._data, (Ho, Wo), D, H, W)
        return _unbatch(y, unb), _unbatch(wrap(idx), unb)
    return _unbatch(y, unb)
