"""LPPool1d/2d/3d, LocalResponseNorm and CrossMapLRN2d (torch's arguments and reprs)."""
import numpy as np

from ...ops.lp_pool import local_response_norm, lp_pool1d, lp_pool2d, lp_pool3d
from ...tensor_base import wrap
from .module import Module

__all__ = ["LPPool1d", "LPPool2d", "LPPool3d", "LocalResponseNorm", "CrossMapLRN2d"]


class _LPPool(Module):
    _fn = staticmethod(lp_pool2d)

    def __init__(self, norm_type, kernel_size, stride=None, ceil_mode=False):
        super().__init__()
        self.norm_type, self.kernel_size = norm_type, kernel_size
        self.stride, self.ceil_mode = stride, ceil_mode

    def forward(self, input):
        return self._fn(input, float(self.norm_type), self.kernel_size, self.stride,
                        self.ceil_mode)

    def extra_repr(self):
        return "norm_type=%s, kernel_size=%s, stride=%s, ceil_mode=%s" % (
            self.norm_type, self.kernel_size, self.stride, self.ceil_mode)


class LPPool1d(_LPPool):
    _fn = staticmethod(lp_pool1d)


class LPPool2d(_LPPool):
    pass


class LPPool3d(_LPPool):
    _fn = staticmethod(lp_pool3d)


class LocalResponseNorm(Module):
    def __init__(self, size, alpha=1e-4, beta=0.75, k=1.0):
        super().__init__()
        self.size, self.alpha, self.beta, self.k = size, alpha, beta, k

    def forward(self, input):
        return local_response_norm(input, self.size, self.alpha, self.beta, self.k)

    def extra_repr(self):
        return "%s, alpha=%s, beta=%s, k=%s" % (self.size, self.alpha, self.beta, self.k)


class CrossMapLRN2d(LocalResponseNorm):
    """torch's legacy cross-channel LRN on 4-D input.  torch sums its channel window with a
    running sum that never subtracts channel 0, so channel c's window is channel 0 plus
    max(1, c - h + 1) .. min(C - 1, c + h - 1), h = (size - 1) // 2 + 1; kept as torch
    computes it, so models ported from torch give the same outputs."""

    def __init__(self, size, alpha=1e-4, beta=0.75, k=1):
        super().__init__(size, alpha, beta, k)

    def forward(self, input):
        if input.ndim != 4:
            raise ValueError("CrossMapLRN2d: Expected input to be 4D, got %dD instead."
                             % input.ndim)
        C = input.shape[1]
        h = int((self.size - 1) / 2 + 1)
        band = np.zeros((C, C), dtype=input.dtype)
        for c in range(C):
            band[c, 0] = 1
            band[c, max(1, c - h + 1):min(c + h - 1, C - 1) + 1] = 1
        sq = (input * input).transpose(1, 3)               # (N, W, H, C)
        scale = (sq @ wrap(band.T)).transpose(1, 3)
        return input * (scale * (self.alpha / self.size) + self.k).pow(-self.beta)
