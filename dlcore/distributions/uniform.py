"""Uniform(low, high) on [low, high): reparameterisable (rsample = low + (high - low) * u)."""
import numpy as np

from .. import random as R
from ..tensor import Tensor
from .distribution import Distribution, as_param, broadcast_all, check, float_dtype

__all__ = ["Uniform"]


class Uniform(Distribution):
    has_rsample = True
    _param_names = ("low", "high")

    def __init__(self, low, high, validate_args=None):
        dt = float_dtype(low, high)
        self.low, self.high = broadcast_all(as_param(low, "low", "Uniform", dt),
                                            as_param(high, "high", "Uniform", dt))
        super().__init__(self.low.shape, (), validate_args)
        if self._validate_args:
            check(self.low._data < self.high._data, "Uniform", "low",
                  "LessThan(upper_bound=high)", self.low)

    @property
    def mean(self):
        return (self.high + self.low) / 2

    @property
    def mode(self):
        return Tensor(np.full(tuple(self._batch_shape), np.nan, dtype=self.low.dtype))

    @property
    def stddev(self):
        return (self.high - self.low) / 12 ** 0.5

    @property
    def variance(self):
        return (self.high - self.low) ** 2 / 12

    def rsample(self, sample_shape=()):
        shape = self._extended_shape(sample_shape)
        u = Tensor(R.rng().random(shape).astype(self.low.dtype))
        return self.low + u * (self.high - self.low)

    def log_prob(self, value):
        value = self._value(value)
        v = value._data
        if self._validate_args and not ((v >= self.low._data) & (v < self.high._data)).all():
            raise ValueError("Uniform.log_prob: value outside the support [low, high)")
        inside = (v >= self.low._data) & (v < self.high._data)
        shape = np.broadcast_shapes(v.shape, tuple(self._batch_shape))
        lp = -(self.high - self.low).log().expand(*shape)
        return lp + Tensor(np.where(np.broadcast_to(inside, shape), 0.0, -np.inf)
                           .astype(self.low.dtype))

    def entropy(self):
        return (self.high - self.low).log()

    def cdf(self, value):
        value = self._value(value)
        return ((value - self.low) / (self.high - self.low)).clamp(min=0, max=1)

    def icdf(self, value):
        value = self._value(value)
        return value * (self.high - self.low) + self.low
