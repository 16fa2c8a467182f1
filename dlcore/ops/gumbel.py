"""gumbel_softmax: a differentiable sample from a categorical distribution given logits.

y = softmax((logits + g) / tau), g = -log(E) with E ~ Exp(1) drawn from the global stream;
hard=True returns the one-hot of argmax(y) in the forward and y's gradient in the backward
(straight-through: y_hard - y.detach() + y).
"""
import numpy as np

from .. import random as R
from ..tensor_base import TensorBase, wrap
from .activation import softmax

__all__ = ["gumbel_softmax"]


def gumbel_softmax(logits, tau=1.0, hard=False, eps=1e-10, dim=-1):
    if not isinstance(logits, TensorBase):
        raise TypeError("gumbel_softmax: logits must be a Tensor, got %s"
                        % type(logits).__name__)
    if logits.dtype.kind != "f":
        raise TypeError("gumbel_softmax: logits must be floating point, got %s" % logits.dtype)
    gumbels = -np.log(R.rng().exponential(1.0, tuple(logits.shape))).astype(logits.dtype)
    y = softmax((logits + wrap(gumbels)) / tau, dim)
    if not hard:
        return y
    d = dim % max(y.ndim, 1)
    arr = y._data
    onehot = np.zeros_like(arr)
    np.put_along_axis(onehot, np.expand_dims(arr.argmax(axis=d), d), 1.0, axis=d)
    return wrap(onehot) - y.detach() + y
