"""Static int8 CNN ops on QTensors (u8 activations with a per-tensor scale and zero point, 4-D
ones channels-last): convolution, linear, residual add, relu/clamp, max and average pooling.
Kernels: csrc/qconv*.c (dlcore/_C/qconv.pxi) and the u8s8 GEMM of csrc/qgemm*.c.

Weights are int8, symmetric per output channel (Int8ConvWeight / ops.qmatmul.Int8Weight).  Each
op requantizes its output to the scale and zero point it is given (calibrated by observers in
dl.quantization), with relu fused by clamping the output codes at the zero point.
`reduce_range` describes the output as `scale` does: codes 0..127 (clamped there; see
dlcore.ops.qtensor), recorded on the output QTensor; a convolution or linear whose input
QTensor has it takes the GEMM's 7-bit tile on AVX2 (exact: the tile checks its codes).  Inference
only (no gradients); each kernel call is a forward-only Function on the codes so that
dl.jit.trace records it and a traced int8 model runs in the plan (as Python steps around the
C kernels).
"""
import numpy as np

from .. import _C
from ..autograd import Function
from ..tensor_base import TensorBase
from .qmatmul import Int8Weight, quantize_weight_per_channel
from .qtensor import QTensor

__all__ = ["Int8ConvWeight", "qconv2d", "qlinear", "qadd", "qrelu", "qclamp", "qmax_pool2d",
           "qadaptive_avg_pool2d", "conv_out_size", "integer_gemm"]


def _qt(fname, x):
    if not isinstance(x, QTensor):
        raise TypeError("%s: input must be a QTensor (quantize it first, e.g. with "
                        "dl.quantization.QuantStub), got %s" % (fname, type(x).__name__))
    return x


def _out_params(fname, scale, zero_point):
    scale = float(scale)
    if not (scale > 0 and np.isfinite(scale)):
        raise ValueError("%s: output scale must be a positive finite float, got %r"
                         % (fname, scale))
    zp = int(zero_point)
    if not 0 <= zp <= 255:
        raise ValueError("%s: output zero_point must be in 0..255, got %r" % (fname, zero_point))
    return scale, zp


def pair(v):
    """(a, b) of an int or a pair (None kept, for adaptive sizes)."""
    if isinstance(v, (tuple, list)):
        if len(v) != 2:
            raise ValueError("expected an int or a pair, got %r" % (v,))
        return tuple(None if e is None else int(e) for e in v)
    return (int(v), int(v))


def conv_out_size(n, k, s, p0, p1, d):
    return (n + p0 + p1 - d * (k - 1) - 1) // s + 1


class Int8ConvWeight:
    """A conv weight (OC, C/groups, KH, KW) quantized per output channel (symmetric int8) and
    laid out for the kernels: depthwise as (KH*KW, C), else packed per group for the GEMM from
    (OC/g, KH*KW*C/g) rows in (kh, kw, c) order.  `q` (int8, the torch layout) and `scale`
    (float32 (OC,)) are what a state_dict stores."""

    __slots__ = ("q", "scale", "groups", "depthwise", "dw", "packed", "colsum")

    def __init__(self, q, scale, groups=1):
        if not isinstance(q, np.ndarray) or q.dtype != np.int8 or q.ndim != 4:
            raise TypeError("Int8ConvWeight: q must be a 4-D int8 array (OC, C/groups, KH, KW), "
                            "got %s" % getattr(q, "dtype", type(q).__name__))
        OC, cg, KH, KW = q.shape
        scale = np.ascontiguousarray(scale, dtype=np.float32)
        if scale.shape != (OC,):
            raise ValueError("Int8ConvWeight: scale must have shape (%d,), got %s"
                             % (OC, scale.shape))
        if groups < 1 or OC % groups:
            raise ValueError("Int8ConvWeight: groups=%r must divide out_channels=%d"
                             % (groups, OC))
        self.q, self.scale, self.groups = np.ascontiguousarray(q), scale, int(groups)
        self.depthwise = cg == 1 and groups == OC
        if self.depthwise:
            self.dw = np.ascontiguousarray(self.q.reshape(OC, KH * KW).T)
            self.packed = self.colsum = None
        else:
            self.dw = None
            og = OC // groups
            rows = self.q.transpose(0, 2, 3, 1).reshape(OC, KH * KW * cg)
            packs, sums = [], []
            for g in range(groups):
                p, c = _C.u8s8_pack(np.ascontiguousarray(rows[g * og:(g + 1) * og]))
                packs.append(p)
                sums.append(c)
            self.packed = np.concatenate(packs)
            self.colsum = np.concatenate(sums)

    @classmethod
    def from_float(cls, weight, groups=1):
        w = weight._data if isinstance(weight, TensorBase) else np.asarray(weight)
        if w.ndim != 4:
            raise ValueError("Int8ConvWeight.from_float: weight must be 4-D, got shape %s"
                             % (w.shape,))
        q, s = quantize_weight_per_channel(w.reshape(w.shape[0], -1))
        return cls(q.reshape(w.shape), s, groups)

    @property
    def shape(self):
        return self.q.shape

    def dequantize(self):
        return self.q.astype(np.float32) * self.scale[:, None, None, None]


def _bias(fname, bias, n):
    if bias is None:
        return None
    b = bias._data if isinstance(bias, TensorBase) else np.asarray(bias)
    b = np.ascontiguousarray(b, dtype=np.float32)
    if b.shape != (n,):
        raise ValueError("%s: bias must have shape (%d,), got %s" % (fname, n, b.shape))
    return b


def _padding(fname, padding):
    """(top, left, bottom, right) from an int, a pair or a 4-tuple."""
    if isinstance(padding, str):
        raise ValueError("%s: padding must be ints, got %r" % (fname, padding))
    if isinstance(padding, (tuple, list)) and len(padding) == 4:
        p = tuple(int(v) for v in padding)
    else:
        ph, pw = pair(padding)
        p = (int(ph), int(pw), int(ph), int(pw))
    if min(p) < 0:
        raise ValueError("%s: padding must be non-negative, got %r" % (fname, padding))
    return p


def qconv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, scale=1.0,
            zero_point=0, relu=False, reduce_range=False):
    """The requantized convolution of a 4-D QTensor by an Int8ConvWeight (its groups): a QTensor
    with the given output scale and zero point (and reduce_range); relu=True clamps at zero
    (fused)."""
    f = "qconv2d"
    x = _qt(f, input)
    if not isinstance(weight, Int8ConvWeight):
        raise TypeError("%s: weight must be an Int8ConvWeight, got %s"
                        % (f, type(weight).__name__))
    if x.ndim != 4:
        raise ValueError("%s: input must be 4-D (N, C, H, W), got shape %s" % (f, x.shape))
    N, C, H, W = x.shape
    OC, cg, KH, KW = weight.shape
    G = weight.groups
    if C != cg * G:
        raise ValueError("%s: input has %d channels, the weight expects %d (C/groups=%d x "
                         "groups=%d)" % (f, C, cg * G, cg, G))
    ys, yz = _out_params(f, scale, zero_point)
    sh, sw = pair(stride)
    dh, dw = pair(dilation)
    pt, pl, pb, pr = _padding(f, padding)
    OH = conv_out_size(H, KH, sh, pt, pb, dh)
    OW = conv_out_size(W, KW, sw, pl, pr, dw)
    if OH < 1 or OW < 1:
        raise ValueError("%s: the kernel (%d, %d) does not fit the padded input (%d, %d)"
                         % (f, KH, KW, H + pt + pb, W + pl + pr))
    b = _bias(f, bias, OC)
    geom = (OC, KH, KW, int(sh), int(sw), pt, pl, int(dh), int(dw), OH, OW, G)
    y = QConvFn.apply(x.codes, nhwc=x.nhwc, weight=weight, bias=b, geom=geom,
                      params=(x.scale, x.zero_point, ys, yz, bool(relu)),
                      x_reduce_range=x.reduce_range, y_reduce_range=bool(reduce_range))
    return QTensor(y._data, ys, yz, nhwc=True, reduce_range=reduce_range)


class QConvFn(Function):
    """x_reduce_range: the input's codes should be in 0..127 (the GEMM's 7-bit tile hint);
    y_reduce_range: the output's codes are clamped to 0..127."""

    def forward(self, codes, nhwc=True, weight=None, bias=None, geom=None, params=None,
                x_reduce_range=False, y_reduce_range=False):
        codes = np.ascontiguousarray(codes if nhwc else codes.transpose(0, 2, 3, 1))
        if weight.depthwise:
            return _C.qconv2d_dw_u8(codes, weight.dw, weight.scale, bias, geom, *params,
                                    out_reduce_range=y_reduce_range)
        return _C.qconv2d_u8(codes, weight.packed, weight.colsum, weight.scale, bias, geom,
                             *params, reduce_range=x_reduce_range,
                             out_reduce_range=y_reduce_range)


def qlinear(input, weight, bias=None, scale=None, zero_point=0, relu=False, reduce_range=False):
    """input (..., in_features) QTensor @ W.T + bias by the int8 GEMM; a QTensor requantized to
    (scale, zero_point) (and reduce_range), or float32 Tensor when scale is None (the
    dequantize fused)."""
    f = "qlinear"
    x = _qt(f, input)
    if not isinstance(weight, Int8Weight):
        raise TypeError("%s: weight must be an Int8Weight, got %s" % (f, type(weight).__name__))
    N, K = weight.shape
    if x.shape[-1] != K or x.nhwc:
        raise ValueError("%s: input's last dimension must be in_features=%d, got shape %s"
                         % (f, K, x.shape))
    b = _bias(f, bias, N)
    ys, yz = (None, 0) if scale is None else _out_params(f, scale, zero_point)
    y = QLinearFn.apply(x.codes, weight=weight, bias=b, params=(x.scale, x.zero_point, ys, yz),
                        relu=bool(relu), x_reduce_range=x.reduce_range,
                        y_reduce_range=bool(reduce_range))
    if scale is None:
        return y
    return QTensor(y._data, ys, yz, reduce_range=reduce_range)


class QLinearFn(Function):
    """(..., K) u8 codes -> (..., N) u8 codes requantized to (ys, yz), or float32 if ys is
    None; x_reduce_range: the codes should be in 0..127 (the GEMM's 7-bit tile hint);
    y_reduce_range: the u8 output's codes are clamped to 0..127."""

    def forward(self, codes, weight=None, bias=None, params=None, relu=False,
                x_reduce_range=False, y_reduce_range=False):
        xs, xz, ys, yz = params
        N, K = weight.shape
        a = codes.reshape(-1, K)
        M, Kp = a.shape[0], _C.u8s8_kpad(K)
        if Kp != K:
            pad = np.zeros((M, Kp), np.uint8)
            pad[:, :K] = a
            a = pad
        else:
            a = np.ascontiguousarray(a)
        s = np.full(M, xs, np.float32)
        z = np.full(M, xz, np.int32)
        act = "relu" if relu else "none"
        lead = codes.shape[:-1]
        if ys is None:
            out = np.empty((M, N), np.float32)
            _C.u8s8_gemm(a, weight.packed, weight.colsum, K, s, z, weight.scale, bias=bias,
                         act=act, out=out, reduce_range=x_reduce_range)
        else:
            out = np.empty((M, N), np.uint8)
            _C.u8s8_gemm(a, weight.packed, weight.colsum, K, s, z, weight.scale, bias=bias,
                         act=act, out_u8=out, out_scale=ys, out_zp=yz,
                         reduce_range=x_reduce_range, out_reduce_range=y_reduce_range)
        return out.reshape(lead + (N,))


def qadd(a, b, scale, zero_point, relu=False, reduce_range=False):
    """The requantized sum of two QTensors of one shape (the residual add); relu fused;
    reduce_range recorded on the output."""
    f = "qadd"
    _qt(f, a)
    _qt(f, b)
    if a.shape != b.shape:
        raise ValueError("%s: shapes must match, got %s and %s" % (f, a.shape, b.shape))
    ys, yz = _out_params(f, scale, zero_point)
    y = QAddFn.apply(a.codes, b.codes, layouts=(a.nhwc, b.nhwc),
                     params=(a.scale, a.zero_point, b.scale, b.zero_point, ys, yz, bool(relu)),
                     y_reduce_range=bool(reduce_range))
    return QTensor(y._data, ys, yz, a.nhwc, reduce_range)


class QAddFn(Function):
    def forward(self, a, b, layouts=(False, False), params=None, y_reduce_range=False):
        if layouts[0] != layouts[1]:
            b = b.transpose(0, 3, 1, 2) if layouts[1] else b.transpose(0, 2, 3, 1)
        return _C.qadd_u8(np.ascontiguousarray(a), np.ascontiguousarray(b), *params,
                          out_reduce_range=y_reduce_range)


def qclamp(input, min=None, max=None):
    """clamp on the codes (same scale and zero point): relu is qclamp(x, 0), relu6 (x, 0, 6)."""
    x = _qt("qclamp", input)
    lo = 0 if min is None else int(np.clip(np.rint(min / x.scale) + x.zero_point, 0, 255))
    hi = 255 if max is None else int(np.clip(np.rint(max / x.scale) + x.zero_point, 0, 255))
    if lo <= 0 and hi >= 255:
        return x
    return QTensor(QClampFn.apply(x.codes, lo=lo, hi=hi)._data, x.scale, x.zero_point, x.nhwc,
                   x.reduce_range)


class QClampFn(Function):
    def forward(self, codes, lo=0, hi=255):
        return np.clip(codes, lo, hi)


def qrelu(input):
    return qclamp(input, 0.0)


def qmax_pool2d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False):
    """Max pooling of a 4-D QTensor (scale and zero point kept)."""
    f = "qmax_pool2d"
    x = _qt(f, input)
    if x.ndim != 4:
        raise ValueError("%s: input must be 4-D, got shape %s" % (f, x.shape))
    if ceil_mode:
        raise ValueError("%s: ceil_mode=True is not supported" % f)
    kh, kw = pair(kernel_size)
    sh, sw = pair(kernel_size if stride is None or stride == () else stride)
    dh, dw = pair(dilation)
    pt, pl, pb, pr = _padding(f, padding)
    N, C, H, W = x.shape
    OH = conv_out_size(H, kh, sh, pt, pb, dh)
    OW = conv_out_size(W, kw, sw, pl, pr, dw)
    if OH < 1 or OW < 1:
        raise ValueError("%s: the window does not fit the input %s" % (f, x.shape))
    y = QMaxPoolFn.apply(x.codes, nhwc=x.nhwc, geom=(C, kh, kw, sh, sw, pt, pl, dh, dw, OH, OW,
                                                     1))
    return QTensor(y._data, x.scale, x.zero_point, nhwc=True, reduce_range=x.reduce_range)


class QMaxPoolFn(Function):
    def forward(self, codes, nhwc=True, geom=None):
        codes = np.ascontiguousarray(codes if nhwc else codes.transpose(0, 2, 3, 1))
        return _C.qmaxpool2d_u8(codes, geom)


def qadaptive_avg_pool2d(input, output_size):
    """Adaptive average pooling of a 4-D QTensor; means rounded to the input's codes (scale and
    zero point kept, as torch's quantized op)."""
    f = "qadaptive_avg_pool2d"
    x = _qt(f, input)
    if x.ndim != 4:
        raise ValueError("%s: input must be 4-D, got shape %s" % (f, x.shape))
    oh, ow = pair(output_size)
    N, C, H, W = x.shape
    oh, ow = H if oh is None else oh, W if ow is None else ow
    y = QAvgPoolFn.apply(x.codes, nhwc=x.nhwc, size=(oh, ow))
    return QTensor(y._data, x.scale, x.zero_point, nhwc=True, reduce_range=x.reduce_range)


class QAvgPoolFn(Function):
    """Adaptive average pooling of codes to size (oh, ow), channels-last out."""

    def forward(self, codes, nhwc=True, size=(1, 1)):
        codes = codes if nhwc else codes.transpose(0, 2, 3, 1)
        N, H, W, C = codes.shape
        oh, ow = size
        y = np.empty((N, oh, ow, C), np.uint8)
        for i in range(oh):
            h0, h1 = i * H // oh, -(-(i + 1) * H // oh)
            for j in range(ow):
                w0, w1 = j * W // ow, -(-(j + 1) * W // ow)
                win = codes[:, h0:h1, w0:w1, :]
                s = win.sum(axis=(1, 2), dtype=np.int64)
                y[:, i, j, :] = np.rint(s / float(win.shape[1] * win.shape[2]))
        return y


def integer_gemm(a, weight):
    """The bare int32 sums a @ W.T of u8 rows a (M, K) and an Int8Weight (the u8s8 GEMM's
    integer output, no dequantize): what ONNX's MatMulInteger needs."""
    f = "integer_gemm"
    if not isinstance(weight, Int8Weight):
        raise TypeError("%s: weight must be an Int8Weight, got %s" % (f, type(weight).__name__))
    if not isinstance(a, np.ndarray) or a.dtype != np.uint8 or a.ndim != 2:
        raise TypeError("%s: a must be a 2-D uint8 array, got %s" % (f, getattr(a, "dtype", a)))
    N, K = weight.shape
    if a.shape[1] != K:
        raise ValueError("%s: a must have %d columns, got shape %s" % (f, K, a.shape))
    M, Kp = a.shape[0], _C.u8s8_kpad(K)
    q = np.zeros((M, Kp), np.uint8)
    q[:, :K] = a
    raw = np.empty((M, N), np.int32)
    if M and N:
        _C.u8s8_gemm(q, weight.packed, weight.colsum, K, np.ones(M, np.float32),
                     np.zeros(M, np.int32), weight.scale, out=np.empty((M, N), np.float32),
                     raw=raw)
    return raw
