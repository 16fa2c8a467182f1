"""Distribution: the base class (batch/event shapes, sample vs rsample, argument validation)
and the helpers the distributions share."""
import numbers

import numpy as np

from ..dtypes import get_default_dtype
from ..shapes import Size
from ..tensor import Tensor

__all__ = ["Distribution"]


def as_param(v, name, owner, like=None):
    """A float Tensor from a number, array or Tensor (a Tensor keeps its graph)."""
    if isinstance(v, Tensor):
        if v.dtype.kind != "f":
            v = v.to(get_default_dtype() if like is None else like)
        return v
    if isinstance(v, bool) or not isinstance(v, (numbers.Real, np.ndarray, list, tuple)):
        raise TypeError("%s: %s must be a number or a Tensor, got %s"
                        % (owner, name, type(v).__name__))
    dt = get_default_dtype() if like is None else like
    return Tensor(np.asarray(v, dtype=dt))


def broadcast_all(*tensors):
    shape = np.broadcast_shapes(*[tuple(t.shape) for t in tensors])
    return [t if tuple(t.shape) == shape else t.expand(*shape) for t in tensors]


def float_dtype(*values):
    for v in values:
        if isinstance(v, Tensor) and v.dtype.kind == "f":
            return v.dtype
    return get_default_dtype()


def check(ok, owner, name, constraint, value):
    if not bool(np.all(ok)):
        raise ValueError("%s: expected parameter %s (%s of shape %s) to satisfy the constraint "
                         "%s, but found invalid values" % (owner, name, type(value).__name__,
                                                           tuple(np.shape(value)), constraint))


def shape_of(sample_shape):
    if isinstance(sample_shape, numbers.Integral):
        return (int(sample_shape),)
    return tuple(int(s) for s in sample_shape)


class Distribution:
    """Parameters may require grad: log_prob, entropy, mean ... are differentiable in them;
    rsample() is too where the distribution is reparameterisable, sample() never is."""

    has_rsample = False
    _validate_default = True

    def __init__(self, batch_shape=(), event_shape=(), validate_args=None):
        self._batch_shape = Size(batch_shape)
        self._event_shape = Size(event_shape)
        self._validate_args = self._validate_default if validate_args is None \
            else bool(validate_args)

    @staticmethod
    def set_default_validate_args(value):
        Distribution._validate_default = bool(value)

    @property
    def batch_shape(self):
        return self._batch_shape

    @property
    def event_shape(self):
        return self._event_shape

    def _extended_shape(self, sample_shape=()):
        return shape_of(sample_shape) + tuple(self._batch_shape) + tuple(self._event_shape)

    def sample(self, sample_shape=()):
        return self.rsample(sample_shape).detach()

    def rsample(self, sample_shape=()):
        raise NotImplementedError("%s is not reparameterisable: it has no rsample(); use "
                                  "sample() with a score-function (REINFORCE) estimator"
                                  % type(self).__name__)

    def sample_n(self, n):
        return self.sample((n,))

    def log_prob(self, value):
        raise NotImplementedError

    def entropy(self):
        raise NotImplementedError

    def perplexity(self):
        return self.entropy().exp()

    @property
    def mean(self):
        raise NotImplementedError

    @property
    def variance(self):
        raise NotImplementedError

    @property
    def stddev(self):
        return self.variance.sqrt()

    def _value(self, value):
        if not isinstance(value, Tensor):
            value = Tensor(np.asarray(value))
        return value

    def __repr__(self):
        return "%s(%s)" % (type(self).__name__, ", ".join(
            "%s: %s" % (k, tuple(getattr(self, k).shape)) for k in self._param_names))

    _param_names = ()
