"""Pooling and resampling: max/avg/adaptive pooling, max_unpool2d, interpolate.  Forward and
backward run in C (csrc/pool.c), plane by plane; interpolate's modes and ranks other than 2-D
nearest/bilinear use the separable matrices of ops/interpolate.py."""
import math
import numbers

import numpy as np

from .. import _C
from ..autograd import Function
from ..tensor_base import TensorBase, wrap
from .conv import _pair, _c, _check_window, _FLOAT
from .interpolate import ALIGNABLE, MODE_RANK, SeparableResample, axis_matrix, output_size
from .half import via_float32

__all__ = ["max_pool2d", "avg_pool2d", "adaptive_avg_pool2d", "adaptive_max_pool2d",
           "max_unpool2d", "interpolate", "upsample"]


def _pool_out(size, k, s, p, d, ceil_mode):
    """PyTorch's pooling output size."""
    eff = d * (k - 1) + 1
    num = size + 2 * p - eff + ((s - 1) if ceil_mode else 0)
    out = num // s + 1
    if ceil_mode and (out - 1) * s >= size + p:
        out -= 1
    return out


def _as_tensor(fname, input):
    if not isinstance(input, TensorBase):
        raise TypeError("%s: input must be a Tensor, got %s" % (fname, type(input).__name__))
    if input.dtype not in _FLOAT:
        raise TypeError("%s: expected a float32 or float64 input, got %s" % (fname, input.dtype))
    if input.ndim == 3:
        return input.unsqueeze(0), True
    if input.ndim != 4:
        raise ValueError("%s: input must be 4-D (N, C, H, W) or 3-D (C, H, W), got shape %s"
                         % (fname, tuple(input.shape)))
    return input, False


def check_pool_padding(fname, k, p):
    """torch's bound, padding <= kernel_size // 2 (the kernel, not the dilated window: with
    dilation, half the window lets a window hold padding only, and its max be -inf)."""
    if any(pi > ki // 2 for ki, pi in zip(k, p)):
        raise ValueError("%s: padding %s should be at most half of the kernel size %s"
                         % (fname, tuple(p), tuple(k)))


def _window(fname, input, kernel_size, stride, padding, dilation, ceil_mode):
    k = _pair(kernel_size, "kernel_size", fname)
    s = k if stride is None or (not isinstance(stride, numbers.Integral) and len(stride) == 0) \
        else _pair(stride, "stride", fname)
    p = _pair(padding, "padding", fname)
    d = _pair(dilation, "dilation", fname)
    _check_window(fname, k, s, p, d)
    check_pool_padding(fname, k, p)
    if 0 in tuple(input.shape[1:]):  # (only the batch may be empty, as torch's check)
        raise ValueError("%s: expected a 3-D or 4-D (batch mode) input with only the batch dim "
                         "allowed to be 0, got shape %s" % (fname, tuple(input.shape)))
    H, W = input.shape[-2:]
    out = (_pool_out(H, k[0], s[0], p[0], d[0], ceil_mode),
           _pool_out(W, k[1], s[1], p[1], d[1], ceil_mode))
    if min(out) < 1:
        raise ValueError("%s: output size %s is too small for input of shape %s (kernel %s, "
                         "stride %s, padding %s, dilation %s)"
                         % (fname, out, tuple(input.shape), k, s, p, d))
    return k, s, p, d, out


class MaxPool2dFn(Function):
    def forward(self, x, kernel=None, stride=None, padding=None, dilation=None, out_hw=None,
                holder=None):
        x = _c(x)
        y = np.empty(x.shape[:2] + out_hw, dtype=x.dtype)
        keep = self.requires_grad or holder is not None
        idx = np.empty(y.shape, dtype=np.int64) if keep else None
        if y.size:
            _C.maxpool2d_forward(x, y, idx, kernel, stride, padding, dilation)
        if self.requires_grad:
            self.idx, self.xshape, self.dtype = idx, x.shape, x.dtype
        if holder is not None:
            holder.append(idx)
        return y

    def backward(self, g):
        gx = np.empty(self.xshape, dtype=self.dtype)
        if gx.size:
            _C.index_scatter2d(_c(g), self.idx, gx)
        return gx

    def backward_graph(self, g):
        return MaxPoolGrad.apply(g, idx=self.idx, xshape=self.xshape)


class MaxPoolGrad(Function):
    """Max pooling's backward as an op (each gradient added at its window's argmax); linear in
    the gradient, so its own backward gathers at the same indices."""

    def forward(self, g, idx=None, xshape=None):
        gx = np.zeros(xshape, dtype=g.dtype)
        if gx.size:
            _C.index_scatter2d(_c(g), idx, gx)
        self.idx = idx
        return gx

    def backward(self, gg):
        out = np.empty(self.idx.shape, dtype=gg.dtype)
        if out.size:
            _C.index_gather2d(_c(gg), self.idx, out)
        return out

    def backward_graph(self, gg):
        return MaxPoolGather.apply(gg, idx=self.idx)


class MaxPoolGather(Function):
    """The values of each plane at the given flat indices (MaxPoolGrad's adjoint)."""
    LINEAR = True

    def forward(self, x, idx=None):
        out = np.empty(idx.shape, dtype=x.dtype)
        if out.size:
            _C.index_gather2d(_c(x), idx, out)
        self.idx, self.xshape = idx, x.shape
        return out

    def backward(self, g):
        gx = np.zeros(self.xshape, dtype=g.dtype)
        if gx.size:
            _C.index_scatter2d(_c(g), self.idx, gx)
        return gx


class AdaptiveMaxPool2dFn(MaxPool2dFn):
    def forward(self, x, out_hw=None, holder=None):
        x = _c(x)
        y = np.empty(x.shape[:2] + out_hw, dtype=x.dtype)
        keep = self.requires_grad or holder is not None
        idx = np.empty(y.shape, dtype=np.int64) if keep else None
        if y.size:
            _C.adaptive_pool2d_forward(x, y, "max", idx)
        if self.requires_grad:
            self.idx, self.xshape, self.dtype = idx, x.shape, x.dtype
        if holder is not None:
            holder.append(idx)
        return y


class AvgPool2dFn(Function):
    LINEAR = True

    def forward(self, x, kernel=None, stride=None, padding=None, out_hw=None, cip=True,
                divisor=0):
        x = _c(x)
        y = np.empty(x.shape[:2] + out_hw, dtype=x.dtype)
        self.conf = (kernel, stride, padding, cip, divisor)
        self.xshape = x.shape
        if y.size:
            _C.avgpool2d_forward(x, y, *self.conf)
        return y

    def backward(self, g):
        gx = np.empty(self.xshape, dtype=g.dtype)
        if gx.size:
            _C.avgpool2d_backward(_c(g), gx, *self.conf)
        return gx


class AdaptiveAvgPool2dFn(Function):
    LINEAR = True

    def forward(self, x, out_hw=None):
        x = _c(x)
        y = np.empty(x.shape[:2] + out_hw, dtype=x.dtype)
        self.xshape = x.shape
        if y.size:
            _C.adaptive_pool2d_forward(x, y, "avg")
        return y

    def backward(self, g):
        gx = np.empty(self.xshape, dtype=g.dtype)
        if gx.size:
            _C.adaptive_avgpool2d_backward(_c(g), gx)
        return gx


class MaxUnpool2dFn(Function):
    LINEAR = True

    def forward(self, x, idx=None, out_hw=None):
        x = _c(x)
        y = np.zeros(x.shape[:2] + out_hw, dtype=x.dtype)
        plane = out_hw[0] * out_hw[1]
        if x.size:
            bad = int(np.count_nonzero((idx < 0) | (idx >= plane)))
            if bad:
                raise ValueError("max_unpool2d: %d indices fall outside the output plane of %d "
                                 "elements (output size %s)" % (bad, plane, out_hw))
            # placed, not summed: overlapping pool windows name the same maximum more than once
            rows = np.arange(x.shape[0] * x.shape[1])[:, None]
            y.reshape(-1, plane)[rows, idx.reshape(len(rows), -1)] = x.reshape(len(rows), -1)
        self.idx, self.xshape = idx, x.shape
        return y

    def backward(self, g):
        gx = np.empty(self.xshape, dtype=g.dtype)
        if gx.size:
            _C.index_gather2d(_c(g), self.idx, gx)
        return gx


class Upsample2dFn(Function):
    LINEAR = True

    def forward(self, x, mode=None, out_hw=None, align=False, scales=None):
        x = _c(x)
        y = np.empty(x.shape[:2] + out_hw, dtype=x.dtype)
        self.conf = (mode, align, scales)
        self.xshape = x.shape
        if y.size:
            _C.upsample2d(x, y, mode, False, align, scales[0], scales[1])
        return y

    def backward(self, g):
        mode, align, scales = self.conf
        gx = np.empty(self.xshape, dtype=g.dtype)
        if gx.size:
            _C.upsample2d(_c(g), gx, mode, True, align, scales[0], scales[1])
        return gx


def _unbatch(y, unbatched):
    return y.squeeze(0) if unbatched else y


@via_float32
def max_pool2d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
               return_indices=False):
    """F.max_pool2d; with return_indices, also the flat argmax of each window in its plane."""
    x, unb = _as_tensor("max_pool2d", input)
    k, s, p, d, out = _window("max_pool2d", x, kernel_size, stride, padding, dilation, ceil_mode)
    holder = [] if return_indices else None
    y = MaxPool2dFn.apply(x, kernel=k, stride=s, padding=p, dilation=d, out_hw=out,
                          holder=holder)
    if return_indices:
        idx = wrap(holder[0])
        return _unbatch(y, unb), _unbatch(idx, unb)
    return _unbatch(y, unb)


@via_float32
def avg_pool2d(input, kernel_size, stride=None, padding=0, ceil_mode=False,
               count_include_pad=True, divisor_override=None):
    x, unb = _as_tensor("avg_pool2d", input)
    k, s, p, _, out = _window("avg_pool2d", x, kernel_size, stride, padding, 1, ceil_mode)
    div = 0
    if divisor_override is not None:
        if not isinstance(divisor_override, numbers.Integral) or divisor_override == 0:
            raise ValueError("avg_pool2d: divisor_override must be a non-zero int, got %r"
                             % (divisor_override,))
        div = int(divisor_override)
    # the kernel divides by a positive count; torch allows a negative divisor: flip the sign
    y = AvgPool2dFn.apply(x, kernel=k, stride=s, padding=p, out_hw=out,
                          cip=bool(count_include_pad), divisor=abs(div))
    if div < 0:
        y = -y
    return _unbatch(y, unb)


def _adaptive_size(fname, x, output_size):
    if isinstance(output_size, numbers.Integral) and not isinstance(output_size, bool):
        out = (int(output_size),) * 2
    else:
        try:
            t = tuple(output_size)
        except TypeError:
            raise TypeError("%s: output_size must be an int or a pair, got %r"
                            % (fname, output_size)) from None
        if len(t) != 2:
            raise ValueError("%s: output_size must have 2 elements, got %r" % (fname, output_size))
        out = tuple(x.shape[2 + i] if t[i] is None else int(t[i]) for i in range(2))
    if min(out) < 1:
        raise ValueError("%s: output_size must be positive, got %s" % (fname, out))
    if min(x.shape[2:]) < 1:
        raise ValueError("%s: input of shape %s has an empty spatial dim" % (fname, tuple(x.shape)))
    return out


@via_float32
def adaptive_avg_pool2d(input, output_size):
    x, unb = _as_tensor("adaptive_avg_pool2d", input)
    out = _adaptive_size("adaptive_avg_pool2d", x, output_size)
    return _unbatch(AdaptiveAvgPool2dFn.apply(x, out_hw=out), unb)


@via_float32
def adaptive_max_pool2d(input, output_size, return_indices=False):
    x, unb = _as_tensor("adaptive_max_pool2d", input)
    out = _adaptive_size("adaptive_max_pool2d", x, output_size)
    holder = [] if return_indices else None
    y = AdaptiveMaxPool2dFn.apply(x, out_hw=out, holder=holder)
    if return_indices:
        return _unbatch(y, unb), _unbatch(wrap(holder[0]), unb)
    return _unbatch(y, unb)


def max_unpool2d(input, indices, kernel_size, stride=None, padding=0, output_size=None):
    """The partial inverse of max_pool2d: values go back to their argmax positions, zeros
    elsewhere.  Output size (H-1)*stride - 2*padding + kernel_size unless output_size is given."""
    x, unb = _as_tensor("max_unpool2d", input)
    idx = indices._data if isinstance(indices, TensorBase) else np.asarray(indices)
    if unb:
        idx = idx[None]
    if idx.shape != tuple(x.shape):
        raise ValueError("max_unpool2d: indices shape %s must match input shape %s"
                         % (idx.shape, tuple(x.shape)))
    if idx.dtype.kind not in "iu":
        raise TypeError("max_unpool2d: indices must be integers, got %s" % idx.dtype)
    k = _pair(kernel_size, "kernel_size", "max_unpool2d")
    s = k if stride is None else _pair(stride, "stride", "max_unpool2d")
    p = _pair(padding, "padding", "max_unpool2d")
    H, W = x.shape[2:]
    if output_size is None:
        out = ((H - 1) * s[0] - 2 * p[0] + k[0], (W - 1) * s[1] - 2 * p[1] + k[1])
    else:
        out = tuple(int(v) for v in tuple(output_size)[-2:])
    if min(out) < 1:
        raise ValueError("max_unpool2d: output size %s must be positive" % (out,))
    y = MaxUnpool2dFn.apply(x, idx=np.ascontiguousarray(idx, dtype=np.int64), out_hw=out)
    return _unbatch(y, unb)


@via_float32
def interpolate(input, size=None, scale_factor=None, mode="nearest", align_corners=None,
                recompute_scale_factor=None, antialias=False):
    """F.interpolate on (N, C, L), (N, C, H, W) or (N, C, D, H, W) input: modes 'nearest',
    'nearest-exact', 'linear' (3-D), 'bilinear' and 'bicubic' (4-D), 'trilinear' (5-D) and
    'area', with size or scale_factor (a number or one per spatial dim) as PyTorch."""
    fname = "interpolate"
    if not isinstance(input, TensorBase):
        raise TypeError("%s: input must be a Tensor, got %s" % (fname, type(input).__name__))
    if input.dtype not in _FLOAT:
        raise TypeError("%s: expected a float32 or float64 input, got %s" % (fname, input.dtype))
    if mode not in MODE_RANK:
        raise ValueError("%s: mode must be one of %s, got %r" % (fname, ", ".join(MODE_RANK),
                                                                 mode))
    if not 3 <= input.ndim <= 5:
        raise ValueError("%s: input must be 3-D (N, C, L), 4-D (N, C, H, W) or 5-D "
                         "(N, C, D, H, W), got shape %s" % (fname, tuple(input.shape)))
    rank = input.ndim - 2
    if MODE_RANK[mode] not in (None, rank):
        raise ValueError("%s: mode %r needs a %d-D input, got shape %s"
                         % (fname, mode, MODE_RANK[mode] + 2, tuple(input.shape)))
    if antialias:
        raise ValueError("%s: antialias is not supported" % fname)
    if align_corners is not None and mode not in ALIGNABLE:
        raise ValueError("%s: align_corners option can only be set with the interpolating "
                         "modes: linear | bilinear | bicubic | trilinear" % fname)
    align = bool(align_corners) if align_corners is not None else False
    spatial = tuple(input.shape[2:])
    out, scales = output_size(fname, spatial, size, scale_factor)
    if recompute_scale_factor or mode == "area":
        scales = (None,) * rank
    if min(out) < 1 or min(spatial) < 1:
        raise ValueError("%s: output size %s for input of shape %s must be positive"
                         % (fname, out, tuple(input.shape)))
    if rank != 2 or mode not in ("nearest", "bilinear"):
        mats = tuple(axis_matrix(mode, spatial[i], out[i], align, scales[i])
                     for i in range(rank))
        return SeparableResample.apply(input, mats=mats)
    steps = []
    for i, (n_in, n_out) in enumerate(zip(spatial, out)):
        if mode == "bilinear" and align:
            steps.append((n_in - 1) / (n_out - 1) if n_out > 1 else 0.0)
        elif scales[i] is not None:
            steps.append(1.0 / scales[i])
        else:
            steps.append(n_in / n_out)
    return Upsample2dFn.apply(input, mode=mode, out_hw=out, align=align, scales=tuple(steps))


upsample = interpolate
