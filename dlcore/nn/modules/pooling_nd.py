"""1-D and 3-D pooling layers (dlcore.ops.pool_nd, on the 2-D pooling kernels)."""
from ...ops import pool_nd as P
from .pooling_base import _AdaptiveAvgPool, _AdaptiveMaxPool, _AvgPool, _MaxPool

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


class AdaptiveAvgPool1d(_AdaptiveAvgPool):
    _fn = staticmethod(P.adaptive_avg_pool1d)


class AdaptiveAvgPool3d(_AdaptiveAvgPool):
    _fn = staticmethod(P.adaptive_avg_pool3d)


class AdaptiveMaxPool1d(_AdaptiveMaxPool):
    _fn = staticmethod(P.adaptive_max_pool1d)


class AdaptiveMaxPool3d(_AdaptiveMaxPool):
    _fn = staticmethod(P.adaptive_max_pool3d)
