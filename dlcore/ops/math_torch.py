"""More of torch's top-level math, composed of differentiable ops where torch differentiates
them: addmv addr addbmm baddbmm (the fused multiply-adds, beta=0 ignoring input as torch)
logaddexp2 logcumsumexp ldexp frexp (the mantissa) nextafter cov corrcoef trapezoid trapz
cumulative_trapezoid vander; and without gradients: logspace and the window functions (hann
hamming blackman bartlett kaiser).  `MathTorchMethods` holds the Tensor methods."""
import math
from collections import namedtuple

import numpy as np

from ..autograd import Function
from ..dtypes import get_default_dtype, is_floating
from ..shapes import norm_dim, steps_count
from ..tensor_base import TensorBase, wrap
from . import join
from .promote import binary_operands
from . import special_numerics as N

__all__ = ["addmv", "addr", "addbmm", "baddbmm", "logaddexp2", "logcumsumexp", "ldexp",
           "frexp", "nextafter", "cov", "corrcoef", "trapezoid", "trapz", "cumulative_trapezoid",
           "vander", "logspace", "hann_window", "hamming_window", "blackman_window",
           "bartlett_window", "kaiser_window"]

FrexpResult = namedtuple("frexp", ["mantissa", "exponent"])
_LN2 = math.log(2.0)


def _add_scaled(input, product, beta, alpha):
    """beta * input + alpha * product; beta = 0 ignores input (NaN and inf in it too)."""
    out = product if alpha == 1 else product * alpha
    if beta == 0:
        shape = _bshape(input, out)
        return out if tuple(out.shape) == shape else out.expand(*shape).clone()
    return (input if beta == 1 else input * beta) + out


def _bshape(a, b):
    return tuple(np.broadcast_shapes(tuple(a.shape), tuple(b.shape)))


def addmv(input, mat, vec, *, beta=1, alpha=1):
    return _add_scaled(input, mat @ vec, beta, alpha)


def addr(input, vec1, vec2, *, beta=1, alpha=1):
    if vec1.ndim != 1 or vec2.ndim != 1:
        raise RuntimeError("addr: Expected 1-D argument vec1 and vec2, but got %d-D and %d-D"
                           % (vec1.ndim, vec2.ndim))
    return _add_scaled(input, vec1.unsqueeze(1) * vec2.unsqueeze(0), beta, alpha)


def _batches(b1, b2, name):
    if b1.ndim != 3 or b2.ndim != 3:
        raise RuntimeError("%s: batch1 and batch2 must be 3-D tensors, got %d-D and %d-D"
                           % (name, b1.ndim, b2.ndim))
    if b1.shape[0] != b2.shape[0]:
        raise RuntimeError("%s: batch1 and batch2 must have the same number of batches, got "
                           "%d and %d" % (name, b1.shape[0], b2.shape[0]))


def addbmm(input, batch1, batch2, *, beta=1, alpha=1):
    _batches(batch1, batch2, "addbmm")
    return _add_scaled(input, (batch1 @ batch2).sum(0), beta, alpha)


def baddbmm(input, batch1, batch2, *, beta=1, alpha=1):
    _batches(batch1, batch2, "baddbmm")
    return _add_scaled(input, batch1 @ batch2, beta, alpha)


def _float(t):
    return t if is_floating(t.dtype) else t.to(get_default_dtype())


def logaddexp2(input, other):
    """log2(2^a + 2^b), through the natural-log logaddexp (stable for large arguments)."""
    return _float(input * _LN2).logaddexp(_float(other * _LN2)) / _LN2


class LogCumSumExp(Function):
    """log(cumsum(exp(x))) along an axis by NumPy's logaddexp.accumulate (no overflow); the
    gradient sum_{i>=j} g_i exp(x_j - out_i) is summed in log space, positive and negative g
    apart, as torch does."""

    def forward(self, a, axis=0):
        a = a if is_floating(a.dtype) else a.astype(get_default_dtype())
        with np.errstate(all="ignore"):
            out = np.logaddexp.accumulate(a, axis=axis) if a.size else a.copy()
        if self.requires_grad:
            self.a, self.out, self.axis = a, out, axis
        return out

    def _rev(self, v):
        flip = np.flip(v, self.axis)
        return np.flip(np.logaddexp.accumulate(flip, axis=self.axis), self.axis)

    def backward(self, g):
        if g.size == 0:
            return g
        with np.errstate(all="ignore"):
            pos = np.log(np.where(g > 0, g, 0)) - self.out
            neg = np.log(np.where(g < 0, -g, 0)) - self.out
            return np.exp(self._rev(pos) + self.a) - np.exp(self._rev(neg) + self.a)


def logcumsumexp(input, dim):
    if input.ndim == 0:
        norm_dim(dim, 1, "logcumsumexp")   # a 0-d tensor takes dim 0 or -1, as torch
        return _float(input).clone()
    return LogCumSumExp.apply(input, axis=norm_dim(dim, input.ndim, "logcumsumexp"))


def _tensors(name, input, other):
    """torch's ldexp/nextafter take two Tensors (no Python-number overload): a number raises."""
    for arg, val in (("input", input), ("other", other)):
        if not isinstance(val, TensorBase):
            raise TypeError("%s(): argument '%s' must be Tensor, not %s"
                            % (name, arg, type(val).__name__))


def ldexp(input, other):
    """input * 2^other (a float result)."""
    _tensors("ldexp", input, other)
    return _float(input) * (2.0 ** _float(other))


class FrexpMantissa(Function):
    """The mantissa of frexp; the exponent is piecewise constant, so d mantissa / d input is
    2^-exponent (applied to the gradient by ldexp: exact, and no overflow of 2^-e itself)."""

    def forward(self, a):
        m, e = np.frexp(a)
        self.exponent = e
        return m

    def backward(self, g):
        return np.ldexp(g, -self.exponent.astype(np.int32)).astype(g.dtype, copy=False)


def frexp(input):
    if not is_floating(input.dtype):
        raise RuntimeError("torch.frexp() only supports floating-point dtypes")
    with np.errstate(all="ignore"):
        e = np.frexp(input._data)[1].astype(np.int32)
    return FrexpResult(FrexpMantissa.apply(input), wrap(e))


class NextAfter(Function):
    """The next float after a towards b, with torch's gradient: 1 for a, 0 for b (the one-ulp
    step is ignored, as torch does)."""

    def forward(self, a, b):
        return np.nextafter(a, b)

    def backward(self, g):
        return g, (np.zeros_like(g) if self.needs_input_grad[1] else None)


def nextafter(input, other):
    _tensors("nextafter", input, other)
    if not (is_floating(input.dtype) or is_floating(other.dtype)):
        raise NotImplementedError('"nextafter_cpu" not implemented for integer dtypes (%s, %s)'
                                  % (input.dtype, other.dtype))
    a, b = binary_operands(input, other)
    return NextAfter.apply(a, b)


def cov(input, *, correction=1, fweights=None, aweights=None):
    """The covariance of the rows (variables) over the columns (observations), torch's."""
    if input.ndim > 2:
        raise ValueError("cov(): expected input to have two or fewer dimensions but got an "
                         "input with %d dimensions" % input.ndim)
    x = _float(input)
    x = x.reshape(1, -1) if x.ndim < 2 else x
    n_obs = x.shape[1]
    for name, wt in (("fweights", fweights), ("aweights", aweights)):
        if wt is not None and wt.ndim > 1:
            raise RuntimeError("cov(): expected %s to have one or fewer dimensions but got %s "
                               "with %d dimensions" % (name, name, wt.ndim))
        if wt is not None and wt.numel() != n_obs:
            raise RuntimeError("cov(): expected %s to have the same numel as there are "
                               "observations in the input but got %d != %d"
                               % (name, wt.numel(), n_obs))
    w = None
    if fweights is not None:
        if is_floating(fweights.dtype):
            raise RuntimeError("cov(): expected fweights to have integral dtype")
        if bool((fweights._data < 0).any()):
            raise RuntimeError("cov(): fweights cannot be negative")
        w = fweights.to(x.dtype)
    if aweights is not None:
        if not is_floating(aweights.dtype):
            raise RuntimeError("cov(): expected aweights to have floating point dtype")
        if bool((aweights._data < 0).any()):
            raise RuntimeError("cov(): aweights cannot be negative")
        w = aweights.to(x.dtype) if w is None else w * aweights.to(x.dtype)
    if w is None:
        avg = x.mean(1)
        norm = n_obs - correction
    else:
        w_sum = w.sum()
        avg = (x * w).sum(1) / w_sum
        if aweights is None:
            norm = w_sum - correction
        else:
            norm = w_sum - correction * (w * aweights.to(x.dtype)).sum() / w_sum
    if not isinstance(norm, TensorBase):
        norm = wrap(np.asarray(max(norm, 0), x.dtype))
    else:
        norm = norm.clamp(min=0)
    xm = x - avg.unsqueeze(1)
    xw = xm if w is None else xm * w
    c = (xw @ xm.mT) / norm
    return c.squeeze() if input.ndim < 2 or input.shape[0] == 1 else c


def corrcoef(input):
    c = cov(input)
    if c.ndim == 0:
        return c / c
    d = c.diagonal(0, 0, 1).sqrt()
    c = c / d.unsqueeze(1) / d.unsqueeze(0)
    return c.clamp(-1, 1)


def _slices(t, dim):
    n = t.shape[dim]
    return t.narrow(dim, 1, n - 1), t.narrow(dim, 0, n - 1)


def _trap_terms(y, x, dx, dim):
    if y.shape[dim] == 0:
        return None
    hi, lo = _slices(_float(y), dim)
    if x is None:
        return (hi + lo) * (0.5 * (1.0 if dx is None else dx))
    if x.ndim == 1:
        xs = x.reshape(*[x.shape[0] if i == dim % y.ndim else 1 for i in range(y.ndim)])
    else:
        xs = x
    xh, xl = _slices(_float(xs), dim)
    return (xh - xl) * (hi + lo) * 0.5


def trapezoid(y, x=None, *, dx=None, dim=-1):
    if isinstance(x, (int, float)) and not isinstance(x, bool):
        x, dx = None, x
    terms = _trap_terms(y, x, dx, dim)
    if terms is None:
        shape = [n for i, n in enumerate(y.shape) if i != dim % y.ndim]
        return wrap(np.zeros(shape, _float(y).dtype))
    return terms.sum(dim)


def trapz(y, x=None, *, dx=None, dim=-1):
    return trapezoid(y, x, dx=dx, dim=dim)


def cumulative_trapezoid(y, x=None, *, dx=None, dim=-1):
    if isinstance(x, (int, float)) and not isinstance(x, bool):
        x, dx = None, x
    terms = _trap_terms(y, x, dx, dim)
    if terms is None:
        return _float(y).clone()
    return terms.cumsum(dim)


def vander(x, N=None, increasing=False):
    if x.ndim != 1:
        raise RuntimeError("x must be a one-dimensional tensor.")
    n = x.shape[0] if N is None else int(N)
    if n < 0:
        raise RuntimeError("N must be non-negative.")
    if x.dtype == np.bool_ or x.dtype.kind in "iu":
        data = x._data.astype(np.int64)
        out = np.stack([data ** k for k in range(n)], 1) if n else np.zeros((x.shape[0], 0),
                                                                            np.int64)
        return wrap(out if increasing else out[:, ::-1].copy())
    if n == 0:
        return wrap(np.zeros((x.shape[0], 0), x.dtype))
    cols = [x * 0 + 1] + [x ** k for k in range(1, n)]
    out = join.stack(cols if increasing else cols[::-1], 1)
    return out


def _window_tensor(values, dtype, requires_grad):
    dt = get_default_dtype() if dtype is None else dtype
    if not is_floating(np.dtype(dt)):
        raise RuntimeError("window functions expect a floating point dtype, got %s" % (dt,))
    t = wrap(np.asarray(values).astype(dt))
    if requires_grad:
        t.requires_grad_(True)
    return t


def _window(name, length, periodic, fn, dtype, requires_grad):
    if isinstance(length, bool) or int(length) != length or length < 0:
        raise RuntimeError("%s requires non-negative window length, got window_length=%s"
                           % (name, length))
    length = int(length)
    if length <= 1:
        return _window_tensor(np.ones(length), dtype, requires_grad)
    n_total = length + 1 if periodic else length
    n = np.arange(n_total, dtype=np.float64)
    return _window_tensor(fn(n, n_total - 1)[:length], dtype, requires_grad)


def hann_window(window_length, periodic=True, *, dtype=None, layout=None, device=None,
                requires_grad=False):
    return hamming_window(window_length, periodic, 0.5, 0.5, dtype=dtype,
                          requires_grad=requires_grad)


def hamming_window(window_length, periodic=True, alpha=0.54, beta=0.46, *, dtype=None,
                   layout=None, device=None, requires_grad=False):
    return _window("hamming_window", window_length, periodic,
                   lambda n, m: alpha - beta * np.cos(2 * math.pi * n / m), dtype,
                   requires_grad)


def blackman_window(window_length, periodic=True, *, dtype=None, layout=None, device=None,
                    requires_grad=False):
    return _window("blackman_window", window_length, periodic,
                   lambda n, m: 0.42 - 0.5 * np.cos(2 * math.pi * n / m)
                   + 0.08 * np.cos(4 * math.pi * n / m), dtype, requires_grad)


def bartlett_window(window_length, periodic=True, *, dtype=None, layout=None, device=None,
                    requires_grad=False):
    return _window("bartlett_window", window_length, periodic,
                   lambda n, m: 1 - np.abs(2 * n / m - 1), dtype, requires_grad)


def kaiser_window(window_length, periodic=True, beta=12.0, *, dtype=None, layout=None,
                  device=None, requires_grad=False):
    def kaiser(n, m):
        r = (n - m / 2) / (m / 2)
        return N.i0(beta * np.sqrt(np.clip(1 - r * r, 0, None))) / N.i0(np.float64(beta))
    return _window("kaiser_window", window_length, periodic, kaiser, dtype, requires_grad)


def logspace(start, end, steps, base=10.0, *, dtype=None, layout=None, device=None,
             requires_grad=False):
    s = float(start._data) if isinstance(start, TensorBase) else float(start)
    e = float(end._data) if isinstance(end, TensorBase) else float(end)
    steps = steps_count(steps, "logspace")
    dt = get_default_dtype() if dtype is None else dtype
    with np.errstate(all="ignore"):
        vals = np.power(float(base), np.linspace(s, e, steps))
    out = wrap(vals.astype(dt))
    if requires_grad:
        out.requires_grad_(True)
    return out


class MathTorchMethods:
    """The Tensor methods of the functions above (in-place forms: dlcore.ops.inplace_math)."""

    __slots__ = ()

    def addmv(self, mat, vec, *, beta=1, alpha=1):
        return addmv(self, mat, vec, beta=beta, alpha=alpha)

    def addr(self, vec1, vec2, *, beta=1, alpha=1):
        return addr(self, vec1, vec2, beta=beta, alpha=alpha)

    def addbmm(self, batch1, batch2, *, beta=1, alpha=1):
        return addbmm(self, batch1, batch2, beta=beta, alpha=alpha)

    def baddbmm(self, batch1, batch2, *, beta=1, alpha=1):
        return baddbmm(self, batch1, batch2, beta=beta, alpha=alpha)

    def cov(self, *, correction=1, fweights=None, aweights=None):
        return cov(self, correction=correction, fweights=fweights, aweights=aweights)


for _n in "logaddexp2 logcumsumexp ldexp frexp nextafter corrcoef".split():
    setattr(MathTorchMethods, _n, globals()[_n])
