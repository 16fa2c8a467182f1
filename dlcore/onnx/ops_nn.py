"""Layer ONNX ops: Gemm, MatMul, Conv, ConvTranspose, pooling, BatchNormalization,
InstanceNormalization, LayerNormalization, GroupNormalization, RMSNormalization, Softmax,
LogSoftmax, Hardmax, Dropout, Identity, LRN, Resize/Upsample.

dlcore's kernels are 2-D (NCHW): 1-D convolutions and pools run as 2-D ones over a height of 1;
3-D ones are not supported.  Padding follows ONNX (begins then ends per axis, auto_pad)."""
import math

import numpy as np

from .builder import broadcast_shapes
from .ops_math import via_float
from .registry import converter

__all__ = []


# ---- Gemm / MatMul ---------------------------------------------------------------------------------
@converter("Gemm")
def gemm(b, node):
    a, w = node.need_input(0, "A"), node.need_input(1, "B")
    c = node.input(2)
    alpha, beta = node.attr("alpha", 1.0), node.attr("beta", 1.0)
    if a.ndim != 2 or w.ndim != 2:
        raise node.error("A and B must be 2-D, got shapes %s and %s" % (a.shape, w.shape))
    if node.attr("transA", 0):
        a = b.transpose(a, (1, 0))
    trans_b = int(node.attr("transB", 0))
    K = a.shape[1]
    kb, N = (w.shape[1], w.shape[0]) if trans_b else w.shape
    if kb != K:
        raise node.error("A is %s and B is %s%s: inner dims %d and %d differ"
                         % (a.shape, w.shape, " (transposed)" if trans_b else "", K, kb))
    if alpha != 1.0 and w.is_const:
        w, alpha = b.const((w.data * np.asarray(alpha, w.dtype)).astype(w.dtype)), 1.0
    M = a.shape[0]
    bias = None
    if c is not None and beta != 0.0:
        cshape = broadcast_shapes("Gemm C", c.shape, (M, N))
        if cshape != (M, N):
            raise node.error("C of shape %s does not broadcast to (%d, %d)" % (c.shape, M, N))
        if c.is_const and c.numel() == N and (c.ndim == 1 or c.shape[-1] == N) and \
                alpha == 1.0 and c.dtype == a.dtype:
            bias = b.const((c.data.reshape(N) * np.asarray(beta, c.dtype)).astype(c.dtype)) \
                if beta != 1.0 else b.reshape(c, (N,))
            c = None
    if a.dtype.kind != "f" or a.dtype != w.dtype:
        y = b.numpy1("Binary", [a, w if not trans_b else b.transpose(w, (1, 0))], (M, N),
                     a.dtype, fn="matmul")
    else:
        y = b.op("Gemm", [a, w, bias], {"transB": trans_b}, (M, N), a.dtype)
    if alpha != 1.0:
        y = b.binary("Mul", y, b.scalar(alpha, y.dtype))
    if c is not None and beta != 0.0:
        if beta != 1.0:
            c = b.binary("Mul", c, b.scalar(beta, c.dtype))
        y = b.binary("Add", y, c)
    return [y]


def matmul(b, x, w, what="MatMul"):
    """numpy.matmul semantics (1-D operands, broadcast batch dims)."""
    a2 = b.reshape(x, (1,) + tuple(x.shape)) if x.ndim == 1 else x
    w2 = b.reshape(w, tuple(w.shape) + (1,)) if w.ndim == 1 else w
    if a2.ndim < 2 or w2.ndim < 2:
        raise ValueError("%s: operands must have at least 1 dim" % what)
    if a2.shape[-1] != w2.shape[-2]:
        raise ValueError("%s: inner dims of %s and %s differ (%d vs %d)"
                         % (what, x.shape, w.shape, a2.shape[-1], w2.shape[-2]))
    batch = broadcast_shapes(what, a2.shape[:-2], w2.shape[:-2])
    shape = tuple(batch) + (a2.shape[-2], w2.shape[-1])
    if a2.dtype.kind == "f" and a2.dtype == w2.dtype and a2.dtype.itemsize >= 4:
        y = b.op("MatMul", [a2, w2], {}, shape, a2.dtype)
    else:
        y = b.numpy1("Binary", [a2, w2], shape, a2.dtype, fn="matmul")
    out = list(shape)
    if w.ndim == 1:
        out.pop(-1)
    if x.ndim == 1:
        out.pop(-2 if w.ndim != 1 else -1)
    return b.reshape(y, out)


@converter("MatMul")
def matmul_op(b, node):
    return [matmul(b, node.need_input(0, "A"), node.need_input(1, "B"))]


# ---- convolution ---------------------------------------------------------------------------------
def _spatial_attrs(node, x, k, dims):
    """(strides, dilations, pads begin, pads end) for `dims` spatial axes with ONNX's auto_pad."""
    strides = list(node.attr("strides", [1] * dims))
    dil = list(node.attr("dilations", [1] * dims))
    pads = list(node.attr("pads", [0] * (2 * dims)))
    if len(strides) != dims or len(dil) != dims or len(pads) != 2 * dims:
        raise node.error("strides/dilations/pads must have %d/%d/%d entries, got %s/%s/%s"
                         % (dims, dims, 2 * dims, strides, dil, pads))
    if any(s < 1 for s in strides) or any(d < 1 for d in dil):
        raise node.error("strides and dilations must be >= 1, got %s and %s" % (strides, dil))
    auto = node.attr("auto_pad", "NOTSET")
    begin, end = pads[:dims], pads[dims:]
    if auto in ("SAME_UPPER", "SAME_LOWER"):
        begin, end = [], []
        for i in range(dims):
            n = x.shape[2 + i]
            out = -(-n // strides[i])
            total = max((out - 1) * strides[i] + (k[i] - 1) * dil[i] + 1 - n, 0)
            small = total // 2
            begin.append(small if auto == "SAME_UPPER" else total - small)
            end.append(total - begin[-1])
    elif auto == "VALID":
        begin, end = [0] * dims, [0] * dims
    elif auto != "NOTSET":
        raise node.error("auto_pad %r is not one of NOTSET, SAME_UPPER, SAME_LOWER, VALID"
                         % auto)
    if any(p < 0 for p in begin + end):
        raise node.unsupported("negative pads %s" % (begin + end))
    return strides, dil, begin, end


def _as_2d(b, node, x, what):
    """(x as 4-D, spatial dims); 1-D layouts gain a height of 1."""
    if x.ndim == 3:
        return b.reshape(x, (x.shape[0], x.shape[1], 1, x.shape[2])), 1
    if x.ndim == 4:
        return x, 2
    if x.ndim == 5:
        raise node.unsupported("3-D %s (5-D input) is not supported: dlcore's kernels are 2-D"
                               % what)
    raise node.error("input must be 3-D or 4-D (N, C, spatial...), got shape %s"
                     % (tuple(x.shape),))


def _widen(p1, dims, fill):
    return list(p1) if dims == 2 else [fill] + list(p1)


@converter("Conv")
def conv(b, node):
    x0, w0 = node.need_input(0, "X"), node.need_input(1, "W")
    bias = node.input(2)
    x, dims = _as_2d(b, node, x0, "convolution")
    if w0.ndim != x0.ndim:
        raise node.error("W must be %d-D like X, got shape %s" % (x0.ndim, w0.shape))
    k = list(node.attr("kernel_shape", w0.shape[2:]))
    if tuple(k) != tuple(w0.shape[2:]):
        raise node.error("kernel_shape %s differs from W's %s" % (k, w0.shape[2:]))
    strides, dil, begin, end = _spatial_attrs(node, x0, k, dims)
    g = int(node.attr("group", 1))
    C, M = x0.shape[1], w0.shape[0]
    if g < 1 or C % g or M % g or w0.shape[1] * g != C:
        raise node.error("X has %d channels and W is %s: with group=%d W must be "
                         "(M, C/group, ...)" % (C, w0.shape, g))
    w = b.reshape(w0, (M, w0.shape[1], 1, w0.shape[2])) if dims == 1 else w0
    if bias is not None and bias.shape != (M,):
        raise node.error("B must be (%d,), got %s" % (M, bias.shape))
    strides, dil = _widen(strides, dims, 1), _widen(dil, dims, 1)
    begin, end, kk = _widen(begin, dims, 0), _widen(end, dims, 0), _widen(k, dims, 1)
    out_hw = []
    for i in range(2):
        eff = (kk[i] - 1) * dil[i] + 1
        n = x.shape[2 + i] + begin[i] + end[i] - eff
        if n < 0:
            raise node.error("the kernel (%d with dilation %d) is larger than the padded input "
                             "(%d)" % (kk[i], dil[i], x.shape[2 + i] + begin[i] + end[i]))
        out_hw.append(n // strides[i] + 1)
    shape = (x.shape[0], M) + tuple(out_hw)
    attrs = {"strides": tuple(strides), "pads": (begin[0], begin[1], end[0], end[1]),
             "dilations": tuple(dil), "group": g}
    y = via_float(b, x, lambda v: b.op("Conv", [v, w if w.dtype == v.dtype else b.cast(
        w, v.dtype), None if bias is None else b.cast(bias, v.dtype)], attrs, shape, v.dtype))
    if dims == 1:
        y = b.reshape(y, (shape[0], M, out_hw[1]))
    return [y]


@converter("ConvTranspose")
def conv_transpose(b, node):
    x0, w0 = node.need_input(0, "X"), node.need_input(1, "W")
    bias = node.input(2)
    x, dims = _as_2d(b, node, x0, "transposed convolution")
    if w0.ndim != x0.ndim:
        raise node.error("W must be %d-D like X, got shape %s" % (x0.ndim, w0.shape))
    k = list(node.attr("kernel_shape", w0.shape[2:]))
    g = int(node.attr("group", 1))
    C = x0.shape[1]
    if w0.shape[0] != C or g < 1 or C % g:
        raise node.error("W must be (C=%d, M/group, ...) with group=%d, got %s"
                         % (C, g, w0.shape))
    M = w0.shape[1] * g
    strides = list(node.attr("strides", [1] * dims))
    dil = list(node.attr("dilations", [1] * dims))
    opad = list(node.attr("output_padding", [0] * dims))
    pads = list(node.attr("pads", [0] * (2 * dims)))
    auto = node.attr("auto_pad", "NOTSET")
    out_shape = node.attr("output_shape", None)
    begin, end, out = [], [], []
    for i in range(dims):
        n = x0.shape[2 + i]
        full = strides[i] * (n - 1) + opad[i] + (k[i] - 1) * dil[i] + 1
        if out_shape is not None or auto in ("SAME_UPPER", "SAME_LOWER"):
            o = out_shape[-dims + i] if out_shape is not None else n * strides[i]
            total = full - o
            if auto == "SAME_LOWER":
                pb = total - total // 2
            else:
                pb = total // 2
            pe = total - pb
        elif auto == "VALID":
            pb = pe = 0
        else:
            pb, pe = pads[i], pads[dims + i]
        if pb < 0 or pe < 0:
            raise node.unsupported("negative padding (%d, %d) from output_shape %s"
                                   % (pb, pe, out_shape))
        begin.append(pb)
        end.append(pe)
        out.append(full - pb - pe)
    w = b.reshape(w0, (C, w0.shape[1], 1, w0.shape[2])) if dims == 1 else w0
    strides, dil = _widen(strides, dims, 1), _widen(dil, dims, 1)
    begin, out_hw = _widen(begin, dims, 0), _widen(out, dims, 1)
    shape = (x.shape[0], M) + tuple(out_hw)
    attrs = {"strides": tuple(strides), "pads": (begin[0], begin[1]), "dilations": tuple(dil),
             "group": g}
    y = via_float(b, x, lambda v: b.op("ConvTranspose", [v, b.cast(w, v.dtype), None if bias is None
                                                          else b.cast(bias, v.dtype)],
                                       attrs, shape, v.dtype))
    if dims == 1:
        y = b.reshape(y, (shape[0], M, out_hw[1]))
    return [y]


# ---- pooling ---------------------------------------------------------------------------------------
def _pool_out(node, x, k, strides, dil, begin, end, ceil_mode):
    out = []
    for i in range(len(k)):
        n = x.shape[2 + i]
        eff = (k[i] - 1) * dil[i] + 1
        span = n + begin[i] + end[i] - eff
        if span < 0:
            raise node.error("the window (%d) is larger than the padded input (%d)"
                             % (eff, n + begin[i] + end[i]))
        o = (-(-span // strides[i]) if ceil_mode else span // strides[i]) + 1
        # a last window starting in the end padding is dropped (PyTorch's and ONNX's rule)
        if ceil_mode and (o - 1) * strides[i] >= n + begin[i]:
            o -= 1
        out.append(o)
    return out


def _pool(b, node, op):
    x0 = node.need_input(0, "X")
    if node.n_outputs > 1 and node.used[1]:
        raise node.unsupported("the Indices output is not supported")
    x, dims = _as_2d(b, node, x0, "pooling")
    k = list(node.attr("kernel_shape"))
    if len(k) != dims:
        raise node.error("kernel_shape %s must have %d entries" % (k, dims))
    if node.attr("storage_order", 0):
        raise node.unsupported("storage_order=1 is not supported")
    strides, dil, begin, end = _spatial_attrs(node, x0, k, dims)
    ceil_mode = int(node.attr("ceil_mode", 0))
    if node.attr("auto_pad", "NOTSET") in ("SAME_UPPER", "SAME_LOWER"):
        ceil_mode = 0
    out = _pool_out(node, x0, k, strides, dil, begin, end, ceil_mode)
    strides, dil = _widen(strides, dims, 1), _widen(dil, dims, 1)
    begin, end = _widen(begin, dims, 0), _widen(end, dims, 0)
    kk, out_hw = _widen(k, dims, 1), _widen(out, dims, 1)
    if op == "AveragePool":
        if any(d != 1 for d in dil):
            raise node.unsupported("dilations %s: dlcore's average pooling has none" % dil)
        cip = int(node.attr("count_include_pad", 0))
        if cip and (begin != end or ceil_mode):
            # the kernel counts padding up to begin-pad past the end: pad explicitly instead
            x = _zero_pad(b, x, begin, end)
            begin = end = [0, 0]
        attrs = {"kernel_shape": tuple(kk), "strides": tuple(strides),
                 "pads": (begin[0], begin[1], end[0], end[1]), "count_include_pad": cip,
                 "divisor": 0}
    else:
        attrs = {"kernel_shape": tuple(kk), "strides": tuple(strides),
                 "pads": (begin[0], begin[1], end[0], end[1]), "dilations": tuple(dil)}
    if any(p >= q for p, q in zip(begin, kk)) and op == "MaxPool":
        raise node.unsupported("pads %s not smaller than the kernel %s" % (begin, kk))
    shape = (x.shape[0], x.shape[1]) + tuple(out_hw)
    y = via_float(b, x, lambda v: b.op(op, [v], attrs, shape, v.dtype), ints=op == "MaxPool")
    if dims == 1:
        y = b.reshape(y, (shape[0], shape[1], out_hw[1]))
    return [y]


def _zero_pad(b, x, begin, end):
    pads = ((0, 0), (0, 0), (begin[0], end[0]), (begin[1], end[1]))
    shape = tuple(n + p + q for n, (p, q) in zip(x.shape, pads))
    return b.op("Pad", [x], {"pads": pads, "value": 0.0}, shape, x.dtype)


@converter("MaxPool")
def maxpool(b, node):
    return _pool(b, node, "MaxPool")


@converter("AveragePool")
def avgpool(b, node):
    return _pool(b, node, "AveragePool")


@converter("GlobalAveragePool", "GlobalMaxPool")
def global_pool(b, node):
    x = node.need_input(0, "X")
    if x.ndim < 3:
        raise node.error("input must be (N, C, spatial...), got shape %s" % (x.shape,))
    S = int(np.prod(x.shape[2:], dtype=np.int64))
    x4 = b.reshape(x, (x.shape[0], x.shape[1], S, 1)) if x.ndim != 4 else x
    shape = (x.shape[0], x.shape[1], 1, 1)
    y = via_float(b, x4, lambda v: b.op(node.op, [v], {}, shape, v.dtype))
    return [b.reshape(y, (x.shape[0], x.shape[1]) + (1,) * (x.ndim - 2))]


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
    if any(node.used[1:]):
        raise node.unsupported("the Mean and InvStdDev outputs are not supported")
    axis = node.axis(node.attr("axis", -1), x.ndim)
    scale, bias = node.need_input(1, "Scale"), node.input(2)
    for v, n in ((scale, "Scale"), (bias, "B")):
        if v is not None:
            broadcast_shapes("LayerNormalization %s" % n, v.shape, x.shape[axis:])
    return [via_float(b, x, lambda v: _layernorm(b, v, axis, node.attr("epsilon", 1e-5),
                                                 scale, bias))]


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
def _resize(b, node, x, scales, sizes, mode, coord, nearest):
    if x.ndim != 4:
        raise node.unsupported("only 4-D (N, C, H, W) inputs can be resized, got shape %s"
                               % (x.shape,))
    H, W = x.shape[2:]
    if sizes is not None:
        if list(sizes[:2]) != list(x.shape[:2]):
            raise node.unsupported("resizing the batch or channel dims")
        out = [int(sizes[2]), int(sizes[3])]
        sc = [out[0] / H, out[1] / W]
        length = out
    else:
        if len(scales) != 4 or scales[0] != 1 or scales[1] != 1:
            raise node.unsupported("scales %s: only the spatial dims can be scaled" % scales)
        sc = [float(scales[2]), float(scales[3])]
        out = [int(math.floor(H * sc[0])), int(math.floor(W * sc[1]))]
        # ONNX's align_corners divides by the unrounded resized length
        length = [H * sc[0], W * sc[1]]
    if mode == "nearest":
        if coord != "asymmetric" or nearest != "floor":
            raise node.unsupported("nearest resize with coordinate_transformation_mode %r and "
                                   "nearest_mode %r (dlcore has asymmetric + floor, PyTorch's "
                                   "nearest)" % (coord, nearest))
        steps, align, m = [1.0 / s for s in sc], 0, "nearest"
    elif mode in ("linear", "bilinear"):
        if coord == "align_corners":
            steps = [(n - 1) / (o - 1) if o != 1 else 0.0 for n, o in zip((H, W), length)]
            align = 1
        elif coord in ("half_pixel", "pytorch_half_pixel"):
            if coord == "half_pixel" and min(out) == 1:
                raise node.unsupported("half_pixel resize to a size of 1")
            # pytorch_half_pixel samples source 0 for an output of length 1: a step of 1
            # puts (0 + 0.5) * step - 0.5 there
            steps = [1.0 if o == 1 else 1.0 / s for s, o in zip(sc, out)]
            align = 0
        else:
            raise node.unsupported("linear resize with coordinate_transformation_mode %r "
                                   "(dlcore has half_pixel and align_corners)" % coord)
        m = "bilinear"
    else:
        raise node.unsupported("resize mode %r (dlcore has nearest and linear)" % mode)
    shape = (x.shape[0], x.shape[1], out[0], out[1])
    return via_float(b, x, lambda v: b.op("Resize", [v], {"mode": m, "align_corners": align,
                                                           "steps": tuple(steps)},
                                          shape, v.dtype))


@converter("Resize", since=11)
def resize(b, node):
    x = node.need_input(0, "X")
    for key in ("antialias", "exclude_outside"):
        if node.attr(key, 0):
            raise node.unsupported("%s=1 is not supported" % key)
    if node.attr("axes", None) is not None:
        raise node.unsupported("the axes attribute is not supported")
    scales = node.const(2, "scales", None)
    sizes = node.const(3, "sizes", None)
    if scales is not None and np.asarray(scales).size == 0:
        scales = None
    if sizes is None and scales is None:
        raise node.error("give scales or sizes")
    return [_resize(b, node, x, None if scales is None else [float(s) for s in scales],
                    None if sizes is None else [int(s) for s in sizes], node.attr("mode",
                                                                               "nearest"),
                    node.attr("coordinate_transformation_mode", "half_pixel"),
                    node.attr("nearest_mode", "round_prefer_floor"))]


@converter("Upsample", since=7)
def upsample(b, node):
    x = node.need_input(0, "X")
    if node.opset >= 9:
        scales = [float(s) for s in node.const(1, "scales")]
    else:
        scales = [float(s) for s in node.attr("scales")]
    return [_resize(b, node, x, scales, None, node.attr("mode", "nearest"), "asymmetric",
                    "floor")]
