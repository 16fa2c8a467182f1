"""grid_sample's coordinate rules, shared by the 2-D and 3-D samplers: normalised grid values
to pixel coordinates (align_corners), and the border / reflection padding of a coordinate with
its derivative (PyTorch's unnormalize, clip_coordinates and reflect_coordinates).
"""
import numpy as np


def reflect(c, lo2, hi2):
    """PyTorch's reflect_coordinates over [lo2/2, hi2/2]; returns (coord, d coord / d c)."""
    if lo2 == hi2:
        return np.zeros_like(c), np.zeros_like(c)
    mn = lo2 / 2.0
    span = (hi2 - lo2) / 2.0
    rel = c - mn
    sign = np.where(rel < 0, -1.0, 1.0)
    a = np.abs(rel)
    flips = np.floor(a / span)
    extra = np.fmod(a, span)
    even = (flips % 2) == 0
    out = np.where(even, extra + mn, span - extra + mn)
    return out, sign * np.where(even, 1.0, -1.0)


def source_coords(g, size, align, padding_mode):
    """Pixel coordinates from normalised ones and their derivative w.r.t. the grid value."""
    if align:
        c = (g + 1) / 2 * (size - 1)
        scale = (size - 1) / 2.0
    else:
        c = ((g + 1) * size - 1) / 2
        scale = size / 2.0
    d = np.full(c.shape, scale)
    if padding_mode == "border" or padding_mode == "reflection":
        if padding_mode == "reflection":
            if align:
                c, dr = reflect(c, 0.0, 2.0 * (size - 1))
            else:
                c, dr = reflect(c, -1.0, 2.0 * size - 1)
            d = d * dr
        inside = (c > 0) & (c < size - 1)
        d = np.where(inside, d, 0.0)
        c = np.clip(c, 0, size - 1)
    return c, d
