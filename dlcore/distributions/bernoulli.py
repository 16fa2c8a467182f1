"""Bernoulli(probs=None, logits=None): 0/1 samples; log_prob and entropy via the stable
binary cross-entropy with logits."""
import numpy as np

from .. import random as R
from ..ops.activation import sigmoid
from ..ops.loss import binary_cross_entropy_with_logits as _bce_logits
from ..tensor import Tensor
from .distribution import Distribution, as_param, check, float_dtype

__all__ = ["Bernoulli"]


class Bernoulli(Distribution):
    _param_names = ("probs",)

    def __init__(self, probs=None, logits=None, validate_args=None):
        if (probs is None) == (logits is None):
            raise ValueError("Bernoulli: give either probs or logits, not both or neither")
        super().__init__((), (), validate_args)
        if probs is not None:
            p = as_param(probs, "probs", "Bernoulli", float_dtype(probs))
            if self._validate_args:
                check((p._data >= 0) & (p._data <= 1), "Bernoulli", "probs",
                      "Interval(lower_bound=0.0, upper_bound=1.0)", p)
            self._probs = p
            eps = float(np.finfo(p.dtype).eps)
            pc = p.clamp(min=eps, max=1 - eps)
            self.logits = pc.log() - (1 - pc).log()
        else:
            self.logits = as_param(logits, "logits", "Bernoulli", float_dtype(logits))
            self._probs = None
        self._batch_shape = self.logits.shape

    @property
    def probs(self):
        if self._probs is None:
            self._probs = sigmoid(self.logits)
        return self._probs

    @property
    def mean(self):
        return self.probs

    @property
    def variance(self):
        return self.probs * (1 - self.probs)

    @property
    def mode(self):
        return Tensor((self.probs._data > 0.5).astype(self.probs.dtype))

    def sample(self, sample_shape=()):
        shape = self._extended_shape(sample_shape)
        p = np.broadcast_to(self.probs._data, shape)
        return Tensor((R.rng().random(shape) < p).astype(self.probs.dtype))

    def log_prob(self, value):
        value = self._value(value)
        if self._validate_args and not np.isin(value._data, (0, 1)).all():
            raise ValueError("Bernoulli.log_prob: values must be 0 or 1")
        value = value.to(self.logits.dtype)
        shape = np.broadcast_shapes(tuple(value.shape), tuple(self.logits.shape))
        lg = self.logits.expand(*shape)
        return -_bce_logits(lg, value.expand(*shape), reduction="none")

    def entropy(self):
        return _bce_logits(self.logits, self.probs, reduction="none")

    def enumerate_support(self, expand=True):
        vals = np.arange(2, dtype=self.logits.dtype).reshape((-1,) + (1,) * len(self._batch_shape))
        if expand:
            vals = np.broadcast_to(vals, (2,) + tuple(self._batch_shape))
        return Tensor(np.ascontiguousarray(vals))
