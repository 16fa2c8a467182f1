"""More of torch's math and reductions, composed of differentiable ops where torch
differentiates them: deg2rad rad2deg xlogy logit sinc copysign fmax fmin float_power frac fix
positive sgn nansum nanmean std_mean var_mean aminmax median nanmedian kthvalue msort cummax
cummin cross inner kron tensordot vdot cdist dist index_add index_fill; and the ones torch does
not differentiate: signbit heaviside isneginf isposinf histc bucketize searchsorted isin gcd lcm
bitwise_*.  `MathExtraMethods` holds the ones torch also has as Tensor methods."""
import math
from collections import namedtuple

import numpy as np

from ..dtypes import float64, get_default_dtype, is_floating
from ..shapes import norm_dim
from ..tensor_base import TensorBase, wrap
from . import join
from .promote import binary_operands

__all__ = ["deg2rad", "rad2deg", "xlogy", "logit", "sinc", "copysign", "fmax", "fmin",
           "float_power", "frac", "fix", "positive", "sgn", "nansum", "nanmean", "std_mean",
           "var_mean", "aminmax", "median", "nanmedian", "kthvalue", "msort", "cummax",
           "cummin", "cross", "inner", "kron", "tensordot", "vdot", "cdist", "dist",
           "index_add", "index_fill", "signbit", "heaviside", "isneginf", "isposinf", "histc",
           "bucketize", "searchsorted", "isin", "gcd", "lcm", "bitwise_and", "bitwise_or",
           "bitwise_xor", "bitwise_not"]

MinMax = namedtuple("aminmax", ["min", "max"])
ValuesIndices = namedtuple("values_indices", ["values", "indices"])


def _where(c, a, b):
    return join.where(c, a, b)


def _float(t):
    """An integer or bool tensor in the default float dtype (torch's float math), else t."""
    return t if is_floating(t.dtype) else t.to(get_default_dtype())


def _tensor_like(v, like):
    return v if isinstance(v, TensorBase) else wrap(np.asarray(v, dtype=like.dtype))


def deg2rad(input):
    return _float(input) * (math.pi / 180.0)


def rad2deg(input):
    return _float(input) * (180.0 / math.pi)


def xlogy(input, other):
    """input * log(other), 0 where input is 0 (NaN where other is NaN), as torch."""
    if not isinstance(input, TensorBase) and not isinstance(other, TensorBase):
        raise TypeError("xlogy: expected a Tensor as input or other, got two numbers")
    if not isinstance(input, TensorBase):
        input = wrap(np.asarray(input, dtype=get_default_dtype()))
    if not isinstance(other, TensorBase):
        other = wrap(np.asarray(other, dtype=_float(input).dtype))
    x, y = _float(input), _float(other)
    zero = (x == 0) & ~y.isnan()
    # x * log(y) with log(y) taken as 0 where x is 0 and log(y) is not finite (y 0 or inf):
    # the result is 0 where x is 0, d/dx is log(y) wherever that is finite, as torch's
    bad = zero & ((y == 0) | y.isinf())
    log_y = _where(bad, _tensor_like(0.0, y), _where(bad, _tensor_like(1.0, y), y).log())
    return x * log_y


def logit(input, eps=None):
    x = _float(input)
    if eps is not None:
        x = x.clamp(eps, 1.0 - eps)
    return (x / (1 - x)).log()


def sinc(input):
    x = _float(input)
    zero = x == 0
    px = _where(zero, _tensor_like(1.0, x), x) * math.pi
    return _where(zero, _tensor_like(1.0, x), px.sin() / px)


def signbit(input):
    return wrap(np.signbit(input._data))


def copysign(input, other):
    x = _float(input)
    o = other._data if isinstance(other, TensorBase) else np.asarray(other)
    sign = wrap(np.where(np.signbit(o), -1.0, 1.0).astype(x.dtype))
    return x.abs() * sign


def _nan_aware(a, b, pick_a):
    return _where(pick_a | b.isnan(), a, b)


def fmax(input, other):
    a, b = _promoted(input, other)
    return _nan_aware(a, b, a >= b)


def fmin(input, other):
    a, b = _promoted(input, other)
    return _nan_aware(a, b, a <= b)


def _promoted(a, b):
    return binary_operands(a, b)


def float_power(input, exponent):
    if not isinstance(input, TensorBase) and not isinstance(exponent, TensorBase):
        raise TypeError("float_power: expected a Tensor as input or exponent, got two numbers")
    base = input.to(float64) if isinstance(input, TensorBase) else input
    exp = exponent.to(float64) if isinstance(exponent, TensorBase) else exponent
    if not isinstance(base, TensorBase):
        return exp.__rpow__(float(base))
    return base ** exp


def frac(input):
    if not is_floating(input.dtype):
        raise RuntimeError("frac: not implemented for %s tensors" % input.dtype)
    return input - input.trunc()


def fix(input):
    return input.trunc()


def positive(input):
    if input.dtype == np.bool_:
        raise RuntimeError("positive: the positive operator does not support bool tensors")
    return input


def sgn(input):
    return input.sign()


def nansum(input, dim=None, keepdim=False, *, dtype=None):
    x = input if dtype is None else input.to(dtype)
    if is_floating(x.dtype):
        x = _where(x.isnan(), _tensor_like(0.0, x), x)
    return x.sum(dim, keepdim=keepdim) if dim is not None else x.sum()


def nanmean(input, dim=None, keepdim=False, *, dtype=None):
    if not is_floating(input.dtype if dtype is None else np.dtype(dtype)):
        raise RuntimeError("nanmean: expected a floating point tensor, got %s" % input.dtype)
    x = input if dtype is None else input.to(dtype)
    count = (~x.isnan()).to(x.dtype)
    if dim is None:
        return nansum(x) / count.sum()
    return nansum(x, dim, keepdim) / count.sum(dim, keepdim=keepdim)


def _stat_mean(stat, input, dim, unbiased, keepdim, correction):
    if isinstance(dim, bool):      # torch's std_mean(input, unbiased) overload
        dim, unbiased = None, dim
    if dim is None and keepdim:
        s, m = _stat_mean(stat, input, None, unbiased, False, correction)
        shape = (1,) * input.ndim
        return s.reshape(*shape), m.reshape(*shape)
    kw = {"keepdim": keepdim}
    if correction is not None:
        kw["correction"] = correction
    elif unbiased is not None:
        kw["unbiased"] = unbiased
    s = getattr(input, stat)(dim, **kw) if dim is not None else getattr(input, stat)(
        **{k: v for k, v in kw.items() if k != "keepdim"})
    m = input.mean(dim, keepdim=keepdim) if dim is not None else input.mean()
    return s, m


def std_mean(input, dim=None, unbiased=None, keepdim=False, *, correction=None):
    return _stat_mean("std", input, dim, unbiased, keepdim, correction)


def var_mean(input, dim=None, unbiased=None, keepdim=False, *, correction=None):
    return _stat_mean("var", input, dim, unbiased, keepdim, correction)


def aminmax(input, *, dim=None, keepdim=False):
    if (input.numel() == 0 if dim is None else
            input.ndim and input.shape[norm_dim(dim, input.ndim, "aminmax")] == 0):
        raise RuntimeError("aminmax: cannot compute on an empty tensor or dimension")
    if dim is None:
        mn, mx = input.amin(), input.amax()
        if keepdim:
            shape = (1,) * input.ndim
            mn, mx = mn.reshape(*shape), mx.reshape(*shape)
        return MinMax(mn, mx)
    return MinMax(input.amin(dim, keepdim=keepdim), input.amax(dim, keepdim=keepdim))


def _kth(input, k, dim, keepdim, fname, nan="last"):
    """The k-th smallest (0-based) along dim: (values, indices), values by gather (so they
    carry the gradient).  NaN sorts last; nan="propagate" (median) gives a slice's first NaN
    where it has one, nan="skip" (nanmedian) takes the median of the rest."""
    scalar = input.ndim == 0
    if scalar:
        input = input.reshape(1)
    d = 0 if scalar else norm_dim(dim, input.ndim, fname)
    n = input.shape[d]
    if not 0 <= k < n:
        raise IndexError("%s: k (%d) out of range for a dimension of size %d" % (fname, k + 1, n))
    arr = input._data
    order = np.argsort(arr, axis=d, kind="stable")      # NumPy puts NaN last
    idx = np.take(order, [k], axis=d)
    if arr.dtype.kind == "f" and nan != "last":
        isnan = np.isnan(arr)
        if nan == "propagate":
            idx = np.where(isnan.any(axis=d, keepdims=True),
                           np.argmax(isnan, axis=d, keepdims=True), idx)
        else:
            count = (~isnan).sum(axis=d, keepdims=True)
            idx = np.take_along_axis(order, np.maximum((count - 1) // 2, 0), axis=d)
    index = wrap(np.ascontiguousarray(idx, np.int64))
    values = input.gather(d, index)
    if scalar:
        return ValuesIndices(values.reshape(()), index.reshape(()))
    if not keepdim:
        values, index = values.squeeze(d), index.squeeze(d)
    return ValuesIndices(values, index)


def median(input, dim=None, keepdim=False):
    """The lower median (torch's, for an even count); with dim, (values, indices)."""
    if dim is None:
        flat = input.reshape(-1)
        if flat.shape[0] == 0:
            return wrap(np.asarray(np.nan, dtype=input.dtype))
        return _kth(flat, (flat.shape[0] - 1) // 2, 0, False, "median", "propagate").values
    n = input.shape[norm_dim(dim, input.ndim, "median")] if input.ndim else 1
    return _kth(input, (n - 1) // 2, dim, keepdim, "median", "propagate")


def nanmedian(input, dim=None, keepdim=False):
    if dim is None:
        flat = input.reshape(-1)
        return _kth(flat, 0, 0, False, "nanmedian", "skip").values
    return _kth(input, 0, dim, keepdim, "nanmedian", "skip")


def kthvalue(input, k, dim=-1, keepdim=False):
    return _kth(input, k - 1, dim, keepdim, "kthvalue")


def msort(input):
    return input.sort(0)[0]


def _cum_extreme(input, dim, better, fname):
    d = norm_dim(dim, input.ndim, fname) if input.ndim else 0
    x = input._data if input.ndim else input._data.reshape(1)
    n = x.shape[d]
    pos = np.arange(n).reshape([-1 if a == d else 1 for a in range(x.ndim)])
    best = np.take(x, [0], axis=d)
    best_i = np.zeros_like(best, dtype=np.int64)
    idx = np.empty(x.shape, np.int64)
    for i in range(n):   # a NaN wins from then on, as torch's
        xi = np.take(x, [i], axis=d)
        take = better(xi, best) | (xi == best) | np.isnan(xi)
        take &= ~np.isnan(best) | np.isnan(xi)
        best = np.where(take, xi, best)
        best_i = np.where(take, np.take(pos, [i], axis=d), best_i)
        idx[(slice(None),) * d + (slice(i, i + 1),)] = best_i
    index = wrap(idx.reshape(input.shape))
    values = input.gather(d, index) if input.ndim else input.reshape(1).gather(
        0, index.reshape(1)).reshape(())
    return ValuesIndices(values, index)


def cummax(input, dim):
    return _cum_extreme(input, dim, np.greater, "cummax")


def cummin(input, dim):
    return _cum_extreme(input, dim, np.less, "cummin")


def cross(input, other, dim=None):
    # torch broadcasts the batch dims but not the rank, nor the size-3 dim itself
    if input.ndim != other.ndim:
        raise RuntimeError("linalg.cross: inputs must have the same number of dimensions.")
    if dim is None:   # torch's (deprecated) default: the first dim of size 3 of input
        dims = [i for i, s in enumerate(input.shape) if s == 3]
        if not dims:
            raise RuntimeError("no dimension of size 3 in input")
        d = dims[0]
    else:
        d = norm_dim(dim, input.ndim, "cross")
    if input.shape[d] != 3 or other.shape[d] != 3:
        raise RuntimeError("linalg.cross: inputs dimension %s must have length 3. Got %d and %d"
                           % (d if dim is None else dim, input.shape[d], other.shape[d]))
    a, b = _promoted(input, other)
    shape = np.broadcast_shapes(tuple(a.shape), tuple(b.shape))
    a, b = a.expand(*shape), b.expand(*shape)
    a0, a1, a2 = (a.narrow(d, i, 1).squeeze(d) for i in range(3))
    b0, b1, b2 = (b.narrow(d, i, 1).squeeze(d) for i in range(3))
    return join.stack([a1 * b2 - a2 * b1, a2 * b0 - a0 * b2, a0 * b1 - a1 * b0], d)


def tensordot(a, b, dims=2):
    if isinstance(dims, TensorBase):
        dims = dims.tolist()
    if isinstance(dims, int):
        if dims < 0:
            raise RuntimeError("tensordot: expects dims >= 0, got %d" % dims)
        da, db = list(range(a.ndim - dims, a.ndim)), list(range(dims))
    else:
        da, db = ([x] if isinstance(x, int) else list(x) for x in dims)
    if len(da) != len(db):
        raise RuntimeError("tensordot: both dimension lists should have the same length")
    da = [norm_dim(x, a.ndim, "tensordot") for x in da]
    db = [norm_dim(x, b.ndim, "tensordot") for x in db]
    for x, y in zip(da, db):
        # a contracted dim of size 1 against a longer one: the longer is summed, as torch
        if a.shape[x] == 1 and b.shape[y] != 1:
            b = b.sum(y, keepdim=True)
        elif b.shape[y] == 1 and a.shape[x] != 1:
            a = a.sum(x, keepdim=True)
        if a.shape[x] != b.shape[y]:
            raise RuntimeError("tensordot: contracted dimensions need to match, but first has "
                               "size %d in dim %d and second has size %d in dim %d"
                               % (a.shape[x], x, b.shape[y], y))
    free_a = [x for x in range(a.ndim) if x not in da]
    free_b = [y for y in range(b.ndim) if y not in db]
    k = int(np.prod([a.shape[x] for x in da], dtype=np.int64))
    am = a.permute(*(free_a + da)).reshape(-1, k)
    bm = b.permute(*(db + free_b)).reshape(k, -1)
    return (am @ bm).reshape(*[a.shape[x] for x in free_a], *[b.shape[y] for y in free_b])


def inner(input, other):
    if input.ndim == 0 or other.ndim == 0:
        return input * other
    return tensordot(input, other, ([-1], [-1]))


def vdot(input, other):
    if input.ndim != 1 or other.ndim != 1:
        raise RuntimeError("vdot: 1D tensors expected, but got %dD and %dD tensors"
                           % (input.ndim, other.ndim))
    if input.shape != other.shape:
        raise RuntimeError("vdot: inconsistent tensor size, %d and %d elements"
                           % (input.shape[0], other.shape[0]))
    if input.dtype != other.dtype:
        raise RuntimeError("vdot: expected both vectors to have the same dtype, got %s and %s"
                           % (input.dtype, other.dtype))
    return (input * other).sum()


def kron(input, other):
    n = max(input.ndim, other.ndim)
    a = input.reshape(*((1,) * (n - input.ndim) + tuple(input.shape)))
    b = other.reshape(*((1,) * (n - other.ndim) + tuple(other.shape)))
    a_shape, b_shape = [], []
    for sa, sb in zip(a.shape, b.shape):
        a_shape += [sa, 1]
        b_shape += [1, sb]
    out = a.reshape(*a_shape) * b.reshape(*b_shape)
    return out.reshape(*[sa * sb for sa, sb in zip(a.shape, b.shape)])


def cdist(x1, x2, p=2.0, compute_mode=None):
    if x1.ndim < 2 or x2.ndim < 2:
        raise RuntimeError("cdist only supports at least 2D tensors, X1 got: %dD, X2 got: %dD"
                           % (x1.ndim, x2.ndim))
    if x1.shape[-1] != x2.shape[-1]:
        raise RuntimeError("cdist: X1 and X2 must have the same number of columns. X1: %d X2: "
                           "%d" % (x1.shape[-1], x2.shape[-1]))
    if p < 0:
        raise RuntimeError("cdist only supports non-negative p values")
    diff = x1.unsqueeze(-2) - x2.unsqueeze(-3)
    return diff.norm(p, dim=-1)


def dist(input, other, p=2):
    return (input - other).norm(p)


def _along(dim, n, ndim, index):
    shape = [1] * ndim
    shape[dim] = n
    return np.asarray(index).reshape(shape)


def index_add(input, dim, index, source, *, alpha=1):
    if input.ndim == 0:
        return index_add(input.reshape(1), dim, index, source.reshape(-1),
                         alpha=alpha).reshape(())
    d = norm_dim(dim, input.ndim, "index_add")
    idx = index._data if isinstance(index, TensorBase) else np.asarray(index)
    if idx.ndim > 1:
        raise IndexError("index_add: index must be a vector, got %d-D" % idx.ndim)
    if source.ndim and source.shape[d] != idx.shape[0]:
        raise RuntimeError("index_add: source's dim %d has %d elements, index %d"
                           % (d, source.shape[d], idx.shape[0]))
    full = np.broadcast_to(_along(d, idx.shape[0], source.ndim, idx), source.shape)
    src = source * alpha if alpha != 1 else source
    return input.scatter_add(d, wrap(np.ascontiguousarray(full, np.int64)), src)


def index_fill(input, dim, index, value):
    d = norm_dim(dim, input.ndim, "index_fill") if input.ndim else 0
    idx = index._data if isinstance(index, TensorBase) else np.asarray(index)
    mask = np.zeros(input.shape[d] if input.ndim else 1, bool)
    mask[idx] = True
    m = wrap(mask.reshape([-1 if a == d else 1 for a in range(input.ndim)]) if input.ndim
             else mask.reshape(()))
    if isinstance(value, TensorBase):
        return _where(m, value.to(input.dtype), input)
    return input.masked_fill(m, value)


def heaviside(input, values):
    if not isinstance(values, TensorBase):
        raise TypeError("heaviside: values must be a Tensor, got %s" % type(values).__name__)
    if values.dtype != input.dtype:
        raise RuntimeError("heaviside is not yet implemented for tensors with different dtypes "
                           "(%s and %s)" % (input.dtype, values.dtype))
    v = values._data
    return wrap(np.heaviside(input._data, v).astype(np.result_type(input._data, v)))


def isneginf(input):
    return wrap(np.isneginf(input._data))


def isposinf(input):
    return wrap(np.isposinf(input._data))


def histc(input, bins=100, min=0, max=0):
    if not is_floating(input.dtype):
        raise RuntimeError("histc: not implemented for %s tensors" % input.dtype)
    x = input._data.ravel()
    lo, hi = float(min), float(max)
    if lo == hi and x.size:
        lo, hi = float(x.min()), float(x.max())
    if lo == hi:
        lo, hi = lo - 1, hi + 1
    if lo > hi:
        raise RuntimeError("histc: max must be larger than min")
    counts, _ = np.histogram(x[(x >= lo) & (x <= hi)], bins=bins, range=(lo, hi))
    return wrap(counts.astype(input.dtype))


def bucketize(input, boundaries, *, out_int32=False, right=False):
    b = boundaries._data
    if b.ndim != 1:
        raise RuntimeError("bucketize: boundaries must be 1-D, got %d-D" % b.ndim)
    x = input._data if isinstance(input, TensorBase) else np.asarray(input)
    out = np.searchsorted(b, x, side="right" if right else "left")
    return wrap(np.asarray(out, np.int32 if out_int32 else np.int64))


def searchsorted(sorted_sequence, input, *, out_int32=False, right=False, side=None,
                 sorter=None):
    if side is not None:
        if side not in ("left", "right"):
            raise RuntimeError("searchsorted: side must be 'left' or 'right', got %r" % side)
        if right and side == "left":
            raise RuntimeError("searchsorted: side and right disagree")
        right = side == "right"
    seq = sorted_sequence._data
    if sorter is not None:
        seq = np.take_along_axis(seq, sorter._data, axis=-1)
    x = input._data if isinstance(input, TensorBase) else np.asarray(input)
    s = "right" if right else "left"
    if x.size == 0 or seq.shape[-1] == 0:
        if seq.ndim > 1 and seq.shape[:-1] != x.shape[:-1]:
            raise RuntimeError("searchsorted: boundaries and input must have the same leading "
                               "dims, got %s and %s" % (seq.shape, x.shape))
        out = np.zeros(x.shape, np.int64)
    elif seq.ndim == 1:
        out = np.searchsorted(seq, x, side=s)
    else:
        if seq.shape[:-1] != x.shape[:-1]:
            raise RuntimeError("searchsorted: boundaries and input must have the same leading "
                               "dims, got %s and %s" % (seq.shape, x.shape))
        flat_s, flat_x = seq.reshape(-1, seq.shape[-1]), x.reshape(-1, x.shape[-1])
        out = np.stack([np.searchsorted(a, v, side=s) for a, v in zip(flat_s, flat_x)])
        out = out.reshape(x.shape)
    return wrap(np.asarray(out, np.int32 if out_int32 else np.int64))


def isin(elements, test_elements, *, assume_unique=False, invert=False):
    e = elements._data if isinstance(elements, TensorBase) else np.asarray(elements)
    t = test_elements._data if isinstance(test_elements, TensorBase) else \
        np.asarray(test_elements)
    return wrap(np.asarray(np.isin(e, t, assume_unique=assume_unique, invert=invert)))


def _int_binary(np_fn, fname):
    def f(input, other):
        a = input._data
        b = other._data if isinstance(other, TensorBase) else np.asarray(other)
        if a.dtype.kind not in "iub" or np.asarray(b).dtype.kind not in "iub":
            raise RuntimeError("%s: not implemented for floating point tensors" % fname)
        return wrap(np.asarray(np_fn(a, b)))
    f.__name__ = fname
    return f


gcd = _int_binary(np.gcd, "gcd")
lcm = _int_binary(np.lcm, "lcm")
bitwise_and = _int_binary(np.bitwise_and, "bitwise_and")
bitwise_or = _int_binary(np.bitwise_or, "bitwise_or")
bitwise_xor = _int_binary(np.bitwise_xor, "bitwise_xor")


def bitwise_not(input):
    if input._data.dtype.kind not in "iub":
        raise RuntimeError("bitwise_not: not implemented for floating point tensors")
    return wrap(np.invert(input._data))


class MathExtraMethods:
    """The Tensor methods of the functions above that torch has as methods."""

    __slots__ = ()

    def is_signed(self):
        return self.dtype.kind in "fi" or is_floating(self.dtype)

    def is_complex(self):
        return False    # dlcore has no complex dtypes

    def is_nonzero(self):
        if self.numel() != 1:
            raise RuntimeError("Boolean value of Tensor with %s values is ambiguous"
                               % ("no" if self.numel() == 0 else "more than one"))
        return bool(self.item())

    def is_same_size(self, other):
        return tuple(self.shape) == tuple(other.shape)


for _n in ("deg2rad rad2deg xlogy logit sinc copysign fmax fmin float_power frac fix positive "
           "sgn nansum nanmean aminmax median nanmedian kthvalue msort cummax cummin cross "
           "inner kron vdot dist index_add index_fill signbit heaviside isneginf isposinf histc "
           "isin gcd lcm bitwise_and bitwise_or bitwise_xor bitwise_not").split():
    setattr(MathExtraMethods, _n, globals()[_n])
