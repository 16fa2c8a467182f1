"""Random sampling methods of a Tensor beyond uniform_/normal_: bernoulli (a draw with this
tensor's probabilities), and the in-place fills bernoulli_, exponential_, random_, geometric_,
log_normal_, cauchy_ — all from dlcore's generators (dl.manual_seed or a dl.Generator)."""
import numbers

import numpy as np

from .. import random as R
from ..tensor_base import TensorBase, raw, wrap
from ..dtypes import is_floating


def _probabilities(p, fname):
    p = np.asarray(raw(p), np.float64)
    if p.size and (np.isnan(p).any() or p.min() < 0 or p.max() > 1):
        raise RuntimeError("%s: expected 0 <= p <= 1 for every probability" % fname)
    return p


class RandomMethods:
    """bernoulli bernoulli_ exponential_ random_ geometric_ log_normal_ cauchy_."""

    __slots__ = ()

    def bernoulli(self, p=None, *, generator=None):
        """0/1 draws with P(1) = self (or `p`), in self's dtype; no gradient."""
        probs = _probabilities(self._data if p is None else p, "bernoulli")
        draw = R.rng(generator).random(self._data.shape) < np.broadcast_to(probs,
                                                                           self._data.shape)
        return wrap(draw.astype(self._data.dtype))

    def bernoulli_(self, p=0.5, *, generator=None):
        self._check_inplace("bernoulli_")
        probs = _probabilities(p, "bernoulli_")
        self._data[...] = R.rng(generator).random(self._data.shape) < probs
        return self

    def exponential_(self, lambd=1.0, *, generator=None):
        self._check_inplace("exponential_")
        if lambd <= 0:
            raise RuntimeError("exponential_ expects lambda > 0.0, but found lambda=%s" % lambd)
        self._data[...] = R.rng(generator).exponential(1.0 / lambd, self._data.shape)
        return self

    def geometric_(self, p, *, generator=None):
        self._check_inplace("geometric_")
        if not 0 < p < 1:
            raise RuntimeError("geometric_ expects p to be in (0, 1), but got p=%s" % p)
        self._data[...] = R.rng(generator).geometric(p, self._data.shape)
        return self

    def log_normal_(self, mean=1.0, std=2.0, *, generator=None):
        self._check_inplace("log_normal_")
        self._data[...] = R.rng(generator).lognormal(mean, std, self._data.shape)
        return self

    def cauchy_(self, median=0.0, sigma=1.0, *, generator=None):
        self._check_inplace("cauchy_")
        self._data[...] = median + sigma * R.rng(generator).standard_cauchy(self._data.shape)
        return self

    def random_(self, from_=0, to=None, *, generator=None):
        """Integers uniform on [from_, to - 1] (one argument: [0, from_ - 1]); with none, on
        [0, 2**mantissa] for floats or the dtype's range for integers, as torch."""
        self._check_inplace("random_")
        dt = self._data.dtype
        if to is None and from_ == 0:
            if is_floating(dt):
                hi = 2 ** (np.finfo(dt).nmant + 1) + 1
            elif dt.kind == "b":
                hi = 2
            else:
                hi = int(np.iinfo(dt).max) + 1
            lo = 0
        elif to is None:
            lo, hi = 0, int(from_)
        else:
            lo, hi = int(from_), int(to)
        if not isinstance(lo, numbers.Integral) or hi <= lo:
            raise RuntimeError("random_ expects 'from' to be less than 'to', but got from=%s "
                               ">= to=%s" % (lo, hi))
        self._data[...] = R.rng(generator).integers(lo, hi, self._data.shape)
        return self


def bernoulli(input, p=None, *, generator=None):
    if not isinstance(input, TensorBase):
        raise TypeError("bernoulli: input must be a Tensor, got %s" % type(input).__name__)
    return input.bernoulli(p, generator=generator)


def normal(mean=0.0, std=1.0, size=None, *, generator=None, dtype=None):
    """torch.normal: tensors of means/stds (broadcast), or numbers with a size."""
    m, s = raw(mean), raw(std)
    if np.any(np.asarray(s) < 0):
        raise RuntimeError("normal expects all elements of std >= 0.0")
    if size is None:
        if not (isinstance(mean, TensorBase) or isinstance(std, TensorBase)):
            raise TypeError("normal: give size=... when mean and std are numbers")
        shape = np.broadcast_shapes(np.shape(m), np.shape(s))
        like = mean if isinstance(mean, TensorBase) else std
        dt = like._data.dtype if is_floating(like._data.dtype) else np.dtype(np.float32)
    else:
        shape = tuple(size)
        dt = np.dtype(dtype) if dtype is not None else np.dtype(np.float32)
    return wrap(R.rng(generator).normal(m, s, shape).astype(dt))


def poisson(input, generator=None):
    lam = raw(input)
    if np.any(lam < 0):
        raise RuntimeError("poisson: rates must be >= 0")
    return wrap(R.rng(generator).poisson(lam).astype(lam.dtype))


def randint_like(input, low=0, high=None, *, dtype=None):
    if high is None:
        low, high = 0, low
    dt = np.dtype(dtype) if dtype is not None else input._data.dtype
    return wrap(R.rng().integers(low, high, input._data.shape).astype(dt))
