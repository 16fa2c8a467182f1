"""Matrix products and convolution of bfloat16 arrays on the bf16 GEMM (csrc/bf16*.c).

The kernel multiplies bf16 rows by a packed bf16 weight (vdpbf16ps on AVX512-BF16, widening
FMAs on AVX2/generic), sums in float32 with the bias fused, and the float32 result is rounded
once to bf16: what torch's bf16 matmul/linear/conv return.  The right operand is packed per call
(O(K*N), small beside the O(M*K*N) product).  conv2d is im2col on the 16-bit words followed by
the same GEMM (dlcore.ops.conv decides when that beats the float32 kernels on widened values).
"""
import numpy as np
from numpy.lib.stride_tricks import as_strided

from .. import _C
from ..dtypes import bfloat16_dtype, float32
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
    return convert(gemm_f32(a, b, bias), a.dtype)


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
    return convert(out, a.dtype).reshape(batch + out.shape[1:])


def _pack_rows(m):
    """The packed kernel weight of a (N, K) bf16-word matrix (any strides)."""
    return _C.bf16_pack(np.ascontiguousarray(m))


class Conv2dBF16:
    """conv2d of bf16 x (N, C, H, W) by w (K, C/groups, R, S) as im2col + the bf16 GEMM.

    The windows are gathered from a channels-last copy of the input, so the innermost copies are
    runs of C contiguous words rather than runs of S (3x faster here than gathering from NCHW);
    a column is ordered (r, s, c) and the weight is reordered to match."""

    def __init__(self, x_shape, w_shape, stride, padding, dilation, groups, out_hw):
        self.x_shape, self.w_shape = x_shape, w_shape
        self.stride, self.padding, self.dilation = stride, padding, dilation
        self.groups, self.out_hw = groups, out_hw

    def _padded_hw(self):
        _, _, H, W = self.x_shape
        _, _, R, S = self.w_shape
        (OH, OW), (sh, sw), (ph, pw), (dh, dw) = (self.out_hw, self.stride, self.padding,
                                                  self.dilation)
        need_h = (OH - 1) * sh + dh * (R - 1) + 1
        need_w = (OW - 1) * sw + dw * (S - 1) + 1
        return H + ph + max(need_h - H - ph, 0), W + pw + max(need_w - W - pw, 0)

    def _window_view(self, xp):
        """(N, OH, OW, R, S, C) view of the padded channels-last array xp."""
        N, _, _, C = xp.shape
        _, _, R, S = self.w_shape
        (OH, OW), (sh, sw), (dh, dw) = self.out_hw, self.stride, self.dilation
        st = xp.strides
        return as_strided(xp, (N, OH, OW, R, S, C),
                          (st[0], st[1] * sh, st[2] * sw, st[1] * dh, st[2] * dw, st[3]))

    def _weight_rows(self, w):
        K, Cg, R, S = self.w_shape
        return np.ascontiguousarray(w.view(_U16).transpose(0, 2, 3, 1)).reshape(K, R * S * Cg)

    def forward(self, x, w, b):
        N, C, H, W = self.x_shape
        K, Cg, R, S = self.w_shape
        (OH, OW), (ph, pw), G = self.out_hw, self.padding, self.groups
        Hp, Wp = self._padded_hw()
        xp = np.zeros((N, Hp, Wp, C), _U16)
        xp[:, ph:ph + H, pw:pw + W, :] = x.view(_U16).transpose(0, 2, 3, 1)
        win = self._window_view(xp)
        M, Kg = N * OH * OW, K // G
        bias = None if b is None else convert(np.ascontiguousarray(b), float32)
        wr = self._weight_rows(w)
        cols = [np.ascontiguousarray(win if G == 1 else win[..., g * Cg:(g + 1) * Cg])
                .reshape(M, R * S * Cg) for g in range(G)]
        out = np.empty((M, K), float32)
        for g in range(G):
            gb = None if bias is None else np.ascontiguousarray(bias[g * Kg:(g + 1) * Kg])
            out[:, g * Kg:(g + 1) * Kg] = _C.bf16_gemm(cols[g], _pack_rows(wr[g * Kg:(g + 1) * Kg]),
                                                       Kg, bias=gb)
        y = out.reshape(N, OH, OW, K).transpose(0, 3, 1, 2)
        return convert(np.ascontiguousarray(y), bfloat16_dtype())
