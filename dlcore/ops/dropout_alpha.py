"""alpha_dropout and feature_alpha_dropout: dropout for SELU networks (torch's formula).

Dropped units are set to SELU's negative saturation -alpha' (alpha' = scale * alpha), then an
affine map a * x + b restores zero mean and unit variance for unit-normal inputs:
    a = 1 / sqrt((alpha'^2 p + 1)(1 - p)),   b = a alpha' p
so kept units become a x + a alpha' p and dropped ones a alpha' (p - 1).  Made of Tensor ops
on a constant mask, so the gradient (a where kept, 0 where dropped) comes from autograd.
"""
import math

import numpy as np

from .. import random as R
from ..tensor_base import wrap
from .dropout import _check_p
from .inplace_option import in_place

__all__ = ["alpha_dropout", "feature_alpha_dropout"]

_ALPHA = 1.7580993408473766   # SELU's scale * alpha


def _alpha(fname, input, p, training, inplace, feature, again):
    _check_p(p, fname)
    if not training or p == 0.0:
        return input
    if inplace:
        return in_place(fname, input, lambda x: again(x, p, training))
    if p == 1.0:
        return input * 0.0
    if feature:
        if input.ndim < 2:
            raise ValueError("%s: input must have at least 2 dims (N, C, ...), got shape %s"
                             % (fname, tuple(input.shape)))
        shape = tuple(input.shape[:2]) + (1,) * (input.ndim - 2)
    else:
        shape = tuple(input.shape)
    keep = (R.rng().random(shape) >= p)
    a = 1.0 / math.sqrt((_ALPHA * _ALPHA * p + 1) * (1 - p))
    dt = input.dtype
    scale = (keep * a).astype(dt)
    shift = ((keep.astype(np.float64) - 1.0) * _ALPHA * a + _ALPHA * a * p).astype(dt)
    return input * wrap(scale) + wrap(shift)


def alpha_dropout(input, p=0.5, training=False, inplace=False):
    return _alpha("alpha_dropout", input, p, training, inplace, False, alpha_dropout)


def feature_alpha_dropout(input, p=0.5, training=False, inplace=False):
    """alpha_dropout of whole (sample, channel) feature maps."""
    return _alpha("feature_alpha_dropout", input, p, training, inplace, True,
                  feature_alpha_dropout)
