"""More of torch's elementwise math: inverse and hyperbolic trigonometry, expm1/log2/log10,
atan2, fmod/remainder, hypot, logaddexp, lerp, addcmul/addcdiv, clamp_min/max, nan_to_num,
the logical ops, and the named aliases (subtract, multiply, divide, ...).  `ElementwiseMethods`
holds their Tensor methods; each is a Function with its derivative beside it, or a composition
of differentiable ops."""
import numpy as np

from ..autograd import Function
from ..tensor_base import TensorBase, raw, wrap
from .promote import array_operands, binary_operands, true_div_operands
from ..dtypes import get_default_dtype, is_floating


def _unary(name, forward, derivative, doc):
    """A Function class computing forward(a), with gradient g * derivative(a, out)."""

    def fwd(self, a):
        if not is_floating(a.dtype):  # torch computes these in the default float dtype
            a = a.astype(get_default_dtype())
        out = forward(a)
        if self.requires_grad:
            self.a, self.out = a, out
        return out

    def bwd(self, g):
        return g * derivative(self.a, self.out)

    return type(name, (Function,), {"forward": fwd, "backward": bwd, "__doc__": doc})


Asin = _unary("Asin", np.arcsin, lambda a, o: 1 / np.sqrt(1 - a * a), "arcsin")
Acos = _unary("Acos", np.arccos, lambda a, o: -1 / np.sqrt(1 - a * a), "arccos")
Atan = _unary("Atan", np.arctan, lambda a, o: 1 / (1 + a * a), "arctan")
Tan = _unary("Tan", np.tan, lambda a, o: 1 + o * o, "tan")
Sinh = _unary("Sinh", np.sinh, lambda a, o: np.cosh(a), "sinh")
Cosh = _unary("Cosh", np.cosh, lambda a, o: np.sinh(a), "cosh")
Asinh = _unary("Asinh", np.arcsinh, lambda a, o: 1 / np.sqrt(a * a + 1), "arcsinh")
Acosh = _unary("Acosh", np.arccosh, lambda a, o: 1 / np.sqrt(a * a - 1), "arccosh")
Atanh = _unary("Atanh", np.arctanh, lambda a, o: 1 / (1 - a * a), "arctanh")
Expm1 = _unary("Expm1", np.expm1, lambda a, o: o + 1, "exp(x) - 1")
Exp2 = _unary("Exp2", np.exp2, lambda a, o: o * np.log(2).astype(o.dtype), "2 ** x")
Log2 = _unary("Log2", np.log2, lambda a, o: 1 / (a * np.log(2).astype(a.dtype)), "log2")
Log10 = _unary("Log10", np.log10, lambda a, o: 1 / (a * np.log(10).astype(a.dtype)), "log10")


class Atan2(Function):
    def forward(self, y, x):
        if self.requires_grad:
            self.y, self.x = y, x
        return np.arctan2(y, x)

    def backward(self, g):
        y, x = self.y, self.x
        d = x * x + y * y
        return g * x / d, -g * y / d


class Fmod(Function):
    """fmod (C's: the sign of the dividend) or remainder (Python's: the sign of the divisor);
    d/da = 1, d/db = -trunc(a/b) or -floor(a/b)."""

    def forward(self, a, b, python=False):
        out = np.mod(a, b) if python else np.fmod(a, b)
        if self.requires_grad:
            self.a, self.b, self.python = a, b, python
        return out

    def backward(self, g):
        gb = None
        if len(self.needs_input_grad) > 1 and self.needs_input_grad[1]:
            q = self.a / self.b
            gb = -g * (np.floor(q) if self.python else np.trunc(q))
        return g, gb


class NanToNum(Function):
    def forward(self, a, nan=0.0, posinf=None, neginf=None):
        self.keep = np.isfinite(a)
        return np.nan_to_num(a, nan=nan, posinf=posinf, neginf=neginf)

    def backward(self, g):
        return g * self.keep


def _tensor_other(other, fname):
    """torch's atan2/hypot/logaddexp/logical_*/isclose take a Tensor `other`, never a number."""
    if not isinstance(other, TensorBase):
        raise TypeError("%s(): argument 'other' must be Tensor, not %s"
                        % (fname, type(other).__name__))


def _int_div_check(a, b, fname):
    kind = np.result_type(raw(a), raw(b)).kind
    if kind == "b":  # torch has no bool kernel for these
        raise RuntimeError("%s is not implemented for bool tensors" % fname)
    if kind in "iu" and not np.all(raw(b)):
        raise RuntimeError("%s: ZeroDivisionError (integer division by zero)" % fname)


class ElementwiseMethods:
    """asin acos atan tan sinh cosh asinh acosh atanh expm1 exp2 log2 log10 atan2 fmod
    remainder hypot logaddexp lerp addcmul addcdiv clamp_min clamp_max nan_to_num logical_*
    and the aliases torch names."""

    __slots__ = ()

    def asin(self):
        return Asin.apply(self)

    def acos(self):
        return Acos.apply(self)

    def atan(self):
        return Atan.apply(self)

    def tan(self):
        return Tan.apply(self)

    def sinh(self):
        return Sinh.apply(self)

    def cosh(self):
        return Cosh.apply(self)

    def asinh(self):
        return Asinh.apply(self)

    def acosh(self):
        return Acosh.apply(self)

    def atanh(self):
        return Atanh.apply(self)

    arcsin, arccos, arctan, arcsinh, arccosh, arctanh = asin, acos, atan, asinh, acosh, atanh

    def expm1(self):
        return Expm1.apply(self)

    def exp2(self):
        return Exp2.apply(self)

    def log2(self):
        return Log2.apply(self)

    def log10(self):
        return Log10.apply(self)

    def atan2(self, other):
        _tensor_other(other, "atan2")
        a, b = true_div_operands(self, other)
        return Atan2.apply(a, b)

    arctan2 = atan2

    def fmod(self, other):
        a, b = binary_operands(self, other)
        _int_div_check(a, b, "fmod")
        return Fmod.apply(a, b, python=False)

    def remainder(self, other):
        a, b = binary_operands(self, other)
        _int_div_check(a, b, "remainder")
        return Fmod.apply(a, b, python=True)

    def hypot(self, other):
        _tensor_other(other, "hypot")
        a, b = binary_operands(self, other)
        return (a * a + b * b).sqrt()

    def logaddexp(self, other):
        _tensor_other(other, "logaddexp")
        a, b = binary_operands(self, other)
        m = wrap(np.maximum(raw(a), raw(b)))  # a constant shift: no gradient needed through it
        m = wrap(np.where(np.isfinite(raw(m)), raw(m), 0).astype(raw(m).dtype))
        return m + ((a - m).exp() + (b - m).exp()).log()

    def lerp(self, end, weight):
        """self + weight * (end - self)."""
        return self + weight * (end - self)

    def addcmul(self, tensor1, tensor2, *, value=1):
        p = tensor1 * tensor2
        return self + (p * value if value != 1 else p)

    def addcdiv(self, tensor1, tensor2, *, value=1):
        if (np.result_type(raw(tensor1)).kind in "iub"
                and np.result_type(raw(tensor2)).kind in "iub"):
            raise RuntimeError("addcdiv: integer division with addcdiv is no longer supported; "
                               "use true division of floating point tensors")
        q = tensor1 / tensor2
        return self + (q * value if value != 1 else q)

    def clamp_min(self, min):
        return self.clamp(min=min)

    def clamp_max(self, max):
        return self.clamp(max=max)

    def nan_to_num(self, nan=0.0, posinf=None, neginf=None):
        if not is_floating(self._data.dtype):
            return self.clone()
        return NanToNum.apply(self, nan=nan, posinf=posinf, neginf=neginf)

    def logical_and(self, other):
        _tensor_other(other, "logical_and")
        a, b = array_operands(self, other)
        return wrap(np.logical_and(a, b))

    def logical_or(self, other):
        _tensor_other(other, "logical_or")
        a, b = array_operands(self, other)
        return wrap(np.logical_or(a, b))

    def logical_xor(self, other):
        _tensor_other(other, "logical_xor")
        a, b = array_operands(self, other)
        return wrap(np.logical_xor(a, b))

    # torch's alternative names
    def subtract(self, other, *, alpha=1):
        return self.sub(other, alpha=alpha)

    def multiply(self, other):
        return self * other

    def divide(self, other, *, rounding_mode=None):
        if rounding_mode is None:
            return self / other
        return self.div(other, rounding_mode=rounding_mode)

    def true_divide(self, other):
        return self / other

    def floor_divide(self, other):
        return self // other

    def negative(self):
        return -self

    def greater(self, other):
        return self > other

    def greater_equal(self, other):
        return self >= other

    def less(self, other):
        return self < other

    def less_equal(self, other):
        return self <= other

    def not_equal(self, other):
        return self != other

    def absolute(self):
        return self.abs()

    def nelement(self):
        return self.numel()

    def ndimension(self):
        return self.ndim

    def stride(self, dim=None):
        """Strides in elements, as torch counts them."""
        st = tuple(s // self._data.itemsize for s in self._data.strides)
        return st if dim is None else st[dim]

    def outer(self, vec2):
        if self.ndim != 1 or getattr(vec2, "ndim", None) != 1:
            raise RuntimeError("outer: expected two 1-D tensors")
        return self.unsqueeze(1) * vec2.unsqueeze(0)

    ger = outer

    def isclose(self, other, rtol=1e-05, atol=1e-08, equal_nan=False):
        _tensor_other(other, "isclose")
        if rtol < 0:
            raise RuntimeError("isclose: rtol must be greater than or equal to zero, got %r"
                               % (rtol,))
        if atol < 0:
            raise RuntimeError("isclose: atol must be greater than or equal to zero, got %r"
                               % (atol,))
        if isinstance(other, TensorBase) and other.dtype != self.dtype:
            raise RuntimeError("isclose: %s did not match %s" % (self.dtype, other.dtype))
        a, b = array_operands(self, other)
        return wrap(np.isclose(a, b, rtol=rtol, atol=atol, equal_nan=equal_nan))

    def count_nonzero(self, dim=None):
        return wrap(np.asarray(np.count_nonzero(self._data, axis=dim), np.int64))
