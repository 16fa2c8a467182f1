"""Matrix products on weights kept in ggml's block formats, dequantised inside the kernel
(csrc/qgemv*.c through dlcore/_C/qgemv.pxi), and the conversions to and from float.

A weight matrix (out_features, in_features) is stored as `out_features` rows of uint8 blocks;
each block covers 32 consecutive inputs of its row with a float16 scale d:
- Q4_0 (18 bytes): d, 16 bytes of 4-bit codes q;  w = (q - 8) * d
- Q4_1 (20 bytes): d, a float16 minimum m, 16 bytes of 4-bit codes; w = q * d + m
- Q8_0 (34 bytes): d, 32 int8 codes;               w = q * d
(in the 4-bit formats byte j holds input j in its low nibble and input j + 16 in its high one),
so in_features must be a multiple of 32 and a row holds in_features / 32 * block-bytes bytes.

Gradients: quantized_linear is differentiable in its input and bias, not in the weights (the
blocks are frozen integer codes; train a float copy or an adapter beside them).  The input
gradient g @ W reads a dequantised float copy of W made in backward, so training a small layer
on top of a quantised model costs one dequantisation per backward of each quantised layer.
float64 inputs take the dequantise-then-GEMM path (the fused kernel is float32 only); it gives
the same values in double precision, which is what gradient checks need.
"""
import numpy as np

from .. import _C
from ..autograd import Function
from ..tensor_base import TensorBase, wrap
from .rotary import float_array

__all__ = ["QUANT_KINDS", "row_bytes", "quantized_linear", "dequantize", "quantized_embedding",
           "quantize"]

QK = 32
# block format -> bytes per block of 32 weights
QUANT_KINDS = {"Q4_0": 18, "Q4_1": 20, "Q8_0": 34}
_CODES = {k: _C.QGEMV_KINDS[k] for k in QUANT_KINDS}
_U8 = np.dtype(np.uint8)
_F32 = np.dtype(np.float32)


def _kind(fname, kind):
    if kind not in QUANT_KINDS:
        raise ValueError("%s: kind must be one of %s, got %r"
                         % (fname, ", ".join(QUANT_KINDS), kind))
    return _CODES[kind], QUANT_KINDS[kind]


def row_bytes(in_features, kind):
    """Bytes of one weight row of `in_features` inputs in block format `kind`."""
    _, bb = _kind("row_bytes", kind)
    if isinstance(in_features, bool) or not isinstance(in_features, (int, np.integer)) \
            or in_features < 0 or in_features % QK:
        raise ValueError("row_bytes: in_features must be a non-negative multiple of %d, got %r"
                         % (QK, in_features))
    return int(in_features) // QK * bb


def _blocks(fname, weight, kind):
    """(uint8 array, in_features) of a weight given as rows of `kind` blocks."""
    w = weight._data if isinstance(weight, TensorBase) else weight
    bb = QUANT_KINDS[kind]
    if type(w) is np.ndarray and w.dtype is _U8 and w.ndim == 2 and not w.shape[1] % bb \
            and w.flags.c_contiguous:
        return w, w.shape[1] // bb * QK
    if not isinstance(w, np.ndarray) or w.dtype != np.uint8 or w.ndim != 2:
        raise TypeError("%s: weight must be a 2-D uint8 Tensor of %s blocks (out_features, "
                        "in_features / 32 * %d), got %s" % (fname, kind, bb, _describe(w)))
    if w.shape[1] % bb:
        raise ValueError("%s: weight rows of %d bytes are not whole %d-byte %s blocks"
                         % (fname, w.shape[1], bb, kind))
    return np.ascontiguousarray(w), w.shape[1] // bb * QK


def _describe(a):
    if isinstance(a, np.ndarray):
        return "%s of shape %s" % (a.dtype, a.shape)
    return type(a).__name__


class QuantizedLinearFn(Function):
    """y = x @ dequantize(W).T + b over the last dim of x; W uint8 blocks, no weight gradient
    (so the blocks travel as a keyword, not as an input autograd tracks)."""

    def forward(self, x, b, w=None, code=0, in_features=0):
        N = w.shape[0]
        if x.ndim == 2 and x.dtype is _F32 and in_features and x.shape[0] and b is None \
                and not self.requires_grad:
            # a batch of rows into the fused kernel: what every decode step runs
            y = np.empty((x.shape[0], N), np.float32)
            _C.qgemm(code, np.ascontiguousarray(x), w, y)
            return y
        lead = x.shape[:-1]
        x2 = x.reshape(-1, in_features)
        if x.dtype == np.float32:
            if not x2.flags.c_contiguous:
                x2 = np.ascontiguousarray(x2)
            y = np.zeros((x2.shape[0], N), np.float32) if in_features == 0 else \
                np.empty((x2.shape[0], N), np.float32)
            if y.size and in_features:
                _C.qgemm(code, x2, w, y)
        else:
            y = np.zeros((x2.shape[0], N), x.dtype)
            if y.size and in_features:
                W = _C.qdequant(code, w, in_features).astype(x.dtype)
                _C.gemm(x2, W, y, False, True)
        if b is not None:
            y += b
        if self.requires_grad:
            self.saved = (w, code, in_features, lead, b is not None)
        return y.reshape(lead + (N,))

    def backward(self, g):
        w, code, K, lead, has_b = self.saved
        g2 = np.ascontiguousarray(g).reshape(-1, w.shape[0])
        gx = gb = None
        if self.needs_input_grad[0]:
            gx = np.zeros((g2.shape[0], K), g.dtype)
            if gx.size and g2.size:
                W = _C.qdequant(code, w, K)
                _C.gemm(g2, W if g.dtype == np.float32 else W.astype(g.dtype), gx)
            gx = gx.reshape(lead + (K,))
        if has_b and self.needs_input_grad[1]:
            gb = g2.sum(axis=0)
        return gx, gb


def quantized_linear(input, weight, kind, bias=None):
    """input (..., in_features) @ W.T + bias, where W (out_features, in_features) is held as
    uint8 rows of `kind` blocks ('Q4_0', 'Q4_1', 'Q8_0'; see the module doc).  float32 input
    runs the fused dequantising kernel; float64 input dequantises W first."""
    fname = "quantized_linear"
    code = _CODES.get(kind) if isinstance(kind, str) else None
    if code is None:
        _kind(fname, kind)
    x = float_array(fname, "input", input)
    w, K = _blocks(fname, weight, kind)
    if x.ndim == 0 or x.shape[-1] != K:
        raise ValueError("%s: input's last dim must be in_features=%d (the weight's %d blocks "
                         "per row), got shape %s" % (fname, K, K // QK, x.shape))
    if bias is not None:
        if not isinstance(bias, TensorBase):
            raise TypeError("%s: bias must be a Tensor or None, got %s"
                            % (fname, type(bias).__name__))
        if bias._data.shape != (w.shape[0],) or bias._data.dtype != x.dtype:
            raise ValueError("%s: bias must be %s of shape (%d,), got %s"
                             % (fname, x.dtype, w.shape[0], _describe(bias._data)))
    return QuantizedLinearFn.apply(input, bias, w=w, code=code, in_features=K)


def dequantize(weight, kind):
    """float32 Tensor (out_features, in_features) of a weight held as rows of `kind` blocks."""
    code, _ = _kind("dequantize", kind)
    w, K = _blocks("dequantize", weight, kind)
    if w.shape[0] == 0 or K == 0:
        return wrap(np.zeros((w.shape[0], K), np.float32))
    return wrap(_C.qdequant(code, w, K))


def quantized_embedding(input, weight, kind):
    """Rows `input` (integer Tensor or array of any shape) of a (num_embeddings, dim) table held
    as rows of `kind` blocks, dequantised: float32 of shape input.shape + (dim,).  The table
    gets no gradient (its blocks are frozen)."""
    fname = "quantized_embedding"
    code, _ = _kind(fname, kind)
    w, K = _blocks(fname, weight, kind)
    idx = input._data if isinstance(input, TensorBase) else np.asarray(input)
    if idx.dtype.kind not in "iu":
        raise TypeError("%s: input must hold integer indices, got %s" % (fname, idx.dtype))
    n = w.shape[0]
    if idx.size:
        lo, hi = idx.min(), idx.max()
        if lo < 0 or hi >= n:
            raise IndexError("%s: index %d is out of range for %d embeddings"
                             % (fname, int(lo if lo < 0 else hi), n))
    rows = w[idx.reshape(-1)]
    if rows.shape[0] == 0 or K == 0:
        out = np.zeros((rows.shape[0], K), np.float32)
    else:
        out = _C.qdequant(code, rows, K)
    return wrap(out.reshape(idx.shape + (K,)))


def _f16_bytes(fname, a):
    """(..., 2) little-endian float16 bytes of a (...) float array of block scales."""
    if np.any(np.abs(a) > 65504.0):
        raise ValueError("%s: a block scale of %g exceeds float16's range"
                         % (fname, np.abs(a).max()))
    h = np.ascontiguousarray(a, dtype=np.float32).astype("<f2")
    return h.view(np.uint8).reshape(a.shape + (2,))


def quantize(weight, kind):
    """uint8 Tensor of `kind` blocks (out_features, in_features / 32 * block bytes) from a float
    (out_features, in_features) weight, each block scaled to its own range as ggml's reference
    quantiser does (Q4_0 by the entry of largest magnitude, Q4_1 by min and max, Q8_0 by the
    largest magnitude).  Runs once per weight, in NumPy."""
    fname = "quantize"
    _, bb = _kind(fname, kind)
    w = weight._data if isinstance(weight, TensorBase) else np.asarray(weight)
    if w.ndim != 2 or w.dtype.kind != "f":
        raise TypeError("%s: weight must be a 2-D float matrix (out_features, in_features), "
                        "got %s" % (fname, _describe(w)))
    N, K = w.shape
    if K % QK:
        raise ValueError("%s: in_features must be a multiple of %d, got %d" % (fname, QK, K))
    if not np.all(np.isfinite(w)):
        raise ValueError("%s: weight holds NaN or Inf, which no block format can represent"
                         % fname)
    x = w.astype(np.float32).reshape(N, K // QK, QK)
    out = np.zeros((N, K // QK, bb), np.uint8)
    with np.errstate(divide="ignore", invalid="ignore"):
        if kind == "Q8_0":
            d = np.abs(x).max(axis=2) / 127.0
            inv = np.where(d > 0, 1.0 / d, 0.0)
            q = np.round(x * inv[..., None]).astype(np.int8)
            out[..., 0:2] = _f16_bytes(fname, d)
            out[..., 2:] = q.view(np.uint8)
            return wrap(out.reshape(N, -1))
        if kind == "Q4_0":
            i = np.abs(x).argmax(axis=2)
            peak = np.take_along_axis(x, i[..., None], axis=2)[..., 0]
            d = peak / -8.0   # codes 0..15 stand for -8..7: the peak maps to code 0
            inv = np.where(d != 0, 1.0 / d, 0.0)
            q = np.minimum(np.floor(x * inv[..., None] + 8.5), 15).astype(np.uint8)
            out[..., 0:2] = _f16_bytes(fname, d)
            body = 2
        else:  # Q4_1
            lo, hi = x.min(axis=2), x.max(axis=2)
            d = (hi - lo) / 15.0
            inv = np.where(d > 0, 1.0 / d, 0.0)
            q = np.minimum(np.floor((x - lo[..., None]) * inv[..., None] + 0.5), 15)
            q = q.astype(np.uint8)
            out[..., 0:2] = _f16_bytes(fname, d)
            out[..., 2:4] = _f16_bytes(fname, lo)
            body = 4
    out[..., body:] = q[..., :16] | (q[..., 16:] << 4)
    return wrap(out.reshape(N, -1))
