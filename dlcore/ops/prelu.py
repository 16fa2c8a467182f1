"""prelu and rrelu: leaky ReLUs whose negative slope is a learned weight (prelu) or drawn at
random in training (rrelu).  Composed from Where and the operators; at x == 0 the input's
gradient is the slope, as PyTorch's (x > 0 selects the identity branch)."""
import numpy as np

from .. import random as R
from ..tensor_base import TensorBase, wrap
from .arith import Where
from .inplace_option import in_place
from .half import via_float32
from .autocast import lower_precision

__all__ = ["prelu", "rrelu"]


def _check(input, fname):
    if not isinstance(input, TensorBase):
        raise TypeError("%s: input must be a Tensor, got %s" % (fname, type(input).__name__))
    if input.dtype != np.float32 and input.dtype != np.float64:
        raise TypeError("%s: input must be float32 or float64, got %s" % (fname, input.dtype))


@lower_precision
@via_float32
def prelu(input, weight):
    """max(0, x) + weight * min(0, x); weight has 1 element or one per channel (dim 1)."""
    _check(input, "prelu")
    if not isinstance(weight, TensorBase):
        raise TypeError("prelu: weight must be a Tensor, got %s" % type(weight).__name__)
    n = weight.numel()
    if weight.ndim > 1:
        raise ValueError("prelu: weight must be 0-D or 1-D, got shape %s"
                         % (tuple(weight.shape),))
    if n == 1:
        w = weight.reshape(())
    else:
        C = input.shape[1] if input.ndim >= 2 else None
        if C != n:
            raise ValueError("prelu: weight has %d elements but input of shape %s has %s "
                             "channels (dim 1); give 1 weight or one per channel"
                             % (n, tuple(input.shape), C))
        w = weight.reshape((1, n) + (1,) * (input.ndim - 2))
    return Where.apply(input._data > 0, input, input * w)


def rrelu(input, lower=1.0 / 8, upper=1.0 / 3, training=False, inplace=False):
    """Slope drawn uniformly from [lower, upper] per element in training, (lower+upper)/2 else."""
    _check(input, "rrelu")
    if not lower <= upper:
        raise ValueError("rrelu: lower must be <= upper, got %r > %r" % (lower, upper))
    if inplace:
        return in_place("rrelu", input, lambda x: rrelu(x, lower, upper, training))
    if training:
        a = R.rng().uniform(lower, upper, size=input.shape).astype(input.dtype)
        slope = wrap(a)
    else:
        slope = (lower + upper) / 2.0
    return Where.apply(input._data >= 0, input, input * slope)
