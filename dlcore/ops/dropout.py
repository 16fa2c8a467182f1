"""Dropout: inverted dropout with a mask drawn from the global (seeded) stream."""
import warnings

import numpy as np

from .. import random as R
from ..autograd import Function
from ..tensor_base import wrap
from .inplace_option import in_place


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

    def backward_graph(self, g):
        return g * wrap(self.mask)


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


def _feature_dropout(input, p, training):
    """Whole (sample, channel) feature maps dropped: the mask covers dims 0 and 1."""
    if not training or p == 0.0:
        return input
    if p == 1.0:
        return input * 0.0
    return Dropout.apply(input, p=p, channel_dims=2)


def dropout1d(input, p=0.5, training=True, inplace=False):
    _check_p(p, "dropout1d")
    if inplace and training and p > 0.0:
        return in_place("dropout1d", input, lambda x: dropout1d(x, p, training))
    if input.ndim not in (2, 3):
        raise ValueError("dropout1d: input must be 2-D (C, L) or 3-D (N, C, L), got shape %s"
                         % (tuple(input.shape),))
    if input.ndim == 2:
        return _feature_dropout(input.unsqueeze(0), p, training).squeeze(0)
    return _feature_dropout(input, p, training)


def _channel_dropout(fname, n, input, p, training, inplace, again):
    """dropout2d (n = 2) and dropout3d (n = 3): channels of an (N, C, *n spatial) input, or of
    an unbatched (C, *n spatial) one, dropped whole; other ranks warn as PyTorch's do.  A 3-D
    input to dropout2d is read as (N, C, L), PyTorch's legacy reading, with its warning.
    `again` is the public function, re-run on the copy that in-place dropout writes back."""
    _check_p(p, fname)
    if inplace and training and p > 0.0:
        return in_place(fname, input, lambda x: again(x, p, training))
    if input.ndim < 2:
        raise ValueError("%s: input must have at least 2 dims, got shape %s"
                         % (fname, tuple(input.shape)))
    if input.ndim not in (n + 1, n + 2):
        warnings.warn("%s: Received a %d-D input to %s, which is deprecated (in PyTorch too); "
                      "use dropout instead. %s drops channels of %d-D or %d-D inputs."
                      % (fname, input.ndim, fname, fname, n + 1, n + 2), stacklevel=3)
    if input.ndim == n + 1 and n == 2:
        warnings.warn("dropout2d: Received a 3D input to dropout2d and assuming that "
                      "channel-wise 1D dropout behavior is desired - input is interpreted as "
                      "shape (N, C, L), where C is the channel dim (PyTorch's behaviour); use "
                      "dropout1d for that, or add the batch dim to a (C, H, W) input.",
                      stacklevel=3)
    elif input.ndim == n + 1:
        return _feature_dropout(input.unsqueeze(0), p, training).squeeze(0)
    return _feature_dropout(input, p, training)


def dropout2d(input, p=0.5, training=True, inplace=False):
    """PyTorch's dropout2d, including its legacy reading of a 3-D input as (N, C, L)
    (channel-wise 1-D dropout, with PyTorch's warning) rather than an unbatched (C, H, W)."""
    return _channel_dropout("dropout2d", 2, input, p, training, inplace, dropout2d)


def dropout3d(input, p=0.5, training=True, inplace=False):
    return _channel_dropout("dropout3d", 3, input, p, training, inplace, dropout3d)
