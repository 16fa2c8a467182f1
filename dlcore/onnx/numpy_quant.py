"""The quantized ONNX ops' implementations (the Python steps ops_quant.py puts in the graph).

Two kinds: the reference ones in NumPy, which follow the ONNX definitions exactly (integer
sums in int64, QuantizeLinear's round-half-to-even and saturation), and the int8 ones, which
run dlcore's int8 kernels (csrc/qgemm*, csrc/qconv*) on weights prepared once at load time:
QLinearConv / QLinearMatMul with constant symmetric int8 weights requantize in the kernel's
epilogue, MatMulInteger with constant int8 weights takes the kernel's integer sums.  int8
(signed) activations enter those kernels shifted by 128 (u8 = s8 + 128, zero point + 128),
which is exact.
"""
import numpy as np

from ..ops import qconv as Q
from ..ops.qmatmul import Int8Weight
from ..ops.qtensor import QTensor

__all__ = ["IMPLS", "quantize", "dequantize"]

_RANGE = {np.dtype(np.uint8): (0, 255), np.dtype(np.int8): (-128, 127),
          np.dtype(np.uint16): (0, 65535), np.dtype(np.int16): (-32768, 32767),
          np.dtype(np.int32): (-2 ** 31, 2 ** 31 - 1)}


def _per_axis(p, ndim, axis):
    """A scale / zero point array shaped to broadcast along `axis` of an ndim-D tensor."""
    p = np.asarray(p)
    if p.ndim == 0 or p.size == 1 and ndim == 0:
        return p.reshape(())
    shape = [1] * ndim
    shape[axis] = p.size
    return p.reshape(shape)


def _param(p, x, axis, block_size):
    """A scale / zero point shaped to broadcast against x: per tensor, per axis, or blocked
    (block_size > 0: p has x's shape but ceil(n / block_size) along axis; each entry covers
    block_size consecutive elements there)."""
    if block_size:
        p = np.repeat(np.asarray(p), block_size, axis=axis)
        return p[(slice(None),) * axis + (slice(0, x.shape[axis]),)]
    return _per_axis(p, x.ndim, axis)


def quantize(x, scale, zp=None, axis=1, qdtype="uint8", block_size=0, qrange=None):
    """ONNX QuantizeLinear: saturate(round_half_even(x / scale) + zp); `qrange` (lo, hi)
    saturates to a sub-byte type's range in its int8/uint8 carrier."""
    dtype = np.dtype(qdtype if zp is None else np.asarray(zp).dtype)
    lo, hi = _RANGE[dtype] if qrange is None else qrange
    ax = axis % x.ndim if x.ndim else 0
    s = _param(scale, x, ax, block_size).astype(np.float32)
    z = 0 if zp is None else _param(zp, x, ax, block_size).astype(np.float64)
    y = np.rint(x.astype(np.float32) / s).astype(np.float64) + z
    y = np.where(np.isnan(y), 0, y)
    return np.clip(y, lo, hi).astype(dtype)


def dequantize(x, scale, zp=None, axis=1, block_size=0, out_dtype=None):
    """ONNX DequantizeLinear: (x - zp) * scale in float32, then in out_dtype (the scale's
    type unless output_dtype says otherwise)."""
    ax = axis % x.ndim if x.ndim else 0
    s = _param(scale, x, ax, block_size).astype(np.float32)
    xi = x.astype(np.int64)
    if zp is not None:
        xi = xi - _param(zp, x, ax, block_size).astype(np.int64)
    return (xi.astype(np.float32) * s).astype(out_dtype or np.float32)


def dynamic_quantize(x):
    """ONNX DynamicQuantizeLinear: u8 codes, scale and zero point of x's range widened to 0."""
    lo = min(float(x.min()), 0.0) if x.size else 0.0
    hi = max(float(x.max()), 0.0) if x.size else 0.0
    scale = np.float32((hi - lo) / 255.0)
    if scale == 0:
        return np.zeros(x.shape, np.uint8), np.float32(0.0), np.uint8(0)
    zp = np.uint8(np.clip(np.rint(-lo / scale), 0, 255))
    return quantize(x, scale, zp), scale, zp


def matmul_integer(a, b, a_zp=None, b_zp=None):
    """ONNX MatMulInteger, reference: (a - a_zp) @ (b - b_zp) exactly, as int32."""
    ai = a.astype(np.int64) - (0 if a_zp is None else _zp_rows(a_zp, a))
    bi = b.astype(np.int64) - (0 if b_zp is None else np.asarray(b_zp, np.int64))
    # float64 sums are exact below 2^53 (|terms| < 2^16, K far below 2^37)
    return np.matmul(ai.astype(np.float64), bi.astype(np.float64)).astype(np.int32)


def _zp_rows(zp, a):
    z = np.asarray(zp, np.int64)
    return z.reshape(z.shape + (1,)) if z.ndim and z.size > 1 else z


def matmul_integer_int8(a, a_zp=None, weight=None, shift=0):
    """MatMulInteger on the int8 GEMM: a (..., K) u8 (or s8 with shift=128) times the constant
    int8 weight (b_zp 0); the kernel's integer sums less a_zp * column sums."""
    K = weight.shape[1]
    a2 = a.reshape(-1, K)
    if shift:
        a2 = (a2.astype(np.int16) + shift).astype(np.uint8)
    zp = (0 if a_zp is None else int(np.asarray(a_zp).reshape(-1)[0])) + shift
    y = Q.integer_gemm(a2, weight)
    if zp:
        y -= np.int32(zp) * weight.colsum
    return y.reshape(a.shape[:-1] + (weight.shape[0],))


def conv_integer(x, w, x_zp=None, w_zp=None, strides=(1, 1), dilations=(1, 1),
                 pads=(0, 0, 0, 0), group=1):
    """ONNX ConvInteger, reference: the exact int32 convolution of (x - x_zp) by (w - w_zp)."""
    xi = x.astype(np.float64) - (0 if x_zp is None else float(np.asarray(x_zp).reshape(-1)[0]))
    wz = 0 if w_zp is None else _per_axis(w_zp, 4, 0).astype(np.float64)
    wi = w.astype(np.float64) - wz
    return _conv_f64(xi, wi, strides, dilations, pads, group).astype(np.int32)


def conv_integer_int8(x, x_zp=None, weight=None, groups=1, kernel=(1, 1), strides=(1, 1),
                      dilations=(1, 1), pads=(0, 0, 0, 0), shift=0):
    """ConvInteger on the int8 GEMM: im2col of u8 x (padded with its zero point, so padding
    adds nothing once the zero point is taken off) times the constant int8 weight packed per
    group (rows in (c, kh, kw) order), less zp * column sums."""
    from numpy.lib.stride_tricks import sliding_window_view
    if shift:
        x = (x.astype(np.int16) + shift).astype(np.uint8)
    zp = (0 if x_zp is None else int(np.asarray(x_zp).reshape(-1)[0])) + shift
    N, C, H, W = x.shape
    KH, KW = kernel
    pt, pl, pb, pr = pads
    xp = np.full((N, C, H + pt + pb, W + pl + pr), zp, np.uint8)
    xp[:, :, pt:pt + H, pl:pl + W] = x
    eh, ew = dilations[0] * (KH - 1) + 1, dilations[1] * (KW - 1) + 1
    win = sliding_window_view(xp, (eh, ew), axis=(2, 3))
    win = win[:, :, ::strides[0], ::strides[1], ::dilations[0], ::dilations[1]]
    OH, OW = win.shape[2], win.shape[3]
    cg = C // groups
    outs = []
    for g, wg in enumerate(weight):
        cols = win[:, g * cg:(g + 1) * cg].transpose(0, 2, 3, 1, 4, 5).reshape(
            N * OH * OW, cg * KH * KW)
        y = Q.integer_gemm(np.ascontiguousarray(cols), wg)
        if zp:
            y -= np.int32(zp) * wg.colsum
        outs.append(y)
    y = np.concatenate(outs, axis=1) if len(outs) > 1 else outs[0]
    return np.ascontiguousarray(y.reshape(N, OH, OW, -1).transpose(0, 3, 1, 2))


def _conv_f64(x, w, strides, dil, pads, group):
    N, C, H, W = x.shape
    OC, cg, KH, KW = w.shape
    pt, pl, pb, pr = pads
    xp = np.zeros((N, C, H + pt + pb, W + pl + pr), np.float64)
    xp[:, :, pt:pt + H, pl:pl + W] = x
    OH = (H + pt + pb - dil[0] * (KH - 1) - 1) // strides[0] + 1
    OW = (W + pl + pr - dil[1] * (KW - 1) - 1) // strides[1] + 1
    og = OC // group
    y = np.zeros((N, OC, OH, OW), np.float64)
    for g in range(group):
        for kh in range(KH):
            for kw in range(KW):
                h0, w0 = kh * dil[0], kw * dil[1]
                patch = xp[:, g * cg:(g + 1) * cg, h0:h0 + strides[0] * (OH - 1) + 1:strides[0],
                           w0:w0 + strides[1] * (OW - 1) + 1:strides[1]]
                y[:, g * og:(g + 1) * og] += np.einsum("nchw,oc->nohw", patch,
                                                       w[g * og:(g + 1) * og, :, kh, kw])
    return y


def qlinear_matmul_ref(a, a_s, a_zp, b, b_s, b_zp, y_s, y_zp):
    """QLinearMatMul, reference: dequantize, float matmul, quantize."""
    af = dequantize(a, a_s, a_zp)
    bf = dequantize(b, b_s, b_zp, axis=-1 if np.asarray(b_s).size > 1 else 1)
    return quantize(np.matmul(af, bf), y_s, y_zp)


def qlinear_conv_ref(x, x_s, x_zp, w, w_s, w_zp, y_s, y_zp, B=None, strides=(1, 1),
                     dilations=(1, 1), pads=(0, 0, 0, 0), group=1):
    """QLinearConv, reference: exact integer convolution, float requantize."""
    acc = conv_integer(x, w, x_zp, w_zp, strides, dilations, pads, group).astype(np.float64)
    if B is not None:
        acc += B.reshape(1, -1, 1, 1)
    ws = _per_axis(w_s, 4, 1).astype(np.float64) if np.asarray(w_s).size > 1 else \
        float(np.asarray(w_s).reshape(-1)[0])
    v = (acc * float(np.asarray(x_s).reshape(-1)[0]) * ws).astype(np.float32)
    return quantize(v, y_s, y_zp)


def _u8(x, zp):
    """(u8 codes, u8 zero point) of u8 or s8 activations."""
    z = int(np.asarray(zp).reshape(-1)[0]) if zp is not None else 0
    if x.dtype == np.int8:
        return (x.astype(np.int16) + 128).astype(np.uint8), z + 128
    return x, z


def _back(y, dtype):
    return y if dtype == np.uint8 else (y.astype(np.int16) - 128).astype(np.int8)


def qlinear_matmul_int8(a, a_s, a_zp, y_s, y_zp, weight=None, out_dtype=np.uint8):
    """QLinearMatMul on the int8 GEMM with requantize: a (..., K) u8/s8, the constant int8
    weight's scales already folded with nothing else (b_zp 0)."""
    codes, z = _u8(a, a_zp)
    _, yz = _u8(np.zeros(0, out_dtype), y_zp)
    x = QTensor(np.ascontiguousarray(codes), float(np.asarray(a_s).reshape(-1)[0]), z)
    y = Q.qlinear(x, weight, None, float(np.asarray(y_s).reshape(-1)[0]), yz)
    return _back(y.codes, np.dtype(out_dtype))


def qlinear_conv_int8(x, x_s, x_zp, y_s, y_zp, weight=None, bias_q=None, w_scale=None,
                      bias=None, strides=(1, 1), dilations=(1, 1), pads=(0, 0, 0, 0),
                      out_dtype=np.uint8):
    """QLinearConv on the int8 conv kernels: NCHW u8/s8 in and out (moved to channels-last
    around the kernel); the int32 bias B becomes float B * x_scale * w_scale (or a float
    `bias` is given)."""
    codes, z = _u8(x, x_zp)
    _, yz = _u8(np.zeros(0, out_dtype), y_zp)
    xs = float(np.asarray(x_s).reshape(-1)[0])
    if bias_q is not None:
        bias = (bias_q.astype(np.float64) * xs * w_scale).astype(np.float32)
    q = QTensor(np.ascontiguousarray(codes.transpose(0, 2, 3, 1)), xs, z, nhwc=True)
    y = Q.qconv2d(q, weight, bias, tuple(strides), tuple(pads), tuple(dilations),
                  float(np.asarray(y_s).reshape(-1)[0]), yz)
    return _back(np.ascontiguousarray(y.codes.transpose(0, 3, 1, 2)), np.dtype(out_dtype))


IMPLS = {
    "QuantizeLinear": quantize,
    "DequantizeLinear": dequantize,
    "DynamicQuantizeLinear": dynamic_quantize,
    "MatMulInteger": matmul_integer,
    "MatMulIntegerInt8": matmul_integer_int8,
    "ConvInteger": conv_integer,
    "ConvIntegerInt8": conv_integer_int8,
    "QLinearMatMul": qlinear_matmul_ref,
    "QLinearMatMulInt8": qlinear_matmul_int8,
    "QLinearConv": qlinear_conv_ref,
    "QLinearConvInt8": qlinear_conv_int8,
}
