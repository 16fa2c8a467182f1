"""max_unpool1d / max_unpool3d on the 2-D unpooling kernel (dlcore.ops.pool.max_unpool2d).

The indices max_pool1d/3d return are flat positions in each (sample, channel) output plane,
so the 1-D and 3-D cases are the 2-D kernel on a one-row plane of the flattened size: the
same values placed at the same flat positions, the same gradient gathered back.
"""
import numpy as np

from ..tensor_base import TensorBase, wrap
from .conv import _pair
from .pool import max_unpool2d

__all__ = ["max_unpool1d", "max_unpool3d"]


def _output_size(fname, spatial, k, s, p, output_size):
    """torch's _unpool_output_size: the default size, or output_size (n or n + 2 numbers)
    when each entry is within one stride of the default."""
    n = len(spatial)
    default = [(spatial[i] - 1) * s[i] - 2 * p[i] + k[i] for i in range(n)]
    if output_size is None:
        out = default
    else:
        out = [int(v) for v in tuple(output_size)]
        if len(out) == n + 2:
            out = out[2:]
        if len(out) != n:
            raise ValueError("%s: output_size should be a sequence containing %d or %d elements,"
                             " but it has a length of '%d'" % (fname, n, n + 2, len(out)))
        for i in range(n):
            if not default[i] - s[i] < out[i] < default[i] + s[i]:
                raise ValueError("%s: invalid output_size %s (dim %d must be between %d and %d)"
                                 % (fname, tuple(out), i, default[i] - s[i] + 1,
                                    default[i] + s[i] - 1))
    if min(out) < 1:
        raise ValueError("%s: output size %s must be positive" % (fname, tuple(out)))
    return tuple(out)


def _unpool(fname, n, input, indices, kernel_size, stride, padding, output_size):
    if not isinstance(input, TensorBase):
        raise TypeError("%s: input must be a Tensor, got %s" % (fname, type(input).__name__))
    if input.ndim not in (n + 1, n + 2):
        raise ValueError("%s: input must be %d-D or %d-D (unbatched), got shape %s"
                         % (fname, n + 2, n + 1, tuple(input.shape)))
    idx = indices._data if isinstance(indices, TensorBase) else np.asarray(indices)
    if idx.shape != tuple(input.shape):
        raise ValueError("%s: indices shape %s must match input shape %s"
                         % (fname, idx.shape, tuple(input.shape)))
    unbatched = input.ndim == n + 1
    x = input.unsqueeze(0) if unbatched else input
    idx = idx[None] if unbatched else idx
    k = _pair(kernel_size, "kernel_size", fname, n)
    s = k if stride is None else _pair(stride, "stride", fname, n)
    p = _pair(padding, "padding", fname, n)
    out = _output_size(fname, tuple(x.shape[2:]), k, s, p, output_size)
    N, C = x.shape[:2]
    plane = int(np.prod(out))
    y = max_unpool2d(x.reshape(N, C, 1, -1), wrap(idx.reshape(N, C, 1, -1)), 1, 1, 0,
                     (1, plane))
    y = y.reshape((N, C) + out)
    return y.squeeze(0) if unbatched else y


def max_unpool1d(input, indices, kernel_size, stride=None, padding=0, output_size=None):
    """The partial inverse of max_pool1d: values back at their argmax positions, zeros
    elsewhere; output length (L-1)*stride - 2*padding + kernel_size unless output_size."""
    return _unpool("max_unpool1d", 1, input, indices, kernel_size, stride, padding, output_size)


def max_unpool3d(input, indices, kernel_size, stride=None, padding=0, output_size=None):
    """The partial inverse of max_pool3d (flat indices into each D*H*W output volume)."""
    return _unpool("max_unpool3d", 3, input, indices, kernel_size, stride, padding, output_size)
