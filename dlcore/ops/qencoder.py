"""The eager inference step of a dynamically quantized post-LayerNorm transformer encoder layer
(BERT's): the layer's kernels called on arrays one after another, without the modules, Tensors
and per-op checks between them.  A 6-layer MiniLM at batch 1 spent ~3.5 ms of its ~14 ms in
that Python, where ONNX Runtime's whole quantized model takes ~14 ms.

The result is bit for bit the modules' (dlcore.models.bert): the same int8 calls (q, k and v
stacked, GELU/ReLU in the first FFN GEMM's epilogue), the same fused attention call on the
same views, the same additions and LayerNorm kernel.  Where the modules would leave the fused
attention kernel (a NaN or Inf among q, k, v: they take the composed ops), this returns None and
the caller runs the modules.
"""
import math

import numpy as np

from .. import _C

__all__ = ["int8_encoder_layer"]


def _layer_norm(x, weight, bias, eps, y):
    if x.size:
        _C.layer_norm_forward(x, x.shape[-1], weight, bias, eps, y,
                              np.empty(x.shape[0], x.dtype), np.empty(x.shape[0], x.dtype))
    return y


def _linear(x, wb, act, per_row, out, reduce_range):
    """out = act(x @ W.T + b) as qmatmul's int8_linear computes it, into a given array"""
    w, b = wb
    q, s, z = _C.quantize_rows_u8(x, per_row, reduce_range)
    _C.u8s8_gemm(q, w.packed, w.colsum, w.shape[1], s, z, w.scale, bias=b, act=act, out=out,
                 reduce_range=reduce_range)
    return out


def int8_encoder_layer(x, num_heads, mask, qkv, out, ln1, ffn1, act, ffn2, ln2, per_row,
                       reduce_range=False):
    """LN2(h + FFN(h)) with h = LN1(x + Wo attention(x)), or None (see the module docstring).

    x: float32 array (B, T, C); mask: None or an additive float32 mask broadcasting to
    (B, 1, T, T); qkv, out, ffn1, ffn2: (Int8Weight, float32 bias or None) with qkv's rows
    the query, key and value weights stacked; ln1, ln2: (weight, bias, eps); act: None,
    'relu' or 'gelu'; per_row: the activations' quantization granularity; reduce_range: their
    codes 0..127 (dlcore.ops.qmatmul).

    The intermediates and the result are views of one workspace array: from 1 MB up that
    comes from dlcore's block cache (dlcore.runtime.memory) and is reused call after call,
    where a dozen separate mid-sized arrays went through malloc and, freed in this order,
    had their pages returned to the system and faulted in again on every call."""
    B, T, C = x.shape
    H = num_heads
    D = C // H
    M, F = B * T, ffn1[0].shape[0]
    ws = np.empty(M * (9 * C + F), np.float32)
    views, at = [], 0
    for n in (3 * C, C, C, C, C, F, C, C):
        views.append(ws[at:at + M * n].reshape(M, n))
        at += M * n
    h, ctx, ctx_t, a, a_ln, f, y, y_ln = views
    x2 = np.ascontiguousarray(x, np.float32).reshape(M, C)
    _linear(x2, qkv, "none", per_row, h, reduce_range)
    if not np.isfinite(h).all():
        return None
    q, k, v = h.reshape(B, T, 3, H, D).transpose(2, 0, 3, 1, 4)
    m4 = None if mask is None else np.broadcast_to(mask, (B, H, T, T))
    ctx4 = ctx.reshape(B, H, T, D)
    _C.attention_forward(q, k, v, m4, False, 1.0 / math.sqrt(D) if D else 1.0, ctx4,
                         np.empty((B, H, T), np.float32))
    ctx_t.reshape(B, T, H, D)[...] = ctx4.transpose(0, 2, 1, 3)
    _linear(ctx_t, out, "none", per_row, a, reduce_range)
    a += x2
    _layer_norm(a, *ln1, a_ln)
    _linear(a_ln, ffn1, act or "none", per_row, f, reduce_range)
    _linear(f, ffn2, "none", per_row, y, reduce_range)
    y += a_ln
    return _layer_norm(y, *ln2, y_ln).reshape(B, T, C)
