"""affine_grid and grid_sample (spatial transformer networks) for 4-D inputs.

affine_grid is a matmul of the fixed normalised base grid with theta (autograd supplies the
gradient).  grid_sample is one Function in NumPy: bilinear or nearest sampling with zeros,
border or reflection padding, gradients for the input (scatter-add of the weights) and, for
bilinear, the grid.  Coordinates follow PyTorch: -1 and 1 are the centres of the corner pixels
with align_corners=True and their outer edges with align_corners=False; border and reflection
give a zero coordinate gradient where they clip, as PyTorch's kernels do.
"""
import numpy as np

from ..autograd import Function
from ..tensor_base import TensorBase, wrap
from .matmul import matmul
from ..dtypes import is_floating
from .autocast import float32_policy

__all__ = ["affine_grid", "grid_sample"]


def _linspace(n, align_corners, dtype):
    if n <= 1:
        return np.zeros(max(n, 0), dtype=dtype)
    v = np.linspace(-1.0, 1.0, n)
    if not align_corners:
        v = v * (n - 1) / n
    return v.astype(dtype)


def affine_grid(theta, size, align_corners=None):
    """theta (N, 2, 3) with size (N, C, H, W) -> grid (N, H, W, 2); theta (N, 3, 4) with size
    (N, C, D, H, W) -> (N, D, H, W, 3)."""
    align = bool(align_corners) if align_corners is not None else False
    if not isinstance(theta, TensorBase) or not is_floating(theta.dtype):
        raise TypeError("affine_grid: theta must be a float Tensor, got %r" % (theta,))
    size = tuple(int(s) for s in size)
    if len(size) == 4:
        if tuple(theta.shape[1:]) != (2, 3) or theta.ndim != 3 or theta.shape[0] != size[0]:
            raise ValueError("affine_grid: for a 4-D size %s theta must have shape (%d, 2, 3), "
                             "got %s" % (size, size[0], tuple(theta.shape)))
        N, _, H, W = size
        ys, xs = np.meshgrid(_linspace(H, align, theta.dtype), _linspace(W, align, theta.dtype),
                             indexing="ij")
        base = np.stack([xs, ys, np.ones_like(xs)], axis=-1).reshape(1, H * W, 3)
        out_shape = (N, H, W, 2)
    elif len(size) == 5:
        if tuple(theta.shape[1:]) != (3, 4) or theta.ndim != 3 or theta.shape[0] != size[0]:
            raise ValueError("affine_grid: for a 5-D size %s theta must have shape (%d, 3, 4), "
                             "got %s" % (size, size[0], tuple(theta.shape)))
        N, _, D, H, W = size
        zs, ys, xs = np.meshgrid(_linspace(D, align, theta.dtype),
                                 _linspace(H, align, theta.dtype),
                                 _linspace(W, align, theta.dtype), indexing="ij")
        base = np.stack([xs, ys, zs, np.ones_like(xs)], axis=-1).reshape(1, D * H * W, 4)
        out_shape = (N, D, H, W, 3)
    else:
        raise ValueError("affine_grid: size must be 4-D (N, C, H, W) or 5-D, got %s" % (size,))
    if min(size[2:]) < 1:
        raise ValueError("affine_grid: spatial sizes must be positive, got %s" % (size,))
    grid = matmul(wrap(np.ascontiguousarray(base)), theta.transpose(1, 2))
    return grid.reshape(*out_shape)


def _reflect(c, lo2, hi2):
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


def _source_coords(g, size, align, padding_mode):
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
                c, dr = _reflect(c, 0.0, 2.0 * (size - 1))
            else:
                c, dr = _reflect(c, -1.0, 2.0 * size - 1)
            d = d * dr
        inside = (c > 0) & (c < size - 1)
        d = np.where(inside, d, 0.0)
        c = np.clip(c, 0, size - 1)
    return c, d


class GridSample2d(Function):
    def forward(self, x, grid, mode="bilinear", padding_mode="zeros", align_corners=False):
        N, C, H, W = x.shape
        ix, dix = _source_coords(grid[..., 0].astype(np.float64), W, align_corners, padding_mode)
        iy, diy = _source_coords(grid[..., 1].astype(np.float64), H, align_corners, padding_mode)
        xl = np.ascontiguousarray(x.transpose(0, 2, 3, 1))  # (N, H, W, C)
        n = np.arange(N).reshape(N, 1, 1)
        if mode == "nearest":
            taps = [(np.rint(iy).astype(np.int64), np.rint(ix).astype(np.int64), None)]
        else:
            x0 = np.floor(ix).astype(np.int64)
            y0 = np.floor(iy).astype(np.int64)
            wx1, wy1 = ix - x0, iy - y0
            wx0, wy0 = 1 - wx1, 1 - wy1
            taps = [(y0, x0, wy0 * wx0), (y0, x0 + 1, wy0 * wx1),
                    (y0 + 1, x0, wy1 * wx0), (y0 + 1, x0 + 1, wy1 * wx1)]
        out = np.zeros((N,) + grid.shape[1:3] + (C,), dtype=np.float64)
        vals = []
        for yy, xx, w in taps:
            ok = (yy >= 0) & (yy < H) & (xx >= 0) & (xx < W)
            v = xl[n, np.clip(yy, 0, H - 1), np.clip(xx, 0, W - 1)] * ok[..., None]
            vals.append(v)
            out += v if w is None else v * w[..., None]
        if self.requires_grad:
            self.saved = (x.shape, x.dtype, grid.dtype, taps, vals, n, mode,
                          (ix, iy, dix, diy))
        return np.ascontiguousarray(out.transpose(0, 3, 1, 2)).astype(x.dtype)

    def backward(self, g):
        shape, xdt, gdt, taps, vals, n, mode, (ix, iy, dix, diy) = self.saved
        N, C, H, W = shape
        gl = np.asarray(g, dtype=np.float64).transpose(0, 2, 3, 1)  # (N, Ho, Wo, C)
        gx = ggrid = None
        if self.needs_input_grad[0]:
            acc = np.zeros((N, H, W, C), dtype=np.float64)
            nn_ = np.broadcast_to(n, taps[0][0].shape)
            for yy, xx, w in taps:
                ok = (yy >= 0) & (yy < H) & (xx >= 0) & (xx < W)
                contrib = gl if w is None else gl * w[..., None]
                np.add.at(acc, (nn_[ok], yy[ok], xx[ok]), contrib[ok])
            gx = np.ascontiguousarray(acc.transpose(0, 3, 1, 2)).astype(xdt)
        if self.needs_input_grad[1]:
            ggrid = np.zeros(ix.shape + (2,), dtype=np.float64)
            if mode == "bilinear":
                v00, v01, v10, v11 = vals
                wx1 = ix - np.floor(ix)
                wy1 = iy - np.floor(iy)
                dvx = ((v01 - v00) * (1 - wy1)[..., None] + (v11 - v10) * wy1[..., None])
                dvy = ((v10 - v00) * (1 - wx1)[..., None] + (v11 - v01) * wx1[..., None])
                ggrid[..., 0] = (gl * dvx).sum(-1) * dix
                ggrid[..., 1] = (gl * dvy).sum(-1) * diy
            ggrid = ggrid.astype(gdt)
        return gx, ggrid


@float32_policy
def grid_sample(input, grid, mode="bilinear", padding_mode="zeros", align_corners=None):
    """Samples input (N, C, H, W) at grid (N, Ho, Wo, 2) (x, y in [-1, 1]) -> (N, C, Ho, Wo)."""
    for name, t in (("input", input), ("grid", grid)):
        if not isinstance(t, TensorBase) or not is_floating(t.dtype):
            raise TypeError("grid_sample: %s must be a float Tensor, got %r" % (name, t))
    if mode not in ("bilinear", "nearest"):
        raise ValueError("grid_sample: mode must be 'bilinear' or 'nearest' (bicubic is not "
                         "implemented), got %r" % (mode,))
    if padding_mode not in ("zeros", "border", "reflection"):
        raise ValueError("grid_sample: padding_mode must be 'zeros', 'border' or 'reflection', "
                         "got %r" % (padding_mode,))
    if input.ndim != 4:
        raise ValueError("grid_sample: input must be 4-D (N, C, H, W) (5-D volumes are not "
                         "implemented), got shape %s" % (tuple(input.shape),))
    if grid.ndim != 4 or grid.shape[-1] != 2 or grid.shape[0] != input.shape[0]:
        raise ValueError("grid_sample: grid must have shape (N=%d, H_out, W_out, 2), got %s"
                         % (input.shape[0], tuple(grid.shape)))
    if input.dtype != grid.dtype:
        raise TypeError("grid_sample: input (%s) and grid (%s) must share a dtype"
                        % (input.dtype, grid.dtype))
    if min(input.shape[2:]) < 1:
        raise ValueError("grid_sample: input of shape %s has an empty spatial dim"
                         % (tuple(input.shape),))
    return GridSample2d.apply(input, grid, mode=mode, padding_mode=padding_mode,
                              align_corners=bool(align_corners))
