"""F.interpolate's resampling rules for every mode and 1-3 spatial dims, as separable matrices.

Each of torch's modes resamples one spatial axis at a time (nearest, nearest-exact, linear,
bicubic pick or weigh input positions per output position; area is adaptive average pooling,
whose box also splits per axis), so resampling is a product of one small (out, in) matrix per
axis, and the gradient the transposed product.  pool.py keeps its C kernels for the common 4-D
nearest/bilinear case; this module serves the other modes and ranks.  The index rules follow
ATen's UpSample.h (source-index formulas, clamping, cubic coefficients with A = -0.75).
"""
import math

import numpy as np

from ..autograd import Function

# spatial rank each mode accepts (None: any of 1-3)
MODE_RANK = {"nearest": None, "nearest-exact": None, "area": None, "linear": 1, "bilinear": 2,
             "bicubic": 2, "trilinear": 3}
ALIGNABLE = ("linear", "bilinear", "bicubic", "trilinear")


def _ratio(n_in, n_out, align, scale, as_float32):
    """The step between source positions (ATen's area_pixel_compute_scale)."""
    if align:
        return (n_in - 1) / (n_out - 1) if n_out > 1 else 0.0
    r = 1.0 / scale if scale is not None and scale > 0 else n_in / n_out
    return float(np.float32(r)) if as_float32 else r


def _nearest(n_in, n_out, scale, exact):
    m = np.zeros((n_out, n_in))
    if n_out == n_in:
        src = np.arange(n_out)
    elif n_out == 2 * n_in and not exact:
        src = np.arange(n_out) >> 1
    else:
        # ATen computes nearest indices in float32
        r = np.float32(_ratio(n_in, n_out, False, scale, True))
        if exact:  # (dst + 0.5) * scale in double, then rounded to float
            pos = ((np.arange(n_out) + 0.5) * np.float64(r)).astype(np.float32)
        else:
            pos = np.arange(n_out, dtype=np.float32) * r
        src = np.minimum(np.floor(pos).astype(np.int64), n_in - 1)
    m[np.arange(n_out), src] = 1.0
    return m


def _linear(n_in, n_out, align, scale):
    m = np.zeros((n_out, n_in))
    r = _ratio(n_in, n_out, align, scale, False)
    for j in range(n_out):
        src = r * j if align else max(r * (j + 0.5) - 0.5, 0.0)
        i0 = min(int(math.floor(src)), n_in - 1)
        i1 = i0 + (1 if i0 < n_in - 1 else 0)
        lam = min(max(src - i0, 0.0), 1.0)
        m[j, i0] += 1.0 - lam
        m[j, i1] += lam
    return m


def _cubic_weights(t, a=-0.75):
    def near(x):  # |x| <= 1
        return ((a + 2) * x - (a + 3)) * x * x + 1

    def far(x):  # 1 < |x| < 2
        return ((a * x - 5 * a) * x + 8 * a) * x - 4 * a
    return (far(t + 1), near(t), near(1 - t), far(2 - t))


def _cubic(n_in, n_out, align, scale):
    m = np.zeros((n_out, n_in))
    r = _ratio(n_in, n_out, align, scale, False)
    for j in range(n_out):
        src = r * j if align else r * (j + 0.5) - 0.5
        i = int(math.floor(src))
        for k, w in enumerate(_cubic_weights(src - i)):
            m[j, min(max(i - 1 + k, 0), n_in - 1)] += w
    return m


def _area(n_in, n_out):
    m = np.zeros((n_out, n_in))
    for j in range(n_out):
        lo = (j * n_in) // n_out
        hi = -((-(j + 1) * n_in) // n_out)
        m[j, lo:hi] = 1.0 / (hi - lo)
    return m


def axis_matrix(mode, n_in, n_out, align, scale):
    """The (n_out, n_in) matrix that resamples one axis."""
    if mode in ("nearest", "nearest-exact"):
        return _nearest(n_in, n_out, scale, mode == "nearest-exact")
    if mode == "area":
        return _area(n_in, n_out)
    if mode == "bicubic":
        return _cubic(n_in, n_out, align, scale)
    return _linear(n_in, n_out, align, scale)


def _along(x, m, axis):
    """x with its `axis` replaced by m @ (that axis)."""
    moved = np.moveaxis(x, axis, -1)
    return np.moveaxis(moved @ m.T.astype(x.dtype, copy=False), -1, axis)


class SeparableResample(Function):
    """y = x resampled by one matrix per spatial axis (axes 2, 3, ...)."""

    def forward(self, x, mats=None):
        self.mats = mats
        y = x
        for i, m in enumerate(mats):
            y = _along(y, m, 2 + i)
        return np.ascontiguousarray(y)

    def backward(self, g):
        for i, m in enumerate(self.mats):
            g = _along(g, m.T, 2 + i)
        return np.ascontiguousarray(g)


def output_size(fname, spatial, size, scale_factor):
    """torch's output size and per-axis scales (None where the size was given)."""
    n = len(spatial)
    if (size is None) == (scale_factor is None):
        raise ValueError("%s: give exactly one of size and scale_factor" % fname)
    if size is not None:
        out = _per_axis(fname, "size", size, n)
        if not all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in out):
            raise TypeError("%s: size must be ints, got %r" % (fname, size))
        return tuple(int(v) for v in out), (None,) * n
    sf = _per_axis(fname, "scale_factor", scale_factor, n)
    if not all(isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool)
               and v > 0 for v in sf):
        raise ValueError("%s: scale_factor must be positive numbers, got %r"
                         % (fname, scale_factor))
    sf = tuple(float(v) for v in sf)
    return tuple(int(math.floor(spatial[i] * sf[i])) for i in range(n)), sf


def _per_axis(fname, what, value, n):
    if isinstance(value, (tuple, list)):
        if len(value) != n:
            raise ValueError("%s: %s must have %d elements for an input with %d spatial "
                             "dims, got %r" % (fname, what, n, n, value))
        return tuple(value)
    return (value,) * n
