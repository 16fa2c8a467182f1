"""grid_sample on volumes: input (N, C, D, H, W) sampled at grid (N, Do, Ho, Wo, 3).

The grid's last axis holds (x, y, z), normalised to [-1, 1] over (W, H, D) as in the 2-D case
(dlcore.ops.grid_sample, whose coordinate rules and padding modes this reuses).  Modes are
torch's for 5-D inputs: 'bilinear' (trilinear: the 8 corners of the cell around each point)
and 'nearest' (round half to even, as torch's nearbyint).  The input's gradient scatter-adds
each corner's weight; the grid's gradient, for trilinear only (nearest is piecewise constant),
is each corner's value times the derivative of its weight, chained through the padding's
coordinate derivative (zero where border or reflection clip, as torch's kernels give).
"""
import itertools

import numpy as np

from ..autograd import Function
from .grid_coords import source_coords


def _taps(coords, sizes, mode):
    """(index tuple (z, y, x), weight or None, per-axis (offset sign) tuple) for each tap."""
    if mode == "nearest":
        return [(tuple(np.rint(c).astype(np.int64) for c in coords), None, None)]
    lows = [np.floor(c) for c in coords]
    fracs = [c - lo for c, lo in zip(coords, lows)]
    lows = [lo.astype(np.int64) for lo in lows]
    taps = []
    for corner in itertools.product((0, 1), repeat=3):
        idx = tuple(lo + k for lo, k in zip(lows, corner))
        w = 1.0
        for f, k in zip(fracs, corner):
            w = w * (f if k else 1 - f)
        taps.append((idx, w, corner))
    return taps


class GridSample3d(Function):
    def forward(self, x, grid, mode="bilinear", padding_mode="zeros", align_corners=False):
        N, C, D, H, W = x.shape
        sizes = (D, H, W)
        coords, dcoords = [], []
        for axis, size in zip((2, 1, 0), sizes):  # grid's z, y, x against D, H, W
            c, d = source_coords(grid[..., axis].astype(np.float64), size, align_corners,
                                  padding_mode)
            coords.append(c)
            dcoords.append(d)
        xl = np.ascontiguousarray(x.transpose(0, 2, 3, 4, 1))  # (N, D, H, W, C)
        n = np.arange(N).reshape(N, 1, 1, 1)
        taps = _taps(coords, sizes, mode)
        out = np.zeros((N,) + grid.shape[1:4] + (C,), dtype=np.float64)
        vals = []
        for idx, w, _ in taps:
            ok = np.ones(idx[0].shape, dtype=bool)
            for i, size in zip(idx, sizes):
                ok &= (i >= 0) & (i < size)
            safe = tuple(np.clip(i, 0, size - 1) for i, size in zip(idx, sizes))
            v = xl[(n,) + safe] * ok[..., None]
            vals.append(v)
            out += v if w is None else v * w[..., None]
        if self.requires_grad:
            self.saved = (x.shape, x.dtype, grid.dtype, taps, vals, n, mode, coords, dcoords)
        return np.ascontiguousarray(out.transpose(0, 4, 1, 2, 3)).astype(x.dtype)

    def backward(self, g):
        shape, xdt, gdt, taps, vals, n, mode, coords, dcoords = self.saved
        N, C, D, H, W = shape
        sizes = (D, H, W)
        gl = np.asarray(g, dtype=np.float64).transpose(0, 2, 3, 4, 1)  # (N, Do, Ho, Wo, C)
        gx = ggrid = None
        if self.needs_input_grad[0]:
            acc = np.zeros((N, D, H, W, C), dtype=np.float64)
            nn_ = np.broadcast_to(n, taps[0][0][0].shape)
            for idx, w, _ in taps:
                ok = np.ones(idx[0].shape, dtype=bool)
                for i, size in zip(idx, sizes):
                    ok &= (i >= 0) & (i < size)
                contrib = gl if w is None else gl * w[..., None]
                np.add.at(acc, (nn_[ok],) + tuple(i[ok] for i in idx), contrib[ok])
            gx = np.ascontiguousarray(acc.transpose(0, 4, 1, 2, 3)).astype(xdt)
        if self.needs_input_grad[1]:
            ggrid = np.zeros(coords[0].shape + (3,), dtype=np.float64)
            if mode == "bilinear":
                fracs = [c - np.floor(c) for c in coords]
                for (_, _, corner), v in zip(taps, vals):
                    gv = (gl * v).sum(-1)
                    for a in range(3):  # d weight / d coordinate a: +-1 times the other two
                        dw = 1.0 if corner[a] else -1.0
                        for b in range(3):
                            if b != a:
                                dw = dw * (fracs[b] if corner[b] else 1 - fracs[b])
                        ggrid[..., 2 - a] += gv * dw * dcoords[a]
            ggrid = ggrid.astype(gdt)
        return gx, ggrid
