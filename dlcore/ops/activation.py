"""Activations and softmax: each one Function over a C kernel (dlcore/_C/act.pxi).

Forward runs one vectorized pass (OpenMP above a size threshold) writing a fresh array;
backward runs one pass reading the saved input (or output, for relu / sigmoid / tanh, as
PyTorch does) and the incoming gradient.  `inplace=True` writes the result into the input's
own storage and returns the input (dlcore.ops.inplace).
`ActivationMethods` holds the activations a Tensor has as methods.
"""
import math
import numbers

import numpy as np

from .. import _C
from ..autograd import Function, function as _function
from ..autograd.grad_mode import open_blocks as _open_blocks
from ..shapes import norm_dim
from ..tensor_base import TensorBase, wrap
from .inplace_option import in_place
from .half import via_float32
from .float_math import float_math as _float_math

__all__ = ["relu", "relu_", "leaky_relu_", "elu_", "hardtanh_", "leaky_relu", "sigmoid", "tanh",
           "gelu", "silu", "elu", "selu", "celu", "softplus", "hardtanh", "relu6", "hardswish", "hardsigmoid", "mish",
           "logsigmoid", "softmax", "log_softmax", "softmin"]

_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946


def _contig(x):
    return x if x.flags.c_contiguous else np.ascontiguousarray(x)


def _check_input(x, fname):
    if not isinstance(x, TensorBase):
        raise TypeError("%s: input must be a Tensor, got %s" % (fname, type(x).__name__))
    if x.dtype != np.float32 and x.dtype != np.float64:
        raise TypeError("%s: input must be float32 or float64, got %s" % (fname, x.dtype))


def _float_math_input(x):
    """torch computes sigmoid and tanh of integer and bool tensors in the default float dtype."""
    if isinstance(x, TensorBase) and x.dtype.kind in "iub":
        return _float_math(x)
    return x


def _check_number(v, fname, name):
    if isinstance(v, bool) or not isinstance(v, numbers.Real):
        raise TypeError("%s: %s must be a number, got %r" % (fname, name, v))
    return float(v)


class _Activation(Function):
    """y = f(x) elementwise; subclasses set KIND (one of _C.AF_*)."""
    KIND = None
    USES_OUTPUT = False

    def forward(self, x, a=0.0, b=0.0, c=0.0):
        if not self.USES_OUTPUT:  # backward reads x: keep the contiguous copy it gets
            x = _contig(x)
        out = _C.act_forward(self.KIND, x, None, a, b, c)
        if self.requires_grad:
            self.saved = out if self.USES_OUTPUT else x
            self.params = (a, b, c)
        return out

    def backward(self, g):
        s = self.saved
        g = _contig(np.asarray(g, dtype=s.dtype))
        if self.USES_OUTPUT:
            return _C.act_backward(self.KIND, None, s, g, None, *self.params)
        return _C.act_backward(self.KIND, s, None, g, None, *self.params)


    def backward_graph(self, g):
        return g * ActDerivative.apply(self.parents[0], kind=self.KIND, params=self.params)


def _second_derivative(kind, x, a, b, c):
    """f''(x) of activation `kind` on a float64 array (what ActDerivative's backward needs)."""
    if kind in (_C.AF_RELU, _C.AF_LEAKY_RELU, _C.AF_HARDTANH, _C.AF_HARDSIGMOID):
        return np.zeros_like(x)  # piecewise linear
    if kind == _C.AF_SIGMOID:
        s = 1 / (1 + np.exp(-x))
        return s * (1 - s) * (1 - 2 * s)
    if kind == _C.AF_TANH:
        t = np.tanh(x)
        return -2 * t * (1 - t * t)
    if kind == _C.AF_GELU:
        return np.exp(-0.5 * x * x) / math.sqrt(2 * math.pi) * (2 - x * x)
    if kind == _C.AF_GELU_TANH:
        k = math.sqrt(2 / math.pi)
        u = k * (x + 0.044715 * x ** 3)
        du = k * (1 + 3 * 0.044715 * x * x)
        d2u = k * 6 * 0.044715 * x
        t = np.tanh(u)
        sech2 = 1 - t * t
        return sech2 * du + 0.5 * x * (-2 * t * sech2 * du * du + sech2 * d2u)
    if kind == _C.AF_SILU:
        s = 1 / (1 + np.exp(-x))
        return s * (1 - s) * (2 + x * (1 - 2 * s))
    if kind == _C.AF_ELU:  # a: alpha, b: scale, c: input scale
        return np.where(x > 0, 0.0, a * b * c * c * np.exp(c * np.minimum(x, 0)))
    if kind == _C.AF_SOFTPLUS:  # a: beta, b: threshold
        s = 1 / (1 + np.exp(-a * x))
        return np.where(a * x > b, 0.0, a * s * (1 - s))
    if kind == _C.AF_HARDSWISH:
        return np.where((x > -3) & (x < 3), 1 / 3, 0.0)
    if kind == _C.AF_MISH:
        sp = np.logaddexp(0, x)
        t = np.tanh(sp)
        s = 1 / (1 + np.exp(-x))
        return (1 - t * t) * (2 * s + x * s * (1 - s) - 2 * x * s * s * t)
    raise RuntimeError("double backward is not supported for activation kind %d" % kind)


class ActDerivative(Function):
    """f'(x) of an activation, as an op: the gradient of an activation's gradient."""

    def forward(self, x, kind=0, params=(0.0, 0.0, 0.0)):
        x = _contig(x)
        one = np.ones_like(x)
        d = np.empty_like(x)
        if _C.act_bwd_uses_output(kind):
            y = np.empty_like(x)
            _C.act_forward(kind, x, y, *params)
            _C.act_backward(kind, None, y, one, d, *params)
        else:
            _C.act_backward(kind, x, None, one, d, *params)
        if self.requires_grad:
            self.x, self.conf = x, (kind,) + tuple(params)
        return d

    def backward(self, g):
        x = self.x
        return (g * _second_derivative(self.conf[0], x.astype(np.float64), *self.conf[1:])
                ).astype(x.dtype)


def _act(name, kind):
    cls = type(name, (_Activation,), {"KIND": kind,
                                       "USES_OUTPUT": _C.act_bwd_uses_output(kind)})
    cls.__module__ = __name__
    return cls


ReLU = _act("ReLU", _C.AF_RELU)
LeakyReLU = _act("LeakyReLU", _C.AF_LEAKY_RELU)
Sigmoid = _act("Sigmoid", _C.AF_SIGMOID)
Tanh = _act("Tanh", _C.AF_TANH)
GELU = _act("GELU", _C.AF_GELU)
GELUTanh = _act("GELUTanh", _C.AF_GELU_TANH)
SiLU = _act("SiLU", _C.AF_SILU)
ELU = _act("ELU", _C.AF_ELU)
Softplus = _act("Softplus", _C.AF_SOFTPLUS)
Hardtanh = _act("Hardtanh", _C.AF_HARDTANH)
Hardswish = _act("Hardswish", _C.AF_HARDSWISH)
Hardsigmoid = _act("Hardsigmoid", _C.AF_HARDSIGMOID)
Mish = _act("Mish", _C.AF_MISH)


def _applied(fname, input, inplace, apply):
    """apply(input), written back into input's storage when inplace (see in_place)."""
    return in_place(fname, input, apply) if inplace else apply(input)


_F32, _F64 = np.dtype(np.float32), np.dtype(np.float64)
_RELU = _C.AF_RELU


def relu(input, inplace=False):
    if not inplace and isinstance(input, TensorBase):
        x = input._data
        dt = x.dtype
        if dt is _F32 or dt is _F64:  # the common case, without the general path's wrappers
            if not input.requires_grad and _function._tracer is None and not _open_blocks[0]:
                return wrap(_C.act_forward(_RELU, x))  # nothing to record (Function.apply)
            return ReLU._apply_recorded((input,), {})
    return _relu(input, inplace)


@via_float32
def _relu(input, inplace=False):
    if isinstance(input, TensorBase) and input.dtype.kind in "iu":
        # torch's relu keeps an integer tensor's dtype (a bool one it refuses)
        return input.clamp_(min=0) if inplace else input.clamp(min=0)
    _check_input(input, "relu")
    return _applied("relu", input, inplace, ReLU.apply)


def relu_(input):
    """relu written into the input's storage; returns the input."""
    return relu(input, inplace=True)


@via_float32
def leaky_relu(input, negative_slope=0.01, inplace=False):
    _check_input(input, "leaky_relu")
    a = _check_number(negative_slope, "leaky_relu", "negative_slope")
    return _applied("leaky_relu", input, inplace, lambda x: LeakyReLU.apply(x, a=a))


def leaky_relu_(input, negative_slope=0.01):
    return leaky_relu(input, negative_slope, inplace=True)


@via_float32
def sigmoid(input):
    input = _float_math_input(input)
    _check_input(input, "sigmoid")
    return Sigmoid.apply(input)


@via_float32
def tanh(input):
    input = _float_math_input(input)
    _check_input(input, "tanh")
    return Tanh.apply(input)


@via_float32
def gelu(input, approximate="none"):
    _check_input(input, "gelu")
    if approximate == "none":
        return GELU.apply(input)
    if approximate == "tanh":
        return GELUTanh.apply(input)
    raise ValueError("gelu: approximate must be 'none' or 'tanh', got %r" % (approximate,))


@via_float32
def silu(input, inplace=False):
    _check_input(input, "silu")
    return _applied("silu", input, inplace, SiLU.apply)


@via_float32
def elu(input, alpha=1.0, inplace=False):
    _check_input(input, "elu")
    a = _check_number(alpha, "elu", "alpha")
    return _applied("elu", input, inplace, lambda x: ELU.apply(x, a=a, b=1.0, c=1.0))


def elu_(input, alpha=1.0):
    return elu(input, alpha, inplace=True)


@via_float32
def selu(input, inplace=False):
    _check_input(input, "selu")
    if inplace:
        return in_place("selu", input, lambda x: selu(x))
    return ELU.apply(input, a=_SELU_ALPHA, b=_SELU_SCALE, c=1.0)


@via_float32
def celu(input, alpha=1.0, inplace=False):
    _check_input(input, "celu")
    alpha = _check_number(alpha, "celu", "alpha")
    if alpha == 0:
        raise ValueError("celu: alpha must be nonzero (it divides the input), got 0")
    if inplace:
        return in_place("celu", input, lambda x: celu(x, alpha))
    return ELU.apply(input, a=alpha, b=1.0, c=1.0 / alpha)


@via_float32
def softplus(input, beta=1.0, threshold=20.0):
    _check_input(input, "softplus")
    beta = _check_number(beta, "softplus", "beta")
    if beta == 0:
        raise ValueError("softplus: beta must be nonzero, got 0")
    return Softplus.apply(input, a=beta, b=_check_number(threshold, "softplus", "threshold"))


@via_float32
def hardtanh(input, min_val=-1.0, max_val=1.0, inplace=False):
    _check_input(input, "hardtanh")
    lo = _check_number(min_val, "hardtanh", "min_val")
    hi = _check_number(max_val, "hardtanh", "max_val")
    if lo > hi:
        raise ValueError("hardtanh: min_val must be <= max_val, got %r > %r" % (min_val, max_val))
    return _applied("hardtanh", input, inplace, lambda x: Hardtanh.apply(x, a=lo, b=hi))


def hardtanh_(input, min_val=-1.0, max_val=1.0):
    return hardtanh(input, min_val, max_val, inplace=True)


@via_float32
def relu6(input, inplace=False):
    _check_input(input, "relu6")
    return _applied("relu6", input, inplace, lambda x: Hardtanh.apply(x, a=0.0, b=6.0))


@via_float32
def hardswish(input, inplace=False):
    _check_input(input, "hardswish")
    return _applied("hardswish", input, inplace, Hardswish.apply)


@via_float32
def hardsigmoid(input, inplace=False):
    _check_input(input, "hardsigmoid")
    return _applied("hardsigmoid", input, inplace, Hardsigmoid.apply)


@via_float32
def mish(input, inplace=False):
    _check_input(input, "mish")
    return _applied("mish", input, inplace, Mish.apply)


@via_float32
def logsigmoid(input):
    """log(sigmoid(x)) = -softplus(-x), overflow-free at both ends."""
    _check_input(input, "logsigmoid")
    return -Softplus.apply(-input, a=1.0, b=math.inf)


# ---- softmax -------------------------------------------------------------------------------
def _split(shape, axis):
    """(outer, dim, inner) sizes of `shape` around `axis`."""
    outer = int(np.prod(shape[:axis], dtype=np.int64))
    inner = int(np.prod(shape[axis + 1:], dtype=np.int64))
    return outer, shape[axis], inner


class Softmax(Function):
    LOG = False

    def forward(self, x, dim=-1):
        x = _contig(x)
        out = np.empty_like(x)
        if x.ndim == 0:
            outer, d, inner = 1, 1, 1
        else:
            outer, d, inner = _split(x.shape, dim)
        _C.softmax_forward(x, out, outer, d, inner, self.LOG)
        if self.requires_grad:
            self.out, self.dims = out, (outer, d, inner)
        return out

    def backward(self, g):
        y = self.out
        g = _contig(np.asarray(g, dtype=y.dtype))
        gx = np.empty_like(y)
        _C.softmax_backward(y, g, gx, *self.dims, self.LOG)
        return gx

    def backward_graph(self, g):
        x = self.parents[0]
        if x.ndim == 0:
            return g * 0.0
        dim = self.kwargs.get("dim", -1)
        y = type(self).apply(x, dim=dim)
        if self.LOG:
            return g - y.exp() * g.sum(dim, keepdim=True)
        return y * (g - (g * y).sum(dim, keepdim=True))


class LogSoftmax(Softmax):
    LOG = True


def _softmax_dim(ndim):
    # PyTorch's legacy implicit choice when dim is None
    return 0 if ndim in (0, 1, 3) else 1


def _softmax_args(input, dim, dtype, fname):
    if not isinstance(input, TensorBase):
        raise TypeError("%s: input must be a Tensor, got %s" % (fname, type(input).__name__))
    if dtype is not None:
        input = input.to(dtype)
    _check_input(input, fname)
    if dim is None:
        dim = _softmax_dim(input.ndim)
    return input, norm_dim(dim, input.ndim, fname)


@via_float32
def softmax(input, dim=None, _stacklevel=3, dtype=None):
    input, dim = _softmax_args(input, dim, dtype, "softmax")
    return Softmax.apply(input, dim=dim)


@via_float32
def log_softmax(input, dim=None, _stacklevel=3, dtype=None):
    input, dim = _softmax_args(input, dim, dtype, "log_softmax")
    return LogSoftmax.apply(input, dim=dim)


@via_float32
def softmin(input, dim=None, _stacklevel=3, dtype=None):
    input, dim = _softmax_args(input, dim, dtype, "softmin")
    return Softmax.apply(-input, dim=dim)


class ActivationMethods:
    """The activations most code calls as Tensor methods."""

    __slots__ = ()

    def relu(self):
        return relu(self)

    def sigmoid(self):
        return sigmoid(self)

    def tanh(self):
        return tanh(self)

    def softmax(self, dim=-1, dtype=None):
        return softmax(self, dim, dtype=dtype)

    def log_softmax(self, dim=-1, dtype=None):
        return log_softmax(self, dim, dtype=dtype)
