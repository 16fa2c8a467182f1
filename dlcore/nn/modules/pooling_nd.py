"""1-D and 3-D pooling layers (dlcore.ops.pool_nd, on the 2-D pooling kernels)."""
from ...ops import pool_nd as P
from .module import Module
from .pooling_base import _AvgPool, _MaxPool

__all__ = ["MaxPool1d", "AvgPool1d", "AdaptiveAvgPool1d", "AdaptiveMaxPool1d", "MaxPool3d",
           "AvgPool3d", "AdaptiveAvgPool3d", "AdaptiveMaxPool3d"]


class MaxPool1d(_MaxPool):
    _fn = staticmethod(P.max_pool1d)


class MaxPool3d(_MaxPool):
    _fn = staticmethod(P.max_pool3d)


class AvgPool1d(_AvgPool):
    _fn = staticmethod(P.avg_pool1d)

    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode=False,
                 count_include_pad=True):
        super().__init__(kernel_size, stride, padding, ceil_mode, count_include_pad)


class AvgPool3d(_AvgPool):
    _fn = staticmethod(P.avg_pool3d)


class AdaptiveAvgPool1d(Module):
    def __init__(self, output_size):
        super().__init__()
        self.output_size = output_size

    def forward(self, x):
        return P.adaptive_avg_pool1d(x, self.output_size)

    def extra_repr(self):
        return "output_size=%s" % (self.output_size,)


class AdaptiveAvgPool3d(AdaptiveAvgPool1d):
    def forward(self, x):
        return P.adaptive_avg_pool3d(x, self.output_size)


class AdaptiveMaxPool1d(Module):
    def __init__(self, output_size, return_indices=False):
        super().__init__()
        self.output_size, self.return_indices = output_size, return_indices

    def forward(self, x):
        return P.adaptive_max_pool1d(x, self.output_size, self.return_indices)

    def extra_repr(self):
        return "output_size=%s" % (self.output_size,)


class AdaptiveMaxPool3d(AdaptiveMaxPool1d):
    def forward(self, x):
        return P.adaptive_max_pool3d(x, self.output_size, self.return_indices)
