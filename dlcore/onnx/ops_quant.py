"""Quantized ONNX ops: QuantizeLinear, DequantizeLinear, DynamicQuantizeLinear, MatMulInteger,
ConvInteger, QLinearMatMul and QLinearConv - what onnxruntime.quantization's quantize_dynamic
and quantize_static (QDQ and QOperator formats) write.

Each becomes a Python step (numpy_quant.py) in the graph; on constants it folds at load time
(a QDQ file's weight DequantizeLinear becomes a float weight).  Where the weights are
constant symmetric int8 (zero point 0, what onnxruntime writes by default) and the layer is
2-D, the step runs dlcore's int8 kernels with the weights packed here once:
  QLinearConv    -> the u8 conv kernels (im2col + u8s8 GEMM, direct depthwise), requantized
  QLinearMatMul  -> the u8s8 GEMM with its requantize epilogue
  MatMulInteger  -> the u8s8 GEMM's integer sums
  ConvInteger    -> im2col in NumPy (zero point as padding), the u8s8 GEMM's integer sums
Otherwise (uint8 or asymmetric weights, 1-D/3-D convs, weights computed at run time) the
reference implementation runs: exact integer sums in NumPy, float requantize - correct, not
fast.  A QDQ file's float Conv / MatMul between
DequantizeLinear and QuantizeLinear runs in float32 (fake quantization, the reference
meaning of QDQ), not fused into int8.
"""
import numpy as np

from ..ops.qconv import Int8ConvWeight
from ..ops.qmatmul import Int8Weight
from . import narrow
from .numpy_ops import IMPLS
from .numpy_quant import IMPLS as QUANT_IMPLS
from .ops_nn import _spatial_attrs
from .reader import np_dtype
from .registry import converter

IMPLS.update(QUANT_IMPLS)

_INT = (np.uint8, np.int8)


def _axis(node, ndim, scale):
    """The quantization axis; only read (and checked) for per-axis scales."""
    if scale.numel() == 1:
        return 0
    return node.axis(node.attr("axis", 1), max(ndim, 1))


def _block(node, x, s, zp):
    """block_size (opset 21), with scale's and zero point's shapes checked against x's:
    per tensor and per axis without it; with it, x's shape with ceil(n / block_size) along
    the axis."""
    bs = int(node.attr("block_size", 0))
    if bs < 0:
        raise node.error("block_size must be >= 0, got %d" % bs)
    if not bs:
        ax = _axis(node, x.ndim, s)
        if s.numel() != 1 and (s.ndim != 1 or s.shape[0] != x.shape[ax]):
            raise node.error("a per-axis scale must be 1-D of x's size %d along axis %d, got "
                             "shape %s" % (x.shape[ax], ax, tuple(s.shape)))
        return ax, 0
    ax = node.axis(node.attr("axis", 1), max(x.ndim, 1))
    want = list(x.shape)
    want[ax] = -(-x.shape[ax] // bs)
    for v, what in ((s, "scale"), (zp, "zero point")):
        if v is not None and list(v.shape) != want:
            raise node.error("blocked quantization (block_size %d, axis %d) of x %s needs a "
                             "%s of shape %s, got %s" % (bs, ax, tuple(x.shape), what,
                                                         tuple(want), tuple(v.shape)))
    return ax, bs


def _zp_matches(node, s, zp):
    # exporters write a 0-d zero point beside a (1,) scale: the counts must agree
    if zp is not None and zp.numel() != s.numel():
        raise node.error("the zero point's shape %s differs from the scale's %s"
                         % (tuple(zp.shape), tuple(s.shape)))


@converter("QuantizeLinear", since=10)
def quantize_linear(b, node):
    x, s = node.need_input(0, "x"), node.need_input(1, "y_scale")
    zp = node.input(2)
    _zp_matches(node, s, zp)
    dt = zp.dtype if zp is not None else np.dtype(np.uint8)
    nar = narrow.tagged(b, zp)
    out_dt = node.attr("output_dtype", 0)
    if out_dt:
        want = np_dtype(out_dt, "QuantizeLinear output_dtype", narrow_ok=True)
        want_nar = narrow.narrow_name(out_dt)
        if zp is not None and (want, want_nar) != (dt, nar):
            raise node.error("output_dtype %s differs from the zero point's type %s"
                             % (want_nar or want, nar or dt))
        dt, nar = want, want_nar
    if dt not in (np.dtype(np.uint8), np.dtype(np.int8), np.dtype(np.uint16),
                  np.dtype(np.int16)):
        raise node.unsupported("QuantizeLinear to %s is not supported" % dt)
    # saturate only applies to float8 outputs, which dlcore does not produce
    if node.attr("precision", 0) not in (0, 1):
        raise node.unsupported("precision %d (division in another type than float32)"
                               % node.attr("precision"))
    if x.dtype.kind != "f":
        raise node.error("x must be float, got %s" % x.dtype)
    ax, bs = _block(node, x, s, zp)
    # a sub-byte type (int4, uint4, int2, uint2) saturates to its own range in its carrier
    qrange = narrow.value_range(nar) if nar else None
    y = b.numpy1("QuantizeLinear", [x, s, zp], x.shape, dt, axis=ax, qdtype=dt.name,
                 block_size=bs, qrange=qrange)
    return [narrow.tag(b, y, nar)]


@converter("DequantizeLinear", since=10)
def dequantize_linear(b, node):
    x, s = node.need_input(0, "x"), node.need_input(1, "x_scale")
    zp = node.input(2)
    _zp_matches(node, s, zp)
    if x.dtype.kind not in "iu":
        raise node.error("x must be an integer tensor, got %s" % x.dtype)
    if s.dtype.kind != "f":
        raise node.error("x_scale must be float, got %s" % s.dtype)
    out = s.dtype
    if node.attr("output_dtype", 0):
        out = np_dtype(node.attr("output_dtype"), "DequantizeLinear output_dtype")
        if out.kind != "f":
            raise node.error("output_dtype must be a float type, got %s" % out)
    ax, bs = _block(node, x, s, zp)
    return [b.numpy1("DequantizeLinear", [x, s, zp], x.shape, out, axis=ax, block_size=bs,
                     out_dtype=out.name)]


@converter("DynamicQuantizeLinear", since=11)
def dynamic_quantize_linear(b, node):
    x = node.need_input(0, "x")
    if x.dtype != np.float32:
        raise node.error("x must be float32, got %s" % x.dtype)
    y, s, z = b.numpy("DynamicQuantizeLinear", [x],
                      [(x.shape, np.uint8), ((), np.float32), ((), np.uint8)])
    return [y, s, z]


def _const_symmetric_int8(v, zp):
    """Whether weight Value v is a constant int8 tensor whose zero point is absent or 0."""
    if v is None or not v.is_const or v.dtype != np.int8:
        return False
    return zp is None or (zp.is_const and not np.asarray(zp.data).any())


def _matmul_shape(node, a, w):
    if a.ndim < 1 or w.ndim != 2 or a.shape[-1] != w.shape[0]:
        raise node.error("A %s and B %s do not multiply (B must be 2-D (K, N) here)"
                         % (tuple(a.shape), tuple(w.shape)))
    return tuple(a.shape[:-1]) + (w.shape[1],)


def _batched_matmul_shape(node, a, w):
    """numpy.matmul's result shape for a, w of rank >= 2 (B 2-D: any rank of A)."""
    if w.ndim == 2:
        return _matmul_shape(node, a, w)
    if a.ndim < 2 or a.shape[-1] != w.shape[-2]:
        raise node.error("A %s and B %s do not multiply" % (tuple(a.shape), tuple(w.shape)))
    try:
        batch = np.broadcast_shapes(tuple(a.shape[:-2]), tuple(w.shape[:-2]))
    except ValueError:
        raise node.error("the batch dims of A %s and B %s do not broadcast"
                         % (tuple(a.shape), tuple(w.shape))) from None
    return tuple(batch) + (a.shape[-2], w.shape[-1])


@converter("MatMulInteger", since=10)
def matmul_integer(b, node):
    a, w = node.need_input(0, "A"), node.need_input(1, "B")
    a_zp, w_zp = node.input(2), node.input(3)
    if a.dtype not in _INT or w.dtype not in _INT:
        raise node.error("A and B must be uint8 or int8, got %s and %s" % (a.dtype, w.dtype))
    if w.ndim == 2 and _const_symmetric_int8(w, w_zp) and (a_zp is None or a_zp.numel() == 1) \
            and a.ndim >= 1:
        shape = _matmul_shape(node, a, w)
        q = np.ascontiguousarray(w.data.T)
        weight = Int8Weight(q, np.ones(q.shape[0], np.float32))
        zp = [] if a_zp is None else [a_zp]
        return [b.numpy1("MatMulIntegerInt8", [a] + zp, shape, np.int32, weight=weight,
                         shift=128 if a.dtype == np.int8 else 0)]
    return [b.numpy1("MatMulInteger", [a, w, a_zp, w_zp], _batched_matmul_shape(node, a, w),
                     np.int32)]


def _conv_geometry(node, x, w):
    if x.ndim != 4 or w.ndim != 4:
        return None
    strides, dil, begin, end = _spatial_attrs(node, x, w.shape[2:], 2)
    group = int(node.attr("group", 1))
    if x.shape[1] != w.shape[1] * group or w.shape[0] % group:
        raise node.error("x has %d channels, W %s with group=%d expects %d"
                         % (x.shape[1], tuple(w.shape), group, w.shape[1] * group))
    pads = (begin[0], begin[1], end[0], end[1])
    OH = (x.shape[2] + begin[0] + end[0] - dil[0] * (w.shape[2] - 1) - 1) // strides[0] + 1
    OW = (x.shape[3] + begin[1] + end[1] - dil[1] * (w.shape[3] - 1) - 1) // strides[1] + 1
    if OH < 1 or OW < 1:
        raise node.error("the kernel does not fit the padded input")
    return tuple(strides), tuple(dil), pads, group, (x.shape[0], w.shape[0], OH, OW)


@converter("ConvInteger", since=10)
def conv_integer(b, node):
    x, w = node.need_input(0, "x"), node.need_input(1, "w")
    geo = _conv_geometry(node, x, w)
    if geo is None:
        raise node.unsupported("ConvInteger is supported for 2-D convolutions only")
    strides, dil, pads, group, shape = geo
    x_zp, w_zp = node.input(2), node.input(3)
    if _const_symmetric_int8(w, w_zp) and (x_zp is None or x_zp.numel() == 1) and \
            x.dtype in _INT:
        og = w.shape[0] // group
        weights = [Int8Weight(np.ascontiguousarray(w.data[g * og:(g + 1) * og].reshape(og, -1)),
                              np.ones(og, np.float32)) for g in range(group)]
        return [b.numpy1("ConvIntegerInt8", [x] + ([] if x_zp is None else [x_zp]), shape,
                         np.int32, weight=weights, groups=group, kernel=tuple(w.shape[2:]),
                         strides=strides, dilations=dil, pads=pads,
                         shift=128 if x.dtype == np.int8 else 0)]
    return [b.numpy1("ConvInteger", [x, w, x_zp, w_zp], shape, np.int32,
                     strides=strides, dilations=dil, pads=pads, group=group)]


def _consts(*vs):
    return all(v is not None and v.is_const for v in vs)


@converter("QLinearMatMul", since=10)
def qlinear_matmul(b, node):
    ins = [node.need_input(i, n) for i, n in enumerate(
        ("a", "a_scale", "a_zero_point", "b", "b_scale", "b_zero_point", "y_scale",
         "y_zero_point"))]
    a, a_s, a_zp, w, w_s, w_zp, y_s, y_zp = ins
    out_dt = y_zp.dtype
    if w.ndim == 2 and _const_symmetric_int8(w, w_zp) and _consts(a_s, a_zp, w_s, y_s, y_zp) \
            and all(np.asarray(v.data).size == 1 for v in (a_s, a_zp, y_s, y_zp)) \
            and np.asarray(w_s.data).size in (1, w.shape[1]) and a.dtype in _INT:
        shape = _matmul_shape(node, a, w)
        ws = np.broadcast_to(np.asarray(w_s.data, np.float32).reshape(-1), (w.shape[1],))
        weight = Int8Weight(np.ascontiguousarray(w.data.T), np.ascontiguousarray(ws))
        return [b.numpy1("QLinearMatMulInt8", [a, a_s, a_zp, y_s, y_zp], shape, out_dt,
                         weight=weight, out_dtype=out_dt.name)]
    return [b.numpy1("QLinearMatMul", ins, _batched_matmul_shape(node, a, w), out_dt)]


@converter("QLinearConv", since=10)
def qlinear_conv(b, node):
    names = ("x", "x_scale", "x_zero_point", "w", "w_scale", "w_zero_point", "y_scale",
             "y_zero_point")
    ins = [node.need_input(i, n) for i, n in enumerate(names)]
    x, x_s, x_zp, w, w_s, w_zp, y_s, y_zp = ins
    bias = node.input(8)
    geo = _conv_geometry(node, x, w)
    if geo is None:
        raise node.unsupported("QLinearConv is supported for 2-D convolutions only")
    strides, dil, pads, group, shape = geo
    out_dt = y_zp.dtype
    OC = w.shape[0]
    if _const_symmetric_int8(w, w_zp) and _consts(x_s, x_zp, w_s, y_s, y_zp) and \
            all(np.asarray(v.data).size == 1 for v in (x_s, x_zp, y_s, y_zp)) and \
            np.asarray(w_s.data).size in (1, OC) and x.dtype in _INT and \
            (bias is None or bias.is_const):
        ws = np.ascontiguousarray(np.broadcast_to(
            np.asarray(w_s.data, np.float32).reshape(-1), (OC,)))
        weight = Int8ConvWeight(np.ascontiguousarray(w.data), ws, group)
        return [b.numpy1("QLinearConvInt8", [x, x_s, x_zp, y_s, y_zp], shape, out_dt,
                         weight=weight, bias_q=None if bias is None else bias.data,
                         w_scale=ws.astype(np.float64), strides=strides, dilations=dil,
                         pads=pads, out_dtype=out_dt.name)]
    return [b.numpy1("QLinearConv", ins + [bias], shape, out_dt, strides=strides,
                     dilations=dil, pads=pads, group=group)]
