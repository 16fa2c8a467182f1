"""Categorical(probs=None, logits=None) over {0, ..., K-1} along the last dim (REINFORCE's
policy); sample() is not differentiable, log_prob() is (in the logits/probs)."""
import numpy as np

from .. import random as R
from ..ops.activation import log_softmax, softmax
from ..tensor import Tensor
from .distribution import Distribution, as_param, check, float_dtype

__all__ = ["Categorical", "OneHotCategorical"]


class Categorical(Distribution):
    _param_names = ("logits",)

    def __init__(self, probs=None, logits=None, validate_args=None):
        if (probs is None) == (logits is None):
            raise ValueError("Categorical: give either probs or logits, not both or neither")
        super().__init__((), (), validate_args)
        if probs is not None:
            p = as_param(probs, "probs", "Categorical", float_dtype(probs))
            if p.ndim < 1:
                raise ValueError("Categorical: probs must have at least one dim")
            if self._validate_args:
                check((p._data >= 0).all() and np.isfinite(p._data).all() and
                      (p._data.sum(-1) > 0).all(), "Categorical", "probs",
                      "Simplex() (non-negative, not all zero)", p)
            self._probs = p / p.sum(-1, keepdim=True)
            eps = float(np.finfo(p.dtype).eps)  # PyTorch's clamp before the log
            self.logits = self._probs.clamp(min=eps, max=1 - eps).log()
        else:
            lg = as_param(logits, "logits", "Categorical", float_dtype(logits))
            if lg.ndim < 1:
                raise ValueError("Categorical: logits must have at least one dim")
            self.logits = log_softmax(lg, -1)
            self._probs = None
        self._num_events = self.logits.shape[-1]
        self._batch_shape = self.logits.shape[:-1]

    @property
    def probs(self):
        if self._probs is None:
            self._probs = softmax(self.logits, -1)
        return self._probs

    @property
    def param_shape(self):
        return self.logits.shape

    @property
    def mean(self):
        return Tensor(np.full(tuple(self._batch_shape), np.nan, dtype=self.logits.dtype))

    @property
    def variance(self):
        return self.mean

    @property
    def mode(self):
        return self.probs.argmax(-1)

    def sample(self, sample_shape=()):
        p = self.probs._data.astype(np.float64)
        p = p / p.sum(-1, keepdims=True)
        shape = self._extended_shape(sample_shape)
        cdf = np.cumsum(p, -1).reshape(-1, self._num_events)
        n_batch = cdf.shape[0]
        u = R.rng().random(shape).reshape(-1, n_batch) if n_batch else np.zeros((0, 0))
        idx = np.empty(u.shape, dtype=np.int64)
        for b in range(n_batch):
            idx[:, b] = np.searchsorted(cdf[b], u[:, b] * cdf[b, -1], side="right")
        idx = np.minimum(idx, self._num_events - 1)
        return Tensor(idx.reshape(shape))

    def _check_value(self, value):
        v = value._data
        if v.dtype.kind == "f":
            if self._validate_args and not np.all(v == np.round(v)):
                raise ValueError("Categorical.log_prob: values must be integers in [0, %d)"
                                 % self._num_events)
            v = v.astype(np.int64)
        if self._validate_args and v.size and (v.min() < 0 or v.max() >= self._num_events):
            raise ValueError("Categorical.log_prob: values must be in [0, %d), got range "
                             "[%d, %d]" % (self._num_events, v.min(), v.max()))
        return v

    def log_prob(self, value):
        v = self._check_value(self._value(value))
        shape = np.broadcast_shapes(v.shape, tuple(self._batch_shape))
        v = np.broadcast_to(v, shape)
        lg = self.logits.expand(*(shape + (self._num_events,)))
        return lg.gather(-1, Tensor(np.ascontiguousarray(v[..., None]))).squeeze(-1)

    def entropy(self):
        lg = self.logits.clamp(min=float(np.finfo(self.logits.dtype).min))
        return -(lg * self.probs).sum(-1)

    def enumerate_support(self, expand=True):
        vals = np.arange(self._num_events, dtype=np.int64).reshape(
            (-1,) + (1,) * len(self._batch_shape))
        if expand:
            vals = np.broadcast_to(vals, (self._num_events,) + tuple(self._batch_shape))
        return Tensor(np.ascontiguousarray(vals))


class OneHotCategorical(Distribution):
    """Categorical with one-hot samples (event shape (K,))."""

    def __init__(self, probs=None, logits=None, validate_args=None):
        self._categorical = Categorical(probs, logits, validate_args)
        super().__init__(self._categorical.batch_shape,
                         (self._categorical._num_events,), validate_args)

    @property
    def probs(self):
        return self._categorical.probs

    @property
    def logits(self):
        return self._categorical.logits

    @property
    def mean(self):
        return self.probs

    def sample(self, sample_shape=()):
        idx = self._categorical.sample(sample_shape)._data
        out = np.zeros(idx.shape + (self._categorical._num_events,), dtype=self.probs.dtype)
        np.put_along_axis(out, idx[..., None], 1, axis=-1)
        return Tensor(out)

    def log_prob(self, value):
        value = self._value(value)
        return (value * self.logits).sum(-1)

    def entropy(self):
        return self._categorical.entropy()


