"""Matrix products and convolution of bfloat16 arrays on the bf16 GEMM (csrc/bf16*.c).

The kernel multiplies bf16 rows by a packed bf16 weight (vdpbf16ps on AVX512-BF16, widening
FMAs on AVX2/generic), sums in float32 with the bias fused, and the float32 result is rounded
once to bf16: what torch's bf16 matmul/linear/conv return.  The right operand is packed per call
(O(K*N), small beside the O(M*K*N) product).  conv2d is im2col on the 16-bit words followed by
the same GEMM; its backward (and any op this module lacks) runs the float32 kernels on widened
values (dlcore.ops.half).
"""
import numpy as np
from numpy.lib.stride_tricks import as_strided

from .. import _C
from ..dtypes import bfloat16, float32
from .half_convert import bits, convert

_U16 = np.dtype(np.uint16)


def _weight_bits(bt):
    """Packed kernel weight from bt (N, K): the right operand transposed, as bf16."""
    return _C.bf16_pack(np.ascontiguousarray(bt).view(_U16))


def gemm_f32(a, b, bias=None):
    """a (M, K) @ b (K, N) of bf16 arrays (any strides) -> float32 (M, N); bias float32 (N)."""
    M, K = a.shape
    N = b.shape[1]
    if M == 0 or N == 0:
        return np.zeros((M, N), float32)
    if K == 0:
        out = np.zeros((M, N), float32)
        return out + bias if bias is not None else out
    return _C.bf16_gemm(bits(a), _weight_bits(b.T), N, bias=bias)


def mm(a, b, bias=None):
    """a (M, K) @ b (K, N) of bf16 arrays -> bf16 (M, N) (+ bias, a bf16 (N) array)."""
    if bias is not None:
        bias = convert(np.ascontiguousarray(bias), float32)
    return convert(gemm_f32(a, b, bias), bfloat16)


def batched(a, b):
    """a (..., M, K) @ b (..., K, N) of bf16 arrays with broadcast batch dims -> bf16."""
    if b.ndim == 2:
        lead = a.shape[:-1]
        return mm(a.reshape(-1, a.shape[-1]), b).reshape(lead + (b.shape[1],))
    batch = np.broadcast_shapes(a.shape[:-2], b.shape[:-2])
    A = np.broadcast_to(a, batch + a.shape[-2:]).reshape((-1,) + a.shape[-2:])
    B = np.broadcast_to(b, batch + b.shape[-2:]).reshape((-1,) + b.shape[-2:])
    out = np.empty((A.shape[0], a.shape[-2], b.shape[-1]), float32)
    for i in range(A.shape[0]):
        out[i] = gemm_f32(A[i], B[i])
    return convert(out, bfloat16).reshape(batch + out.shape[1:])


def conv2d(x, w, b, stride, padding, dilation, groups, out_hw):
    """conv2d of bf16 x (N, C, H, W) by w (K, C/groups, R, S), bias b (K) or None -> bf16
    (N, K, OH, OW): the input's windows gathered (im2col) as bf16 words, then the bf16 GEMM."""
    N, C, H, W = x.shape
    K, Cg, R, S = w.shape
    OH, OW = out_hw
    (sh, sw), (ph, pw), (dh, dw) = stride, padding, dilation
    need_h = (OH - 1) * sh + dh * (R - 1) + 1
    need_w = (OW - 1) * sw + dw * (S - 1) + 1
    xp = np.pad(x.view(_U16), ((0, 0), (0, 0), (ph, max(need_h - H - ph, 0)),
                               (pw, max(need_w - W - pw, 0))))
    s = xp.strides
    cols = as_strided(xp, (N, OH, OW, C, R, S),
                      (s[0], s[2] * sh, s[3] * sw, s[1], s[2] * dh, s[3] * dw))
    bias = None if b is None else convert(np.ascontiguousarray(b), float32)
    Kg = K // groups
    out = np.empty((N * OH * OW, K), float32)
    wb = np.ascontiguousarray(w).view(_U16).reshape(K, Cg * R * S)
    for g in range(groups):
        a = np.ascontiguousarray(cols[:, :, :, g * Cg:(g + 1) * Cg]).reshape(N * OH * OW, -1)
        packed = _C.bf16_pack(np.ascontiguousarray(wb[g * Kg:(g + 1) * Kg]))
        gb = None if bias is None else np.ascontiguousarray(bias[g * Kg:(g + 1) * Kg])
        out[:, g * Kg:(g + 1) * Kg] = _C.bf16_gemm(a, packed, Kg, bias=gb)
    y = out.reshape(N, OH, OW, K).transpose(0, 3, 1, 2)
    return convert(np.ascontiguousarray(y), bfloat16)
