"""QTensor: a tensor of u8 codes with one scale and zero point (torch's quint8 per-tensor
quantized tensor), the activation type of statically quantized models.

value = scale * (code - zero_point).  A 4-D QTensor keeps its codes channels-last (N, H, W, C)
because every int8 CNN kernel (csrc/qconv*.c) reads and writes that layout; `shape` is still
the logical (N, C, H, W) and `int_repr()` / `dequantize()` return that layout.

reduce_range (torch's name): the codes are 0..127 (7 bits) instead of 0..255: the scale and zero
point map the calibrated range onto them and every op that makes such a tensor (quantize, the
requantizing conv / linear / add) clamps its codes at 127, as the 8-bit ones clamp at 255 (a
relu6 fused into a conv relies on that clamp at the calibrated maximum).  A Conv2d / Linear
fed such a tensor runs the int8 GEMM's 7-bit (vpmaddubsw) tile on AVX2; that tile checks the
codes of each tile and takes the full-range one for any code above 127 (a QTensor made by
hand), so results are the exact integer products of the codes either way.
"""
import numpy as np

from ..autograd import Function
from ..tensor_base import TensorBase

__all__ = ["QTensor", "quantize_per_tensor", "choose_qparams", "QuantizeFn", "DequantizeFn",
           "CodesFn"]


# The array steps below are Functions (forward only: int8 inference has no gradient) so that
# dl.jit.trace records them as plan steps: a traced int8 model runs in the plan, its codes
# flowing between steps as uint8 values.
class QuantizeFn(Function):
    """float (N, C, H, W) or any-rank x -> u8 codes (channels-last when nhwc)."""

    def forward(self, x, scale=1.0, zero_point=0, nhwc=False, reduce_range=False):
        if nhwc:
            x = x.transpose(0, 2, 3, 1)
        q = np.rint(x.astype(np.float32, copy=False) / np.float32(scale)) + np.float32(zero_point)
        np.clip(q, 0, 127 if reduce_range else 255, out=q)
        q[np.isnan(q)] = 0
        return np.ascontiguousarray(q.astype(np.uint8))


class DequantizeFn(Function):
    """u8 codes -> float32 scale * (codes - zero_point), back to NCHW when nhwc."""

    def forward(self, codes, scale=1.0, zero_point=0, nhwc=False):
        a = codes.transpose(0, 3, 1, 2) if nhwc else codes
        y = (a.astype(np.float32) - np.float32(zero_point)) * np.float32(scale)
        return np.ascontiguousarray(y)


class CodesFn(Function):
    """The codes in logical layout (from channels-last when nhwc), reshaped to `shape`."""

    def forward(self, codes, nhwc=False, shape=None):
        a = codes.transpose(0, 3, 1, 2) if nhwc else codes
        a = np.ascontiguousarray(a)
        return a if shape is None else a.reshape(shape)


class QTensor:
    __slots__ = ("codes", "scale", "zero_point", "nhwc", "reduce_range")

    def __init__(self, codes, scale, zero_point, nhwc=False, reduce_range=False):
        if not isinstance(codes, np.ndarray) or codes.dtype != np.uint8:
            raise TypeError("QTensor: codes must be a uint8 array, got %s"
                            % getattr(codes, "dtype", type(codes).__name__))
        if nhwc and codes.ndim != 4:
            raise ValueError("QTensor: channels-last codes must be 4-D, got shape %s"
                             % (codes.shape,))
        scale = float(scale)
        if not (scale > 0 and np.isfinite(scale)):
            raise ValueError("QTensor: scale must be a positive finite float, got %r" % scale)
        zp = int(zero_point)
        if not 0 <= zp <= 255:
            raise ValueError("QTensor: zero_point must be in 0..255, got %r" % zero_point)
        self.codes = codes
        self.scale = scale
        self.zero_point = zp
        self.nhwc = bool(nhwc)
        self.reduce_range = bool(reduce_range)

    # torch's accessors
    def q_scale(self):
        return self.scale

    def q_zero_point(self):
        return self.zero_point

    @property
    def shape(self):
        c = self.codes.shape
        return (c[0], c[3], c[1], c[2]) if self.nhwc else c

    def size(self, dim=None):
        return self.shape if dim is None else self.shape[dim]

    @property
    def ndim(self):
        return self.codes.ndim

    @property
    def is_quantized(self):
        return True

    def int_repr(self):
        """The u8 codes in the logical layout (a Tensor)."""
        return CodesFn.apply(self.codes, nhwc=self.nhwc)

    def dequantize(self):
        """float32 Tensor scale * (codes - zero_point), logical layout."""
        return DequantizeFn.apply(self.codes, scale=self.scale, zero_point=self.zero_point,
                                  nhwc=self.nhwc)

    def reshape(self, *shape):
        if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
            shape = tuple(shape[0])
        n = int(np.prod(self.shape, dtype=np.int64))
        shape = tuple(int(d) for d in shape)
        if shape.count(-1) == 1:
            known = int(np.prod([d for d in shape if d != -1], dtype=np.int64))
            shape = tuple(n // known if d == -1 else d for d in shape)
        if int(np.prod(shape, dtype=np.int64)) != n:
            raise ValueError("QTensor.reshape: cannot view shape %s as %s" % (self.shape, shape))
        out = CodesFn.apply(self.codes, nhwc=self.nhwc, shape=shape)
        return QTensor(out._data, self.scale, self.zero_point, reduce_range=self.reduce_range)

    view = reshape

    def flatten(self, start_dim=0, end_dim=-1):
        shape = self.shape
        nd = len(shape)
        s, e = start_dim % nd if nd else 0, end_dim % nd if nd else 0
        n = 1
        for d in shape[s:e + 1]:
            n *= d
        return self.reshape(tuple(shape[:s]) + (n,) + tuple(shape[e + 1:]))

    def __repr__(self):
        return "QTensor(shape=%s, scale=%g, zero_point=%d%s)" % (
            self.shape, self.scale, self.zero_point,
            ", reduce_range=True" if self.reduce_range else "")


def choose_qparams(lo, hi, reduce_range=False):
    """(scale, zero_point) mapping [min(lo, 0), max(hi, 0)] onto u8 0..255 (0 exact), or onto
    0..127 with reduce_range."""
    lo, hi = min(float(lo), 0.0), max(float(hi), 0.0)
    if not (np.isfinite(lo) and np.isfinite(hi)):
        raise ValueError("choose_qparams: the range must be finite, got [%r, %r]" % (lo, hi))
    top = 127 if reduce_range else 255
    scale = (hi - lo) / top
    if scale <= 0 or np.float32(scale) <= 0:
        return 1.0, 0
    scale = float(np.float32(scale))
    zp = int(np.clip(np.rint(-lo / scale), 0, top))
    return scale, zp


def quantize_per_tensor(input, scale, zero_point, dtype=None, reduce_range=False):
    """QTensor of a float Tensor: codes clamp(rint(x / scale) + zero_point, 0, 255) (0..127 with
    reduce_range: 7-bit codes, see the module docstring); a 4-D input is stored channels-last.
    dtype: None or dl.quint8 (the only activation type)."""
    if dtype is not None and getattr(dtype, "name", None) != "quint8":
        raise ValueError("quantize_per_tensor: dtype must be dl.quint8, got %r" % (dtype,))
    x = input._data if isinstance(input, TensorBase) else input
    if not isinstance(x, np.ndarray) or x.dtype.kind != "f":
        raise TypeError("quantize_per_tensor: input must be a float Tensor, got %s"
                        % getattr(x, "dtype", type(input).__name__))
    scale = float(scale)
    if not (scale > 0 and np.isfinite(scale)):
        raise ValueError("quantize_per_tensor: scale must be a positive finite float, got %r"
                         % scale)
    zp = int(zero_point)
    if not 0 <= zp <= 255:
        raise ValueError("quantize_per_tensor: zero_point must be in 0..255, got %r"
                         % zero_point)
    nhwc = x.ndim == 4
    codes = QuantizeFn.apply(input if isinstance(input, TensorBase) else x, scale=scale,
                             zero_point=zp, nhwc=nhwc, reduce_range=bool(reduce_range))
    return QTensor(codes._data, scale, zp, nhwc, reduce_range)
