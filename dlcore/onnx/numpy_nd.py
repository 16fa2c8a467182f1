"""N-D convolution, transposed convolution and pooling in NumPy, for what dlcore's 2-D kernels
do not cover (3-D inputs, dilated average pooling).  They run as Python steps of a plan
(NumpyOp); the 1-D and 2-D cases never come here.

Windows are strided views of the padded input (sliding_window_view), so a convolution is one
tensordot per group; pooling reduces over the window axes, and average pooling divides by a
count taken from the same windows over a mask of the positions that count."""
import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

__all__ = ["conv_nd", "conv_transpose_nd", "pool_nd", "IMPLS"]


def _windows(xp, eff, strides, dil):
    """(N, C, *out, *kernel) windows of the padded xp."""
    nd = len(eff)
    win = sliding_window_view(xp, eff, axis=tuple(range(2, 2 + nd)))
    sl = (slice(None), slice(None)) + tuple(slice(None, None, s) for s in strides) + \
        tuple(slice(None, None, d) for d in dil)
    return win[sl]


def conv_nd(x, w, b=None, strides=(), dilations=(), begin=(), end=(), group=1):
    nd = x.ndim - 2
    k = w.shape[2:]
    eff = [(k[i] - 1) * dilations[i] + 1 for i in range(nd)]
    xp = np.pad(x, [(0, 0), (0, 0)] + list(zip(begin, end)))
    win = _windows(xp, eff, strides, dilations)
    C, M = x.shape[1], w.shape[0]
    cg, mg = C // group, M // group
    outs = []
    for g in range(group):
        xg = win[:, g * cg:(g + 1) * cg]
        wg = w[g * mg:(g + 1) * mg]
        y = np.tensordot(xg, wg, axes=([1] + list(range(2 + nd, 2 + 2 * nd)),
                                       [1] + list(range(2, 2 + nd))))
        outs.append(np.moveaxis(y, -1, 1))
    y = np.concatenate(outs, axis=1)
    if b is not None:
        y = y + b.reshape((1, -1) + (1,) * nd)
    return y.astype(x.dtype)


def conv_transpose_nd(x, w, b=None, strides=(), dilations=(), begin=(), out_shape=(),
                      group=1):
    """The adjoint of conv_nd: each input position adds its kernel-weighted values at
    i * stride + k * dilation - begin; out_shape is the spatial size of the result."""
    nd = x.ndim - 2
    N, C = x.shape[:2]
    k = w.shape[2:]
    mg = w.shape[1]
    cg = C // group
    full = [(x.shape[2 + i] - 1) * strides[i] + (k[i] - 1) * dilations[i] + 1
            for i in range(nd)]
    size = [max(full[i], begin[i] + out_shape[i]) for i in range(nd)]
    y = np.zeros((N, mg * group) + tuple(size), dtype=np.float64)
    for g in range(group):
        xg = x[:, g * cg:(g + 1) * cg].astype(np.float64)
        wg = w[g * cg:(g + 1) * cg].astype(np.float64)
        for kk in np.ndindex(*k):
            contrib = np.tensordot(xg, wg[(slice(None), slice(None)) + kk], axes=([1], [0]))
            contrib = np.moveaxis(contrib, -1, 1)
            dst = (slice(None), slice(g * mg, (g + 1) * mg)) + tuple(
                slice(kk[i] * dilations[i], kk[i] * dilations[i] +
                      (x.shape[2 + i] - 1) * strides[i] + 1, strides[i]) for i in range(nd))
            y[dst] += contrib
    y = y[(slice(None), slice(None)) + tuple(slice(begin[i], begin[i] + out_shape[i])
                                             for i in range(nd))]
    if b is not None:
        y = y + b.reshape((1, -1) + (1,) * nd)
    return y.astype(x.dtype)


def pool_nd(x, mode="max", kernel=(), strides=(), dilations=(), begin=(), end=(), out=(),
            count_include_pad=0):
    """Max or average pooling to spatial size `out` (ceil-mode windows past the end pads
    read nothing)."""
    nd = x.ndim - 2
    eff = [(kernel[i] - 1) * dilations[i] + 1 for i in range(nd)]
    extra = [max((out[i] - 1) * strides[i] + eff[i] - (x.shape[2 + i] + begin[i] + end[i]), 0)
             for i in range(nd)]
    pads = [(0, 0), (0, 0)] + [(begin[i], end[i] + extra[i]) for i in range(nd)]
    if mode == "max":
        low = -np.inf if x.dtype.kind == "f" else np.iinfo(x.dtype).min
        xp = np.pad(x, pads, constant_values=low)
        win = _windows(xp, eff, strides, dilations)
        r = win.max(axis=tuple(range(2 + nd, 2 + 2 * nd)))
        return r[(slice(None), slice(None)) + tuple(slice(0, o) for o in out)].astype(x.dtype)
    xp = np.pad(x.astype(np.float64), pads)
    sums = _windows(xp, eff, strides, dilations).sum(axis=tuple(range(2 + nd, 2 + 2 * nd)))
    mask = np.zeros((1, 1) + xp.shape[2:])
    inner = tuple(slice(0, x.shape[2 + i] + begin[i] + end[i]) if count_include_pad else
                  slice(begin[i], begin[i] + x.shape[2 + i]) for i in range(nd))
    mask[(0, 0) + inner] = 1.0
    counts = _windows(mask, eff, strides, dilations).sum(axis=tuple(range(2 + nd, 2 + 2 * nd)))
    r = sums / np.maximum(counts, 1)
    return r[(slice(None), slice(None)) + tuple(slice(0, o) for o in out)].astype(x.dtype)


def max_pool_indices(x, kernel=(), strides=(), dilations=(), begin=(), end=(), out=(),
                     storage_order=0):
    """ONNX MaxPool's two outputs: the maxima and, for each, the flat index of the input
    element it came from: (n * C + c) * prod(spatial) + the spatial offset, row-major
    (storage_order 0) or column-major (1).  Ties go to the first element in window order."""
    nd = x.ndim - 2
    eff = [(kernel[i] - 1) * dilations[i] + 1 for i in range(nd)]
    extra = [max((out[i] - 1) * strides[i] + eff[i] - (x.shape[2 + i] + begin[i] + end[i]), 0)
             for i in range(nd)]
    pads = [(0, 0), (0, 0)] + [(begin[i], end[i] + extra[i]) for i in range(nd)]
    low = -np.inf if x.dtype.kind == "f" else np.iinfo(x.dtype).min
    spatial = x.shape[2:]
    S = int(np.prod(spatial, dtype=np.int64))
    flat = np.arange(S, dtype=np.int64).reshape(spatial, order="F" if storage_order else "C")
    lead = (np.arange(x.shape[0] * x.shape[1], dtype=np.int64) * S).reshape(x.shape[:2] +
                                                                           (1,) * nd)
    idx = np.pad(lead + flat, pads, constant_values=-1)
    xp = np.pad(x, pads, constant_values=low)
    keep = (slice(None), slice(None)) + tuple(slice(0, o) for o in out)
    wx = _windows(xp, eff, strides, dilations)[keep]
    wi = _windows(idx, eff, strides, dilations)[keep]
    shape = wx.shape[:2 + nd] + (-1,)
    wx, wi = wx.reshape(shape), wi.reshape(shape)
    # padding never wins: it is -inf (or the type's minimum, where a real value ties first)
    arg = np.argmax(np.where(wi >= 0, wx, low), axis=-1)[..., None]
    vals = np.take_along_axis(wx, arg, axis=-1)[..., 0].astype(x.dtype)
    return vals, np.take_along_axis(wi, arg, axis=-1)[..., 0]


IMPLS = {"ConvND": conv_nd, "ConvTransposeND": conv_transpose_nd, "PoolND": pool_nd,
         "MaxPoolIndices": max_pool_indices}
