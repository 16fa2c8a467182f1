"""Noise transforms for denoising autoencoders (and data augmentation).

Each transform is a callable taking a NumPy array or a Tensor (one sample or a whole batch; the
noise is drawn independently per element) and returning a corrupted copy of the same type, shape
and floating dtype; the input is never modified.  Randomness comes from `generator`
(a dl.Generator or a NumPy Generator) or, by default, the global stream seeded by
dl.manual_seed, so seeded runs are reproducible.

    noisy = Compose([GaussianNoise(0.3, clip=(0, 1)), RandomMask(0.1)])(clean)
"""
import numpy as np

from ..random import rng as _rng
from ..tensor import Tensor

__all__ = ["GaussianNoise", "SaltAndPepper", "RandomMask", "Compose"]


def _unwrap(x, name):
    if isinstance(x, Tensor):
        arr, wrap = x._data, True
    else:
        arr, wrap = np.asarray(x), False
    if arr.dtype.kind != "f":
        arr = arr.astype(np.float32)
    return arr, wrap


def _rewrap(arr, wrap):
    return Tensor._wrap(arr) if wrap else arr


def _check_clip(name, clip):
    if clip is None:
        return None
    lo, hi = clip
    if not lo <= hi:
        raise ValueError("%s: clip must be (low, high) with low <= high, got %r" % (name, clip))
    return float(lo), float(hi)


class GaussianNoise:
    """x + N(mean, std^2) per element, optionally clipped to clip=(low, high)."""

    def __init__(self, std=0.1, mean=0.0, clip=None, generator=None):
        if not np.isfinite(std) or std < 0:
            raise ValueError("GaussianNoise: std must be a finite number >= 0, got %r" % (std,))
        self.std, self.mean = float(std), float(mean)
        self.clip = _check_clip("GaussianNoise", clip)
        self.generator = generator

    def __call__(self, x):
        arr, wrap = _unwrap(x, "GaussianNoise")
        noise = _rng(self.generator).normal(self.mean, self.std, arr.shape)
        out = (arr + noise).astype(arr.dtype, copy=False)
        if self.clip is not None:
            np.clip(out, self.clip[0], self.clip[1], out=out)
        return _rewrap(out, wrap)

    def __repr__(self):
        return "GaussianNoise(std=%g, mean=%g, clip=%r)" % (self.std, self.mean, self.clip)


class SaltAndPepper:
    """Sets a fraction `amount` of the elements to `high` (salt) or `low` (pepper); salt_ratio
    is the share of corrupted elements that become salt."""

    def __init__(self, amount=0.05, salt_ratio=0.5, low=0.0, high=1.0, generator=None):
        if not 0 <= amount <= 1:
            raise ValueError("SaltAndPepper: amount must be in [0, 1], got %r" % (amount,))
        if not 0 <= salt_ratio <= 1:
            raise ValueError("SaltAndPepper: salt_ratio must be in [0, 1], got %r"
                             % (salt_ratio,))
        self.amount, self.salt_ratio = float(amount), float(salt_ratio)
        self.low, self.high = float(low), float(high)
        self.generator = generator

    def __call__(self, x):
        arr, wrap = _unwrap(x, "SaltAndPepper")
        g = _rng(self.generator)
        u = g.random(arr.shape)
        corrupt = u < self.amount
        # reuse u: among corrupted elements u/amount is uniform in [0, 1)
        salt = corrupt & (u < self.amount * self.salt_ratio)
        out = arr.copy()
        out[corrupt] = self.low
        out[salt] = self.high
        return _rewrap(out, wrap)

    def __repr__(self):
        return "SaltAndPepper(amount=%g, salt_ratio=%g, low=%g, high=%g)" % (
            self.amount, self.salt_ratio, self.low, self.high)


class RandomMask:
    """Masking noise: each element is replaced by `value` with probability p (dropout without
    rescaling, as in denoising autoencoders)."""

    def __init__(self, p=0.25, value=0.0, generator=None):
        if not 0 <= p <= 1:
            raise ValueError("RandomMask: p must be in [0, 1], got %r" % (p,))
        self.p, self.value = float(p), float(value)
        self.generator = generator

    def __call__(self, x):
        arr, wrap = _unwrap(x, "RandomMask")
        out = arr.copy()
        out[_rng(self.generator).random(arr.shape) < self.p] = self.value
        return _rewrap(out, wrap)

    def __repr__(self):
        return "RandomMask(p=%g, value=%g)" % (self.p, self.value)


class Compose:
    """Applies transforms in order."""

    def __init__(self, transforms):
        transforms = list(transforms)
        for i, t in enumerate(transforms):
            if not callable(t):
                raise TypeError("Compose: transform %d is not callable (got %s)"
                                % (i, type(t).__name__))
        self.transforms = transforms

    def __call__(self, x):
        for t in self.transforms:
            x = t(x)
        return x

    def __repr__(self):
        return "Compose([%s])" % ", ".join(repr(t) for t in self.transforms)
