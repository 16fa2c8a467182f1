"""affine_grid and grid_sample (spatial transformer networks); 5-D volumes: grid_sample3d.py.

affine_grid is a matmul of the fixed normalised base grid with theta (autograd supplies the
gradient).  grid_sample is one Function in NumPy: bilinear, nearest or bicubic sampling with zeros,
border or reflection padding, gradients for the input (scatter-add of the weights) and, for
bilinear and bicubic, the grid.  Coordinates follow PyTorch: -1 and 1 are the centres of the corner pixels
with align_corners=True and their outer edges with align_corners=False; border and reflection
give a zero coordinate gradient where they clip, as PyTorch's kernels do.
"""
import numpy as np

from ..autograd import Function
from ..tensor_base import TensorBase, wrap
from .matmul import matmul
from ..dtypes import is_floating
from .autocast import float32_policy
from .grid_coords import reflect, source_coords
from .grid_sample3d import GridSample3d

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


_CUBIC_A = -0.75  # the cubic convolution kernel's parameter torch uses (as in upsampling)


def _cubic_weights(t):
    """The 4 tap weights at offsets -1, 0, 1, 2 for fractional position t, and d/dt of each.
    Kernel k(x) = (A+2)|x|^3 - (A+3)|x|^2 + 1 for |x| <= 1, A|x|^3 - 5A|x|^2 + 8A|x| - 4A for
    1 < |x| < 2; the taps sit at distances t+1, t, 1-t, 2-t."""
    A = _CUBIC_A

    def near(x):
        return ((A + 2) * x - (A + 3)) * x * x + 1, (3 * (A + 2) * x - 2 * (A + 3)) * x

    def far(x):
        return ((A * x - 5 * A) * x + 8 * A) * x - 4 * A, (3 * A * x - 10 * A) * x + 8 * A

    (w0, d0), (w1, d1), (w2, d2), (w3, d3) = far(t + 1), near(t), near(1 - t), far(2 - t)
    return [w0, w1, w2, w3], [d0, d1, -d2, -d3]


def _tap_index(c, size, align, padding_mode):
    """Integer tap positions c mapped by the padding mode (out of range stays out for zeros)."""
    if padding_mode == "reflection":
        c = reflect(c, 0.0, 2.0 * (size - 1))[0] if align else \
            reflect(c, -1.0, 2.0 * size - 1)[0]
    if padding_mode != "zeros":
        c = np.clip(c, 0, size - 1)
    return c.astype(np.int64)


def _bicubic_taps(grid, H, W, align, padding_mode):
    """16 (row, col, weight) taps around each sample point (torch's bicubic grid_sample: the
    point is only unnormalised; each tap is padded on its own), and what backward needs."""
    sx = (W - 1) / 2.0 if align else W / 2.0
    sy = (H - 1) / 2.0 if align else H / 2.0
    gx = grid[..., 0].astype(np.float64)
    gy = grid[..., 1].astype(np.float64)
    ix = (gx + 1) * sx if align else ((gx + 1) * W - 1) / 2
    iy = (gy + 1) * sy if align else ((gy + 1) * H - 1) / 2
    x0, y0 = np.floor(ix), np.floor(iy)
    wx, dwx = _cubic_weights(ix - x0)
    wy, dwy = _cubic_weights(iy - y0)
    taps = []
    for j in range(4):
        yy = _tap_index(y0 - 1 + j, H, align, padding_mode)
        for i in range(4):
            xx = _tap_index(x0 - 1 + i, W, align, padding_mode)
            taps.append((yy, xx, wy[j] * wx[i]))
    return taps, (wx, wy, dwx, dwy, sx, sy)


class GridSample2d(Function):
    def forward(self, x, grid, mode="bilinear", padding_mode="zeros", align_corners=False):
        N, C, H, W = x.shape
        ix, dix = source_coords(grid[..., 0].astype(np.float64), W, align_corners, padding_mode)
        iy, diy = source_coords(grid[..., 1].astype(np.float64), H, align_corners, padding_mode)
        xl = np.ascontiguousarray(x.transpose(0, 2, 3, 1))  # (N, H, W, C)
        n = np.arange(N).reshape(N, 1, 1)
        cubic = None
        if mode == "bicubic":
            taps, cubic = _bicubic_taps(grid, H, W, align_corners, padding_mode)
        elif mode == "nearest":
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
                          (ix, iy, dix, diy), cubic)
        return np.ascontiguousarray(out.transpose(0, 3, 1, 2)).astype(x.dtype)

    def backward(self, g):
        shape, xdt, gdt, taps, vals, n, mode, (ix, iy, dix, diy), cubic = self.saved
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
            elif mode == "bicubic":
                wx, wy, dwx, dwy, sx, sy = cubic
                for k, v in enumerate(vals):
                    j, i = divmod(k, 4)
                    gv = (gl * v).sum(-1)
                    ggrid[..., 0] += gv * wy[j] * dwx[i] * sx
                    ggrid[..., 1] += gv * dwy[j] * wx[i] * sy
            ggrid = ggrid.astype(gdt)
        return gx, ggrid


@float32_policy
def grid_sample(input, grid, mode="bilinear", padding_mode="zeros", align_corners=None):
    """Samples input (N, C, H, W) at grid (N, Ho, Wo, 2) (x, y in [-1, 1]) -> (N, C, Ho, Wo);
    a volume (N, C, D, H, W) at grid (N, Do, Ho, Wo, 3) (x, y, z) -> (N, C, Do, Ho, Wo)."""
    for name, t in (("input", input), ("grid", grid)):
        if not isinstance(t, TensorBase) or not is_floating(t.dtype):
            raise TypeError("grid_sample: %s must be a float Tensor, got %r" % (name, t))
    if mode not in ("bilinear", "nearest", "bicubic"):
        raise ValueError("grid_sample: mode must be 'bilinear', 'nearest' or 'bicubic', got %r"
                         % (mode,))
    if padding_mode not in ("zeros", "border", "reflection"):
        raise ValueError("grid_sample: padding_mode must be 'zeros', 'border' or 'reflection', "
                         "got %r" % (padding_mode,))
    if input.ndim not in (4, 5):
        raise ValueError("grid_sample: input must be 4-D (N, C, H, W) or 5-D (N, C, D, H, W), "
                         "got shape %s" % (tuple(input.shape),))
    k = input.ndim - 2
    if grid.ndim != input.ndim or grid.shape[-1] != k or grid.shape[0] != input.shape[0]:
        raise ValueError("grid_sample: for a %d-D input grid must have shape (N=%d, %s, %d), got %s"
                         % (input.ndim, input.shape[0],
                            "H_out, W_out" if k == 2 else "D_out, H_out, W_out", k,
                            tuple(grid.shape)))
    if k == 3 and mode == "bicubic":
        raise ValueError("grid_sample: bicubic interpolation only supports 4-D input")
    if input.dtype != grid.dtype:
        raise TypeError("grid_sample: input (%s) and grid (%s) must share a dtype"
                        % (input.dtype, grid.dtype))
    if min(input.shape[2:]) < 1:
        raise ValueError("grid_sample: input of shape %s has an empty spatial dim"
                         % (tuple(input.shape),))
    sampler = GridSample2d if k == 2 else GridSample3d
    return sampler.apply(input, grid, mode=mode, padding_mode=padding_mode,
                         align_corners=bool(align_corners))
