"""fractional_max_pool2d / 3d (torch's F names, arguments and pseudo-random window starts).

Per (sample, channel) and per spatial dim, one number u in [0, 1) (drawn from the global
stream, or given as _random_samples, shape (N, C, n), its last dim ordered (W, H) in 2-D and
(D, H, W) in 3-D, as torch's) places the windows: with a = (in - k) / (out - 1), window i starts at
int((i + u) a) - int(u a) (computed in the input's dtype, as torch), the last at in - k.
Each output is the max of its window (the first maximum's flat index returned), gathered and
reduced with differentiable ops, so the gradient comes from autograd.
"""
import numpy as np

from .. import random as R
from ..tensor_base import TensorBase, wrap
from .conv import _pair

__all__ = ["fractional_max_pool2d", "fractional_max_pool2d_with_indices",
           "fractional_max_pool3d", "fractional_max_pool3d_with_indices"]


def _starts(u, size, out, k, dt):
    """(N, C, out) window starts for the samples u (N, C)."""
    seq = np.empty(u.shape + (out,), dtype=np.int64)
    if out > 1:
        alpha = dt.type(size - k) / dt.type(out - 1)
        i = np.arange(out - 1, dtype=dt)
        seq[..., :-1] = ((i + u[..., None].astype(dt)) * alpha).astype(np.int64) \
            - (u[..., None].astype(dt) * alpha).astype(np.int64)
    seq[..., -1] = size - k
    return seq


def _fractional(fname, n, input, kernel_size, output_size, output_ratio, return_indices,
                _random_samples):
    if not isinstance(input, TensorBase) or input.dtype.kind != "f":
        raise TypeError("%s: input must be a floating Tensor" % fname)
    if input.ndim not in (n + 1, n + 2):
        raise ValueError("%s: expected %d-D or %d-D input, got shape %s"
                         % (fname, n + 1, n + 2, tuple(input.shape)))
    unbatched = input.ndim == n + 1
    x = input.unsqueeze(0) if unbatched else input
    N, C = x.shape[:2]
    sizes = tuple(x.shape[2:])
    k = _pair(kernel_size, "kernel_size", fname, n)
    if output_size is None and output_ratio is None:
        raise ValueError("%s requires specifying either an output_size or an output_ratio"
                         % fname)
    if output_size is None:
        ratio = tuple(output_ratio) if isinstance(output_ratio, (tuple, list)) \
            else (output_ratio,) * n
        if len(ratio) != n or not all(0 < float(r) < 1 for r in ratio):
            raise ValueError("%s: output_ratio must be %d numbers in (0, 1), got %r"
                             % (fname, n, output_ratio))
        out = tuple(int(s * float(r)) for s, r in zip(sizes, ratio))
    else:
        out = _pair(output_size, "output_size", fname, n)
    for d in range(n):
        if out[d] < 1 or out[d] + k[d] - 1 > sizes[d]:
            raise ValueError("%s: output size %d with pool size %d is not possible for input "
                             "size %d (dim %d)" % (fname, out[d], k[d], sizes[d], d))
    dt = x.dtype
    if _random_samples is None:
        u = R.rng().random((N, C, n)).astype(dt)
    else:
        u = np.asarray(_random_samples._data if isinstance(_random_samples, TensorBase)
                       else _random_samples)
        if u.ndim != 3 or u.shape[1:] != (C, n) or u.shape[0] < N:
            raise ValueError("%s: _random_samples must have shape %s, got %s"
                             % (fname, (N, C, n), u.shape))
        u = u[:N]  # torch reads the first N (an unbatched input may get more)
    # torch's sample order: (W, H) in 2-D, (D, H, W) in 3-D
    order = [1, 0] if n == 2 else [0, 1, 2]
    starts = [_starts(u[..., order[d]], sizes[d], out[d], k[d], np.dtype(dt))
              for d in range(n)]
    # flat input index of every (output position, window offset), per (N, C)
    strides = [int(np.prod(sizes[d + 1:])) for d in range(n)]
    flat = np.zeros((N, C) + out + k, dtype=np.int64)
    for d in range(n):
        shape = [N, C] + [1] * (2 * n)
        shape[2 + d] = out[d]
        pos = starts[d].reshape(shape)
        shape_k = [1, 1] + [1] * (2 * n)
        shape_k[2 + n + d] = k[d]
        flat = flat + (pos + np.arange(k[d]).reshape(shape_k)) * strides[d]
    window = int(np.prod(k))
    flat = flat.reshape(N, C, -1)
    vals = x.reshape(N, C, -1).gather(2, wrap(flat)).reshape((N, C) + out + (window,))
    y, arg = vals.max(dim=-1)
    idx = np.take_along_axis(flat.reshape((N, C) + out + (window,)),
                             arg._data[..., None], -1)[..., 0]
    if unbatched:
        y, idx = y.squeeze(0), idx[0]
    return (y, wrap(idx)) if return_indices else y


def fractional_max_pool2d(input, kernel_size, output_size=None, output_ratio=None,
                          return_indices=False, _random_samples=None):
    return _fractional("fractional_max_pool2d", 2, input, kernel_size, output_size,
                       output_ratio, return_indices, _random_samples)


def fractional_max_pool3d(input, kernel_size, output_size=None, output_ratio=None,
                          return_indices=False, _random_samples=None):
    return _fractional("fractional_max_pool3d", 3, input, kernel_size, output_size,
                       output_ratio, return_indices, _random_samples)


def fractional_max_pool2d_with_indices(input, kernel_size, output_size=None, output_ratio=None,
                                       return_indices=False, _random_samples=None):
    return fractional_max_pool2d(input, kernel_size, output_size, output_ratio, True,
                                 _random_samples)


def fractional_max_pool3d_with_indices(input, kernel_size, output_size=None, output_ratio=None,
                                       return_indices=False, _random_samples=None):
    return fractional_max_pool3d(input, kernel_size, output_size, output_ratio, True,
                                 _random_samples)
