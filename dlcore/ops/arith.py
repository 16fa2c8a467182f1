"""Elementwise arithmetic: NumPy's ufuncs already run these at memory speed.

Broadcasting is handled by the engine: backward returns gradients in the output's shape and
autograd.unbroadcast sums them back to each input's shape.  `ArithMethods` holds the Tensor's
operators and elementwise math (its comparisons and logic: dlcore.ops.compare).
"""
import numpy as np

from ..autograd import Function, function as _function, unbroadcast
from ..autograd.grad_mode import open_blocks as _open_blocks
from ..dtypes import is_floating, is_half, bool_, float32, int64
from ..tensor_base import TensorBase, operand, raw, scalar_or_none, wrap
from . import rounding
from .int_arith import (check_bool_sub as _check_bool_sub, int_divide as _int_divide,
                        int_pow as _pow)
from .half import via_float32
from .float_math import float_math as _float_math
from .shape import Cast
from .promote import array_operands, binary_operands, check_inplace_result, true_div_operands

_F32, _F64 = np.dtype(np.float32), np.dtype(np.float64)
_np_add, _np_subtract, _np_multiply, _np_divide = np.add, np.subtract, np.multiply, np.divide


class Add(Function):
    LINEAR = True

    def forward(self, a, b):
        return np.add(a, b)

    def backward(self, g):
        return g, g


class Sub(Function):
    LINEAR = True

    def forward(self, a, b):
        return np.subtract(a, b)

    def backward(self, g):
        return g, (-g if self.needs_input_grad[1] else None)


class Mul(Function):
    def forward(self, a, b):
        if self.requires_grad:
            # each factor is kept only for the other's gradient: x * 2 holds nothing of x, so
            # changing x in place later is no error (as in torch)
            need = self.needs_input_grad
            self.a = a if need[1] else None
            self.b = b if need[0] else None
        return np.multiply(a, b)

    def backward(self, g):
        ga = g * self.b if self.needs_input_grad[0] else None
        gb = g * self.a if self.needs_input_grad[1] else None
        return ga, gb

    def backward_graph(self, g):
        a, b = self.parents
        need = self.needs_input_grad
        return (g * b if need[0] else None), (g * a if need[1] else None)


class Div(Function):
    def forward(self, a, b):
        out = np.divide(a, b)
        if self.requires_grad:
            self.b, self.out = b, out
        return out

    def backward(self, g):
        ga = g / self.b if self.needs_input_grad[0] else None
        gb = -g * self.out / self.b if self.needs_input_grad[1] else None
        return ga, gb

    def backward_graph(self, g):
        a, b = self.parents
        need = self.needs_input_grad
        ga = g / b if need[0] else None
        gb = -g * a / (b * b) if need[1] else None
        return ga, gb


class Neg(Function):
    LINEAR = True

    def forward(self, a):
        return np.negative(a)

    def backward(self, g):
        return -g


class Pow(Function):
    def forward(self, a, b):
        out = np.power(a, b)
        if self.requires_grad:
            self.a, self.b, self.out = a, b, out
        return out

    def backward(self, g):
        a, b = self.a, self.b
        ga = gb = None
        if self.needs_input_grad[0]:
            if np.isscalar(b) or np.ndim(b) == 0:
                ga = g * (b * np.power(a, b - 1) if b != 0 else np.zeros_like(a))
            else:
                ga = g * b * np.power(a, b - 1)
        if self.needs_input_grad[1]:
            # a broadcast exponent's gradient is a sum of terms that may cancel: formed (the
            # power recomputed) and summed in float64, not from float32 terms
            wide = np.shape(b) != np.shape(g) and self.out.dtype == np.float32
            dt = np.float64 if wide else self.out.dtype
            out = np.power(np.asarray(a, dt), np.asarray(b, dt)) if wide else self.out
            with np.errstate(divide="ignore", invalid="ignore"):
                la = np.where(a > 0, np.log(np.where(a > 0, a, 1)), 0).astype(dt)
            gb = np.asarray(g, dt) * out * la
            if wide:
                gb = unbroadcast(gb, np.shape(b)).astype(self.out.dtype)
        return ga, gb

    def backward_graph(self, g):
        a, b = self.parents
        need = self.needs_input_grad
        ga = gb = None
        if need[0]:
            if isinstance(b, TensorBase):
                ga = g * b * a ** (b - 1)
            else:
                ga = g * (b * a ** (b - 1)) if b != 0 else g * 0
        if need[1]:
            if isinstance(a, TensorBase):  # log a where a > 0, else 0 (as backward)
                pos = a._data > 0
                la = Where.apply(pos, a, np.ones((), a._data.dtype)).log() * wrap(
                    pos.astype(a._data.dtype))
            else:
                la = float(np.log(a)) if a > 0 else 0.0
            gb = g * (a ** b) * la
        return ga, gb


class Exp(Function):
    def forward(self, a):
        out = np.exp(a)
        if self.requires_grad:
            self.out = out
        return out

    def backward(self, g):
        return g * self.out

    def backward_graph(self, g):
        return g * self.parents[0].exp()


class Log(Function):
    def forward(self, a):
        if self.requires_grad:
            self.a = a
        return np.log(a)

    def backward(self, g):
        return g / self.a

    def backward_graph(self, g):
        return g / self.parents[0]


class Log1p(Function):
    def forward(self, a):
        if self.requires_grad:
            self.a = a
        return np.log1p(a)

    def backward(self, g):
        return g / (1 + self.a)

    def backward_graph(self, g):
        return g / (1 + self.parents[0])


class Sqrt(Function):
    def forward(self, a):
        out = np.sqrt(a)
        if self.requires_grad:
            self.out = out
        return out

    def backward(self, g):
        return g / (2 * self.out)

    def backward_graph(self, g):
        return g / (2 * self.parents[0].sqrt())


class Abs(Function):
    def forward(self, a):
        if self.requires_grad:
            self.a = a
        return np.abs(a)

    def backward(self, g):
        return g * np.sign(self.a)

    def backward_graph(self, g):
        return g * wrap(np.sign(self.parents[0]._data))


class Sin(Function):
    def forward(self, a):
        if self.requires_grad:
            self.a = a
        return np.sin(a)

    def backward(self, g):
        return g * np.cos(self.a)

    def backward_graph(self, g):
        return g * self.parents[0].cos()


class Cos(Function):
    def forward(self, a):
        if self.requires_grad:
            self.a = a
        return np.cos(a)

    def backward(self, g):
        return -g * np.sin(self.a)

    def backward_graph(self, g):
        return -g * self.parents[0].sin()


class Clamp(Function):
    """Gradient passes where min <= x <= max (PyTorch's convention at the bounds)."""

    def forward(self, a, min=None, max=None):
        if self.requires_grad:
            self.a, self.lo, self.hi = a, min, max
        out = np.clip(a, min, max)
        if out.dtype != a.dtype and is_half(a.dtype):  # NumPy widens 16-bit floats in clip
            out = out.astype(a.dtype)
        return out

    def backward(self, g):
        a = self.a
        keep = np.ones(a.shape, dtype=bool)
        if self.lo is not None:
            keep &= a >= self.lo
        if self.hi is not None:
            keep &= a <= self.hi
        return g * keep

    def backward_graph(self, g):
        a = self.parents[0]._data
        keep = np.ones(a.shape, dtype=bool)
        lo, hi = self.kwargs.get("min"), self.kwargs.get("max")
        if lo is not None:
            keep &= a >= lo
        if hi is not None:
            keep &= a <= hi
        return g * wrap(keep.astype(a.dtype))


class Maximum(Function):
    """Ties split the gradient evenly, as PyTorch does."""

    def forward(self, a, b):
        if self.requires_grad:
            self.a, self.b = a, b
        return np.maximum(a, b)

    def backward(self, g):
        a, b = self.a, self.b
        wa = (a > b) + 0.5 * (a == b)
        return g * wa, g * (1 - wa)

    def backward_graph(self, g):
        a, b = (raw(p) for p in self.parents)
        wa = (a > b) + 0.5 * (a == b)
        dt = self.out_dtypes[0]
        need = self.needs_input_grad
        return (g * wrap(np.asarray(wa, dt)) if need[0] else None,
                g * wrap(np.asarray(1 - wa, dt)) if need[1] else None)


class Minimum(Function):
    def forward(self, a, b):
        if self.requires_grad:
            self.a, self.b = a, b
        return np.minimum(a, b)

    def backward(self, g):
        a, b = self.a, self.b
        wa = (a < b) + 0.5 * (a == b)
        return g * wa, g * (1 - wa)

    def backward_graph(self, g):
        a, b = (raw(p) for p in self.parents)
        wa = (a < b) + 0.5 * (a == b)
        dt = self.out_dtypes[0]
        need = self.needs_input_grad
        return (g * wrap(np.asarray(wa, dt)) if need[0] else None,
                g * wrap(np.asarray(1 - wa, dt)) if need[1] else None)


class Where(Function):
    LINEAR = True  # in the two value inputs, for a fixed condition

    def forward(self, cond, a, b):
        if self.requires_grad:
            self.cond = cond
        return np.where(cond, a, b)

    def backward(self, g):
        z = np.zeros((), dtype=g.dtype)
        return (None,
                np.where(self.cond, g, z) if self.needs_input_grad[1] else None,
                np.where(self.cond, z, g) if self.needs_input_grad[2] else None)


def _half_times_number(t, o):
    """A 16-bit float tensor with a Python/NumPy real number: torch multiplies and divides those
    by the number in float32 (its opmath), where add/sub round the number to 16 bits first."""
    dt = t._data.dtype
    return (dt.itemsize == 2 and is_half(dt) and not isinstance(o, bool)
            and isinstance(o, (float, int, np.floating, np.integer)))


def _via_float32_scalar(fn, t, o):
    """fn(t, o) in float32 with o a float32 number, rounded once to t's dtype."""
    return Cast.apply(fn.apply(Cast.apply(t, dtype=float32), np.float32(o)), dtype=t._data.dtype)


def _bf16_pair(fn, a, b):
    """fn of two bfloat16 tensors in float32, rounded once: what ml_dtypes' per-element loops
    compute, ~15x faster here on the C conversions (dlcore.ops.half_convert)."""
    dt = a._data.dtype
    return Cast.apply(fn.apply(Cast.apply(a, dtype=float32), Cast.apply(b, dtype=float32)),
                      dtype=dt)


class ArithMethods:
    """Tensor operators + - * / ** and elementwise math (the in-place forms: ops.inplace)."""

    __slots__ = ()

    # The same-dtype tensor case is tested inline: it is every elementwise op's hot path.  Two
    # float32 (float64) tensors with nothing to record (no trace, no grad-mode block, neither
    # requiring grad: what Function.apply tests) get the ufunc's result directly; otherwise
    # the call goes straight to the recording path (apply would only test the same again).
    def __add__(self, o):
        if isinstance(o, TensorBase):
            x, y = self._data, o._data
            dt = x.dtype
            if y.dtype is dt and (dt is _F32 or dt is _F64):
                if (not self.requires_grad and not o.requires_grad and _function._tracer is None
                        and not _open_blocks[0]):
                    return wrap(_np_add(x, y))
                return Add._apply_recorded((self, o), {})
            if y.dtype == dt:
                if dt.kind == "V":
                    return _bf16_pair(Add, self, o)
                return Add.apply(self, o)
        return Add.apply(*binary_operands(self, o))

    def __radd__(self, o):
        # the tensor first, as torch records `1 + t` (t's node is next_functions[0]); a sum is
        # the same either way round
        a, b = binary_operands(self, o)
        return Add.apply(a, b)

    def __sub__(self, o):
        if isinstance(o, TensorBase):
            x, y = self._data, o._data
            dt = x.dtype
            if (y.dtype is dt and (dt is _F32 or dt is _F64) and not self.requires_grad
                    and not o.requires_grad and _function._tracer is None
                    and not _open_blocks[0]):
                return wrap(_np_subtract(x, y))
        if (isinstance(o, TensorBase) and o._data.dtype == self._data.dtype
                and self._data.dtype.kind != "b"):
            if self._data.dtype.kind == "V":
                return _bf16_pair(Sub, self, o)
            return Sub.apply(self, o)
        _check_bool_sub(self, o)
        return Sub.apply(*binary_operands(self, o))

    def __rsub__(self, o):
        _check_bool_sub(self, o)
        a, b = binary_operands(self, o)
        return Sub.apply(b, a)

    def __mul__(self, o):
        if isinstance(o, TensorBase):
            x, y = self._data, o._data
            dt = x.dtype
            if y.dtype is dt and (dt is _F32 or dt is _F64):
                if (not self.requires_grad and not o.requires_grad and _function._tracer is None
                        and not _open_blocks[0]):
                    return wrap(_np_multiply(x, y))
                return Mul._apply_recorded((self, o), {})
            if y.dtype == dt:
                if dt.kind == "V":
                    return _bf16_pair(Mul, self, o)
                return Mul.apply(self, o)
        if _half_times_number(self, o):
            return _via_float32_scalar(Mul, self, o)
        return Mul.apply(*binary_operands(self, o))

    def __rmul__(self, o):
        if _half_times_number(self, o):
            return _via_float32_scalar(Mul, self, o)
        a, b = binary_operands(self, o)
        return Mul.apply(a, b)  # tensor first, as torch records `2 * t` (exact either way)

    def __truediv__(self, o):
        if isinstance(o, TensorBase):
            x, y = self._data, o._data
            dt = x.dtype
            if (y.dtype is dt and (dt is _F32 or dt is _F64) and not self.requires_grad
                    and not o.requires_grad and _function._tracer is None
                    and not _open_blocks[0]):
                return wrap(_np_divide(x, y))
        if (isinstance(o, TensorBase) and o._data.dtype == self._data.dtype
                and is_floating(self._data.dtype)):
            if self._data.dtype.kind == "V":
                return _bf16_pair(Div, self, o)
            return Div.apply(self, o)
        if _half_times_number(self, o):
            return _via_float32_scalar(Div, self, o)
        return Div.apply(*true_div_operands(self, o))

    def __rtruediv__(self, o):
        if _half_times_number(self, o):  # torch: number / x is x.reciprocal() * number
            one, x = true_div_operands(self, 1.0)
            return _via_float32_scalar(Mul, Div.apply(x, one), o)
        a, b = true_div_operands(self, o)
        return Div.apply(b, a)

    def __floordiv__(self, o):
        a, b = array_operands(self, o)
        return wrap(_int_divide(np.floor_divide, a, b, "floor_divide"))

    def __rfloordiv__(self, o):
        a, b = array_operands(self, o)
        return wrap(_int_divide(np.floor_divide, b, a, "floor_divide"))

    def __mod__(self, o):
        return self.remainder(o)

    def __rmod__(self, o):
        # o % self: remainder with the operands swapped, differentiable like remainder
        a, b = binary_operands(self, o)
        if not isinstance(b, TensorBase):  # a number, already of the result dtype
            b = wrap(np.asarray(b))
        return b.remainder(a)

    def __pow__(self, o):
        a, b = binary_operands(self, o)
        if is_floating(a._data.dtype):
            return Pow.apply(a, b)
        return _pow(a, b, not isinstance(o, TensorBase))

    def __rpow__(self, o):
        a, b = binary_operands(self, o)
        if is_floating(a._data.dtype):
            return Pow.apply(b, a)
        return _pow(b, a, False)

    def __neg__(self):
        return Neg.apply(self)

    def __pos__(self):
        return self

    def __abs__(self):
        return self.abs()

    def add(self, o, alpha=1):
        return self + (o * alpha if alpha != 1 else o)

    def sub(self, o, alpha=1):
        return self - (o * alpha if alpha != 1 else o)

    def mul(self, o):
        return self * o

    def div(self, o, *, rounding_mode=None):
        if rounding_mode is not None:
            return rounding.div_rounded(self, o, rounding_mode)
        return self / o

    def pow(self, o):
        return self ** o

    def neg(self):
        return -self

    @via_float32(only="bfloat16")
    def exp(self):
        return Exp.apply(_float_math(self))

    @via_float32(only="bfloat16")
    def log(self):
        return Log.apply(_float_math(self))

    @via_float32(only="bfloat16")
    def log1p(self):
        return Log1p.apply(_float_math(self))

    @via_float32(only="bfloat16")
    def sqrt(self):
        return Sqrt.apply(_float_math(self))

    def rsqrt(self):
        return 1.0 / self.sqrt()

    def abs(self):
        return Abs.apply(self)

    def sign(self):
        return rounding.sign(self)

    @via_float32(only="bfloat16")
    def sin(self):
        return Sin.apply(_float_math(self))

    @via_float32(only="bfloat16")
    def cos(self):
        return Cos.apply(_float_math(self))

    def square(self):  # torch squares bools as int64
        return Cast.apply(self, dtype=int64) ** 2 if self._data.dtype == bool_ else self * self

    def reciprocal(self):
        return 1.0 / self

    def clamp(self, min=None, max=None):
        if min is None and max is None:
            raise ValueError("clamp: at least one of min and max must be given")
        if rounding.has_tensor_bound(min, max):
            return rounding.clamp_tensor(self, min, max)
        lo, hi = scalar_or_none(min, "clamp"), scalar_or_none(max, "clamp")
        t = _float_math(self) if any(isinstance(v, float) for v in (lo, hi)) else self
        return Clamp.apply(t, min=lo, max=hi)

    clip = clamp

    def maximum(self, other):
        if not isinstance(other, TensorBase):  # as torch: clamp is the one taking a number
            raise TypeError("maximum: other must be a Tensor, got %s" % type(other).__name__)
        return Maximum.apply(*binary_operands(self, other))

    def minimum(self, other):
        if not isinstance(other, TensorBase):
            raise TypeError("minimum: other must be a Tensor, got %s" % type(other).__name__)
        return Minimum.apply(*binary_operands(self, other))

    def floor(self):
        return rounding.floor(self)

    def ceil(self):
        return rounding.ceil(self)

    def round(self, decimals=0):
        return rounding.round(self, decimals)

    def trunc(self):
        return rounding.trunc(self)

