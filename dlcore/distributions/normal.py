"""Normal(loc, scale): reparameterisable (rsample = loc + scale * eps)."""
import math

import numpy as np

from .. import random as R
from ..tensor import Tensor
from .distribution import Distribution, as_param, broadcast_all, check, float_dtype

__all__ = ["Normal"]

_LOG_SQRT_2PI = 0.5 * math.log(2 * math.pi)


class Normal(Distribution):
    has_rsample = True
    _param_names = ("loc", "scale")

    def __init__(self, loc, scale, validate_args=None):
        dt = float_dtype(loc, scale)
        self.loc, self.scale = broadcast_all(as_param(loc, "loc", "Normal", dt),
                                             as_param(scale, "scale", "Normal", dt))
        super().__init__(self.loc.shape, (), validate_args)
        if self._validate_args:
            check(self.scale._data > 0, "Normal", "scale", "GreaterThan(lower_bound=0.0)",
                  self.scale)

    @property
    def mean(self):
        return self.loc

    @property
    def mode(self):
        return self.loc

    @property
    def stddev(self):
        return self.scale

    @property
    def variance(self):
        return self.scale * self.scale

    def rsample(self, sample_shape=()):
        shape = self._extended_shape(sample_shape)
        eps = Tensor(R.rng().standard_normal(shape).astype(self.loc.dtype))
        return self.loc + eps * self.scale

    def log_prob(self, value):
        value = self._value(value)
        var = self.scale * self.scale
        return -((value - self.loc) ** 2) / (2 * var) - self.scale.log() - _LOG_SQRT_2PI

    def entropy(self):
        return 0.5 + _LOG_SQRT_2PI + self.scale.log()

    def cdf(self, value):
        value = self._value(value)
        z = ((value - self.loc) / (self.scale * math.sqrt(2)))._data
        from_erf = 0.5 * (1 + np.vectorize(math.erf)(z)) if z.size else z
        return Tensor(np.asarray(from_erf, dtype=self.loc.dtype))
