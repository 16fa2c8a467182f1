"""The shrinkage and gating activations composed from differentiable Tensor ops: softsign,
tanhshrink, hardshrink, softshrink, threshold and glu (PyTorch's F names and arguments).

Each is an elementwise formula or a mask chosen by comparing the input with a constant, so
its gradient (and the gradient of that gradient) comes from the ops it is made of; a mask
passes the gradient where it keeps the input, as torch's kernels do.
"""
import numbers

import numpy as np

from ..shapes import norm_dim
from ..tensor_base import TensorBase
from .activation import sigmoid, tanh
from .arith import Where
from .inplace_option import in_place

__all__ = ["softsign", "tanhshrink", "hardshrink", "softshrink", "threshold", "threshold_",
           "glu"]


def _float_input(x, fname):
    if not isinstance(x, TensorBase):
        raise TypeError("%s: input must be a Tensor, got %s" % (fname, type(x).__name__))
    if x.dtype != np.float32 and x.dtype != np.float64:
        raise TypeError("%s: input must be float32 or float64, got %s" % (fname, x.dtype))


def _number(v, fname, name):
    if isinstance(v, bool) or not isinstance(v, (numbers.Real, np.floating, np.integer)):
        raise TypeError("%s: %s must be a number, got %r" % (fname, name, v))
    return float(v)


def _keep(x, mask, value=0.0):
    """x where mask, else the constant value (gradient: g where mask)."""
    return Where.apply(mask, x, np.asarray(value, dtype=x.dtype))


def softsign(input):
    """x / (1 + |x|)."""
    _float_input(input, "softsign")
    return input / (input.abs() + 1)


def tanhshrink(input):
    """x - tanh(x)."""
    _float_input(input, "tanhshrink")
    return input - tanh(input)


def hardshrink(input, lambd=0.5):
    """x where |x| > lambd, else 0."""
    _float_input(input, "hardshrink")
    lambd = _number(lambd, "hardshrink", "lambd")
    a = input._data
    return _keep(input, (a > lambd) | (a < -lambd))


def softshrink(input, lambd=0.5):
    """x - lambd above lambd, x + lambd below -lambd, 0 between (torch: lambd >= 0)."""
    _float_input(input, "softshrink")
    lambd = _number(lambd, "softshrink", "lambd")
    if lambd < 0:
        raise ValueError("softshrink: lambd must be greater or equal to 0, got %r" % (lambd,))
    a = input._data
    shift = np.where(a > lambd, -lambd, lambd).astype(a.dtype)
    return _keep(input + shift, (a > lambd) | (a < -lambd))


def threshold(input, threshold, value, inplace=False):  # noqa: A002 - torch's argument name
    """x where x > threshold, else value."""
    _float_input(input, "threshold")
    t = _number(threshold, "threshold", "threshold")
    v = _number(value, "threshold", "value")
    if inplace:
        return in_place("threshold_", input, lambda old: _keep(old, old._data > t, v))
    return _keep(input, input._data > t, v)


def threshold_(input, threshold, value):  # noqa: A002
    return globals()["threshold"](input, threshold, value, inplace=True)


def glu(input, dim=-1):
    """a * sigmoid(b) with a, b the two halves of input along dim."""
    _float_input(input, "glu")
    if input.ndim == 0:
        raise ValueError("glu: does not support scalars because the halving size must be even")
    d = norm_dim(dim, input.ndim, "glu")
    n = input.shape[d]
    if n % 2:
        raise ValueError("glu: halving dimension must be even, but dimension %d is size %d"
                         % (d, n))
    h = n // 2
    return input.narrow(d, 0, h) * sigmoid(input.narrow(d, h, h))
