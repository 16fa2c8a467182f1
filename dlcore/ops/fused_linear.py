"""Fused inference blocks of pre-norm transformer decoders, for float32 weights or weights held
in ggml's block formats (kind 'Q4_0', 'Q4_1', 'Q8_0'; see dlcore.ops.quantized):

    rms_norm_linear(x, norm_weight, eps, weight, kind)   = rms_norm(x) * norm_weight @ W.T
    linear_add(x, weight, residual, kind)                = residual + x @ W.T
    swiglu_mlp(x, norm_weight, eps, gate_up, down, ...)  = x + down(swiglu(gate_up(rms_norm(x))))

Decoding one token runs each of these once per layer: a chain of matrix-vector products whose
arithmetic is small next to what Python pays per op (argument checks, the autograd entry, the
Tensor wrapper).  One op per block instead of two to six keeps that cost below the products'.
The blocks run the same kernels as the separate ops (layer_norm's RMS kernel, the quantised or
float GEMV/GEMM, the SiLU kernel) on buffers private to the call.

Inference only: they record nothing for autograd and refuse inputs that require a gradient
(compose rms_norm, linear / quantized_linear and swiglu to train).  x is (M, K) float32.
"""
import numpy as np

from .. import _C
from ..autograd import Function, is_grad_enabled
from ..tensor_base import TensorBase
from .quantized import _CODES, QK, QUANT_KINDS

__all__ = ["rms_norm_linear", "linear_add", "swiglu_mlp"]

_F32 = np.dtype(np.float32)
_U8 = np.dtype(np.uint8)


def _matmul(x, w, code, out, accumulate=False):
    """out (M, N) = x (M, K) @ W.T (+ out when accumulate); W float32 or blocks of `code`."""
    if code is None:
        _C.gemm(x, w, out, False, True, 1.0, 1.0 if accumulate else 0.0)
    else:
        _C.qgemm(code, x, w, out, accumulate)
    return out


def _rms(x, weight, eps):
    h = np.empty(x.shape, np.float32)
    _C.layer_norm_forward(x, x.shape[1], weight, None, eps, h, None, None, True)
    return h


class RMSNormLinearFn(Function):
    def forward(self, x, nw, w=None, code=None, eps=1e-5):
        return _matmul(_rms(x, nw, eps), w, code, np.empty((x.shape[0], w.shape[0]), np.float32))


class LinearAddFn(Function):
    def forward(self, x, residual, w=None, code=None):
        return _matmul(x, w, code, residual.copy(), accumulate=True)


class SwiGLUMLPFn(Function):
    def forward(self, x, nw, gu=None, down=None, code=None, down_code=None, eps=1e-5):
        h = _rms(x, nw, eps)
        M, F = x.shape[0], gu.shape[0] // 2
        y = _matmul(h, gu, code, np.empty((M, 2 * F), np.float32))
        a = np.empty((M, F), np.float32)
        _C.act_forward(_C.AF_SILU, np.ascontiguousarray(y[:, :F]), a)
        a *= y[:, F:]
        return _matmul(a, down, down_code, x.copy(), accumulate=True)


def _input(fname, name, t, K=None):
    """The (M, K) float32 C-contiguous array of Tensor t."""
    a = t._data if isinstance(t, TensorBase) else None
    if a is None or a.dtype is not _F32 or a.ndim != 2 or (K is not None and a.shape[1] != K):
        raise TypeError("%s: %s must be a 2-D float32 Tensor%s, got %s"
                        % (fname, name, "" if K is None else " (M, %d)" % K, _describe(t)))
    if is_grad_enabled() and t.requires_grad:
        raise RuntimeError("%s: inference only (no gradient is recorded); run under "
                           "dl.no_grad(), or compose rms_norm, linear and swiglu to train" % fname)
    return a if a.flags.c_contiguous else np.ascontiguousarray(a)


def _describe(t):
    a = t._data if isinstance(t, TensorBase) else t
    if isinstance(a, np.ndarray):
        return "%s of shape %s" % (a.dtype, a.shape)
    return type(t).__name__


def _weight(fname, name, t, kind, K):
    """(array, kernel code or None, out_features) of a weight of K inputs: float32 (N, K) when
    kind is None, else uint8 rows of `kind` blocks."""
    a = t._data if isinstance(t, TensorBase) else None
    if kind is None:
        if a is None or a.dtype is not _F32 or a.ndim != 2 or a.shape[1] != K:
            raise TypeError("%s: %s must be a float32 Tensor (out_features, %d), got %s"
                            % (fname, name, K, _describe(t)))
        return a, None, a.shape[0]
    code = _CODES.get(kind) if isinstance(kind, str) else None
    if code is None:
        raise ValueError("%s: kind must be None (float32 weights) or one of %s, got %r"
                         % (fname, ", ".join(QUANT_KINDS), kind))
    bb = QUANT_KINDS[kind]
    if a is None or a.dtype is not _U8 or a.ndim != 2 or a.shape[1] * QK != K * bb \
            or K % QK:
        raise TypeError("%s: %s must be a uint8 Tensor of %s blocks (out_features, %d), got %s"
                        % (fname, name, kind, K // QK * bb if not K % QK else -1,
                           _describe(t)))
    return (a if a.flags.c_contiguous else np.ascontiguousarray(a)), code, a.shape[0]


def _norm(fname, t, K):
    a = t._data if isinstance(t, TensorBase) else None
    if a is None or a.dtype is not _F32 or a.shape != (K,):
        raise TypeError("%s: norm_weight must be a float32 Tensor (%d,), got %s"
                        % (fname, K, _describe(t)))
    return a


def rms_norm_linear(input, norm_weight, eps, weight, kind=None):
    """(input / sqrt(mean(input^2) + eps) * norm_weight) @ W.T for input (M, K): RMSNorm and
    the projection after it in one op.  weight: float32 (N, K) when kind is None, else (N, K)
    as uint8 rows of `kind` blocks.  Returns (M, N)."""
    fname = "rms_norm_linear"
    x = _input(fname, "input", input)
    K = x.shape[1]
    w, code, _ = _weight(fname, "weight", weight, kind, K)
    return RMSNormLinearFn.apply(x, _norm(fname, norm_weight, K), w=w, code=code,
                                 eps=float(eps))


def linear_add(input, weight, residual, kind=None):
    """residual + input @ W.T (a projection and the residual add after it in one op); input
    (M, K), residual (M, N).  weight as in rms_norm_linear."""
    fname = "linear_add"
    x = _input(fname, "input", input)
    w, code, N = _weight(fname, "weight", weight, kind, x.shape[1])
    r = _input(fname, "residual", residual, N)
    if r.shape[0] != x.shape[0]:
        raise ValueError("%s: residual must be (%d, %d), got shape %s"
                         % (fname, x.shape[0], N, r.shape))
    return LinearAddFn.apply(x, r, w=w, code=code)


def swiglu_mlp(input, norm_weight, eps, gate_up_weight, down_weight, kind=None,
               down_kind=None):
    """input + down(silu(g) * u) with g|u = rms_norm(input) * norm_weight @ gate_up.T: a
    pre-norm SwiGLU MLP block with its residual, in one op.  input (M, D); gate_up (2F, D)
    (gate rows first) of block format `kind`, down (D, F) of `down_kind` (None: float32
    weights, as in rms_norm_linear)."""
    fname = "swiglu_mlp"
    x = _input(fname, "input", input)
    D = x.shape[1]
    gu, code, F2 = _weight(fname, "gate_up_weight", gate_up_weight, kind, D)
    if F2 % 2:
        raise ValueError("%s: gate_up_weight must have an even number of rows (gate and value "
                         "halves), got %d" % (fname, F2))
    down, down_code, Dout = _weight(fname, "down_weight", down_weight, down_kind, F2 // 2)
    if Dout != D:
        raise ValueError("%s: down_weight must map back to the input's %d features, got %d"
                         % (fname, D, Dout))
    return SwiGLUMLPFn.apply(x, _norm(fname, norm_weight, D), gu=gu, down=down, code=code,
                             down_code=down_code, eps=float(eps))
