"""Low-precision matrix products: int8 (u8 activations x s8 weights, dynamic quantization) and
bfloat16, on the kernels of csrc/qgemm*.c and csrc/bf16*.c (dlcore/_C/qgemm.pxi, bf16.pxi);
and the float32 <-> bfloat16 / float16 conversions.

int8: a weight (out_features, in_features) is quantized once per output channel, symmetric:
scale[n] = max|W[n]| / 127, q = rint(W / scale) in -127..127 (Int8Weight packs it for the
kernel).  Activations are quantized at every call, asymmetric u8 with the range widened to
include 0: per row (each row of the flattened input its own scale and zero point; the default,
as accurate as int8 gets for transformer activations whose rows differ in range) or per tensor
(one scale for the call, as torch's dynamic Linear does).  The kernel then does the integer
product and dequantizes, adds the bias and applies relu/gelu in the same pass.

reduce_range=True (torch's name and its fbgemm default) quantizes the activations to 0..127
instead of 0..255: one bit less precision, and on AVX2 without VNNI the GEMM's 7-bit tile,
whose vpmaddubsw pairs cannot saturate at 7 bits (127 * 128 * 2 < 2^15), about twice the
multiply rate of the full-range tile (16-bit vpmaddwd).  The products stay exact integer sums
of the codes; with VNNI or AMX it changes only the precision.

bf16: values are kept as uint16 bit patterns; a BF16Weight holds the weight rounded to bf16
(round to nearest even) and packed; bf16_linear rounds the input to bf16 and accumulates in
float32.

These are inference ops: outputs are recorded in no autograd graph (as torch's quantized
dynamic Linear), so they never require grad.
"""
import numpy as np

from .. import _C
from .. import autograd
from ..autograd import Function
from ..tensor_base import TensorBase, wrap

__all__ = ["ACTIVATIONS", "quantize_weight_per_channel", "quantize_activations", "Int8Weight",
           "int8_linear", "to_bfloat16", "from_bfloat16", "to_float16", "from_float16",
           "BF16Weight", "bf16_linear", "kernel_names", "int8_gemm", "bf16_gemm"]

ACTIVATIONS = (None, "relu", "gelu")
GRANULARITIES = ("per_row", "per_tensor")


def _array(fname, name, x):
    a = x._data if isinstance(x, TensorBase) else x
    if not isinstance(a, np.ndarray):
        raise TypeError("%s: %s must be a Tensor or NumPy array, got %s"
                        % (fname, name, type(x).__name__))
    return a


def _float32(fname, name, x):
    a = _array(fname, name, x)
    if a.dtype.kind != "f":
        raise TypeError("%s: %s must be a floating tensor, got %s" % (fname, name, a.dtype))
    return np.ascontiguousarray(a, dtype=np.float32)


def _not_traced(fname):
    # these ops are no Function, so a dl.jit trace would see their outputs as constants
    # (int8_linear has one: DynamicInt8LinearFn)
    if autograd._tracer is not None:
        raise RuntimeError("%s: quantized layers cannot be traced by dl.jit yet; run the "
                           "quantized model eagerly" % fname)


def _act(fname, activation):
    if activation not in ACTIVATIONS:
        raise ValueError("%s: activation must be None, 'relu' or 'gelu', got %r"
                         % (fname, activation))
    return activation or "none"


def _bias(fname, bias, n):
    if bias is None:
        return None
    b = _float32(fname, "bias", bias)
    if b.shape != (n,):
        raise ValueError("%s: bias must have shape (%d,), got %s" % (fname, n, b.shape))
    return b


def kernel_names():
    """The micro-kernels the ISA in use runs: {'int8': ..., 'int8_reduce_range': ...,
    'bf16': ..., 'amx': {'int8': ..., 'bf16': ...}}; 'int8_reduce_range' is the tile for 7-bit
    activations ('avx2-u7' on AVX2); 'amx' is dlcore.runtime.amx_status() (used, present,
    absent, refused by the OS, off, disabled by the self-check, with the reason)."""
    return {"int8": _C.u8s8_kernel_name(), "int8_reduce_range": _C.u8s8_kernel_name(True),
            "bf16": _C.bf16_kernel_name(),
            "amx": {kind: _C.amx_status(kind) for kind in ("int8", "bf16")}}


# ---- int8 ---------------------------------------------------------------------------------
def quantize_weight_per_channel(weight):
    """(int8 codes (N, K), float32 scales (N,)) of a float weight (N, K), symmetric per row.

    A row of zeros gets scale 1 (its codes are 0); a non-finite weight raises."""
    w = _float32("quantize_weight_per_channel", "weight", weight)
    if w.ndim != 2:
        raise ValueError("quantize_weight_per_channel: weight must be 2-D (out_features, "
                         "in_features), got shape %s" % (w.shape,))
    if not np.isfinite(w).all():
        raise ValueError("quantize_weight_per_channel: weight has NaN or Inf values")
    amax = np.abs(w).max(axis=1) if w.shape[1] else np.zeros(w.shape[0], np.float32)
    scale = np.where(amax > 0, amax / np.float32(127), np.float32(1)).astype(np.float32)
    q = np.clip(np.rint(w / scale[:, None]), -127, 127).astype(np.int8)
    return q, scale


def quantize_activations(x, per_row=True, reduce_range=False):
    """(u8 codes (M, K rounded up to 4, zero padded), float32 scales (M,), int32 zero points
    (M,)) of a 2-D float input; per_row=False: one scale and zero point for all rows;
    reduce_range=True: codes 0..127 (7 bits) instead of 0..255."""
    a = _float32("quantize_activations", "x", x)
    if a.ndim != 2:
        raise ValueError("quantize_activations: x must be 2-D, got shape %s" % (a.shape,))
    return _C.quantize_rows_u8(a, bool(per_row), bool(reduce_range))


class Int8Weight:
    """A weight quantized per output channel and packed for the int8 kernel.

    Int8Weight.from_float(w) quantizes; Int8Weight(q, scale) packs given codes (int8 (N, K))
    and scales (float32 (N,)).  `q` and `scale` are what a state_dict stores."""

    __slots__ = ("q", "scale", "packed", "colsum")

    def __init__(self, q, scale):
        q = _array("Int8Weight", "q", q)
        scale = _array("Int8Weight", "scale", scale)
        if q.dtype != np.int8 or q.ndim != 2:
            raise TypeError("Int8Weight: q must be a 2-D int8 array, got %s of shape %s"
                            % (q.dtype, q.shape))
        if scale.shape != (q.shape[0],) or scale.dtype.kind != "f":
            raise ValueError("Int8Weight: scale must be float of shape (%d,), got %s of shape %s"
                             % (q.shape[0], scale.dtype, scale.shape))
        if q.shape[1] > _C.QGEMM_MAX_K:
            raise ValueError("Int8Weight: in_features must be at most %d, got %d"
                             % (_C.QGEMM_MAX_K, q.shape[1]))
        self.q = np.ascontiguousarray(q)
        self.scale = np.ascontiguousarray(scale, dtype=np.float32)
        self.packed, self.colsum = _C.u8s8_pack(self.q)

    @classmethod
    def from_float(cls, weight):
        return cls(*quantize_weight_per_channel(weight))

    @property
    def shape(self):
        return self.q.shape

    def dequantize(self):
        """The float32 weight the codes stand for."""
        return self.q.astype(np.float32) * self.scale[:, None]


def int8_linear(input, weight, bias=None, activation=None, granularity="per_row",
                reduce_range=False):
    """act(input @ W.T + bias) with input quantized to u8 for this call (to 0..127 with
    reduce_range) and W an Int8Weight; float32 output of shape (..., out_features)."""
    f = "int8_linear"
    if not isinstance(weight, Int8Weight):
        raise TypeError("%s: weight must be an Int8Weight, got %s" % (f, type(weight).__name__))
    if granularity not in GRANULARITIES:
        raise ValueError("%s: granularity must be 'per_row' or 'per_tensor', got %r"
                         % (f, granularity))
    x = _float32(f, "input", input)
    N, K = weight.shape
    if x.ndim < 1 or x.shape[-1] != K:
        raise ValueError("%s: input's last dimension must be in_features=%d, got shape %s"
                         % (f, K, x.shape))
    act = _act(f, activation)
    b = _bias(f, bias, N)
    per_row = granularity == "per_row"
    if autograd._tracer is not None:
        # recorded as one node, which dl.jit's plan runs as its int8 Linear step
        src = input if isinstance(input, TensorBase) else x
        return DynamicInt8LinearFn.apply(src, weight=weight, bias=b, act=act, per_row=per_row,
                                         reduce_range=bool(reduce_range))
    return wrap(_dynamic_int8_linear(x, weight, b, act, per_row, bool(reduce_range)))


def _dynamic_int8_linear(x, weight, b, act, per_row, reduce_range=False):
    N, K = weight.shape
    x2 = x.reshape(-1, K)
    q, s, z = _C.quantize_rows_u8(x2, per_row, reduce_range)
    out = np.empty((x2.shape[0], N), np.float32)
    _C.u8s8_gemm(q, weight.packed, weight.colsum, K, s, z, weight.scale, bias=b, act=act,
                 out=out, reduce_range=reduce_range)
    return out.reshape(x.shape[:-1] + (N,))


class DynamicInt8LinearFn(Function):
    """int8_linear as a Function, for dl.jit traces only (eager calls skip Function.apply):
    float32 (..., K) -> float32 (..., N); the arguments are int8_linear's, checked."""

    def forward(self, x, weight=None, bias=None, act="none", per_row=True, reduce_range=False):
        return _dynamic_int8_linear(np.ascontiguousarray(x, np.float32), weight, bias, act,
                                    per_row, reduce_range)


# ---- bfloat16 / float16 -------------------------------------------------------------------
def to_bfloat16(x):
    """uint16 bf16 bit patterns of a float array (round to nearest even, NaN kept)."""
    return _C.f32_to_bf16(_float32("to_bfloat16", "x", x))


def _decode(fname, name, x, dtype, what, kernel):
    """float32 values of a 16-bit array x that must have `dtype` (described as `what`)."""
    a = _array(fname, name, x)
    if a.dtype != dtype:
        raise TypeError("%s: %s must be %s, got %s" % (fname, name, what, a.dtype))
    return kernel(np.ascontiguousarray(a))


def from_bfloat16(bits):
    return _decode("from_bfloat16", "bits", bits, np.uint16, "uint16 bf16 patterns",
                   _C.bf16_to_f32)


def to_float16(x):
    return _C.f32_to_f16(_float32("to_float16", "x", x))


def from_float16(x):
    return _decode("from_float16", "x", x, np.float16, "float16", _C.f16_to_f32)


class BF16Weight:
    """A weight (N, K) rounded to bf16 and packed for the bf16 kernel."""

    __slots__ = ("bits", "packed")

    def __init__(self, bits):
        a = _array("BF16Weight", "bits", bits)
        if a.dtype != np.uint16 or a.ndim != 2:
            raise TypeError("BF16Weight: bits must be a 2-D uint16 array of bf16 patterns, "
                            "got %s of shape %s" % (a.dtype, a.shape))
        self.bits = np.ascontiguousarray(a)
        self.packed = _C.bf16_pack(self.bits)

    @classmethod
    def from_float(cls, weight):
        w = _float32("BF16Weight.from_float", "weight", weight)
        if w.ndim != 2:
            raise ValueError("BF16Weight.from_float: weight must be 2-D, got shape %s"
                             % (w.shape,))
        return cls(_C.f32_to_bf16(w))

    @property
    def shape(self):
        return self.bits.shape


def bf16_linear(input, weight, bias=None, activation=None):
    """act(bf16(input) @ W.T + bias) accumulated in float32, W a BF16Weight; input float (rounded
    to bf16 here) or uint16 bf16 patterns.  float32 output of shape (..., out_features)."""
    f = "bf16_linear"
    _not_traced(f)
    if not isinstance(weight, BF16Weight):
        raise TypeError("%s: weight must be a BF16Weight, got %s" % (f, type(weight).__name__))
    a = _array(f, "input", input)
    N, K = weight.shape
    if a.ndim < 1 or a.shape[-1] != K:
        raise ValueError("%s: input's last dimension must be in_features=%d, got shape %s"
                         % (f, K, a.shape))
    if a.dtype == np.uint16:
        bits = np.ascontiguousarray(a)
    elif a.dtype.kind == "f":
        bits = _C.f32_to_bf16(np.ascontiguousarray(a, dtype=np.float32))
    else:
        raise TypeError("%s: input must be float or uint16 bf16 patterns, got %s" % (f, a.dtype))
    act = _act(f, activation)
    b = _bias(f, bias, N)
    out = _C.bf16_gemm(bits.reshape(-1, K), weight.packed, N, bias=b, act=act)
    return wrap(out.reshape(a.shape[:-1] + (N,)))


def int8_gemm(activations, weight, out=None, bias=None, activation=None, reduce_range=False):
    """The int8 product alone, for activations already quantized by quantize_activations
    (the (codes, scales, zero points) it returns): float32 (M, out_features) array.
    reduce_range: the codes should be in 0..127 (the 7-bit tile; checked, exact either way)."""
    f = "int8_gemm"
    if not isinstance(weight, Int8Weight):
        raise TypeError("%s: weight must be an Int8Weight, got %s" % (f, type(weight).__name__))
    if not isinstance(activations, tuple) or len(activations) != 3:
        raise TypeError("%s: activations must be the (codes, scales, zero_points) tuple of "
                        "quantize_activations" % f)
    q, s, z = activations
    N, K = weight.shape
    if out is None:
        out = np.empty((q.shape[0], N), np.float32)
    return _C.u8s8_gemm(q, weight.packed, weight.colsum, K, s, z, weight.scale,
                        bias=_bias(f, bias, N), act=_act(f, activation), out=out,
                        reduce_range=bool(reduce_range))


def bf16_gemm(a_bits, weight, out=None, bias=None, activation=None):
    """The bf16 product alone: a_bits (M, K) uint16 bf16 patterns @ W.T -> float32 (M, N)."""
    f = "bf16_gemm"
    if not isinstance(weight, BF16Weight):
        raise TypeError("%s: weight must be a BF16Weight, got %s" % (f, type(weight).__name__))
    N = weight.shape[0]
    return _C.bf16_gemm(_array(f, "a_bits", a_bits), weight.packed, N, bias=_bias(f, bias, N),
                        act=_act(f, activation), out=out)
