"""nn.functional's remaining spellings of ops dlcore has: the *_with_indices pooling forms,
the in-place activations selu_/celu_/rrelu_, the deprecated upsample_nearest/upsample_bilinear
(interpolate with torch's fixed modes; bilinear with align_corners=True, as torch's), and pdist
(the upper triangle of the pairwise distance matrix)."""
import numpy as np

from ..tensor_base import wrap
from .activation import celu, selu
from .prelu import rrelu
from .pool import interpolate
from .pool import max_pool2d, adaptive_max_pool2d
from .pool_nd import max_pool1d, max_pool3d, adaptive_max_pool1d, adaptive_max_pool3d

__all__ = ["max_pool1d_with_indices", "max_pool2d_with_indices", "max_pool3d_with_indices",
           "adaptive_max_pool1d_with_indices", "adaptive_max_pool2d_with_indices",
           "adaptive_max_pool3d_with_indices", "selu_", "celu_", "rrelu_", "upsample_nearest",
           "upsample_bilinear", "pdist"]


def _with_indices(pool):
    def f(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
          return_indices=True):
        return pool(input, kernel_size, stride, padding, dilation, ceil_mode, True)
    f.__name__ = pool.__name__ + "_with_indices"
    f.__doc__ = "%s(..., return_indices=True): (output, indices)" % pool.__name__
    return f


def _adaptive_with_indices(pool):
    def f(input, output_size, return_indices=True):
        return pool(input, output_size, True)
    f.__name__ = pool.__name__ + "_with_indices"
    f.__doc__ = "%s(..., return_indices=True): (output, indices)" % pool.__name__
    return f


max_pool1d_with_indices = _with_indices(max_pool1d)
max_pool2d_with_indices = _with_indices(max_pool2d)
max_pool3d_with_indices = _with_indices(max_pool3d)
adaptive_max_pool1d_with_indices = _adaptive_with_indices(adaptive_max_pool1d)
adaptive_max_pool2d_with_indices = _adaptive_with_indices(adaptive_max_pool2d)
adaptive_max_pool3d_with_indices = _adaptive_with_indices(adaptive_max_pool3d)


def selu_(input):
    return selu(input, inplace=True)


def celu_(input, alpha=1.0):
    return celu(input, alpha, inplace=True)


def rrelu_(input, lower=1.0 / 8, upper=1.0 / 3, training=False):
    return rrelu(input, lower, upper, training, inplace=True)


def upsample_nearest(input, size=None, scale_factor=None):
    return interpolate(input, size, scale_factor, mode="nearest")


def upsample_bilinear(input, size=None, scale_factor=None):
    return interpolate(input, size, scale_factor, mode="bilinear", align_corners=True)


def pdist(input, p=2.0):
    """Distances between the rows of an (N, M) input, the N(N-1)/2 pairs i < j in row order."""
    if input.ndim != 2:
        raise RuntimeError("pdist only supports 2D tensors, got: %dD" % input.ndim)
    if p < 0:
        raise RuntimeError("pdist only supports non-negative p values")
    n = input.shape[0]
    i, j = np.triu_indices(n, 1)
    if i.size == 0:
        return (input[wrap(np.zeros(0, np.int64))] * 0).sum(1)
    return (input[wrap(i)] - input[wrap(j)]).norm(p, dim=1)
