"""Piecewise-constant elementwise ops and clamp with tensor bounds.

floor, ceil, round(decimals), trunc, sign and div(rounding_mode=...) are flat almost everywhere:
PyTorch records them in the graph with a zero gradient, so a loss built on them can still call
backward (and gets zeros), which is what this module's Functions do.  clamp with tensor min/max
broadcasts all three and routes the gradient to whichever of x, min, max the output came from,
by PyTorch's rules (ties go to x; where min > max the output is max).
"""
import numbers

import numpy as np

from ..autograd import Function
from ..tensor_base import TensorBase, operand
from ..dtypes import is_floating, result_dtype, scalar_result_dtype
from .shape import Cast


class PiecewiseConstant(Function):
    """out = fn(inputs...), gradient zero for every input."""

    def forward(self, *arrays, fn=None):
        self.shapes = [np.shape(a) for a in arrays]
        out = fn(*arrays)
        self.out_dtype = out.dtype
        return out

    def backward(self, g):
        grads = tuple(np.zeros(s, dtype=g.dtype) if need else None
                      for s, need in zip(self.shapes, self.needs_input_grad))
        return grads if len(grads) > 1 else grads[0]


def _round(decimals):
    if decimals == 0:
        return np.round

    def fn(a):
        return np.round(a, decimals) if is_floating(a.dtype) else a
    return fn


def _trunc_div(a, b):
    if np.result_type(a, b).kind == "f":
        return np.trunc(np.divide(a, b))
    if np.any(b == 0):
        raise ZeroDivisionError("div: integer division by zero")
    q = np.floor_divide(a, b)
    return q + ((np.remainder(a, b) != 0) & ((a < 0) != (b < 0)))


def _floor_div(a, b):
    if np.result_type(a, b).kind != "f" and np.any(b == 0):
        raise ZeroDivisionError("div: integer division by zero")
    return np.floor_divide(a, b)


def floor(x):
    return PiecewiseConstant.apply(x, fn=np.floor)


def ceil(x):
    return PiecewiseConstant.apply(x, fn=np.ceil)


def trunc(x):
    return PiecewiseConstant.apply(x, fn=np.trunc)


def sign(x):
    return PiecewiseConstant.apply(x, fn=np.sign)


def round(x, decimals=0):  # noqa: A001
    if not isinstance(decimals, (int, np.integer)) or isinstance(decimals, bool):
        raise TypeError("round: decimals must be an int, got %r" % (decimals,))
    return PiecewiseConstant.apply(x, fn=_round(int(decimals)))


def div_rounded(x, other, rounding_mode):
    """x / other rounded toward zero ('trunc') or down ('floor'), as torch.div does."""
    if rounding_mode == "trunc":
        fn = _trunc_div
    elif rounding_mode == "floor":
        fn = _floor_div
    else:
        raise ValueError("div: rounding_mode must be None, 'trunc' or 'floor', got %r"
                         % (rounding_mode,))
    return PiecewiseConstant.apply(x, operand(other, x), fn=fn)


class ClampTensor(Function):
    def forward(self, a, lo, hi):
        out = a
        if lo is not None:
            out = np.maximum(out, lo)
        if hi is not None:
            out = np.minimum(out, hi)
        if self.requires_grad:
            self.a, self.lo, self.hi = a, lo, hi
        return np.asarray(out)

    def backward(self, g):
        a, lo, hi = self.a, self.lo, self.hi
        keep = np.ones(np.shape(a), dtype=bool)
        if lo is not None:
            keep = keep & (a >= lo)
        if hi is not None:
            keep = keep & (a <= hi)
        ga = g * keep
        glo = ghi = None
        if lo is not None and self.needs_input_grad[1]:
            below = a < lo
            if hi is not None:
                below = below & (lo < hi)
            glo = g * below
        if hi is not None and self.needs_input_grad[2]:
            above = a > hi
            if lo is not None:
                above = above | (hi < lo)
            ghi = g * above
        return ga, glo, ghi


def clamp_tensor(x, min=None, max=None):  # noqa: A002
    """clamp where min or max is a Tensor: everything broadcasts, and the result has torch's
    promoted dtype of the three (a float32 tensor clamped by int32 bounds stays float32)."""
    rt, dims = x._data.dtype, x._data.ndim != 0
    for b in (min, max):
        if isinstance(b, TensorBase):
            rt = result_dtype(rt, dims, b._data.dtype, b._data.ndim != 0)
            dims = dims or b._data.ndim != 0
        elif isinstance(b, (numbers.Number, np.generic)):
            rt = scalar_result_dtype(rt, b)
    x, min, max = (_as(v, rt) for v in (x, min, max))  # noqa: A001
    lo = None if min is None else operand(min, x)
    hi = None if max is None else operand(max, x)
    return ClampTensor.apply(x, lo, hi)


def _as(v, dt):
    if isinstance(v, TensorBase) and v._data.dtype != dt:
        return Cast.apply(v, dtype=dt)
    return v


def has_tensor_bound(min, max):  # noqa: A002
    return isinstance(min, TensorBase) or isinstance(max, TensorBase)
