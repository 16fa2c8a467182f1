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

Prompts (several rows) in PackedDecoderLayer: with int8_prompt (the default) block weights
multiply x rounded to int8 per 32-block (_C.qgemm_packed: integer dot products, as llama.cpp's
Q8 activations; not exact, bound in csrc/include/dlcore/qgemv.h, measured error in
docs/quantization.md); int8_prompt=False, or DLCORE_EXACT_PROMPT=1 in the environment for the
default, keeps the exact product of x with the block weights (_C.qgemm).
"""
import os

import numpy as np

from .. import _C
from ..autograd import Function, is_grad_enabled
from ..tensor_base import TensorBase, wrap
from .cached_attention import _KV_KERNEL_MAX_L as _KV_MAX_L, cached_attention
from .quantized import _CODES, QK, QUANT_KINDS

__all__ = ["rms_norm_linear", "linear_add", "swiglu_mlp", "PackedDecoderLayer", "PackedGEMV"]

_F32 = np.dtype(np.float32)
_U8 = np.dtype(np.uint8)

# the default of PackedDecoderLayer's int8_prompt: DLCORE_EXACT_PROMPT=1 turns it off
INT8_PROMPT = os.environ.get("DLCORE_EXACT_PROMPT", "").strip().lower() in ("", "0", "false",
                                                                             "no", "off")


def _matmul(x, w, code, out, accumulate=False):
    """out (M, N) = x (M, K) @ W.T (+ out when accumulate); W float32 or blocks of `code`."""
    if code is None:
        _C.gemm(x, w, out, False, True, 1.0, 1.0 if accumulate else 0.0)
    else:
        _C.qgemm(code, x, w, out, accumulate)
    return out


def packed_gemv(w, code, K):
    """The row-interleaved copy of block weights w (N, bytes) for _C.qgemv_packed, the
    decoding (one row) product that rounds x to int16 per 32-block and sums codes times x in
    integers (its bound: csrc/include/dlcore/qgemv.h); None for float32 weights (code None)."""
    return None if code is None else _C.qpack(code, w, K)


class PackedGEMV:
    """x (1, K) @ W.T for one row x, W (N, K) held as `kind` blocks: the decoding product of
    _C.qgemv_packed over a row-interleaved copy of the blocks made here once (x rounded to
    int16 per 32-block; error bound in csrc/include/dlcore/qgemv.h).  Inference only.

        head = PackedGEMV(weight, "Q8_0", in_features); logits = head(x)   # (1, N) Tensor"""

    def __init__(self, weight, kind, in_features):
        fname = "PackedGEMV"
        if kind is None:
            raise ValueError("%s: kind must be one of %s (block weights), got None"
                             % (fname, ", ".join(QUANT_KINDS)))
        self.weight = weight
        w, self.code, self.n = _weight(fname, "weight", weight, kind, int(in_features))
        self.k = int(in_features)
        self.packed = _C.qpack(self.code, w, self.k)

    def __call__(self, input):
        x = _input("PackedGEMV", "input", input, self.k)
        if x.shape[0] != 1:
            raise ValueError("PackedGEMV: input must be one row (1, %d), got shape %s"
                             % (self.k, x.shape))
        out = np.empty((1, self.n), np.float32)
        _C.qgemv_packed(self.code, x, self.packed, self.n, out)
        return wrap(out)


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


class PackedDecoderLayer:
    """The four blocks of a pre-norm Llama decoder layer (rms_norm_linear, cached_attention,
    linear_add, swiglu_mlp), with every weight, cache and table checked once here and the
    per-call scratch kept between calls (the packed-weights pattern of quantised inference
    engines).  Calling it runs the same kernels as the four ops with a dozen kernel calls and
    a few Python frames per layer: a decoding step of a small model streams ~100 MB of weights
    through the caches per token, and every Python call then runs cache-cold, so the count of
    calls, not their arithmetic, is what a layer's overhead is made of.

        step = PackedDecoderLayer(n1, eps1, (qkv_w, kind), k_cache, v_cache, num_heads, cos, sin,
                                  (o_w, kind), n2, eps2, (gate_up_w, kind), (down_w, kind))
        y = step(x, start)      # x (L, D) float32 Tensor at positions start .. start + L - 1
        y = step(x, start, last=True)   # only y's last row (1, D); every row's keys and values
                                        # still enter the cache

    `parts` holds the Tensors it was packed from (a holder re-packs when one is replaced).
    Block weights also get a row-interleaved copy (PackedGEMV's) that one-row calls (decoding)
    multiply with _C.qgemv_packed.  Longer inputs (a prompt) multiply the same copy with x
    rounded to int8 per 32-block (_C.qgemm_packed) when int8_prompt is set (the default:
    INT8_PROMPT, off under DLCORE_EXACT_PROMPT=1), else the blocks as stored, exactly
    (_C.qgemm); a call may override it (step(x, start, int8_prompt=False)).  With last=True
    (the model's last layer when only the next token's logits are wanted) every row's keys and
    values are cached, and everything after the attention runs on the last row only, with the
    prompt's products (that row's result is the one of the whole call: each row's int8 or
    exact product does not depend on the other rows)."""

    def __init__(self, norm1, eps1, qkv, k_cache, v_cache, num_heads, cos, sin, o, norm2, eps2,
                 gate_up, down, int8_prompt=None):
        fname = "PackedDecoderLayer"
        self.parts = (norm1, qkv[0], k_cache, v_cache, cos, sin, o[0], norm2, gate_up[0],
                      down[0])
        kc = k_cache._data if isinstance(k_cache, TensorBase) else None
        if kc is None or kc.dtype is not _F32 or kc.ndim != 3:
            raise TypeError("%s: k_cache must be a 3-D float32 Tensor, got %s"
                            % (fname, _describe(k_cache)))
        Hk, _, D = kc.shape
        H = num_heads
        self.dim = norm1._data.shape[0] if isinstance(norm1, TensorBase) else -1
        self.n1, self.n2 = _norm(fname, norm1, self.dim), _norm(fname, norm2, self.dim)
        self.wq, self.cq, nq = _weight(fname, "qkv weight", qkv[0], qkv[1], self.dim)
        if nq != (H + 2 * Hk) * D:
            raise ValueError("%s: the qkv projection gives %d outputs, the caches and %d heads "
                             "need %d" % (fname, nq, H, (H + 2 * Hk) * D))
        self.wo, self.co, no = _weight(fname, "o weight", o[0], o[1], H * D)
        self.wgu, self.cgu, f2 = _weight(fname, "gate_up weight", gate_up[0], gate_up[1],
                                         self.dim)
        self.wd, self.cd, nd = _weight(fname, "down weight", down[0], down[1], f2 // 2)
        if no != self.dim or nd != self.dim or f2 % 2:
            raise ValueError("%s: the o and down projections must give %d outputs and gate_up "
                             "an even number, got %d, %d, %d" % (fname, self.dim, no, nd, f2))
        self.kc, self.vc = kc, v_cache._data
        self.cos, self.sin = (t._data if isinstance(t, TensorBase) else None for t in (cos, sin))
        for name, t in (("cos", self.cos), ("sin", self.sin)):
            if t is None or t.dtype is not _F32 or t.shape != (kc.shape[1], D // 2) \
                    or not t.flags.c_contiguous:
                raise TypeError("%s: %s must be a C-contiguous float32 Tensor %s, got %s"
                                % (fname, name, (kc.shape[1], D // 2), _describe(t)))
        if self.vc.shape != kc.shape or not (kc.flags.c_contiguous and self.vc.flags.c_contiguous
                                             and kc.flags.writeable and self.vc.flags.writeable):
            raise ValueError("%s: k_cache and v_cache must be writeable, C-contiguous and of one "
                             "shape" % fname)
        self.eps1, self.eps2, self.heads = float(eps1), float(eps2), int(H)
        self.scale = 1.0 / float(np.sqrt(D))
        self.F, self.nq = f2 // 2, nq
        # decoding (one row) reads these row-interleaved copies; longer inputs the blocks
        self.pq, self.po, self.pgu, self.pd = (
            packed_gemv(w, c, k) for w, c, k in ((self.wq, self.cq, self.dim),
                                                 (self.wo, self.co, H * D),
                                                 (self.wgu, self.cgu, self.dim),
                                                 (self.wd, self.cd, self.F)))
        self._scratch = {}
        self.int8_prompt = INT8_PROMPT if int8_prompt is None else bool(int8_prompt)

    def _buffers(self, L):
        b = self._scratch.get(L)
        if b is None:
            if len(self._scratch) > 4:
                self._scratch.clear()
            b = self._scratch[L] = (np.empty((L, self.dim), np.float32),
                                    np.empty((L, self.nq), np.float32),
                                    np.empty((L, self.heads * self.kc.shape[2]), np.float32),
                                    np.empty((L, 2 * self.F), np.float32),
                                    np.empty((L, self.F), np.float32))
        return b

    def __call__(self, input, start, int8_prompt=None, last=False):
        x = input._data if isinstance(input, TensorBase) else None
        if x is None or x.dtype is not _F32 or x.ndim != 2 or x.shape[1] != self.dim \
                or not x.flags.c_contiguous:
            raise TypeError("PackedDecoderLayer: input must be a C-contiguous float32 Tensor "
                            "(L, %d), got %s" % (self.dim, _describe(input)))
        L = x.shape[0]
        # scratch reused between calls (never returned); the result is a new array
        h, qkv, att, gu, a = self._buffers(L)
        _C.layer_norm_forward(x, self.dim, self.n1, None, self.eps1, h, None, None, True)
        # the matrix products spelled out (float32 GEMM or quantised kernel): no helper call;
        # `packed`: the packed copy (one row, or a prompt with int8 activations)
        if int8_prompt is None:
            int8_prompt = self.int8_prompt
        packed = L == 1 or int8_prompt
        gemv = _C.qgemv_packed if L == 1 else _C.qgemm_packed
        if self.cq is None:
            _C.gemm(h, self.wq, qkv, False, True)
        elif packed:
            gemv(self.cq, h, self.pq, self.nq, qkv)
        else:
            _C.qgemm(self.cq, h, self.wq, qkv)
        if L <= _KV_MAX_L:
            _C.kv_cache_attention(qkv, self.kc, self.vc, self.cos, self.sin, True, start,
                                  self.heads, self.scale, att)
        else:
            att = cached_attention(wrap(qkv), wrap(self.kc), wrap(self.vc), start, self.heads,
                                   wrap(self.cos), wrap(self.sin))._data
        if last and L > 1:
            # the rows before the last only fed the cache: their output is not wanted
            x, att = x[L - 1:], att[L - 1:]
            L = 1
            h, _, _, gu, a = self._buffers(1)
        out = x.copy()
        if self.co is None:
            _C.gemm(att, self.wo, out, False, True, 1.0, 1.0)
        elif packed:
            gemv(self.co, att, self.po, self.dim, out, True)
        else:
            _C.qgemm(self.co, att, self.wo, out, True)
        _C.layer_norm_forward(out, self.dim, self.n2, None, self.eps2, h, None, None, True)
        if self.cgu is None:
            _C.gemm(h, self.wgu, gu, False, True)
        elif packed:
            gemv(self.cgu, h, self.pgu, 2 * self.F, gu)
        else:
            _C.qgemm(self.cgu, h, self.wgu, gu)
        _C.silu_mul(gu, a)
        if self.cd is None:
            _C.gemm(a, self.wd, out, False, True, 1.0, 1.0)
        elif packed:
            gemv(self.cd, a, self.pd, self.dim, out, True)
        else:
            _C.qgemm(self.cd, a, self.wd, out, True)
        return wrap(out)
