"""Pooling layers (PyTorch's names and arguments)."""
from ...ops import pool as P
from ...ops.conv import _pair
from ...ops.max_unpool_nd import max_unpool1d, max_unpool3d
from .module import Module
from .pooling_base import _AdaptiveAvgPool, _AdaptiveMaxPool, _AvgPool, _MaxPool

__all__ = ["MaxPool2d", "AvgPool2d", "AdaptiveAvgPool2d", "AdaptiveMaxPool2d", "MaxUnpool2d",
           "MaxUnpool1d", "MaxUnpool3d"]


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


class _MaxUnpoolNd(MaxUnpool2d):
    """MaxUnpool1d / MaxUnpool3d: sizes kept as tuples, as torch's _single / _triple."""
    _n = 1
    _fn = staticmethod(max_unpool1d)

    def __init__(self, kernel_size, stride=None, padding=0):
        Module.__init__(self)
        name, n = type(self).__name__, self._n
        self.kernel_size = _pair(kernel_size, "kernel_size", name, n)
        self.stride = _pair(stride if stride is not None else kernel_size, "stride", name, n)
        self.padding = _pair(padding, "padding", name, n)

    def forward(self, x, indices, output_size=None):
        return self._fn(x, indices, self.kernel_size, self.stride, self.padding, output_size)


class MaxUnpool1d(_MaxUnpoolNd):
    pass


class MaxUnpool3d(_MaxUnpoolNd):
    _n = 3
    _fn = staticmethod(max_unpool3d)


from .pooling_nd import *  # noqa: E402,F401,F403  (torch.nn.modules.pooling holds them too)
