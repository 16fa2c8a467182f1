"""`dlcore bench attention`: fused SDPA and LayerNorm vs a NumPy reference and torch.

Ratios are their time / dlcore's (> 1 means dlcore is faster); each time is a median of
repeats.  Inputs are wrapped without a copy on both sides (dl.from_numpy, torch.from_numpy).
Before timing, dlcore's output (and for fwd+bwd every input gradient) is checked against the
NumPy reference: max |error| <= RTOL x max |reference|, each tensor.
At one thread dlcore, the reference and torch run in turn within each repeat, so a
load change on this shared machine hits all sides alike; at two each side runs its own block
(see dlcore.bench.sides_ms).  Peak memory of a forward at
seq 8192 (one head, dim 64) is measured in a fresh subprocess by its peak RSS.
"""
import os
import subprocess
import sys

import numpy as np

from . import (Workload, get_torch, interleaved_timer, ms_table, output_check, row,
               timed_cases)

__all__ = ["run", "format_table", "cases", "workload"]

SIDES = ("dlcore", "numpy", "torch")
RTOL = 1e-4


def _np_sdpa(q, k, v, causal, grad):
    """Reference: materialized scores, softmax, product (and its backward)."""
    scale = 1.0 / np.sqrt(q.shape[-1])
    s = np.matmul(q, k.swapaxes(-1, -2)) * scale
    if causal:
        L = s.shape[-1]
        s = np.where(np.tril(np.ones((L, L), bool)), s, -np.inf)
    s -= s.max(-1, keepdims=True)
    p = np.exp(s)
    p /= p.sum(-1, keepdims=True)
    o = np.matmul(p, v)
    if grad is None:
        return o
    dv = np.matmul(p.swapaxes(-1, -2), grad)
    dp = np.matmul(grad, v.swapaxes(-1, -2))
    ds = p * (dp - (dp * p).sum(-1, keepdims=True))
    return o, np.matmul(ds, k) * scale, np.matmul(ds.swapaxes(-1, -2), q) * scale, dv


def _np_layernorm(x, w, b, grad):
    m = x.mean(-1, keepdims=True)
    r = 1.0 / np.sqrt(((x - m) ** 2).mean(-1, keepdims=True) + 1e-5)
    xh = (x - m) * r
    y = xh * w + b
    if grad is None:
        return y
    g = grad * w
    dx = (g - g.mean(-1, keepdims=True) - xh * (g * xh).mean(-1, keepdims=True)) * r
    return y, dx, (grad * xh).sum(0), grad.sum(0)


def _peak_rss_child(which):
    """Peak RSS growth (MiB) of a fresh interpreter, after making q, k, v (1, 1, 8192, 64),
    while it runs `which`: 'dlcore' (fused forward) or 'numpy' (materialized scores)."""
    code = ["import resource, numpy as np", "import dlcore as dl",
            "import dlcore.nn.functional as F", "r = np.random.default_rng(0)",
            "q, k, v = (r.standard_normal((1, 1, 8192, 64)).astype(np.float32)"
            " for _ in range(3))",
            # measure from here: reset the peak (Linux: clear_refs 5) and note the current RSS,
            # so what the imports touched does not hide the op's own peak
            "def _status(key):",
            "    for line in open('/proc/self/status'):",
            "        if line.startswith(key): return float(line.split()[1]) / 1024.0",
            "try:",
            "    open('/proc/self/clear_refs', 'w').write('5')",
            "except OSError: pass",
            "before = _status('VmRSS:')"]
    if which == "dlcore":
        code += ["with dl.no_grad():",
                 "    o = F.scaled_dot_product_attention(dl.tensor(q), dl.tensor(k),"
                 " dl.tensor(v))"]
    elif which == "numpy":
        code += ["s = np.matmul(q, k.swapaxes(-1, -2)) * 0.125",
                 "s -= s.max(-1, keepdims=True); np.exp(s, out=s); s /= s.sum(-1, keepdims=True)",
                 "o = np.matmul(s, v)"]
    code.append("print(_status('VmHWM:') - before)")
    env = dict(os.environ)
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    env["PYTHONPATH"] = root + os.pathsep + env.get("PYTHONPATH", "")
    out = subprocess.run([sys.executable, "-c", "\n".join(code)], capture_output=True,
                         text=True, env=env, cwd=root)
    try:
        return float(out.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        return None


def cases(quick=False):
    """Dicts: case (the row label), op ('sdpa' or 'layernorm'), bwd, sizes."""
    B, H, L, D = (2, 4, 256, 64) if quick else (8, 8, 512, 64)
    rows, n = (4096, 768) if quick else (32768, 768)
    out = [dict(case="sdpa B%d H%d S%d D%d%s %s" % (B, H, L, D, " causal" if causal else "",
                                                    "fwd+bwd" if bwd else "fwd"),
                op="sdpa", causal=causal, bwd=bwd, shape=(B, H, L, D))
           for causal in (False, True) for bwd in (False, True)]
    out += [dict(case="layernorm %dx%d %s" % (rows, n, "fwd+bwd" if bwd else "fwd"),
                 op="layernorm", bwd=bwd, shape=(rows, n)) for bwd in (False, True)]
    return out


def workload(c, torch=None):
    """Inputs wrapped without a copy on every side (dl.from_numpy, torch.from_numpy)."""
    import dlcore as dl
    import dlcore.nn.functional as F
    rng = np.random.default_rng(0)
    bwd = c["bwd"]
    box = {}
    if c["op"] == "sdpa":
        causal = c["causal"]
        q, k, v, g = (rng.standard_normal(c["shape"]).astype(np.float32) for _ in range(4))

        def dl_fn():
            if bwd:
                tq, tk, tv = box["in"] = [dl.from_numpy(a).requires_grad_() for a in (q, k, v)]
                o = box["out"] = F.scaled_dot_product_attention(tq, tk, tv, is_causal=causal)
                o.backward(dl.from_numpy(g))
            else:
                with dl.no_grad():
                    return F.scaled_dot_product_attention(
                        dl.from_numpy(q), dl.from_numpy(k), dl.from_numpy(v), is_causal=causal)

        def np_fn():
            return _np_sdpa(q, k, v, causal, g if bwd else None)

        to_fn = None
        if torch is not None:
            def to_fn():
                if bwd:
                    tq, tk, tv = (torch.from_numpy(a).requires_grad_() for a in (q, k, v))
                    o = torch.nn.functional.scaled_dot_product_attention(
                        tq, tk, tv, is_causal=causal)
                    o.backward(torch.from_numpy(g))
                else:
                    with torch.no_grad():
                        torch.nn.functional.scaled_dot_product_attention(
                            torch.from_numpy(q), torch.from_numpy(k), torch.from_numpy(v),
                            is_causal=causal)
        names = ("output", "q grad", "k grad", "v grad")
    else:
        rows, n = c["shape"]
        x = rng.standard_normal((rows, n)).astype(np.float32)
        w, b = (rng.standard_normal(n).astype(np.float32) for _ in range(2))
        gx = rng.standard_normal((rows, n)).astype(np.float32)

        def dl_fn():
            if bwd:
                tx, tw, tb = box["in"] = [dl.from_numpy(a).requires_grad_() for a in (x, w, b)]
                y = box["out"] = F.layer_norm(tx, (n,), tw, tb)
                y.backward(dl.from_numpy(gx))
            else:
                with dl.no_grad():
                    return F.layer_norm(dl.from_numpy(x), (n,), dl.from_numpy(w),
                                        dl.from_numpy(b))

        def np_fn():
            return _np_layernorm(x, w, b, gx if bwd else None)

        to_fn = None
        if torch is not None:
            def to_fn():
                tx = torch.from_numpy(x).requires_grad_(bwd)
                tw = torch.from_numpy(w).requires_grad_(bwd)
                tb = torch.from_numpy(b).requires_grad_(bwd)
                y = torch.nn.functional.layer_norm(tx, (n,), tw, tb)
                if bwd:
                    y.backward(torch.from_numpy(gx))
        names = ("output", "input grad", "weight grad", "bias grad")

    def got():
        return [box["out"]] + [t.grad for t in box["in"]]
    check = output_check("attention " + c["case"], bwd, dl_fn, got, np_fn, names, RTOL)
    return Workload(c["case"], {"dlcore": dl_fn, "numpy": np_fn, "torch": to_fn}, check)


def run(threads=(1, 2), quick=False):
    timer = interleaved_timer(2 if quick else 5)
    result = [row(c["case"], n, ms["dlcore"], ms["numpy"], ms.get("torch"))
              for c, n, ms in timed_cases(cases(quick), workload, threads, timer, get_torch())]
    if not quick:
        mem_dl, mem_np = _peak_rss_child("dlcore"), _peak_rss_child("numpy")
        result.append({"case": "sdpa fwd S8192 H1 D64 peak RSS growth (MiB)", "threads": None,
                       "dlcore_ms": None, "numpy_ms": None, "torch_ms": None,
                       "ratio_numpy": None, "ratio_torch": None,
                       "dlcore_peak_mib": mem_dl, "numpy_peak_mib": mem_np})
    return result


def format_table(rows):
    lines = ms_table([r for r in rows if "dlcore_peak_mib" not in r], 44, ("x numpy", "x torch"))
    for r in rows:
        if "dlcore_peak_mib" in r:
            lines.append("%-44s dlcore %s MiB, numpy reference %s MiB (scores alone: 256 MiB)"
                         % (r["case"], "-" if r["dlcore_peak_mib"] is None else
                            "%.1f" % r["dlcore_peak_mib"], "-" if r["numpy_peak_mib"] is None
                            else "%.1f" % r["numpy_peak_mib"]))
    return "\n".join(lines)
