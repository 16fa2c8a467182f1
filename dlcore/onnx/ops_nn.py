"""Layer ONNX ops: Gemm, MatMul, Conv, ConvTranspose and pooling.

dlcore's kernels are 2-D (NCHW): 1-D convolutions and pools run as 2-D ones over a height of 1;
3-D ones (and dilated average pooling) run in NumPy (numpy_nd.py) as Python steps.  Padding
follows ONNX (begins then ends per axis, auto_pad)."""
import numpy as np

from .builder import broadcast_shapes
from .ops_math import via_float
from .registry import converter

__all__ = ["matmul"]


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
    raise node.error("input must be (N, C, spatial...) with 1 to 3 spatial dims, got shape %s"
                     % (tuple(x.shape),))


def _spatial_dims(node, x):
    if not 3 <= x.ndim <= 5:
        raise node.error("input must be (N, C, spatial...) with 1 to 3 spatial dims, got shape "
                         "%s" % (tuple(x.shape),))
    return x.ndim - 2


def _widen(p1, dims, fill):
    return list(p1) if dims == 2 else [fill] + list(p1)


def _conv_out(node, n, k, stride, dil, pb, pe):
    span = n + pb + pe - ((k - 1) * dil + 1)
    if span < 0:
        raise node.error("the kernel (%d with dilation %d) is larger than the padded input (%d)"
                         % (k, dil, n + pb + pe))
    return span // stride + 1


def _conv_operands(node):
    """Conv's and ConvTranspose's X, W, B (or None), spatial dims and kernel_shape."""
    x0, w0 = node.need_input(0, "X"), node.need_input(1, "W")
    bias = node.input(2)
    dims = _spatial_dims(node, x0)
    if w0.ndim != x0.ndim:
        raise node.error("W must be %d-D like X, got shape %s" % (x0.ndim, w0.shape))
    return x0, w0, bias, dims, list(node.attr("kernel_shape", w0.shape[2:]))


@converter("Conv")
def conv(b, node):
    x0, w0, bias, dims, k = _conv_operands(node)
    if tuple(k) != tuple(w0.shape[2:]):
        raise node.error("kernel_shape %s differs from W's %s" % (k, w0.shape[2:]))
    strides, dil, begin, end = _spatial_attrs(node, x0, k, dims)
    g = int(node.attr("group", 1))
    C, M = x0.shape[1], w0.shape[0]
    if g < 1 or C % g or M % g or w0.shape[1] * g != C:
        raise node.error("X has %d channels and W is %s: with group=%d W must be "
                         "(M, C/group, ...)" % (C, w0.shape, g))
    if bias is not None and bias.shape != (M,):
        raise node.error("B must be (%d,), got %s" % (M, bias.shape))
    if dims == 3:
        out = [_conv_out(node, x0.shape[2 + i], k[i], strides[i], dil[i], begin[i], end[i])
               for i in range(3)]
        return [b.numpy1("ConvND", [x0, w0, bias], (x0.shape[0], M) + tuple(out), x0.dtype,
                         strides=tuple(strides), dilations=tuple(dil), begin=tuple(begin),
                         end=tuple(end), group=g)]
    x, dims = _as_2d(b, node, x0, "convolution")
    w = b.reshape(w0, (M, w0.shape[1], 1, w0.shape[2])) if dims == 1 else w0
    strides, dil = _widen(strides, dims, 1), _widen(dil, dims, 1)
    begin, end, kk = _widen(begin, dims, 0), _widen(end, dims, 0), _widen(k, dims, 1)
    out_hw = [_conv_out(node, x.shape[2 + i], kk[i], strides[i], dil[i], begin[i], end[i])
              for i in range(2)]
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
    x0, w0, bias, dims, k = _conv_operands(node)
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
            if total < 0:       # a bigger output than the kernel reaches: zeros (+ bias) at the end
                pb = 0
            elif auto == "SAME_LOWER":
                pb = total - total // 2
            else:
                pb = total // 2
            pe = total - pb
        elif auto == "VALID":
            pb = pe = 0
        else:
            pb, pe = pads[i], pads[dims + i]
        if pb < 0 or (pe < 0 and out_shape is None):
            raise node.unsupported("negative padding (%d, %d)" % (pb, pe))
        begin.append(pb)
        end.append(pe)
        out.append(full - pb - pe)
    if dims == 3:
        return [b.numpy1("ConvTransposeND", [x0, w0, bias], (x0.shape[0], M) + tuple(out),
                         x0.dtype, strides=tuple(strides), dilations=tuple(dil),
                         begin=tuple(begin), out_shape=tuple(out), group=g)]
    x, dims = _as_2d(b, node, x0, "transposed convolution")
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
    dims = _spatial_dims(node, x0)
    k = list(node.attr("kernel_shape"))
    if len(k) != dims:
        raise node.error("kernel_shape %s must have %d entries" % (k, dims))
    order = int(node.attr("storage_order", 0))
    if order not in (0, 1):
        raise node.error("storage_order must be 0 or 1, got %d" % order)
    strides, dil, begin, end = _spatial_attrs(node, x0, k, dims)
    ceil_mode = int(node.attr("ceil_mode", 0))
    if node.attr("auto_pad", "NOTSET") in ("SAME_UPPER", "SAME_LOWER"):
        ceil_mode = 0
    out = _pool_out(node, x0, k, strides, dil, begin, end, ceil_mode)
    if op == "MaxPool" and node.n_outputs > 1 and node.used[1]:
        # the Indices output: no kernel gives it, NumPy over strided windows does
        shape = (x0.shape[0], x0.shape[1]) + tuple(out)
        return b.numpy("MaxPoolIndices", [x0], [(shape, x0.dtype), (shape, np.int64)],
                       kernel=tuple(k), strides=tuple(strides), dilations=tuple(dil),
                       begin=tuple(begin), end=tuple(end), out=tuple(out),
                       storage_order=order)
    cip = int(node.attr("count_include_pad", 0))
    if dims == 3 or (op == "AveragePool" and any(d != 1 for d in dil)):
        # no kernel for these: NumPy over strided windows
        return [b.numpy1("PoolND", [x0], (x0.shape[0], x0.shape[1]) + tuple(out), x0.dtype,
                         mode="max" if op == "MaxPool" else "avg", kernel=tuple(k),
                         strides=tuple(strides), dilations=tuple(dil), begin=tuple(begin),
                         end=tuple(end), out=tuple(out), count_include_pad=cip)]
    x, dims = _as_2d(b, node, x0, "pooling")
    strides, dil = _widen(strides, dims, 1), _widen(dil, dims, 1)
    begin, end = _widen(begin, dims, 0), _widen(end, dims, 0)
    kk, out_hw = _widen(k, dims, 1), _widen(out, dims, 1)
    if op == "AveragePool":
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
