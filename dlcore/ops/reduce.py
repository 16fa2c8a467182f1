"""Reductions: sum, mean, var, prod, max/min (with indices), logsumexp, cumsum; `ReduceMethods`
holds the Tensor methods of this family."""
import numpy as np

from .. import _C
from ..autograd import Function, function as _function
from ..autograd.grad_mode import open_blocks as _open_blocks
from ..dtypes import is_floating, float32, float64, int64
from ..shapes import SortResult, norm_axes, norm_dim, var_correction
from ..shapes import expand_reduced as _expand_back
from ..tensor_base import TensorBase, raw, wrap
from .half import via_float32
from .float_math import float_math as _float_math
from .vector_norm import RootAtZero, vector_norm
from .autocast import float32_policy


_add_reduce = np.add.reduce
_sum_small = _C.sum_small


def _kept(g, shape, axis):
    """A Tensor gradient of a reduction reshaped to broadcast against the input's shape."""
    axes = range(len(shape)) if axis is None else axis
    return g.reshape(tuple(1 if i in axes else n for i, n in enumerate(shape)))


class Sum(Function):
    LINEAR = True

    def forward(self, a, axis=None, keepdim=False):
        self.shape, self.axis, self.keepdim = a.shape, axis, keepdim
        if axis is None:  # a few elements: NumPy's result without its reduction machinery
            out = _sum_small(a, keepdim)
            if out is not None:
                return out
        # the ufunc's own reduce is what np.sum runs, without its ~1.3 us Python wrapper
        out = _add_reduce(a, axis=axis, keepdims=keepdim)
        return out if type(out) is np.ndarray else np.asarray(out)

    def backward(self, g):
        return _expand_back(g, self.shape, self.axis, self.keepdim)


def _product_dtype(dt):
    """np.prod's accumulator: small ints and bools widen to 64 bits (torch's prod gives int64)."""
    if dt.kind == "b" or (dt.kind == "i" and dt.itemsize < 8):
        return np.int64
    if dt.kind == "u" and dt.itemsize < 8:
        return np.uint64
    return None


class Mean(Function):
    LINEAR = True

    def forward(self, a, axis=None, keepdim=False):
        self.shape, self.axis, self.keepdim = a.shape, axis, keepdim
        n = a.size if axis is None else int(np.prod([a.shape[i] for i in axis]))
        self.n = n
        # np.mean's own steps (float16 summed in float32), spelled out so that its warnings
        # (an empty mean, inf - inf) come from this file, whose NumPy warnings dlcore filters
        acc = np.float32 if a.dtype == np.float16 else None
        total = np.add.reduce(a, axis=axis, dtype=acc, keepdims=keepdim)
        return np.asarray(np.true_divide(total, n), dtype=a.dtype)

    def backward(self, g):
        return _expand_back(g / self.n, self.shape, self.axis, self.keepdim)


class Var(Function):
    def forward(self, a, axis=None, keepdim=False, correction=1):
        n = a.size if axis is None else int(np.prod([a.shape[i] for i in axis]))
        # float32 in float64: squares of |x - mean| above ~1e19 overflow float32
        w = a.astype(np.float64) if a.dtype == np.float32 else a
        d = w - np.mean(w, axis=axis, keepdims=True)
        # minus the deviations' own mean: recovers the rounding of the mean, so equal values
        # have exactly zero variance (and gradient), as torch gives
        if d.size:
            d -= np.mean(d, axis=axis, keepdims=True)
        with np.errstate(over="ignore"):
            out = np.asarray(np.sum(d * d, axis=axis, keepdims=keepdim) / max(n - correction, 0),
                             dtype=a.dtype)
        if self.requires_grad:
            self.d, self.axis, self.keepdim, self.den = d, axis, keepdim, max(n - correction, 0)
            self.dtype = a.dtype
        return out

    def backward(self, g):
        ge = _expand_back(g, self.d.shape, self.axis, self.keepdim)
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):  # no dof: NaN
            return (ge * self.d * (np.float64(2.0) / self.den)).astype(self.dtype)

    def backward_graph(self, g):
        a = self.parents[0]
        axis = self.kwargs.get("axis")
        d = a - a.mean(dim=axis, keepdim=True)
        return _kept(g, a.shape, axis) * d * (2.0 / self.den)


class Prod(Function):
    def forward(self, a, axis=None, keepdim=False):
        out = np.asarray(np.multiply.reduce(a, axis=axis, dtype=_product_dtype(a.dtype),
                                            keepdims=keepdim))
        if self.requires_grad:
            self.a, self.axis, self.keepdim = a, axis, keepdim
        return out

    def backward(self, g):
        a, axis = self.a, self.axis
        if a.size == 0:
            return np.zeros(a.shape, g.dtype)
        # product of all the other elements, without dividing (zeros are fine)
        ax = tuple(range(a.ndim)) if axis is None else axis
        moved = np.moveaxis(a, ax, tuple(range(a.ndim - len(ax), a.ndim)))
        lead = moved.shape[:a.ndim - len(ax)]
        flat = moved.reshape(lead + (-1,))
        ones = np.ones(lead + (1,), a.dtype)
        left = np.multiply.accumulate(np.concatenate([ones, flat[..., :-1]], -1), -1)
        right = np.multiply.accumulate(np.concatenate([ones, flat[..., :0:-1]], -1), -1)[..., ::-1]
        others = (left * right).reshape(moved.shape)
        others = np.moveaxis(others, tuple(range(a.ndim - len(ax), a.ndim)), ax)
        return _expand_back(g, a.shape, axis, self.keepdim) * others


class Amax(Function):
    """max/min over axes; ties share the gradient evenly (PyTorch's amax rule)."""

    def forward(self, a, axis=None, keepdim=False, op="max"):
        f = np.max if op == "max" else np.min
        out = np.asarray(f(a, axis=axis, keepdims=keepdim))
        if self.requires_grad:
            self.a, self.out, self.axis, self.keepdim = a, out, axis, keepdim
        return out

    def backward(self, g):
        o = _expand_back(self.out, self.a.shape, self.axis, self.keepdim)
        mask = (self.a == o)
        cnt = mask.sum(axis=self.axis, keepdims=True)
        return _expand_back(g, self.a.shape, self.axis, self.keepdim) * mask / cnt

    def backward_graph(self, g):
        o = _expand_back(self.out, self.a.shape, self.axis, self.keepdim)
        mask = (self.a == o)
        cnt = mask.sum(axis=self.axis, keepdims=True)
        return _kept(g, self.a.shape, self.axis) * wrap((mask / cnt).astype(self.a.dtype))


class MaxDim(Function):
    """Values and indices along one dim; the gradient goes to the chosen index."""
    n_outputs = 2

    def forward(self, a, dim=0, keepdim=False, op="max"):
        idx = (np.argmax if op == "max" else np.argmin)(a, axis=dim)
        idx = np.expand_dims(idx, dim)
        vals = np.take_along_axis(a, idx, axis=dim)
        if self.requires_grad:
            self.shape, self.idx, self.dim, self.keepdim = a.shape, idx, dim, keepdim
        if not keepdim:
            vals = np.squeeze(vals, dim)
            idx = np.squeeze(idx, dim)
        return vals, idx.astype(np.int64)

    def backward(self, g, g_idx):
        out = np.zeros(self.shape, dtype=g.dtype)
        if not self.keepdim:
            g = np.expand_dims(g, self.dim)
        np.put_along_axis(out, self.idx, g, axis=self.dim)
        return out

    def backward_graph(self, g, g_idx):
        onehot = np.zeros(self.shape, dtype=self.out_dtypes[0])
        np.put_along_axis(onehot, self.idx, 1, axis=self.dim)
        gk = g if self.keepdim else g.unsqueeze(self.dim)
        return gk * wrap(onehot)


def max_min(t, dim, keepdim, op):
    if dim is None:
        return Amax.apply(t, axis=None, keepdim=False, op=op)
    d = norm_dim(dim, t.ndim, op)
    if t.ndim == 0:
        return SortResult(t, t.long() * 0)
    vals, idx = MaxDim.apply(t, dim=d, keepdim=keepdim, op=op)
    idx.requires_grad = False
    idx._ctx = None
    return SortResult(vals, idx)


class LogSumExp(Function):
    def forward(self, a, axis=None, keepdim=False):
        m = np.max(a, axis=axis, keepdims=True, initial=-np.inf)  # an empty set's lse: -inf
        m = np.where(np.isfinite(m), m, 0)
        with np.errstate(divide="ignore"):  # log(0): an empty or all -inf set gives -inf
            s = np.log(np.sum(np.exp(a - m), axis=axis, keepdims=True)) + m
        if self.requires_grad:
            self.a, self.s, self.axis, self.keepdim = a, s, axis, keepdim
        return s if keepdim else np.squeeze(s, axis=axis) if axis is not None else s.reshape(())

    def backward(self, g):
        ge = _expand_back(g, self.a.shape, self.axis, self.keepdim)
        return ge * np.exp(self.a - self.s)

    def backward_graph(self, g):
        a = self.parents[0]
        axis = self.kwargs.get("axis")
        dims = tuple(range(a.ndim)) if axis is None else axis
        return _kept(g, a.shape, axis) * (a - a.logsumexp(dims, keepdim=True)).exp()


class Cumsum(Function):
    LINEAR = True

    def forward(self, a, axis=0):
        self.axis = axis
        return np.cumsum(a, axis=axis)

    def backward(self, g):
        return np.flip(np.cumsum(np.flip(g, self.axis), axis=self.axis), self.axis)


class Cumprod(Function):
    def forward(self, a, axis=0):
        out = np.multiply.accumulate(a, axis=axis, dtype=_product_dtype(a.dtype))
        if self.requires_grad:
            self.a, self.out, self.axis = a, out, axis
        return out

    def backward(self, g):
        # d out_j / d a_i = prod_{k<=j, k!=i} a_k for j >= i.  Without zeros that is out_j / a_i,
        # so grad_i = revcumsum(g * out)_i / a_i; a slice with a zero takes the exact product
        # by moving the axis last and recomputing around each position.
        a, out, ax = self.a, self.out, self.axis
        rev = np.flip(np.cumsum(np.flip(g * out, ax), axis=ax), ax)
        if np.all(a != 0):
            return rev / a
        am, gm = np.moveaxis(a, ax, -1), np.moveaxis(g, ax, -1)
        grad = np.zeros_like(am)
        n = am.shape[-1]
        for i in range(n):
            left = np.multiply.reduce(am[..., :i], axis=-1, keepdims=True)
            right = np.multiply.accumulate(am[..., i + 1:], axis=-1)
            # outputs j >= i without a_i: left * (1, a_{i+1}, a_{i+1}a_{i+2}, ...)
            tail = np.concatenate([np.ones_like(left), right], axis=-1) * left
            grad[..., i] = np.sum(gm[..., i:] * tail, axis=-1)
        return np.moveaxis(grad, -1, ax)


def _arg_reduce(t, dim, keepdim, fn, name):
    if t._data.size == 0 and (dim is None or t.ndim == 0 or t.shape[norm_dim(dim, t.ndim, name)]
                              == 0):
        raise IndexError("%s: cannot take the %s of an empty dimension (input of shape %s)"
                         % (name, name, tuple(t.shape)))
    if dim is None:
        r = np.asarray(fn(t._data.reshape(-1)), dtype=np.int64)
        return wrap(r.reshape((1,) * t.ndim) if keepdim else r)
    d = norm_dim(dim, t.ndim, name)
    if t.ndim == 0:  # a 0-d input's only index, keepdim or not
        return wrap(np.zeros((), dtype=np.int64))
    r = fn(t._data, axis=d)
    if keepdim:
        r = np.expand_dims(r, d)
    return wrap(np.asarray(r, dtype=np.int64))


def sum_of_squares(input):
    """sum(input ** 2) over every element of a float32/float64 Tensor (or array), as a Python
    float: one pass in C, accumulated in double, with no float64 copy.  No gradient (for norms
    of gradients, e.g. clip_grad_norm_)."""
    x = raw(input)
    if not isinstance(x, np.ndarray):
        raise TypeError("sum_of_squares: input must be a Tensor, got %s" % type(input).__name__)
    if x.dtype != float32 and x.dtype != float64:
        raise TypeError("sum_of_squares: input must be float32 or float64, got %s" % x.dtype)
    return _C.sumsq(x)


def _require_float(t, fname, message):
    if not is_floating(t._data.dtype):
        raise RuntimeError("%s (got %s)" % (message, t._data.dtype))


def _scan(fn, name, x, dim, dtype):
    """cumsum / cumprod (fn: their Function) along dim; a 0-d tensor is its own scan, and
    integers and bools accumulate in int64 unless dtype says otherwise, as in PyTorch."""
    src = x if dtype is None else x.to(dtype)
    axis = norm_dim(dim, x.ndim, name)
    if x.ndim == 0:
        out = fn.apply(src.reshape(1), axis=0).reshape(())
    else:
        out = fn.apply(src, axis=axis)
    if dtype is None and out._data.dtype.kind in "biu":
        out = out.to(int64)
    return out


@via_float32  # 16-bit inputs accumulate in float32, as torch's kernels do
def _sum(self, dim=None, keepdim=False, dtype=None):
    out = Sum.apply(self, axis=norm_axes(dim, self.ndim, "sum"), keepdim=keepdim)
    if dtype is None and out._data.dtype.kind in "biu":
        dtype = int64  # torch sums bools and every integer type as int64
    return out if dtype is None else out.to(dtype)


class ReduceMethods:
    """Tensor reductions; `dim` is None (all), an int or a sequence of ints."""

    __slots__ = ()

    def sum(self, dim=None, keepdim=False, dtype=None):
        x = self._data
        dt = x.dtype
        if dim is None and dtype is None and (dt is float32 or dt is float64):
            # the common whole-tensor float sum, without the general path's wrappers (Sum's
            # defaults are axis=None, keepdim=False); with nothing to record (Function.apply)
            # a few elements go straight to Sum's small-sum kernel
            if not self.requires_grad and _function._tracer is None and not _open_blocks[0]:
                out = _sum_small(x, keepdim)
                if out is not None:
                    return wrap(out)
            return Sum.apply(self, keepdim=True) if keepdim else Sum.apply(self)
        return _sum(self, dim, keepdim, dtype=dtype)  # (a keyword: run_in_float32 reads it)

    @via_float32
    def mean(self, dim=None, keepdim=False, dtype=None):
        x = self if dtype is None else self.to(dtype)
        _require_float(x, "mean", "mean(): could not infer output dtype. Input dtype must be "
                       "either a floating point or complex dtype; use .float().mean()")
        return Mean.apply(x, axis=norm_axes(dim, self.ndim, "mean"), keepdim=keepdim)

    @via_float32
    def var(self, dim=None, unbiased=None, keepdim=False, correction=None):
        if isinstance(dim, bool):  # torch's var(unbiased) overload
            dim, unbiased = None, dim
        _require_float(self, "var", "std and var only support floating point dtypes")
        corr = var_correction(unbiased, correction)
        return Var.apply(self, axis=norm_axes(dim, self.ndim, "var"), keepdim=keepdim,
                         correction=corr)

    @via_float32
    def std(self, dim=None, unbiased=None, keepdim=False, correction=None):
        if isinstance(dim, bool):  # torch's std(unbiased) overload
            dim, unbiased = None, dim
        if self.dtype == float32:
            # the variance of float32 values above ~1e19 overflows float32 while its root does
            # not (torch returns the finite std): square and root in float64, cast back
            wide = self.to(float64).var(dim, unbiased, keepdim, correction)
            return RootAtZero.apply(wide).to(float32)
        return RootAtZero.apply(self.var(dim, unbiased, keepdim, correction))

    @float32_policy
    @via_float32
    def prod(self, dim=None, keepdim=False, dtype=None):
        x = self if dtype is None else self.to(dtype)
        out = Prod.apply(x, axis=norm_axes(dim, self.ndim, "prod"), keepdim=keepdim)
        if dtype is None and out._data.dtype.kind in "biu":
            out = out.to(int64)
        return out

    def max(self, dim=None, keepdim=False):
        if isinstance(dim, TensorBase):
            return self.maximum(dim)
        return max_min(self, dim, keepdim, "max")

    def min(self, dim=None, keepdim=False):
        if isinstance(dim, TensorBase):
            return self.minimum(dim)
        return max_min(self, dim, keepdim, "min")

    def amax(self, dim=None, keepdim=False):
        return Amax.apply(self, axis=norm_axes(dim, self.ndim, "amax"), keepdim=keepdim, op="max")

    def amin(self, dim=None, keepdim=False):
        return Amax.apply(self, axis=norm_axes(dim, self.ndim, "amin"), keepdim=keepdim, op="min")

    def argmax(self, dim=None, keepdim=False):
        return _arg_reduce(self, dim, keepdim, np.argmax, "argmax")

    def argmin(self, dim=None, keepdim=False):
        return _arg_reduce(self, dim, keepdim, np.argmin, "argmin")

    @via_float32
    def logsumexp(self, dim, keepdim=False):
        if not is_floating(self._data.dtype):  # torch: in the default float dtype
            self = _float_math(self)
        return LogSumExp.apply(self, axis=norm_axes(dim, self.ndim, "logsumexp"), keepdim=keepdim)

    @via_float32
    def norm(self, p=2, dim=None, keepdim=False):
        return vector_norm(self, p, dim, keepdim)

    @via_float32
    def cumsum(self, dim, dtype=None):
        return _scan(Cumsum, "cumsum", self, dim, dtype)

    @via_float32
    def cumprod(self, dim, dtype=None):
        return _scan(Cumprod, "cumprod", self, dim, dtype)

    def all(self, dim=None, keepdim=False):
        return wrap(np.asarray(np.all(self._data, axis=dim, keepdims=keepdim)))

    def any(self, dim=None, keepdim=False):
        return wrap(np.asarray(np.any(self._data, axis=dim, keepdims=keepdim)))
