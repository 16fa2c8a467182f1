"""Pooling layers (PyTorch's names and arguments)."""
from ...ops import pool as P
from .module import Module
from .pooling_base import _AdaptiveAvgPool, _AdaptiveMaxPool, _AvgPool, _MaxPool

__all__ = ["MaxPool2d", "AvgPool2d", "AdaptiveAvgPool2d", "AdaptiveMaxPool2d", "MaxUnpool2d"]


class MaxPool2d(_MaxPool):
    _fn = staticmethod(P.max_pool2d)


class AvgPool2d(_AvgPool):
    _fn = staticmethod(P.avg_pool2d)


class AdaptiveAvgPool2d(_AdaptiveAvgPool):
    _fn = staticmethod(P.adaptive_avg_pool2d)


class AdaptiveMaxPool2d(_AdaptiveMaxPool):
    _fn = staticmethod(P.adaptive_max_pool2d)


class MaxUnpool2d(Module):
    def __init__(self, kernel_size, stride=None, padding=0):
        super().__init__()
        self.kernel_size, self.stride = kernel_size, stride if stride is not None else kernel_size
        self.padding = padding

    def forward(self, x, indices, output_size=None):
        return P.max_unpool2d(x, indices, self.kernel_size, self.stride, self.padding,
                              output_size)

    def extra_repr(self):
        return "kernel_size=%s, stride=%s, padding=%s" % (self.kernel_size, self.stride,
                                                          self.padding)


from .pooling_nd import *  # noqa: E402,F401,F403  (torch.nn.modules.pooling holds them too)
