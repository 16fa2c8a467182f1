"""A decoder-only language model (GPT-2's layout: wte, wpe, h.N.{ln_1, attn.c_attn, attn.c_proj,
ln_2, mlp.c_fc, mlp.c_proj}, ln_f, lm_head) with pre-norm blocks, causal self-attention through
F.scaled_dot_product_attention, an optionally tied output head, and a key/value cache so that
generating one more token costs one position's work instead of a whole forward pass.

    cfg = GPTConfig(vocab_size=65, block_size=128, n_layer=4, n_head=4, n_embd=128)
    model = GPT(cfg)
    logits = model(idx)                       # (N, T, vocab)
    out = model.generate(idx, 100, temperature=0.8, top_k=20)
"""
import math

import numpy as np

from .. import autograd
from ..autograd import Function
from ..nn import functional as F
from ..nn import init
from ..nn.modules.container import ModuleList
from ..nn.modules.dropout import Dropout
from ..nn.modules.linear import Linear
from ..nn.modules.module import Module
from ..nn.modules.normalization import LayerNorm
from ..nn.modules.positional import LearnedPositionalEmbedding, SinusoidalPositionalEncoding
from ..nn.modules.sparse import Embedding
from ..ops import activation as A
from ..tensor import Tensor
from ..text.vocab import sample_logits

__all__ = ["GPTConfig", "GPT", "KVCache", "CausalSelfAttention", "GPTBlock"]


class GPTConfig:
    """Hyper-parameters.  pos="learned" (GPT-2's wpe table) or "sinusoidal" (fixed)."""

    def __init__(self, vocab_size, block_size=128, n_layer=4, n_head=4, n_embd=128,
                 dropout=0.0, bias=True, tie_weights=True, pos="learned", mlp_ratio=4):
        if n_embd % n_head:
            raise ValueError("GPTConfig: n_embd (%d) must be divisible by n_head (%d)"
                             % (n_embd, n_head))
        if pos not in ("learned", "sinusoidal"):
            raise ValueError("GPTConfig: pos must be 'learned' or 'sinusoidal', got %r" % (pos,))
        for name, v in (("vocab_size", vocab_size), ("block_size", block_size),
                        ("n_layer", n_layer), ("n_head", n_head), ("n_embd", n_embd)):
            if int(v) <= 0:
                raise ValueError("GPTConfig: %s must be positive, got %r" % (name, v))
        self.vocab_size, self.block_size = int(vocab_size), int(block_size)
        self.n_layer, self.n_head, self.n_embd = int(n_layer), int(n_head), int(n_embd)
        self.dropout, self.bias, self.tie_weights = float(dropout), bool(bias), bool(tie_weights)
        self.pos, self.mlp_ratio = pos, int(mlp_ratio)

    def __repr__(self):
        return ("GPTConfig(vocab_size=%d, block_size=%d, n_layer=%d, n_head=%d, n_embd=%d, "
                "dropout=%g, bias=%s, tie_weights=%s, pos=%r)"
                % (self.vocab_size, self.block_size, self.n_layer, self.n_head, self.n_embd,
                   self.dropout, self.bias, self.tie_weights, self.pos))


class _GeluTanh(Function):
    """0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))): GPT-2's GELU.  Used only when
    dlcore.ops.activation has no gelu of its own."""

    C = math.sqrt(2.0 / math.pi)

    def forward(self, x):
        u = self.C * (x + 0.044715 * x * x * x)
        t = np.tanh(u)
        if self.requires_grad:
            self.saved = (x, t)
        return (0.5 * x * (1.0 + t)).astype(x.dtype, copy=False)

    def backward(self, g):
        x, t = self.saved
        du = self.C * (1.0 + 3 * 0.044715 * x * x)
        return g * (0.5 * (1.0 + t) + 0.5 * x * (1.0 - t * t) * du)


def gelu_tanh(x):
    g = getattr(A, "gelu", None)
    if g is not None:
        return g(x, approximate="tanh")
    return _GeluTanh.apply(x)


class KVCache:
    """Keys and values of the positions seen so far, per layer: preallocated
    (batch, heads, max_len, head_dim) arrays of which the first `length` positions are
    filled.  Used under no_grad (generation): nothing here is differentiated."""

    def __init__(self, n_layer, batch, n_head, max_len, head_dim, dtype):
        shape = (batch, n_head, max_len, head_dim)
        self.k = [np.zeros(shape, dtype) for _ in range(n_layer)]
        self.v = [np.zeros(shape, dtype) for _ in range(n_layer)]
        self.length, self.max_len, self.batch = 0, max_len, batch

    def reset(self):
        self.length = 0


class CausalSelfAttention(Module):
    def __init__(self, cfg):
        super().__init__()
        E = cfg.n_embd
        self.n_head, self.n_embd = cfg.n_head, E
        self.c_attn = Linear(E, 3 * E, bias=cfg.bias)
        self.c_proj = Linear(E, E, bias=cfg.bias)
        self.attn_p = cfg.dropout
        self.resid_dropout = Dropout(cfg.dropout)

    def forward(self, x, cache=None, layer=0):
        N, T, E = x.shape
        H = self.n_head
        hd = E // H
        qkv = self.c_attn(x).reshape(N, T, 3, H, hd).permute(2, 0, 3, 1, 4)  # (3, N, H, T, hd)
        q, k, v = qkv[0], qkv[1], qkv[2]
        p = self.attn_p if self.training else 0.0
        if cache is None:
            y = F.scaled_dot_product_attention(q, k, v, dropout_p=p, is_causal=True)
        else:
            P = cache.length
            if P + T > cache.max_len:
                raise ValueError("GPT: the KV cache holds %d positions; %d + %d do not fit"
                                 % (cache.max_len, P, T))
            kb, vb = cache.k[layer], cache.v[layer]
            kb[:, :, P:P + T] = k._data
            vb[:, :, P:P + T] = v._data
            K, V = Tensor._wrap(kb[:, :, :P + T]), Tensor._wrap(vb[:, :, :P + T])
            if P == 0:
                y = F.scaled_dot_product_attention(q, K, V, is_causal=True)
            elif T == 1:  # the one new query sees every cached key
                y = F.scaled_dot_product_attention(q, K, V)
            else:  # causal, aligned to the end: query i is position P + i
                allowed = np.arange(P + T)[None, :] <= (P + np.arange(T))[:, None]
                y = F.scaled_dot_product_attention(q, K, V, attn_mask=Tensor._wrap(allowed))
        y = y.transpose(1, 2).reshape(N, T, E)
        return self.resid_dropout(self.c_proj(y))


class _MLP(Module):
    def __init__(self, cfg):
        super().__init__()
        self.c_fc = Linear(cfg.n_embd, cfg.mlp_ratio * cfg.n_embd, bias=cfg.bias)
        self.c_proj = Linear(cfg.mlp_ratio * cfg.n_embd, cfg.n_embd, bias=cfg.bias)
        self.dropout = Dropout(cfg.dropout)

    def forward(self, x):
        return self.dropout(self.c_proj(gelu_tanh(self.c_fc(x))))


class GPTBlock(Module):
    """x + attn(ln_1(x)), then x + mlp(ln_2(x)) (pre-norm: the residual path stays an
    identity, which keeps deep stacks trainable without warm-up tricks)."""

    def __init__(self, cfg):
        super().__init__()
        self.ln_1 = LayerNorm(cfg.n_embd, bias=cfg.bias)
        self.attn = CausalSelfAttention(cfg)
        self.ln_2 = LayerNorm(cfg.n_embd, bias=cfg.bias)
        self.mlp = _MLP(cfg)

    def forward(self, x, cache=None, layer=0):
        x = x + self.attn(self.ln_1(x), cache, layer)
        return x + self.mlp(self.ln_2(x))


class GPT(Module):
    def __init__(self, cfg):
        super().__init__()
        self.config = cfg
        self.wte = Embedding(cfg.vocab_size, cfg.n_embd)
        if cfg.pos == "learned":
            self.wpe = LearnedPositionalEmbedding(cfg.block_size, cfg.n_embd)
        else:
            self.wpe = SinusoidalPositionalEncoding(cfg.n_embd, cfg.block_size)
        self.drop = Dropout(cfg.dropout)
        self.h = ModuleList([GPTBlock(cfg) for _ in range(cfg.n_layer)])
        self.ln_f = LayerNorm(cfg.n_embd, bias=cfg.bias)
        self.lm_head = Linear(cfg.n_embd, cfg.vocab_size, bias=False)
        self._init_weights()
        if cfg.tie_weights:
            self.lm_head.weight = self.wte.weight

    def _init_weights(self):
        # GPT-2's scheme: N(0, 0.02) everywhere, residual projections scaled down by
        # sqrt(2 * n_layer) so the residual stream's variance does not grow with depth
        for name, p in self.named_parameters():
            if name.endswith(".bias"):
                init.zeros_(p)
            elif name.endswith("c_proj.weight"):
                init.normal_(p, 0.0, 0.02 / math.sqrt(2 * self.config.n_layer))
            elif p.ndim == 2:
                init.normal_(p, 0.0, 0.02)

    def num_parameters(self):
        return sum(int(p.numel()) for p in self.parameters())

    def _check_idx(self, idx, offset):
        arr = idx._data if isinstance(idx, Tensor) else np.asarray(idx)
        if arr.ndim != 2:
            raise ValueError("GPT: idx must be 2-D (batch, seq) token ids, got shape %s"
                             % (arr.shape,))
        if arr.dtype.kind not in "iu":
            raise TypeError("GPT: idx must hold integer token ids, got %s" % (arr.dtype,))
        T = arr.shape[1]
        if T == 0:
            raise ValueError("GPT: idx has no tokens (shape %s)" % (arr.shape,))
        if offset + T > self.config.block_size:
            raise ValueError("GPT: %d positions exceed block_size=%d"
                             % (offset + T, self.config.block_size))
        if arr.size and (arr.min() < 0 or arr.max() >= self.config.vocab_size):
            raise ValueError("GPT: token ids must be in [0, %d), got min %d max %d"
                             % (self.config.vocab_size, arr.min(), arr.max()))
        return arr.astype(np.int64, copy=False)

    def forward(self, idx, cache=None):
        """Logits (N, T, vocab_size) for token ids idx (N, T).  With a KVCache the tokens are
        positions cache.length.. and their keys/values are appended to the cache."""
        offset = 0 if cache is None else cache.length
        arr = self._check_idx(idx, offset)
        x = self.drop(self.wpe(self.wte(Tensor._wrap(arr)), offset))
        for i, block in enumerate(self.h):
            x = block(x, cache, i)
        if cache is not None:
            cache.length += arr.shape[1]
        return self.lm_head(self.ln_f(x))

    def loss(self, idx, targets):
        """Mean next-token cross-entropy (nats) of predicting targets (N, T) from idx (N, T)."""
        logits = self(idx)
        V = self.config.vocab_size
        t = targets._data if isinstance(targets, Tensor) else np.asarray(targets)
        return F.cross_entropy(logits.reshape(-1, V), Tensor._wrap(t.reshape(-1).astype(np.int64)))

    def new_cache(self, batch):
        cfg = self.config
        return KVCache(cfg.n_layer, batch, cfg.n_head, cfg.block_size, cfg.n_embd // cfg.n_head,
                       np.dtype(self.wte.weight.dtype))

    def generate(self, idx, max_new_tokens, temperature=1.0, top_k=None, greedy=False,
                 use_cache=True, generator=None):
        """Append max_new_tokens tokens to idx (N, T), each drawn from the model's next-token
        distribution (softmax(logits / temperature), restricted to the top_k most likely when
        given; greedy=True takes the argmax).  The context is the last block_size tokens.

        With use_cache, each step feeds only the newest token and reuses the cached keys and
        values of the earlier ones; once the sequence outgrows block_size the window slides,
        every position shifts, and the cache is refilled from the window (as the uncached path
        does every step).  Both paths give the same tokens."""
        arr = idx._data if isinstance(idx, Tensor) else np.asarray(idx)
        if arr.ndim == 1:
            arr = arr[None]
        arr = np.array(arr, dtype=np.int64)
        self._check_idx(arr[:, -self.config.block_size:], 0)
        if max_new_tokens < 0:
            raise ValueError("GPT.generate: max_new_tokens must be >= 0, got %r"
                             % (max_new_tokens,))
        if temperature < 0:
            raise ValueError("GPT.generate: temperature must be >= 0, got %r" % (temperature,))
        bs = self.config.block_size
        was_training = self.training
        self.eval()
        cache = self.new_cache(arr.shape[0]) if use_cache else None
        try:
            with autograd.no_grad():
                for _ in range(max_new_tokens):
                    if cache is None:
                        logits = self(arr[:, -bs:])
                    elif cache.length == 0 or arr.shape[1] > bs:
                        cache.reset()
                        logits = self(arr[:, -bs:], cache)
                    else:
                        logits = self(arr[:, -1:], cache)
                    last = logits._data[:, -1, :]
                    if greedy or temperature == 0:
                        nxt = last.argmax(axis=-1)
                    else:
                        nxt = sample_logits(last, temperature, top_k, generator)
                    arr = np.concatenate([arr, np.asarray(nxt, np.int64)[:, None]], axis=1)
        finally:
            self.train(was_training)
        return Tensor._wrap(arr)
