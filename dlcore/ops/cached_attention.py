"""Causal self-attention of new positions over a key/value cache, grouped-query style, in one
op: the decoding step of Llama-family models (ONNX Runtime's GroupQueryAttention does the same).

Given the packed projections of L new positions, qkv (L, (H + 2 Hkv) D) = [q | k | v], and
caches (Hkv, max_len, D) whose first `start` positions hold earlier keys and values, it
1. rotates q and k by the rotary tables' rows start .. start + L - 1 (when tables are given),
2. writes k and v into the caches at positions start .. start + L - 1 (in place),
3. attends: query i (position start + i) sees keys 0 .. start + i; query head h reads kv head
   h // (H / Hkv), the kv heads broadcast over their group without copies,
and returns the attention output (L, H D), heads side by side as the output projection reads
them.  One op instead of the dozen view, rotation, copy and attention calls it replaces matters
when decoding one token per call: per-op Python cost, not arithmetic, dominates there.

float32 calls of up to 64 new positions (every decoding step) run as one kernel call
(dlcore/_C/kvcache.pxi): rotary append into the caches, then each query row attends over the
cache in place.  Longer prompts, and float64, rotate in NumPy and run the tiled attention kernel
that scaled_dot_product_attention uses (dlcore/_C/attention.pxi).  The in-place cache update
has no gradient: this op is for inference (under dl.no_grad()); train with rotary_embedding and
scaled_dot_product_attention.
"""
import math

import numpy as np

from .. import _C
from ..autograd import Function, is_grad_enabled
from ..tensor_base import TensorBase
from .rotary import float_array, rotate

__all__ = ["cached_attention"]


# new positions per call up to which the in-place kernel (no packing of the cache) runs; a
# longer prompt goes through the tiled attention kernel, which packs keys once per call
_KV_KERNEL_MAX_L = 64
_F32 = np.dtype(np.float32)


class CachedAttentionFn(Function):
    def forward(self, qkv, kc=None, vc=None, cos=None, sin=None, start=0, num_heads=1,
                interleaved=True, scale=1.0):
        L = qkv.shape[0]
        if qkv.dtype is _F32 and L <= _KV_KERNEL_MAX_L:
            # rotation, cache append and attention in one call (dlcore/_C/kvcache.pxi)
            out = np.empty((L, num_heads * kc.shape[2]), np.float32)
            if cos is not None and not (cos.flags.c_contiguous and sin.flags.c_contiguous):
                cos, sin = np.ascontiguousarray(cos), np.ascontiguousarray(sin)
            return _C.kv_cache_attention(np.ascontiguousarray(qkv), kc, vc, cos, sin,
                                         interleaved, start, num_heads, scale, out)
        return self._tiled(qkv, kc, vc, cos, sin, start, num_heads, interleaved, scale)

    @staticmethod
    def _tiled(qkv, kc, vc, cos, sin, start, num_heads, interleaved, scale):
        L = qkv.shape[0]
        Hk, _, D = kc.shape
        H = num_heads
        G = H // Hk
        S = start + L
        x = qkv.reshape(L, H + 2 * Hk, D)
        # q and k rotated in one pass (a copy either way: the input stays untouched)
        qk = (np.ascontiguousarray(x[:, :H + Hk]) if cos is None else
              rotate(x[:, :H + Hk], cos[start:S, None], sin[start:S, None], interleaved))
        kc[:, start:S] = qk[:, H:].transpose(1, 0, 2)
        vc[:, start:S] = x[:, H + Hk:].transpose(1, 0, 2)
        q4 = qk[:, :H].reshape(L, Hk, G, D).transpose(1, 2, 0, 3)
        # the first S positions of each kv head, repeated over the group by a zero stride
        st = kc.strides
        shape, strides = (Hk, G, S, D), (st[0], 0, st[1], st[2])
        k4 = np.ndarray(shape, kc.dtype, kc, 0, strides)
        v4 = np.ndarray(shape, vc.dtype, vc, 0, strides)
        mask = None
        if L > 1 and start > 0:    # the new rows see the whole cache and their own past
            m = np.arange(S)[None, :] <= (start + np.arange(L))[:, None]
            mask = np.broadcast_to(m, (Hk, G, L, S))
        out = np.empty((Hk, G, L, D), qkv.dtype)
        lse = np.empty((Hk, G, L), qkv.dtype)
        _C.attention_forward(q4, k4, v4, mask, L > 1 and start == 0, scale, out, lse)
        return out.transpose(2, 0, 1, 3).reshape(L, H * D)

    def backward(self, g):  # pragma: no cover - refused in cached_attention
        raise RuntimeError("cached_attention: no gradient (the cache is updated in place)")


def _plain_call(qkv, k_cache, v_cache, start, num_heads, cos, sin):
    """(kc, vc, cos, sin, default scale) for the call every decoding step makes, accepted by a
    few comparisons (float32 Tensors of matching shapes, int positions, rotary tables that are
    long enough, no gradient wanted); None sends the call through the full checks and their
    error messages."""
    if type(start) is not int or type(num_heads) is not int or start < 0 or num_heads < 1 \
            or not isinstance(qkv, TensorBase) or not isinstance(k_cache, TensorBase) \
            or not isinstance(v_cache, TensorBase) or not isinstance(cos, TensorBase) \
            or not isinstance(sin, TensorBase) or (qkv.requires_grad and is_grad_enabled()):
        return None
    x, kc, vc, c, s = qkv._data, k_cache._data, v_cache._data, cos._data, sin._data
    if x.dtype is not _F32 or kc.dtype is not _F32 or vc.dtype is not _F32 \
            or c.dtype is not _F32 or s.dtype is not _F32 or x.ndim != 2 or kc.ndim != 3 \
            or kc.shape != vc.shape or c.ndim != 2 or c.shape != s.shape:
        return None
    Hk, max_len, D = kc.shape
    L = x.shape[0]
    if num_heads % Hk or x.shape[1] != (num_heads + 2 * Hk) * D or L == 0 or D % 2 \
            or start + L > max_len or c.shape[0] < start + L or c.shape[1] != D // 2 \
            or not (kc.flags.c_contiguous and kc.flags.writeable and vc.flags.c_contiguous
                    and vc.flags.writeable):
        return None
    return kc, vc, c, s, 1.0 / math.sqrt(D)


def cached_attention(qkv, k_cache, v_cache, start, num_heads, cos=None, sin=None,
                     interleaved=True, scale=None):
    """Attention of the L positions packed in qkv (L, (num_heads + 2 Hkv) D) over the caches
    k_cache, v_cache (Hkv, max_len, D), which this call extends at positions start .. start + L
    - 1; cos, sin: rotary tables (max_len, D / 2) or None (see dlcore.ops.rotary for
    `interleaved`); scale defaults to 1 / sqrt(D).  Returns (L, num_heads D).  See the module
    doc; inference only."""
    fast = _plain_call(qkv, k_cache, v_cache, start, num_heads, cos, sin)
    if fast is not None:
        return CachedAttentionFn.apply(qkv, kc=fast[0], vc=fast[1], cos=fast[2], sin=fast[3],
                                       start=start, num_heads=num_heads,
                                       interleaved=bool(interleaved),
                                       scale=fast[4] if scale is None else float(scale))
    fname = "cached_attention"
    x = float_array(fname, "qkv", qkv)
    if is_grad_enabled() and qkv.requires_grad:
        raise RuntimeError("%s: the cache is updated in place and has no gradient; run under "
                           "dl.no_grad(), or train with rotary_embedding and "
                           "scaled_dot_product_attention" % fname)
    caches = []
    for name, t in (("k_cache", k_cache), ("v_cache", v_cache)):
        a = t._data if isinstance(t, TensorBase) else None
        if a is None or a.ndim != 3 or a.dtype != x.dtype:
            raise TypeError("%s: %s must be a 3-D %s Tensor (kv_heads, max_len, head_dim), got %s"
                            % (fname, name, x.dtype, "shape %s %s" % (a.shape, a.dtype)
                               if a is not None else type(t).__name__))
        if not (a.flags.c_contiguous and a.flags.writeable):
            raise ValueError("%s: %s must be C-contiguous and writeable" % (fname, name))
        caches.append(a)
    kc, vc = caches
    if kc.shape != vc.shape:
        raise ValueError("%s: k_cache %s and v_cache %s differ in shape" % (fname, kc.shape,
                                                                          vc.shape))
    Hk, max_len, D = kc.shape
    H = num_heads
    if isinstance(H, bool) or not isinstance(H, (int, np.integer)) or H < 1 or H % Hk:
        raise ValueError("%s: num_heads must be a positive multiple of the caches' %d kv heads, "
                         "got %r" % (fname, Hk, num_heads))
    if x.ndim != 2 or x.shape[1] != (H + 2 * Hk) * D or x.shape[0] == 0:
        raise ValueError("%s: qkv must be (L >= 1, (num_heads + 2 * kv_heads) * head_dim) = "
                         "(L, %d), got shape %s" % (fname, (H + 2 * Hk) * D, x.shape))
    L = x.shape[0]
    if isinstance(start, bool) or not isinstance(start, (int, np.integer)) or start < 0 \
            or start + L > max_len:
        raise ValueError("%s: start + L must fit the caches' %d positions, got start=%r, L=%d"
                         % (fname, max_len, start, L))
    tables = None, None
    if cos is not None or sin is not None:
        tables = (cos._data if isinstance(cos, TensorBase) else None,
                  sin._data if isinstance(sin, TensorBase) else None)
        for name, a in zip(("cos", "sin"), tables):
            if a is None or a.dtype != x.dtype or a.ndim != 2 or a.shape[1] != D // 2 \
                    or a.shape[0] < start + L:
                raise ValueError("%s: %s must be a %s Tensor (>= %d positions, %d), got %s"
                                 % (fname, name, x.dtype, start + L, D // 2,
                                    "shape %s %s" % (a.shape, a.dtype) if a is not None
                                    else "None"))
        if D % 2:
            raise ValueError("%s: rotary positions need an even head_dim, got %d" % (fname, D))
    scale = 1.0 / math.sqrt(D) if scale is None else float(scale)
    # the caches and tables travel as keywords: autograd has nothing to track in them
    return CachedAttentionFn.apply(qkv, kc=kc, vc=vc, cos=tables[0], sin=tables[1],
                                   start=int(start), num_heads=int(H),
                                   interleaved=bool(interleaved), scale=scale)
