"""The special functions as differentiable ops: erf erfc erfinv lgamma digamma polygamma
mvlgamma i0 (torch level and Tensor methods) and torch.special's i0e i1 i1e ndtr log_ndtr ndtri
zeta erfcx xlog1py entr multigammaln.  Values come from dlcore.ops.special_numerics (float64,
accuracy stated there) and are returned in the input's float dtype (an integer input computes in
the default float dtype, as torch).  `SpecialMethods` holds the Tensor methods."""
import math

import numpy as np

from ..autograd import Function
from ..dtypes import get_default_dtype, is_floating
from ..tensor_base import TensorBase, wrap
from . import join
from . import special_numerics as N
from .promote import binary_operands

__all__ = ["erf", "erfc", "erfinv", "lgamma", "digamma", "polygamma", "mvlgamma", "i0", "igamma",
           "igammac"]

_TWO_OVER_SQRTPI = 2.0 / math.sqrt(math.pi)
_INV_SQRT2PI = 1.0 / math.sqrt(2.0 * math.pi)


def _float_array(a):
    return a if is_floating(a.dtype) else a.astype(get_default_dtype())


def _eval(fn, a, *args):
    """fn on a in float64, the result back in a's (float) dtype, no NumPy warnings."""
    with np.errstate(all="ignore"):
        out = fn(*args, a.astype(np.float64)) if args else fn(a.astype(np.float64))
        return np.asarray(out).astype(a.dtype)


class _Unary(Function):
    """out = VALUE(a); grad = g * slope(a, out) (both float64 NumPy, cast back)."""

    def forward(self, a):
        a = _float_array(a)
        out = _eval(type(self).value, a)
        if self.requires_grad:
            self.a, self.out = a, out
        return out

    def backward(self, g):
        with np.errstate(all="ignore"):
            s = type(self).slope(self.a.astype(np.float64), self.out.astype(np.float64))
        return g * s.astype(g.dtype)


def _unary(name, value, slope, graph=None, doc=""):
    body = {"value": staticmethod(value), "slope": staticmethod(slope), "__doc__": doc}
    if graph is not None:
        body["backward_graph"] = lambda self, g: g * graph(self.parents[0])
    return type(name, (_Unary,), body)


def _gauss(a):
    return (-(a * a)).exp()


Erf = _unary("Erf", N.erf, lambda a, o: _TWO_OVER_SQRTPI * np.exp(-a * a),
             lambda a: _TWO_OVER_SQRTPI * _gauss(a), "erf; d/dx = 2/sqrt(pi) exp(-x^2)")
Erfc = _unary("Erfc", N.erfc, lambda a, o: -_TWO_OVER_SQRTPI * np.exp(-a * a),
              lambda a: -_TWO_OVER_SQRTPI * _gauss(a), "erfc = 1 - erf")
Ndtr = _unary("Ndtr", N.ndtr, lambda a, o: _INV_SQRT2PI * np.exp(-0.5 * a * a),
              lambda a: _INV_SQRT2PI * (a * a * -0.5).exp(), "the standard normal CDF")
LogNdtr = _unary("LogNdtr", N.log_ndtr, lambda a, o: _INV_SQRT2PI * np.exp(-0.5 * a * a - o),
                 None, "log of the standard normal CDF (finite far into the left tail)")
I0 = _unary("I0", N.i0, lambda a, o: N.i1(a), None, "modified Bessel I0; d/dx = I1")
I0e = _unary("I0e", N.i0e, lambda a, o: N.i1e(a) - np.sign(a) * o, None, "exp(-|x|) I0(x)")
Erfcx = _unary("Erfcx", lambda a: np.where(a >= 0, N.erfcx(np.maximum(a, 0.0)),
                                           np.exp(a * a) * N.erfc(a)),
               lambda a, o: 2 * a * o - _TWO_OVER_SQRTPI, None, "exp(x^2) erfc(x)")



def _entr(a):
    out = np.where(a > 0, -a * np.log(np.where(a > 0, a, 1.0)), 0.0)
    return np.where(a < 0, -np.inf, np.where(np.isnan(a), a, out))


Entr = _unary("Entr", _entr, lambda a, o: -(np.log(a) + 1), None, "-x log x (0 at 0)")


def _i1_slope(a, o):
    return np.where(a == 0, 0.5, N.i0(a) - o / a)


def _i1e_slope(a, o):
    return np.where(a == 0, 0.5, N.i0e(a) - o * (np.sign(a) + 1 / a))


I1 = _unary("I1", N.i1, _i1_slope, None, "modified Bessel I1; d/dx = I0 - I1/x")
I1e = _unary("I1e", N.i1e, _i1e_slope, None, "exp(-|x|) I1(x)")


class Erfinv(_Unary):
    """The inverse of erf; d/dy = sqrt(pi)/2 exp(erfinv(y)^2)."""
    value = staticmethod(N.erfinv)

    @staticmethod
    def slope(a, o):
        return np.exp(o * o) / _TWO_OVER_SQRTPI

    def backward_graph(self, g):
        o = Erfinv.apply(self.parents[0])
        return g * (o * o).exp() / _TWO_OVER_SQRTPI


class Ndtri(_Unary):
    """The inverse of ndtr; d/dp = sqrt(2 pi) exp(ndtri(p)^2 / 2)."""
    value = staticmethod(N.ndtri)

    @staticmethod
    def slope(a, o):
        return np.exp(0.5 * o * o) / _INV_SQRT2PI


class Polygamma(Function):
    """The n-th derivative of digamma (n = 0: digamma); d/dx = polygamma(n + 1, x)."""

    def forward(self, a, n=0):
        a = _float_array(a)
        self.n = n
        if self.requires_grad:
            self.a = a
        return _eval(lambda x: N.polygamma(n, x), a)

    def backward(self, g):
        return g * _eval(lambda x: N.polygamma(self.n + 1, x), self.a).astype(g.dtype)

    def backward_graph(self, g):
        return g * Polygamma.apply(self.parents[0], n=self.n + 1)


class Lgamma(_Unary):
    """log |Gamma(x)|; d/dx = digamma(x)."""
    value = staticmethod(N.lgamma)

    @staticmethod
    def slope(a, o):
        return N.digamma(a)

    def backward_graph(self, g):
        return g * Polygamma.apply(self.parents[0], n=0)


class Zeta(Function):
    """The Hurwitz zeta(x, q); d/dq = -x zeta(x + 1, q).  torch has no derivative in x and
    neither do we (a backward that needs it raises)."""

    def forward(self, x, q):
        dt = np.result_type(x, q)
        dt = dt if is_floating(dt) else get_default_dtype()
        if self.requires_grad:
            self.x, self.q = x, q
        with np.errstate(all="ignore"):
            return np.asarray(N.zeta(x, q)).astype(dt)

    def backward(self, g):
        if self.needs_input_grad[0]:
            raise NotImplementedError("the derivative of zeta with respect to x (its first "
                                      "argument) is not implemented (torch has none either)")
        x = np.asarray(self.x, np.float64)
        with np.errstate(all="ignore"):
            d = -x * N.zeta(x + 1, self.q)
        return None, g * d.astype(g.dtype)


class Xlog1py(Function):
    """x log1p(y), 0 where x is 0 and y is not NaN; d/dx = log1p(y) (0 where x is 0, as
    torch), d/dy = x / (1 + y)."""

    def forward(self, x, y):
        dt = np.result_type(x, y)
        dt = dt if is_floating(dt) else get_default_dtype()
        x, y = x.astype(dt, copy=False), y.astype(dt, copy=False)
        if self.requires_grad:
            self.x, self.y = x, y
        with np.errstate(all="ignore"):
            return np.where((x == 0) & ~np.isnan(y), np.zeros((), dt), x * np.log1p(y))

    def backward(self, g):
        x, y = self.x, self.y
        with np.errstate(all="ignore"):
            gx = g * np.where(x == 0, np.zeros((), x.dtype), np.log1p(y))
            gy = g * x / (1 + y)
        return gx, gy


class Igamma(Function):
    """The regularized incomplete gamma P(a, x) (Q(a, x) if upper); d/dx = +-x^(a-1) e^-x /
    Gamma(a).  torch has no derivative in a and neither do we (a backward needing it raises)."""

    def forward(self, a, x, upper=False):
        dt = np.result_type(a, x)
        dt = dt if is_floating(dt) else get_default_dtype()
        self.upper = upper
        if self.requires_grad:
            self.a, self.x = a, x
        with np.errstate(all="ignore"):
            return np.asarray(N.gammainc(a, x, upper)).astype(dt)

    def backward(self, g):
        if self.needs_input_grad[0]:
            raise NotImplementedError("the derivative of igamma/igammac with respect to its "
                                      "first argument (a) is not implemented (torch has none)")
        a, x = np.asarray(self.a, np.float64), np.asarray(self.x, np.float64)
        with np.errstate(all="ignore"):
            d = np.exp((a - 1) * np.log(x) - x - N.lgamma(a))
        return None, g * (-d if self.upper else d).astype(g.dtype)


def _tensor(x, name):
    if not isinstance(x, TensorBase):
        raise TypeError("%s(): argument 'input' must be Tensor, not %s" % (name, type(x).__name__))
    return x


def erf(input):
    return Erf.apply(_tensor(input, "erf"))


def erfc(input):
    return Erfc.apply(_tensor(input, "erfc"))


def erfinv(input):
    return Erfinv.apply(_tensor(input, "erfinv"))


def lgamma(input):
    return Lgamma.apply(_tensor(input, "lgamma"))


def digamma(input):
    return Polygamma.apply(_tensor(input, "digamma"), n=0)


def polygamma(n, input):
    if isinstance(n, TensorBase) or isinstance(n, bool) or int(n) != n:
        raise TypeError("polygamma(): argument 'n' must be int, not %s" % type(n).__name__)
    if n < 0:
        raise RuntimeError("polygamma(n, x) does not support negative n.")
    return Polygamma.apply(_tensor(input, "polygamma"), n=int(n))


def mvlgamma(input, p):
    """The multivariate log-gamma of dimension p: sum_j lgamma(x - j/2) + p(p-1)/4 log(pi)
    (torch 2.x no longer refuses x <= (p-1)/2: the poles give inf there)."""
    x = _tensor(input, "mvlgamma")
    if isinstance(p, bool) or int(p) != p or p < 1:
        raise RuntimeError("p has to be greater than or equal to 1")
    p = int(p)
    if not is_floating(x.dtype):
        x = x.to(get_default_dtype())
    out = None
    for j in range(p):
        term = lgamma(x - j / 2)
        out = term if out is None else out + term
    return out + p * (p - 1) / 4 * math.log(math.pi)


def i0(input):
    return I0.apply(_tensor(input, "i0"))


def zeta(input, other):
    """torch.special.zeta: a number on either side is a 0-d tensor of the other's dtype."""
    if not isinstance(input, TensorBase) and not isinstance(other, TensorBase):
        raise TypeError("zeta: expected a Tensor as input or other, got two numbers")
    if not isinstance(input, TensorBase):
        input = wrap(np.asarray(input, dtype=_float_array(other._data).dtype))
    if not isinstance(other, TensorBase):
        other = wrap(np.asarray(other, dtype=_float_array(input._data).dtype))
    return Zeta.apply(input, other)


def _igamma_operands(input, other, name):
    """torch's igamma/igammac take two Tensors (no Python-number overload) of which one at
    least is floating; the result has their promoted dtype (float32 with an integer one)."""
    for arg, val in (("input", input), ("other", other)):
        if not isinstance(val, TensorBase):
            raise TypeError("%s(): argument '%s' must be Tensor, not %s"
                            % (name, arg, type(val).__name__))
    if not (is_floating(input.dtype) or is_floating(other.dtype)):
        raise NotImplementedError('"%s_cpu" not implemented for integer dtypes (%s, %s)'
                                  % (name, input.dtype, other.dtype))
    return binary_operands(input, other)


def igamma(input, other):
    """The regularized lower incomplete gamma P(input, other) (torch.special.gammainc)."""
    return Igamma.apply(*_igamma_operands(input, other, "igamma"), upper=False)


def igammac(input, other):
    """The regularized upper incomplete gamma Q(input, other) (torch.special.gammaincc)."""
    return Igamma.apply(*_igamma_operands(input, other, "igammac"), upper=True)


def _where(c, a, b):
    return join.where(c, a, b)


def xlog1py(input, other):
    """input * log1p(other), 0 where input is 0 (NaN where other is NaN), as torch."""
    if not isinstance(input, TensorBase) and not isinstance(other, TensorBase):
        raise TypeError("xlog1py: expected a Tensor as input or other, got two numbers")
    like = input if isinstance(input, TensorBase) else other
    dt = _float_array(like._data).dtype
    x = input if isinstance(input, TensorBase) else wrap(np.asarray(input, dt))
    y = other if isinstance(other, TensorBase) else wrap(np.asarray(other, dt))
    return Xlog1py.apply(x, y)


def entr(input):
    """-x log x for x > 0, 0 at 0, -inf for x < 0 (NaN stays NaN)."""
    return Entr.apply(_tensor(input, "entr"))


def multigammaln(input, p):
    return mvlgamma(input, p)


class SpecialMethods:
    """The Tensor methods of the special functions (the in-place forms are in
    dlcore.ops.inplace_math)."""

    __slots__ = ()

    def erf(self):
        return erf(self)

    def erfc(self):
        return erfc(self)

    def erfinv(self):
        return erfinv(self)

    def lgamma(self):
        return lgamma(self)

    def digamma(self):
        return digamma(self)

    def polygamma(self, n):
        return polygamma(n, self)

    def mvlgamma(self, p):
        return mvlgamma(self, p)

    def i0(self):
        return i0(self)

    def igamma(self, other):
        return igamma(self, other)

    def igammac(self, other):
        return igammac(self, other)
