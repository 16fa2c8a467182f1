"""Normalization and the other layer ONNX ops: BatchNormalization, InstanceNormalization,
LayerNormalization (with its Mean / InvStdDev outputs), GroupNormalization, RMSNormalization,
Softmax, LogSoftmax, Hardmax, Dropout, Identity, LRN, Resize/Upsample."""
import math

import numpy as np

from .builder import broadcast_shapes
from .ops_math import via_float
from .registry import converter
from .resize import axis_taps

__all__ = []


# ---- normalization ---------------------------------------------------------------------------------
@converter("BatchNormalization")
def batchnorm(b, node):
    x = node.need_input(0, "X")
    scale, bias, mean, var = (node.need_input(i, n) for i, n in
                              ((1, "scale"), (2, "B"), (3, "mean"), (4, "var")))
    if node.attr("training_mode", 0):
        raise node.unsupported("training_mode=1 (batch statistics) is not supported: dlcore "
                               "imports models for inference")
    if node.opset < 9 and not node.attr("spatial", 1):
        raise node.unsupported("spatial=0 (per-activation statistics) is not supported")
    if any(node.used[1:]):
        raise node.unsupported("the running-statistics outputs are training outputs")
    if x.ndim < 2:
        raise node.error("X must be (N, C, ...), got shape %s" % (x.shape,))
    C = x.shape[1]
    for v, n in ((scale, "scale"), (bias, "B"), (mean, "mean"), (var, "var")):
        if v.numel() != C:
            raise node.error("%s must have C=%d entries, got shape %s" % (n, C, v.shape))
    eps = node.attr("epsilon", 1e-5)
    ins = [b.reshape(v, (C,)) for v in (scale, bias, mean, var)]
    return [via_float(b, x, lambda v: b.op("BatchNormalization",
                                           [v] + [b.cast(t, v.dtype) for t in ins],
                                           {"epsilon": eps}, v.shape, v.dtype))]


def _layernorm(b, x, axis, eps, scale=None, bias=None, rms=False):
    """LayerNormalization over dims axis..-1 (axis non-negative) with optional affine
    parameters shaped like those dims."""
    n = int(np.prod(x.shape[axis:], dtype=np.int64))
    norm_shape = tuple(x.shape[axis:])

    def full(v):
        if v is None:
            return None
        v = b.cast(v, x.dtype)
        if tuple(v.shape) != norm_shape:
            v = b.expand(b.reshape(v, (1,) * (len(norm_shape) - v.ndim) + tuple(v.shape))
                         if v.ndim < len(norm_shape) else v, norm_shape)
        return b.reshape(v, (n,))
    op = "RMSNormalization" if rms else "LayerNormalization"
    ins = [x, full(scale)] + ([] if rms else [full(bias)])
    return b.op(op, ins, {"axis": axis - x.ndim, "epsilon": float(eps)}, x.shape, x.dtype)


@converter("LayerNormalization", since=17)
def layernorm(b, node):
    x = node.need_input(0, "X")
    axis = node.axis(node.attr("axis", -1), x.ndim)
    scale, bias = node.need_input(1, "Scale"), node.input(2)
    for v, n in ((scale, "Scale"), (bias, "B")):
        if v is not None:
            broadcast_shapes("LayerNormalization %s" % n, v.shape, x.shape[axis:])
    eps = node.attr("epsilon", 1e-5)
    y = via_float(b, x, lambda v: _layernorm(b, v, axis, eps, scale, bias))
    if not any(node.used[1:]):
        return [y]
    # the statistics the training graph keeps: mean and 1/sqrt(var + eps) over axis..-1,
    # in the stash type (float32 unless stash_type says the input's type)
    stash = np.dtype(np.float32) if node.attr("stash_type", 1) == 1 else x.dtype
    xs = b.cast(x, stash)
    axes = tuple(range(axis, x.ndim))
    shape = tuple(s if i < axis else 1 for i, s in enumerate(x.shape))
    mean = b.op("ReduceMean", [xs], {"axes": axes, "keepdims": 1}, shape, stash)
    d = b.binary("Sub", xs, mean)
    var = b.op("ReduceMean", [b.binary("Mul", d, d)], {"axes": axes, "keepdims": 1}, shape,
               stash)
    inv = b.binary("Div", b.scalar(1, stash), b.unary("Sqrt", b.binary(
        "Add", var, b.scalar(eps, stash))))
    return [y, mean, inv]


@converter("RMSNormalization", since=23)
def rmsnorm(b, node):
    x = node.need_input(0, "X")
    axis = node.axis(node.attr("axis", -1), x.ndim)
    scale = node.need_input(1, "scale")
    return [via_float(b, x, lambda v: _layernorm(b, v, axis, node.attr("epsilon", 1e-5),
                                                 scale, rms=True))]


def _channel_affine(b, y, scale, bias, C):
    shape = (C,) + (1,) * (y.ndim - 2)
    if scale is not None:
        y = b.binary("Mul", y, b.reshape(b.cast(scale, y.dtype), shape))
    if bias is not None:
        y = b.binary("Add", y, b.reshape(b.cast(bias, y.dtype), shape))
    return y


@converter("InstanceNormalization")
def instancenorm(b, node):
    x = node.need_input(0, "input")
    scale, bias = node.need_input(1, "scale"), node.need_input(2, "B")
    if x.ndim < 3:
        raise node.error("input must be (N, C, spatial...), got shape %s" % (x.shape,))
    N, C = x.shape[:2]
    S = int(np.prod(x.shape[2:], dtype=np.int64))
    eps = node.attr("epsilon", 1e-5)

    def run(v):
        y = _layernorm(b, b.reshape(v, (N, C, S)), 2, eps)
        return _channel_affine(b, b.reshape(y, v.shape), scale, bias, C)
    return [via_float(b, x, run)]


@converter("GroupNormalization", since=18)
def groupnorm(b, node):
    x = node.need_input(0, "X")
    scale, bias = node.need_input(1, "scale"), node.need_input(2, "bias")
    G = int(node.attr("num_groups"))
    N, C = x.shape[:2]
    if G < 1 or C % G:
        raise node.error("num_groups %d does not divide the %d channels" % (G, C))
    if scale.numel() == G and G != C:
        # opset 18's per-group scale and bias: each group's value for its channels
        idx = b.const(np.repeat(np.arange(G), C // G).astype(np.int64))
        scale, bias = b.gather(b.reshape(scale, (G,)), idx, 0), \
            b.gather(b.reshape(bias, (G,)), idx, 0)
    eps = node.attr("epsilon", 1e-5)

    def run(v):
        y = _layernorm(b, b.reshape(v, (N, G, v.numel() // (N * G))), 2, eps)
        return _channel_affine(b, b.reshape(y, v.shape), scale, bias, C)
    return [via_float(b, x, run)]


# ---- softmax ---------------------------------------------------------------------------------------
def _softmax(b, node, op):
    x = node.need_input(0, "input")
    if node.opset >= 13:
        axis = node.axis(node.attr("axis", -1), x.ndim)
        return via_float(b, x, lambda v: b.op(op, [v], {"axis": axis}, v.shape, v.dtype))
    # before opset 13 the input is read as a matrix (dims before axis) x (the rest)
    axis = node.axis(node.attr("axis", 1), x.ndim)
    rows = int(np.prod(x.shape[:axis], dtype=np.int64))
    flat = b.reshape(x, (rows, x.numel() // max(rows, 1)))
    y = via_float(b, flat, lambda v: b.op(op, [v], {"axis": 1}, v.shape, v.dtype))
    return b.reshape(y, x.shape)


@converter("Softmax", "LogSoftmax")
def softmax(b, node):
    return [_softmax(b, node, node.op)]


@converter("Hardmax")
def hardmax(b, node):
    x = node.need_input(0, "input")
    if node.opset >= 13:
        axis = node.axis(node.attr("axis", -1), x.ndim)
        return [b.numpy1("Hardmax", [x], x.shape, x.dtype, axis=axis)]
    axis = node.axis(node.attr("axis", 1), x.ndim)
    rows = int(np.prod(x.shape[:axis], dtype=np.int64))
    flat = b.reshape(x, (rows, x.numel() // max(rows, 1)))
    return [b.reshape(b.numpy1("Hardmax", [flat], flat.shape, x.dtype, axis=1), x.shape)]


# ---- identity-like ---------------------------------------------------------------------------------
@converter("Dropout")
def dropout(b, node):
    x = node.need_input(0, "data")
    if node.opset >= 12:
        t = node.input(2)
        if t is not None and (not t.is_const or bool(np.asarray(t.data).reshape(-1)[0])):
            raise node.unsupported("training_mode must be a constant false: dlcore imports "
                                   "models for inference")
    elif node.opset < 7 and not node.attr("is_test", 0):
        pass  # opset < 7 flagged training with is_test=0; inference uses identity regardless
    y = b.op("Identity", [x], {}, x.shape, x.dtype)
    mask = None
    if node.n_outputs > 1 and node.used[1]:
        mask = b.const(np.ones(x.shape, np.bool_))
    return [y, mask]


@converter("Identity")
def identity(b, node):
    x = node.need_input(0, "input")
    return [b.op("Identity", [x], {}, x.shape, x.dtype)]


@converter("LRN")
def lrn(b, node):
    x = node.need_input(0, "X")
    return [b.numpy1("LRN", [x], x.shape, x.dtype, size=int(node.attr("size")),
                     alpha=node.attr("alpha", 1e-4), beta=node.attr("beta", 0.75),
                     bias=node.attr("bias", 1.0))]


# ---- resize ----------------------------------------------------------------------------------------
def _geometry(node, x, scales, sizes):
    """Per axis (output size, scale, resized length as the coordinate transform reads it)."""
    nd = x.ndim
    if sizes is not None:
        if len(sizes) != nd:
            raise node.error("sizes %s must have one entry per input dim (%d)" % (sizes, nd))
        out = [int(v) for v in sizes]
        sc = [o / n if n else 1.0 for o, n in zip(out, x.shape)]
        policy = node.attr("keep_aspect_ratio_policy", "stretch")
        if policy in ("not_larger", "not_smaller"):
            # one scale for the resized dims, their sizes rounded from it (half away from 0)
            moved = [i for i in range(nd) if out[i] != x.shape[i]] or list(range(2, nd))
            s1 = (min if policy == "not_larger" else max)(sc[i] for i in moved)
            for i in moved:
                sc[i] = s1
                out[i] = int(math.floor(s1 * x.shape[i] + 0.5))
        elif policy != "stretch":
            raise node.error("keep_aspect_ratio_policy %r is not stretch, not_larger or "
                             "not_smaller" % policy)
        return out, sc, [float(o) for o in out]
    if len(scales) != nd or any(v <= 0 for v in scales):
        raise node.error("scales %s must be %d positive numbers" % (scales, nd))
    out = [int(math.floor(n * v)) for n, v in zip(x.shape, scales)]
    # ONNX's align_corners divides by the unrounded resized length
    return out, list(scales), [n * v for n, v in zip(x.shape, scales)]


def _kernel_resize(b, x, out, sc, length, mode, coord, nearest):
    """dlcore's Resize kernel (4-D, PyTorch's modes), or None when it does not apply."""
    if x.ndim != 4 or out[:2] != list(x.shape[:2]) or x.dtype.kind != "f":
        return None
    H, W = x.shape[2:]
    if mode == "nearest" and coord == "asymmetric" and nearest == "floor":
        steps, align, m = [1.0 / v for v in sc[2:]], 0, "nearest"
    elif mode == "linear" and coord == "align_corners":
        steps = [(n - 1) / (o - 1) if o != 1 else 0.0 for n, o in zip((H, W), length[2:])]
        align, m = 1, "bilinear"
    elif mode == "linear" and coord in ("half_pixel", "pytorch_half_pixel") and \
            (coord == "pytorch_half_pixel" or min(out[2:]) > 1):
        # pytorch_half_pixel samples source 0 for an output of length 1: a step of 1 puts
        # (0 + 0.5) * step - 0.5 there
        steps = [1.0 if o == 1 else 1.0 / v for v, o in zip(sc[2:], out[2:])]
        align, m = 0, "bilinear"
    else:
        return None
    shape = tuple(x.shape[:2]) + tuple(out[2:])
    return via_float(b, x, lambda v: b.op("Resize", [v], {"mode": m, "align_corners": align,
                                                           "steps": tuple(steps)},
                                          shape, v.dtype))


def _separable_resize(b, node, x, out, sc, length, mode, coord, nearest, roi):
    y = x
    for a in range(x.ndim):
        n = x.shape[a]
        if out[a] == n and sc[a] == 1.0 and coord != "tf_crop_and_resize":
            continue
        idx, w, outside = axis_taps(n, out[a], sc[a], length[a], mode, coord, nearest,
                                    node.attr("cubic_coeff_a", -0.75),
                                    node.attr("exclude_outside", 0), node.attr("antialias", 0),
                                    (roi[a], roi[x.ndim + a]) if roi is not None else (0.0, 1.0))
        taps = idx.shape[1]
        y = b.gather(y, b.const(idx.reshape(-1)), a)
        tail = (1,) * (x.ndim - 1 - a)
        if w is not None:
            y = b.reshape(y, y.shape[:a] + (out[a], taps) + y.shape[a + 1:])
            y = b.binary("Mul", y, b.const(w.reshape((out[a], taps) + tail).astype(y.dtype)))
            shape = y.shape[:a + 1] + y.shape[a + 2:]
            y = b.op("ReduceSum", [y], {"axes": (a + 1,), "keepdims": 0}, shape, y.dtype)
        if outside is not None and outside.any():
            value = b.scalar(node.attr("extrapolation_value", 0.0), y.dtype)
            y = b.op("Where", [b.const(outside.reshape((out[a],) + tail)), value, y], {},
                     y.shape, y.dtype)
    return y if y is not x else b.op("Identity", [x], {}, x.shape, x.dtype)


def _resize(b, node, x, scales, sizes, mode, coord, nearest, roi=None):
    if mode not in ("nearest", "linear", "cubic"):
        raise node.error("mode %r is not nearest, linear or cubic" % mode)
    out, sc, length = _geometry(node, x, scales, sizes)
    plain = not node.attr("antialias", 0) and not node.attr("exclude_outside", 0)
    y = _kernel_resize(b, x, out, sc, length, mode, coord, nearest) if plain else None
    if y is not None:
        return y
    if mode != "nearest" and x.dtype.kind != "f":
        raise node.unsupported("%s resize of %s values" % (mode, x.dtype))
    return via_float(b, x, lambda v: _separable_resize(b, node, v, out, sc, length, mode, coord,
                                                       nearest, roi)) \
        if mode != "nearest" else _separable_resize(b, node, x, out, sc, length, mode, coord,
                                                    nearest, roi)


@converter("Resize", since=11)
def resize(b, node):
    x = node.need_input(0, "X")
    scales = node.const(2, "scales", None)
    sizes = node.const(3, "sizes", None)
    if scales is not None and np.asarray(scales).size == 0:
        scales = None
    if sizes is None and scales is None:
        raise node.error("give scales or sizes")
    scales = None if scales is None else [float(v) for v in np.asarray(scales).reshape(-1)]
    sizes = None if sizes is None else [int(v) for v in np.asarray(sizes).reshape(-1)]
    coord = node.attr("coordinate_transformation_mode", "half_pixel")
    roi = None
    if coord == "tf_crop_and_resize":
        roi = [float(v) for v in np.asarray(node.const(1, "roi")).reshape(-1)]
    axes = node.attr("axes", None)
    if axes is not None:
        # scales/sizes (and roi) of the listed axes only: the others keep their size
        axes = [node.axis(a, x.ndim) for a in axes]
        given = scales if scales is not None else sizes
        if len(given) != len(axes):
            raise node.error("%d scales/sizes for axes %s" % (len(given), axes))
        full = [1.0] * x.ndim if scales is not None else list(x.shape)
        for a, v in zip(axes, given):
            full[a] = v
        scales, sizes = (full, None) if scales is not None else (None, full)
        if roi is not None:
            r = [0.0] * x.ndim + [1.0] * x.ndim
            for k, a in enumerate(axes):
                r[a], r[x.ndim + a] = roi[k], roi[len(axes) + k]
            roi = r
    return [_resize(b, node, x, scales, sizes, node.attr("mode", "nearest"), coord,
                    node.attr("nearest_mode", "round_prefer_floor"), roi)]


@converter("Upsample", since=7)
def upsample(b, node):
    x = node.need_input(0, "X")
    if node.opset >= 9:
        scales = [float(v) for v in node.const(1, "scales")]
    else:
        scales = [float(v) for v in node.attr("scales")]
    mode = node.attr("mode", "nearest")
    # Upsample's linear is Resize's linear with the asymmetric transform
    return [_resize(b, node, x, scales, None, "linear" if mode in ("linear", "bilinear")
                    else mode, "asymmetric", "floor")]
