"""Dropout: inverted dropout with a mask drawn from the global (seeded) stream."""
import numpy as np

from .. import random as R
from ..autograd import Function
from .inplace import in_place


class Dropout(Function):
    def forward(self, x, p=0.5, channel_dims=0):
        # channel_dims > 0 drops whole feature maps: the mask covers the first dims only
        shape = x.shape if not channel_dims else x.shape[:channel_dims] + (1,) * (x.ndim - channel_dims)
        keep = R.rng().random(shape) >= p
        scale = x.dtype.type(1.0 / (1.0 - p))
        mask = keep.astype(x.dtype) * scale
        if self.requires_grad:
            self.mask = mask
        return x * mask

    def backward(self, g):
        return g * self.mask


def _check_p(p, fname):
    if not 0.0 <= p <= 1.0:
        raise ValueError("%s: p must be in [0, 1], got %r" % (fname, p))


def dropout(input, p=0.5, training=True, inplace=False):
    _check_p(p, "dropout")
    if not training or p == 0.0:
        return input
    if inplace:
        return in_place("dropout", input, lambda x: dropout(x, p, training))
    if p == 1.0:
        return input * 0.0
    return Dropout.apply(input, p=p)


def dropout2d(input, p=0.5, training=True, inplace=False):
    _check_p(p, "dropout2d")
    if input.ndim not in (3, 4):
        raise ValueError("dropout2d: input must be 3-D (C, H, W) or 4-D (N, C, H, W), got "
                         "shape %s" % (tuple(input.shape),))
    if not training or p == 0.0:
        return input
    if inplace:
        return in_place("dropout2d", input, lambda x: dropout2d(x, p, training))
    if p == 1.0:
        return input * 0.0
    return Dropout.apply(input, p=p, channel_dims=input.ndim - 2)
