"""Scaled dot-product attention on the fused C kernel (dlcore/_C/attention.pxi).

The fused path never builds the L x S score matrix: memory grows with sequence length, not
its square.  dropout_p > 0 needs the probabilities themselves, so it takes a composed path
(scores, softmax, dropout, product) built from differentiable ops.
"""
import math

import numpy as np

from .. import _C
from ..autograd import Function
from ..autograd.double_backward import composite_backward
from ..tensor_base import TensorBase, wrap
from .activation import softmax
from .attention_heads import gradient_views
from .dropout import dropout
from .half import via_float32
from ..dtypes import is_floating
from .autocast import lower_precision

__all__ = ["scaled_dot_product_attention"]

_FLOAT = (np.dtype(np.float32), np.dtype(np.float64))


def _as4d(a, lead, tail):
    """a broadcast to lead + tail, viewed as (B, H) + tail (no copy for up to two lead dims),
    last dim contiguous."""
    a = np.broadcast_to(a, lead + tail)
    if len(lead) == 0:
        a = a.reshape((1, 1) + tail)
    elif len(lead) == 1:
        a = a.reshape((1,) + lead + tail)
    elif len(lead) > 2:
        a = a.reshape((int(np.prod(lead[:-1])), lead[-1]) + tail)
    if a.shape[-1] > 1 and a.strides[-1] != a.itemsize:
        a = np.ascontiguousarray(a)
    if any(s % a.itemsize for s in a.strides):
        a = np.ascontiguousarray(a)
    return a


class _NonFinite(Exception):
    """SDPAFn's forward found a NaN or inf in q, k or v (asked to, by finite_only)."""


class SDPAFn(Function):
    def forward(self, q, k, v, mask, is_causal=False, scale=1.0, finite_only=False):
        lead = np.broadcast_shapes(q.shape[:-2], k.shape[:-2], v.shape[:-2])
        L, E = q.shape[-2:]
        S, Ev = k.shape[-2], v.shape[-1]
        q4, k4, v4 = _as4d(q, lead, (L, E)), _as4d(k, lead, (S, E)), _as4d(v, lead, (S, Ev))
        m4 = None if mask is None else _as4d(mask, lead, (L, S))
        B, H = q4.shape[:2]
        out = np.empty((B, H, L, Ev), q.dtype)
        lse = np.empty((B, H, L), q.dtype)
        if _C.attention_forward(q4, k4, v4, m4, bool(is_causal), float(scale), out, lse,
                                finite_only) is None:
            raise _NonFinite()
        if self.requires_grad:
            self.saved = (q4, k4, v4, m4, is_causal, scale, out, lse, lead)
        return out.reshape(lead + (L, Ev))

    def backward(self, g):
        q4, k4, v4, m4, is_causal, scale, out, lse, lead = self.saved
        g = np.ascontiguousarray(g, dtype=out.dtype).reshape(out.shape)
        if len(self.needs_input_grad) > 3 and self.needs_input_grad[3]:
            # a float mask that takes a gradient needs the L x S scores anyway: every gradient
            # then comes from them, in float64
            grads = _score_path_grads(q4, k4, v4, m4, is_causal, scale, g)
            return tuple(a.astype(out.dtype).reshape(lead + a.shape[2:]) for a in grads)
        packed = None
        if len(lead) == 2 and all(self.needs_input_grad[:3]):
            # q, k, v cut from one projection (split_heads): their gradients go straight
            # into one packed buffer, which split_heads' backward then takes as it is
            packed = gradient_views(*(t._data for t in self.parents[:3]), out.dtype)
        if packed is not None:
            dq, dk, dv = packed
            _C.attention_backward(q4, k4, v4, m4, bool(is_causal), float(scale), out, lse, g,
                                  dq, dk, dv)
            return dq, dk, dv, None
        # gradients in the broadcast shape (the engine sums broadcast dims back), allocated
        # in that shape so that they own their memory and a leaf can keep them uncopied
        dq, dk, dv = (np.empty(lead + a.shape[2:], out.dtype) for a in (q4, k4, v4))
        _C.attention_backward(q4, k4, v4, m4, bool(is_causal), float(scale), out, lse, g,
                              dq.reshape(q4.shape), dk.reshape(k4.shape), dv.reshape(v4.shape))
        return dq, dk, dv, None


    def backward_graph(self, g):
        q, k, v, mask = self.parents[:4]
        kw = self.kwargs
        m = mask._data if isinstance(mask, TensorBase) else mask
        return composite_backward(self, (g,), lambda: _composed(
            q, k, v, m, 0.0, kw.get("is_causal", False), kw.get("scale", 1.0)))


def _score_path_grads(q4, k4, v4, m4, is_causal, scale, g):
    """(dq, dk, dv, d scores) in float64 NumPy from the materialised scores (the kernel keeps
    the probabilities tile by tile and never hands them out); d scores is the gradient of an
    additive float mask.  A row that may attend to no key has P = 0 (the kernel's zero row)."""
    q, k, v, g = (a.astype(np.float64) for a in (q4, k4, v4, g))
    s = np.matmul(q, np.swapaxes(k, -1, -2)) * scale
    if m4 is not None:
        s = s + m4
    if is_causal:
        L, S = s.shape[-2:]
        s = np.where(np.tril(np.ones((L, S), dtype=bool)), s, -np.inf)
    top = s.max(axis=-1, keepdims=True)
    live = np.isfinite(top)
    e = np.exp(s - np.where(live, top, 0.0))
    p = np.where(live, e / np.where(live, e.sum(axis=-1, keepdims=True), 1.0), 0.0)
    out = np.matmul(p, v)
    dv = np.matmul(np.swapaxes(p, -1, -2), g)
    ds = p * (np.matmul(g, np.swapaxes(v, -1, -2)) - np.sum(g * out, axis=-1, keepdims=True))
    dq = np.matmul(ds, k) * scale
    dk = np.matmul(np.swapaxes(ds, -1, -2), q) * scale
    return dq, dk, dv, ds


def _composed(query, key, value, mask, dropout_p, is_causal, scale):
    """softmax(q k^T * scale + mask) with dropout, then @ v, from differentiable ops."""
    L, S = query.shape[-2], key.shape[-2]
    scores = (query @ key.transpose(-2, -1)) * scale
    add = np.zeros((L, S), dtype=np.dtype(query.dtype))
    if is_causal:
        add = np.where(np.tril(np.ones((L, S), dtype=bool)), add, -np.inf).astype(add.dtype)
    if isinstance(mask, TensorBase):  # a float mask that takes a gradient
        scores = scores + mask
    elif mask is not None:
        add = (np.where(mask, 0.0, -np.inf) if mask.dtype == np.bool_ else mask) + add
        add = add.astype(np.dtype(query.dtype))
    scores = scores + wrap(add)
    p = softmax(scores, dim=-1)
    p = dropout(p, dropout_p, training=True)
    return p @ value


@lower_precision
@via_float32
def scaled_dot_product_attention(query, key, value, attn_mask=None, dropout_p=0.0,
                                 is_causal=False, scale=None):
    """softmax(query @ key^T * scale + mask) @ value over the last two dims, PyTorch's
    F.scaled_dot_product_attention.

    query (..., L, E), key (..., S, E), value (..., S, Ev); leading dims broadcast.
    attn_mask broadcastable to (..., L, S): bool (True = may attend) or float (added).
    is_causal masks keys after each query (top-left aligned).  scale defaults to 1/sqrt(E).
    A query row that may attend to no key gets a zero output row, as in PyTorch.
    """
    fname = "scaled_dot_product_attention"
    arrs = []
    for name, t in (("query", query), ("key", key), ("value", value)):
        a = t._data if isinstance(t, TensorBase) else None
        if a is None:
            raise TypeError("%s: %s must be a Tensor, got %s" % (fname, name, type(t).__name__))
        if a.ndim < 2:
            raise ValueError("%s: %s must be at least 2-D (..., seq, dim), got shape %s"
                             % (fname, name, a.shape))
        if a.dtype not in _FLOAT:
            raise TypeError("%s: %s must be float32 or float64, got %s" % (fname, name, a.dtype))
        arrs.append(a)
    q, k, v = arrs
    if not (q.dtype == k.dtype == v.dtype):
        raise TypeError("%s: query, key and value must share a dtype, got %s, %s, %s"
                        % (fname, q.dtype, k.dtype, v.dtype))
    if q.shape[-1] != k.shape[-1]:
        raise ValueError("%s: query and key head dims differ: query %s, key %s"
                         % (fname, q.shape, k.shape))
    if k.shape[-2] != v.shape[-2]:
        raise ValueError("%s: key and value sequence lengths differ: key %s, value %s"
                         % (fname, k.shape, v.shape))
    try:
        lead = np.broadcast_shapes(q.shape[:-2], k.shape[:-2], v.shape[:-2])
    except ValueError:
        raise ValueError("%s: batch dims of query %s, key %s, value %s do not broadcast"
                         % (fname, q.shape, k.shape, v.shape)) from None
    L, S = q.shape[-2], k.shape[-2]
    mask = None
    if attn_mask is not None:
        mask = attn_mask._data if isinstance(attn_mask, TensorBase) else np.asarray(attn_mask)
        if mask.dtype != np.bool_:
            if mask.dtype not in _FLOAT:
                raise TypeError("%s: attn_mask must be bool or float, got %s"
                                % (fname, mask.dtype))
            mask = mask.astype(q.dtype, copy=False)
        full = lead + (L, S)
        try:
            ok = np.broadcast_shapes(mask.shape, full) == full
        except ValueError:
            ok = False
        if not ok:
            raise ValueError("%s: attn_mask of shape %s does not broadcast to %s"
                             % (fname, mask.shape, full))
    if not 0.0 <= dropout_p <= 1.0:
        raise ValueError("%s: dropout_p must be in [0, 1], got %r" % (fname, dropout_p))
    if scale is None:  # a head dim of 0 gives all-zero scores: any finite scale keeps them 0
        scale = 1.0 / math.sqrt(q.shape[-1]) if q.shape[-1] else 1.0
    scale = float(scale)
    if isinstance(attn_mask, TensorBase) and attn_mask.requires_grad and mask.dtype != np.bool_:
        # a float mask that takes a gradient goes in as the Tensor (of the query's dtype)
        mask = attn_mask if attn_mask.dtype == q.dtype else attn_mask.to(q.dtype)
    if dropout_p > 0.0:
        return _composed(query, key, value, mask, dropout_p, is_causal, scale)
    fused_mask, fused_causal = mask, is_causal
    if type(mask) is np.ndarray and is_causal_mask(mask, L, S):
        # the causal mask given as an array (a GPT's float triu(-inf) buffer): the kernel's
        # causal mode skips the key tiles after each query block, with the same sums
        fused_mask, fused_causal = None, True
    try:
        # finite_only: the kernel checks q, k and v as it packs them (next to free)
        return SDPAFn.apply(query, key, value, fused_mask, is_causal=bool(fused_causal),
                            scale=scale, finite_only=True)
    except _NonFinite:
        # NaN/Inf operands: the fused kernel's online softmax treats a row without a finite
        # score as fully masked (a zero row); PyTorch's NaN comes out of the composed ops
        return _composed(query, key, value, mask, dropout_p, is_causal, scale)


_CAUSAL = {}  # (L, S, dtype) -> the top-left causal mask in that dtype (bool: may attend)
_CAUSAL_MAX = 1 << 18  # masks up to this many entries are compared (cached, ~1 MB at most)


def is_causal_mask(mask, L, S):
    """Whether `mask` (an array broadcasting to (..., L, S)) is exactly the top-left causal
    mask: a 2-D (L, S) bool mask True on and below the diagonal, or a float mask 0 there and
    -inf above it.  Other masks, and masks above _CAUSAL_MAX entries, answer False."""
    if mask.shape != (L, S) or L * S > _CAUSAL_MAX or L * S == 0:
        return False
    key = (L, S, mask.dtype)
    ref = _CAUSAL.get(key)
    if ref is None:
        below = np.tril(np.ones((L, S), bool))
        ref = below if mask.dtype == np.bool_ else np.where(below, 0.0, -np.inf).astype(mask.dtype)
        if len(_CAUSAL) >= 8:
            _CAUSAL.clear()
        _CAUSAL[key] = ref
    return bool(np.array_equal(mask, ref))


# ---- argument checks of nn.MultiheadAttention ---------------------------------------------------
def _additive_mask(fname, mask, dtype, name, extra_keys):
    """A user mask as an additive float array (bool True = masked out, PyTorch's MHA rule),
    with a zero column appended per extra key (bias_k, add_zero_attn)."""
    if mask is None:
        return None
    m = mask._data if isinstance(mask, TensorBase) else np.asarray(mask)
    if m.dtype == np.bool_:
        m = np.where(m, -np.inf, 0.0).astype(dtype)
    elif not is_floating(m.dtype):
        raise TypeError("%s: %s must be bool or float, got %s" % (fname, name, m.dtype))
    else:
        m = m.astype(dtype, copy=False)
    if extra_keys:
        m = np.concatenate([m, np.zeros(m.shape[:-1] + (extra_keys,), dtype)], -1)
    return m


def check_mha_args(fname, query, key, value, attn_mask, key_padding_mask, embed_dim, kdim,
                   vdim, num_heads, batch_first, extra_keys=0, keep_batch_first=False):
    """Checks the inputs of a multi-head attention layer and brings them to (seq, batch, dim).

    query (L, N, embed_dim), key (S, N, kdim), value (S, N, vdim) ((N, seq, dim) with
    batch_first, (seq, dim) unbatched); attn_mask (L, S) or (N * num_heads, L, S) and
    key_padding_mask (N, S), bool (True = masked out) or float (added).  `extra_keys` keys
    (bias_k, a zero key) are appended by the layer after these S.  Returns (query, key, value,
    mask, unbatched): mask is None or one additive array that broadcasts to
    (N, num_heads, L, S + extra_keys).  keep_batch_first: batched batch_first inputs are
    checked as such but returned as given, (N, seq, dim), not as transposed views.
    """
    unbatched = query.ndim == 2
    if query.ndim not in (2, 3):
        raise ValueError("%s: query must be 2-D or 3-D, got shape %s" % (fname, tuple(query.shape)))
    if unbatched:
        query, key, value = (t.unsqueeze(1) for t in (query, key, value))
        if key_padding_mask is not None:
            kp = key_padding_mask._data if isinstance(key_padding_mask, TensorBase) \
                else np.asarray(key_padding_mask)
            key_padding_mask = kp[None]
    elif batch_first and not keep_batch_first:
        query, key, value = (t.transpose(0, 1) for t in (query, key, value))
    # the (seq, batch, dim) shapes, whichever layout the tensors are returned in
    as_given = unbatched or not batch_first or not keep_batch_first
    qs, ks, vs = (tuple(t.shape) if as_given or t.ndim != 3
                  else (t.shape[1], t.shape[0], t.shape[2]) for t in (query, key, value))
    L, N, E = qs
    if E != embed_dim:
        raise ValueError("%s: query's last dim must be embed_dim=%d, got %s"
                         % (fname, embed_dim, tuple(query.shape)))
    if ks[-1] != kdim or vs[-1] != vdim:
        raise ValueError("%s: key/value last dims must be kdim=%d, vdim=%d, got %s, %s"
                         % (fname, kdim, vdim, tuple(key.shape), tuple(value.shape)))
    if len(ks) != 3 or ks[:2] != vs[:2] or ks[1] != N:
        raise ValueError("%s: key %s and value %s must share (seq, batch) and match the query's "
                         "batch %d" % (fname, tuple(key.shape), tuple(value.shape), N))
    dt = np.dtype(query.dtype)
    am = _additive_mask(fname, attn_mask, dt, "attn_mask", extra_keys)
    kpm = _additive_mask(fname, key_padding_mask, dt, "key_padding_mask", extra_keys)
    H, S = num_heads, ks[0] + extra_keys
    mask = None
    if am is not None:
        if am.ndim == 2:
            if am.shape != (L, S):
                raise ValueError("%s: 2-D attn_mask must be %s, got %s" % (fname, (L, S), am.shape))
            mask = am
        elif am.ndim == 3:
            if am.shape != (N * H, L, S):
                raise ValueError("%s: 3-D attn_mask must be %s, got %s"
                                 % (fname, (N * H, L, S), am.shape))
            mask = am.reshape(N, H, L, S)
        else:
            raise ValueError("%s: attn_mask must be 2-D or 3-D, got %s" % (fname, am.shape))
    if kpm is not None:
        if kpm.shape != (N, S):
            raise ValueError("%s: key_padding_mask must be %s, got %s" % (fname, (N, S), kpm.shape))
        kp = kpm.reshape(N, 1, 1, S)
        mask = kp if mask is None else mask + kp
    return query, key, value, mask, unbatched
