"""Lowerings of the data-movement ops: views (Reshape, Transpose, Slice, Expand, View,
Identity: no step at all), and Concat, Pad, Tile, Gather, Cast as strided copies and small
kernels (any element size)."""
import numpy as np

from . import executor as X
from .lower_common import numel
from .lowering import broadcast_strides, contiguous_strides, merge_dims
from .views import reshape_strides

__all__ = ["LOWER"]


# ---- views: no step ----------------------------------------------------------------------------
def _reshape(L, node):
    x, y = node.inputs[0], node.outputs[0]
    r = L.ref(x)
    st = reshape_strides(r.shape, r.strides, y.shape)
    if st is None:
        r = L.contiguous(x)
        st = contiguous_strides(y.shape)
    L.alias(y, r.with_view(0, y.shape, st))
    return True


def _transpose(L, node):
    r = L.ref(node.inputs[0])
    perm = node.attrs["perm"]
    L.alias(node.outputs[0], r.with_view(0, tuple(r.shape[p] for p in perm),
                                         tuple(r.strides[p] for p in perm)))
    return True


def _slice(L, node):
    r = L.ref(node.inputs[0])
    at = node.attrs
    off = sum(a * s for a, s in zip(at["starts"], r.strides))
    st = tuple(s * c for s, c in zip(r.strides, at["steps"]))
    L.alias(node.outputs[0], r.with_view(off, node.outputs[0].shape, st))
    return True


def _expand(L, node):
    r = L.ref(node.inputs[0])
    y = node.outputs[0]
    L.alias(y, r.with_view(0, y.shape, broadcast_strides(r, y.shape)))
    return True


def _identity(L, node):
    L.alias(node.outputs[0], L.ref(node.inputs[0]))
    return True


def _view(L, node):
    r = L.contiguous(node.inputs[0])
    at = node.attrs
    L.alias(node.outputs[0], r.with_view(at["offset"], at["shape"], at["strides"]))
    return True


# ---- data movement --------------------------------------------------------------------------------
def _concat(L, node):
    y = node.outputs[0]
    ax = node.attrs["axis"]
    yr = L.refs.get(id(y)) or L.output(y)
    pos = 0
    for v in node.inputs:
        n = v.shape[ax]
        if n:
            dst = yr.with_view(pos * yr.strides[ax], v.shape, yr.strides)
            src = L.ref(v)
            if not (src.buf is dst.buf and src.offset == dst.offset and src.contiguous):
                L.copy(src, dst, label="Concat")
        pos += n
    return True


def _pad(L, node):
    x, y = node.inputs[0], node.outputs[0]
    if y.dtype.itemsize not in (4, 8):
        return False
    pads = node.attrs["pads"]
    yr = L.output(y)
    L.step(X.FILL, [yr], [y.numel(), y.dtype.itemsize], [node.attrs["value"]], outputs=[0],
           label="Pad")
    xr = L.ref(x)
    off_x = sum(max(-b, 0) * s for (b, _), s in zip(pads, xr.strides))
    shape = tuple(n - max(-b, 0) - max(-e, 0) for n, (b, e) in zip(x.shape, pads))
    if 0 in shape:
        return True
    src = xr.with_view(off_x, shape, xr.strides)
    dst = yr.with_view(sum(max(b, 0) * s for (b, _), s in zip(pads, yr.strides)), shape,
                       yr.strides)
    L.copy(src, dst, label="Pad")
    return True


def _tile(L, node):
    x, y = node.inputs[0], node.outputs[0]
    reps = node.attrs["repeats"]
    xr = L.ref(x)
    nd = len(reps)
    xs = (1,) * (nd - len(x.shape)) + tuple(x.shape)
    xst = (0,) * (nd - len(x.shape)) + tuple(xr.strides)
    shape, src = [], []
    for r, n, s in zip(reps, xs, xst):
        shape += [r, n]
        src += [0, s]
    dst = contiguous_strides(tuple(shape))
    shape2, (src2, dst2) = merge_dims(tuple(shape), [tuple(src), dst])
    if len(shape2) > X.MAX_DIMS:
        return False
    yr = L.output(y)
    L.copy(xr.with_view(0, shape2, src2), yr.with_view(0, shape2, dst2), label="Tile")
    return True


def _gather(L, node):
    data, idx = node.inputs
    y = node.outputs[0]
    if idx.dtype not in (np.dtype(np.int64), np.dtype(np.int32)):
        return False
    ax = node.attrs["axis"]
    dr, ir = L.contiguous(data), L.contiguous(idx)
    inner = numel(data.shape[ax + 1:]) * data.dtype.itemsize
    L.step(X.GATHER, [dr, ir, L.output(y)],
           [numel(data.shape[:ax]), data.shape[ax], inner, idx.numel(), idx.dtype.itemsize],
           outputs=[2], label="Gather")
    return True


def _cast(L, node):
    x, y = node.inputs[0], node.outputs[0]
    # the kernel's 1-byte destination type is bool (v != 0): a uint8 result takes Python
    if x.dtype not in X.TYPE or y.dtype not in X.TYPE or y.dtype == np.dtype(np.uint8):
        return False
    L.step(X.CAST, [L.contiguous(x), L.output(y)], [X.TYPE[x.dtype], X.TYPE[y.dtype], x.numel()],
           outputs=[1], label="Cast")
    return True


LOWER = {"Reshape": _reshape, "Transpose": _transpose, "Slice": _slice, "Expand": _expand,
         "Identity": _identity, "Dropout": _identity, "View": _view, "Concat": _concat,
         "Pad": _pad, "Tile": _tile, "Gather": _gather, "Cast": _cast}
