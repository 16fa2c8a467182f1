"""ONNX Resize as separable per-axis resampling, for every mode and coordinate transform:
each resized axis becomes a Gather of the source positions it reads (its taps) and, unless the
mode is nearest, a weighted sum of them (Mul, ReduceSum).  Indices and weights depend on sizes
only, so they are computed here once, in float64, following the operator's definition:

    x_original = transform(x_resized)  (half_pixel, half_pixel_symmetric, pytorch_half_pixel,
                                         align_corners, asymmetric, tf_crop_and_resize)
    nearest: one tap, rounded by nearest_mode; linear: 2 taps; cubic: 4 taps (coefficient A);
    antialias (linear/cubic while shrinking): the kernel stretched by 1 / scale

with positions past the edges clamped (or excluded and the weights renormalized, with
exclude_outside), and tf_crop_and_resize positions outside the input set to
extrapolation_value.  The 4-D cases PyTorch exports go to dlcore's Resize kernel instead
(ops_norm.py)."""
import math

import numpy as np

__all__ = ["axis_taps"]


def _original(x, s, n_in, n_out, length, coord, roi):
    if coord == "half_pixel":
        return (x + 0.5) / s - 0.5
    if coord == "half_pixel_symmetric":
        adj = n_out / (s * n_in)
        center = n_in / 2.0
        return center * (1 - adj) + (x + 0.5) / s - 0.5
    if coord == "pytorch_half_pixel":
        return (x + 0.5) / s - 0.5 if n_out > 1 else np.zeros_like(x)
    if coord == "align_corners":
        return np.zeros_like(x) if length == 1 else x * (n_in - 1) / (length - 1)
    if coord == "asymmetric":
        return x / s
    if coord == "tf_crop_and_resize":
        start, end = roi
        if n_out > 1:
            return start * (n_in - 1) + x * (end - start) * (n_in - 1) / (n_out - 1)
        return np.full_like(x, 0.5 * (start + end) * (n_in - 1))
    raise ValueError("coordinate_transformation_mode %r is not one ONNX defines" % coord)


def _nearest(xo, mode):
    if mode == "round_prefer_floor":
        return np.where(xo - np.floor(xo) == 0.5, np.floor(xo), np.round(xo))
    if mode == "round_prefer_ceil":
        return np.where(xo - np.floor(xo) == 0.5, np.ceil(xo), np.round(xo))
    if mode == "floor":
        return np.floor(xo)
    if mode == "ceil":
        return np.ceil(xo)
    raise ValueError("nearest_mode %r is not one ONNX defines" % mode)


def _cubic(d, a):
    d = np.abs(d)
    return np.where(d <= 1, ((a + 2) * d - (a + 3)) * d * d + 1,
                    np.where(d < 2, ((a * d - 5 * a) * d + 8 * a) * d - 4 * a, 0.0))


def axis_taps(n_in, n_out, scale, length, mode, coord, nearest_mode="round_prefer_floor",
              cubic_a=-0.75, exclude_outside=0, antialias=0, roi=(0.0, 1.0)):
    """(indices (n_out, taps) int64, weights (n_out, taps) float64 or None for nearest,
    outside (n_out,) bool or None) of one resized axis."""
    x = np.arange(n_out, dtype=np.float64)
    xo = _original(x, scale, n_in, n_out, length, coord, roi)
    outside = None
    if coord == "tf_crop_and_resize":
        outside = (xo < 0) | (xo > n_in - 1)
    if mode == "nearest":
        idx = np.clip(_nearest(xo, nearest_mode), 0, n_in - 1).astype(np.int64)
        return idx[:, None], None, outside
    if mode not in ("linear", "cubic"):
        raise ValueError("mode %r is not nearest, linear or cubic" % mode)
    stretch = 1.0 / scale if antialias and scale < 1 else 1.0
    radius = (1 if mode == "linear" else 2) * stretch
    base = np.floor(xo)
    lo = int(math.floor(-radius)) + 1 if stretch > 1 else (0 if mode == "linear" else -1)
    hi = int(math.ceil(radius)) if stretch > 1 else (1 if mode == "linear" else 2)
    offs = np.arange(lo, hi + 1)
    taps = base[:, None] + offs[None, :]
    d = (taps - xo[:, None]) / stretch
    if mode == "linear":
        w = np.maximum(1 - np.abs(d), 0.0)
    else:
        w = _cubic(d, cubic_a)
    inside = (taps >= 0) & (taps <= n_in - 1)
    if exclude_outside or stretch > 1:
        w = np.where(inside, w, 0.0) if exclude_outside else w
        total = w.sum(axis=1, keepdims=True)
        w = w / np.where(total == 0, 1, total)
    idx = np.clip(taps, 0, n_in - 1).astype(np.int64)
    return idx, w, outside
