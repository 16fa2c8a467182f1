"""Pooling layers (PyTorch's names and arguments)."""
from ...ops import pool as P
from .module import Module
from .pooling_base import _AvgPool, _MaxPool

__all__ = ["MaxPool2d", "AvgPool2d", "AdaptiveAvgPool2d", "AdaptiveMaxPool2d", "MaxUnpool2d"]


class MaxPool2d(_MaxPool):
    _fn = staticmethod(P.max_pool2d)


class AvgPool2d(_AvgPool):
    _fn = staticmethod(P.avg_pool2d)


class AdaptiveAvgPool2d(Module):
    def __init__(self, output_size):
        super().__init__()
        self.output_size = output_size

    def forward(self, x):
        return P.adaptive_avg_pool2d(x, self.output_size)

    def extra_repr(self):
        return "output_size=%s" % (self.output_size,)


class AdaptiveMaxPool2d(Module):
    def __init__(self, output_size, return_indices=False):
        super().__init__()
        self.output_size, self.return_indices = output_size, return_indices

    def forward(self, x):
        return P.adaptive_max_pool2d(x, self.output_size, self.return_indices)

    def extra_repr(self):
        return "output_size=%s" % (self.output_size,)


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
