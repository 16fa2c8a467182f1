"""`dlcore bench elementwise`: activations, softmax and cross-entropy against a NumPy
reference (chains of NumPy temporaries) and torch, at each thread count.

    from dlcore.bench import elementwise
    print(elementwise.format_table(elementwise.run(threads=(1, 2))))

Cases (float32): relu / gelu / sigmoid / tanh on 4M elements, forward and forward+backward;
softmax and log_softmax (32768, 512) forward and forward+backward; cross-entropy from logits
(4096, 1000) with class indices, forward and forward+backward.  Every side allocates its outputs
per call (the same allocator for dlcore and NumPy); inputs are wrapped without copies
(dl.from_numpy / torch.from_numpy); forward+backward goes through each
framework's autograd with a given output gradient.  Before timing, dlcore's output (and input
gradient) is checked against the reference: max |error| <= RTOL x max |reference|.  Times are
medians of a block of calls, the best of three blocks; each side runs in its own blocks (OpenMP
and BLAS pools never alternate in a hot loop).  Ratios are their time / dlcore's: above 1 means dlcore is faster.
"""
import math

import numpy as np

from . import Workload, block_median_ms, get_torch, output_check, row, timed_cases

__all__ = ["run", "format_table", "cases", "workload"]

ACTS = ("relu", "gelu", "sigmoid", "tanh")
SIDES = ("dlcore", "numpy", "torch")
RTOL = 1e-5


# ---- NumPy references ----------------------------------------------------------------------
def _np_erf(x):
    # Abramowitz & Stegun 7.1.26 (|error| < 1.5e-7): NumPy has no erf
    a = np.abs(x)
    t = 1.0 / (1.0 + 0.3275911 * a)
    y = 1.0 - (((((1.061405429 * t - 1.453152027) * t) + 1.421413741) * t - 0.284496736) * t
               + 0.254829592) * t * np.exp(-a * a)
    return np.sign(x) * y


def _np_act(name, x, g):
    """Forward (g is None) or forward+backward of activation `name` in NumPy."""
    if name == "relu":
        y = np.maximum(x, 0)
        return y if g is None else (y, g * (y > 0))
    if name == "sigmoid":
        y = 1 / (1 + np.exp(-x))
        return y if g is None else (y, g * y * (1 - y))
    if name == "tanh":
        y = np.tanh(x)
        return y if g is None else (y, g * (1 - y * y))
    # gelu (exact)
    cdf = 0.5 * (1 + _np_erf(x * np.float32(1 / math.sqrt(2))))
    y = x * cdf
    if g is None:
        return y
    pdf = np.exp(-0.5 * x * x) * np.float32(1 / math.sqrt(2 * math.pi))
    return y, g * (cdf + x * pdf)


def _np_softmax(x, g, log):
    m = x.max(-1, keepdims=True)
    s = x - m
    if log:
        y = s - np.log(np.exp(s).sum(-1, keepdims=True))
        return y if g is None else (y, g - np.exp(y) * g.sum(-1, keepdims=True))
    e = np.exp(s)
    y = e / e.sum(-1, keepdims=True)
    return y if g is None else (y, y * (g - (g * y).sum(-1, keepdims=True)))


def _np_cross_entropy(x, t, grad):
    m = x.max(1, keepdims=True)
    lse = np.log(np.exp(x - m).sum(1, keepdims=True)) + m
    n = x.shape[0]
    loss = (lse[:, 0] - x[np.arange(n), t]).mean()
    if not grad:
        return loss
    d = np.exp(x - lse)
    d[np.arange(n), t] -= 1
    return loss, d / n


# ---- cases and their sides ------------------------------------------------------------------
def cases(quick=False):
    """Dicts: case (the row label), op ('act', 'softmax', 'cross_entropy'), name, bwd, shape."""
    n_act = 1 << 18 if quick else 1 << 22               # 4M floats
    sm_shape = (2048, 512) if quick else (32768, 512)
    ce_shape = (512, 1000) if quick else (4096, 1000)
    size = ("%dM" % (n_act >> 20)) if n_act >= 1 << 20 else "%dK" % (n_act >> 10)
    mode = {False: "fwd", True: "fwd+bwd"}
    out = [dict(case="%s %s %s" % (name, mode[bwd], size), op="act", name=name, bwd=bwd,
                shape=(n_act,)) for name in ACTS for bwd in (False, True)]
    out += [dict(case="%s %s %s" % (name, mode[bwd], "x".join(map(str, sm_shape))),
                 op="softmax", name=name, bwd=bwd, shape=sm_shape)
            for name in ("softmax", "log_softmax") for bwd in (False, True)]
    out += [dict(case="cross_entropy %s %s" % (mode[bwd], "x".join(map(str, ce_shape))),
                 op="cross_entropy", name="cross_entropy", bwd=bwd, shape=ce_shape)
            for bwd in (False, True)]
    return out


def workload(c, torch=None):
    """Every side allocates its outputs per call; inputs are wrapped without copies."""
    import dlcore as dl
    import dlcore.nn.functional as F
    rng = np.random.default_rng(0)
    op, name, bwd, shape = c["op"], c["name"], c["bwd"], c["shape"]
    scale = 1.0 if op == "act" else 3.0
    x = (rng.standard_normal(shape) * scale).astype(np.float32)
    box = {}
    if op == "cross_entropy":
        tc = rng.integers(0, shape[1], shape[0])
        tgt = dl.from_numpy(tc)

        def dl_fn():
            if bwd:
                xt = box["x"] = dl.from_numpy(x).requires_grad_()
                loss = box["y"] = F.cross_entropy(xt, tgt)
                loss.backward()
            else:
                with dl.no_grad():
                    return F.cross_entropy(dl.from_numpy(x), tgt)

        def np_fn():
            return _np_cross_entropy(x, tc, bwd)

        to_fn = None
        if torch is not None:
            ttc = torch.from_numpy(tc)

            def to_fn():
                if bwd:
                    xt = torch.from_numpy(x).requires_grad_()
                    torch.nn.functional.cross_entropy(xt, ttc).backward()
                else:
                    with torch.no_grad():
                        torch.nn.functional.cross_entropy(torch.from_numpy(x), ttc)
    else:
        g = rng.standard_normal(shape).astype(np.float32) if bwd else None
        if op == "act":
            fn = {"relu": F.relu, "gelu": F.gelu, "sigmoid": F.sigmoid, "tanh": F.tanh}[name]

            def np_fn():
                return _np_act(name, x, g)
        else:
            fn = (lambda t: F.log_softmax(t, -1)) if name == "log_softmax" else \
                (lambda t: F.softmax(t, -1))

            def np_fn():
                return _np_softmax(x, g, name == "log_softmax")

        def dl_fn():
            if bwd:
                xt = box["x"] = dl.from_numpy(x).requires_grad_()
                y = box["y"] = fn(xt)
                y.backward(dl.from_numpy(g))
            else:
                with dl.no_grad():
                    return fn(dl.from_numpy(x))

        to_fn = None
        if torch is not None:
            if op == "act":
                tfn = {"relu": torch.relu, "gelu": torch.nn.functional.gelu,
                       "sigmoid": torch.sigmoid, "tanh": torch.tanh}[name]
            else:
                tfn = (lambda t: torch.log_softmax(t, -1)) if name == "log_softmax" else \
                    (lambda t: torch.softmax(t, -1))

            def to_fn():
                if bwd:
                    xt = torch.from_numpy(x).requires_grad_()
                    tfn(xt).backward(torch.from_numpy(g))
                else:
                    with torch.no_grad():
                        tfn(torch.from_numpy(x))

    def got():
        return box["y"], box["x"].grad
    check = output_check("elementwise " + c["case"], bwd, dl_fn, got, np_fn,
                         ("output", "input grad"), RTOL)
    return Workload(c["case"], {"dlcore": dl_fn, "numpy": np_fn, "torch": to_fn}, check)


# ---- the run --------------------------------------------------------------------------------
def run(threads=(1, 2), quick=False):
    reps = 3 if quick else 10

    def timer(sides, n):
        return {k: block_median_ms(fn, reps=reps, blocks=3, settle_s=0.02)
                for k, fn in sides.items()}
    return [row(c["case"], n, ms["dlcore"], ms["numpy"], ms.get("torch"))
            for c, n, ms in timed_cases(cases(quick), workload, threads, timer, get_torch())]


def format_table(rows):
    def ms(v):
        return "-" if v is None else ("%.3f" % v if v < 1 else "%.2f" % v)

    def ratio(v):
        return "-" if v is None else "%.2fx" % v

    head = ("case", "thr", "dlcore ms", "numpy ms", "torch ms", "numpy/dl", "torch/dl")
    body = [(r["case"], str(r["threads"]), ms(r["dlcore_ms"]), ms(r["numpy_ms"]),
             ms(r["torch_ms"]), ratio(r["ratio_numpy"]), ratio(r["ratio_torch"])) for r in rows]
    widths = [max(len(h), *(len(b[i]) for b in body)) if body else len(h)
              for i, h in enumerate(head)]
    fmt = "  ".join(("%%-%ds" if i == 0 else "%%%ds") % w for i, w in enumerate(widths))
    lines = [fmt % head, fmt % tuple("-" * w for w in widths)]
    lines += [fmt % b for b in body]
    return "\n".join(lines)
