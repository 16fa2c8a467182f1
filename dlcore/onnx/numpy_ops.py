"""ONNX ops with no op type in dlcore's IR (comparisons, logic, rounding, Erf, index
searches, ...), written in NumPy.  The importer puts them in the graph as `PyFunction` nodes
calling `NumpyOp`; when their inputs are known at load time they are folded into constants,
otherwise the plan runs them as Python steps between its C segments (its printout says so).
"""
import math

import numpy as np

from ..autograd import Function
from .numpy_nd import IMPLS as ND_IMPLS
from .numpy_rnn import onnx_rnn

__all__ = ["NumpyOp", "IMPLS", "erf"]


def erf(x):
    """erf to float64 rounding (|error| < 1.2e-7 relative on erfc, W. H. Press et al.'s
    Chebyshev fit), vectorized; exact at 0 and saturating to +-1."""
    x = np.asarray(x)
    z = np.abs(x.astype(np.float64))
    t = 1.0 / (1.0 + 0.5 * z)
    poly = (-z * z - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (
        0.09678418 + t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (
            1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))))
    erfc = t * np.exp(poly)
    small = z < 0.5
    if np.any(small):
        # near 0 the series is exact to double rounding where 1 - erfc would cancel
        zs = z[small]
        z2 = zs * zs
        s = zs * (1 - z2 / 3 + z2 * z2 / 10 - z2 ** 3 / 42 + z2 ** 4 / 216 - z2 ** 5 / 1320
                  + z2 ** 6 / 9360 - z2 ** 7 / 75600)
        r = 1.0 - erfc
        r[small] = 2.0 / math.sqrt(math.pi) * s
    else:
        r = 1.0 - erfc
    return np.where(np.isnan(z), np.nan, np.copysign(r, x)).astype(x.dtype)


def _int_div(a, b):
    """C-style integer division (truncating toward zero), as ONNX's Div on integers."""
    q = np.floor_divide(a, b)
    fix = (np.remainder(a, b) != 0) & ((a < 0) != (b < 0))
    return (q + fix).astype(np.result_type(a, b))


def _mod(a, b, fmod=0):
    """fmod=1: the sign of the dividend (C's fmod); 0: the sign of the divisor (Python's)."""
    return np.fmod(a, b) if fmod else np.mod(a, b)


def _arg(fn):
    def f(x, axis=0, keepdims=1, select_last_index=0):
        if select_last_index:
            r = x.shape[axis] - 1 - fn(np.flip(x, axis), axis=axis)
        else:
            r = fn(x, axis=axis)
        r = np.asarray(r, np.int64)
        return np.expand_dims(r, axis) if keepdims else r
    return f


def _topk(x, k, axis=-1, largest=1, sorted=1):
    k = int(np.asarray(k).reshape(-1)[0])
    # a stable sort by value (ties: lower index first), as ONNX specifies
    key = x
    if largest:
        key = np.invert(x) if x.dtype.kind in "ub" else -x
    order = np.argsort(key, axis=axis, kind="stable")
    idx = np.take(order, np.arange(k), axis=axis)
    vals = np.take_along_axis(x, idx, axis=axis)
    return vals, idx.astype(np.int64)


def _cumulative(op, first, x, axis, exclusive, reverse):
    """CumSum / CumProd: op (np.cumsum / np.cumprod) along axis; exclusive shifts by one
    starting from `first` (0 / 1), reverse runs from the end."""
    if reverse:
        x = np.flip(x, axis)
    y = op(x, axis=axis, dtype=x.dtype)
    if exclusive:
        y = np.concatenate([np.full_like(np.take(y, [0], axis=axis), first),
                            np.take(y, np.arange(y.shape[axis] - 1), axis=axis)], axis=axis)
    return np.flip(y, axis) if reverse else y


def _cumsum(x, axis=0, exclusive=0, reverse=0):
    return _cumulative(np.cumsum, 0, x, axis, exclusive, reverse)


def _cumprod(x, axis=0, exclusive=0, reverse=0):
    return _cumulative(np.cumprod, 1, x, axis, exclusive, reverse)


def _one_hot(indices, depth, values, axis=-1):
    d = int(np.asarray(depth).reshape(-1)[0])
    idx = np.asarray(indices).astype(np.int64)
    idx = np.where(idx < 0, idx + d, idx)
    nd = idx.ndim + 1
    ax = axis % nd
    shape = [1] * nd
    shape[ax] = d
    hot = np.expand_dims(idx, ax) == np.arange(d).reshape(shape)
    return np.where(hot, values[1], values[0]).astype(values.dtype)


def _gather_nd(data, indices, batch_dims=0):
    b = batch_dims
    lead = data.shape[:b]
    nb = int(np.prod(lead, dtype=np.int64))
    d = data.reshape((nb,) + data.shape[b:])
    ind = indices.reshape((nb,) + indices.shape[b:])
    k = ind.shape[-1]
    out = []
    for i in range(nb):
        ii = ind[i].reshape(-1, k)
        rows = [d[i][tuple(r)] for r in ii]
        out.append(np.stack(rows) if rows else np.zeros((0,) + d.shape[1 + k:], d.dtype))
    res = np.stack(out)
    return res.reshape(indices.shape[:-1] + data.shape[b + k:])


def _scatter_elements(data, indices, updates, axis=0, reduction="none"):
    out = data.copy()
    idx = np.where(indices < 0, indices + data.shape[axis], indices)
    grid = list(np.indices(idx.shape, sparse=True))
    grid[axis] = idx
    key = tuple(np.broadcast_to(g, idx.shape) for g in grid)
    _scatter_into(out, key, updates, reduction)
    return out


def _scatter_nd(data, indices, updates, reduction="none"):
    out = data.copy()
    k = indices.shape[-1]
    ind = indices.reshape(-1, k)
    upd = updates.reshape((ind.shape[0],) + data.shape[k:])
    for i in range(ind.shape[0]):
        _scatter_into(out, tuple(ind[i]), upd[i], reduction)
    return out


def _scatter_into(out, key, upd, reduction):
    if reduction == "none":
        out[key] = upd
    elif reduction == "add":
        np.add.at(out, key, upd)
    elif reduction == "mul":
        np.multiply.at(out, key, upd)
    elif reduction == "max":
        np.maximum.at(out, key, upd)
    elif reduction == "min":
        np.minimum.at(out, key, upd)
    else:
        raise ValueError("scatter: unknown reduction %r" % reduction)


def _hardmax(x, axis=-1):
    idx = np.argmax(x, axis=axis)
    y = np.zeros_like(x)
    np.put_along_axis(y, np.expand_dims(idx, axis), 1, axis=axis)
    return y


def _lrn(x, size, alpha=1e-4, beta=0.75, bias=1.0):
    sq = np.square(x.astype(np.float64))
    c = x.shape[1]
    s = np.zeros_like(sq)
    lo, hi = (size - 1) // 2, size - 1 - (size - 1) // 2
    for i in range(c):
        s[:, i] = sq[:, max(0, i - lo):min(c, i + hi + 1)].sum(axis=1)
    return (x / (bias + alpha / size * s) ** beta).astype(x.dtype)


def _reverse_sequence(x, lens, batch_axis=1, time_axis=0):
    y = x.copy()
    for b, n in enumerate(np.asarray(lens).reshape(-1)):
        src = [slice(None)] * x.ndim
        src[batch_axis] = b
        src[time_axis] = slice(0, int(n))
        dst = list(src)
        dst[time_axis] = slice(int(n) - 1, None, -1) if n > 0 else slice(0, 0)
        y[tuple(src)] = x[tuple(dst)]
    return y


IMPLS = {
    "Erf": erf,
    "Equal": np.equal, "Less": np.less, "Greater": np.greater, "LessOrEqual": np.less_equal,
    "GreaterOrEqual": np.greater_equal,
    "Not": np.logical_not, "And": np.logical_and, "Or": np.logical_or, "Xor": np.logical_xor,
    "BitwiseAnd": np.bitwise_and, "BitwiseOr": np.bitwise_or, "BitwiseXor": np.bitwise_xor,
    "BitwiseNot": np.invert,
    "BitShift": lambda a, b, direction="LEFT": (np.left_shift(a, b) if direction == "LEFT"
                                                else np.right_shift(a, b)),
    "Floor": np.floor, "Ceil": np.ceil, "Round": np.round, "Sign": np.sign,
    "Tan": np.tan, "Asin": np.arcsin, "Acos": np.arccos, "Atan": np.arctan,
    "Sinh": np.sinh, "Cosh": np.cosh, "Asinh": np.arcsinh, "Acosh": np.arccosh,
    "Atanh": np.arctanh,
    "IsNaN": np.isnan,
    "IsInf": lambda x, detect_negative=1, detect_positive=1: (
        (np.isposinf(x) & bool(detect_positive)) | (np.isneginf(x) & bool(detect_negative))),
    "IntDiv": _int_div, "Mod": _mod,
    "ThresholdedRelu": lambda x, alpha=1.0: np.where(x > alpha, x, 0).astype(x.dtype),
    "Shrink": lambda x, bias=0.0, lambd=0.5: np.where(
        x < -lambd, x + bias, np.where(x > lambd, x - bias, 0)).astype(x.dtype),
    "ArgMax": _arg(np.argmax), "ArgMin": _arg(np.argmin), "TopK": _topk,
    "CumSum": _cumsum, "CumProd": _cumprod, "OneHot": _one_hot, "GatherND": _gather_nd,
    "ScatterElements": _scatter_elements, "ScatterND": _scatter_nd, "Hardmax": _hardmax,
    "LRN": _lrn, "ReverseSequence": _reverse_sequence,
    "Where": lambda c, a, b: np.where(c, a, b),
    "Reduce": lambda x, fn="sum", axes=None, keepdims=1: getattr(np, fn)(
        x, axis=axes, keepdims=bool(keepdims)),
    "Cast": lambda x, to="float32": x.astype(to),
    "Clip": lambda x, lo=None, hi=None: np.clip(x, lo, hi) if (lo is not None or
                                                               hi is not None) else x.copy(),
    "Unary": lambda x, fn="negative": getattr(np, fn)(x),
    "Binary": lambda a, b, fn="add": getattr(np, fn)(a, b),
}

IMPLS.update(ND_IMPLS)
IMPLS["Einsum"] = lambda *xs, equation: np.einsum(equation, *xs)


def _grid_sample(x, grid, mode, padding_mode, align_corners):
    from ..ops.grid_sample import GridSample2d, GridSample3d
    f = GridSample2d() if x.ndim == 4 else GridSample3d()
    return f.forward(x, grid, mode=mode, padding_mode=padding_mode,
                     align_corners=bool(align_corners)).astype(x.dtype, copy=False)


IMPLS["GridSample"] = _grid_sample


def _affine_grid(theta, size, align_corners):
    from ..ops.grid_sample import affine_grid
    from ..tensor_base import wrap
    grid = affine_grid(wrap(np.ascontiguousarray(theta)), size, align_corners=bool(align_corners))
    return grid.numpy().astype(theta.dtype, copy=False)


IMPLS["AffineGrid"] = _affine_grid
IMPLS["OnnxRNN"] = onnx_rnn


class NumpyOp(Function):
    """forward(*arrays, op=name, **attrs): the NumPy implementation IMPLS[op]."""

    def forward(self, *arrays, op, **kw):
        return IMPLS[op](*arrays, **kw)
