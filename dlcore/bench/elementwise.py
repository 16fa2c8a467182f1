"""`dlcore bench elementwise`: activations, softmax and cross-entropy against a NumPy
reference (chains of NumPy temporaries) and torch, at each thread count.

    from dlcore.bench import elementwise
    print(elementwise.format_table(elementwise.run(threads=(1, 2))))

Cases (float32): relu / gelu / sigmoid / tanh on 4M elements, forward and forward+backward;
softmax and log_softmax (32768, 512) forward and forward+backward; cross-entropy from logits
(4096, 1000) with class indices, forward and forward+backward.  Every side allocates its outputs
per call (the same allocator for dlcore and NumPy); inputs are wrapped without copies
(dl.from_numpy / torch.from_numpy); forward+backward goes through each
framework's autograd with a given output gradient.  Times are medians of a block of calls, the
best of three blocks; each side runs in its own blocks (OpenMP and BLAS pools never alternate in
a hot loop).  Ratios are their time / dlcore's: above 1 means dlcore is faster.
"""
import math
import time

import numpy as np

__all__ = ["run", "format_table"]


def _median_ms(fn, reps, blocks=3):
    time.sleep(0.02)            # let the other side's spinning pool threads go to sleep
    fn()
    fn()
    best = math.inf
    for _ in range(blocks):
        ts = []
        for _ in range(reps):
            t0 = time.perf_counter()
            fn()
            ts.append(time.perf_counter() - t0)
        best = min(best, float(np.median(ts)))
    return best * 1e3


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


# ---- the run --------------------------------------------------------------------------------
def _row(case, nt, tdl, tnp, tto, **extra):
    r = {"case": case, "threads": nt, "dlcore_ms": tdl, "numpy_ms": tnp, "torch_ms": tto,
         "ratio_numpy": tnp / tdl if tdl else None,
         "ratio_torch": (tto / tdl) if (tto is not None and tdl) else None}
    r.update(extra)
    return r


def run(threads=(1, 2), quick=False):
    import dlcore as dl
    import dlcore.nn.functional as F
    from dlcore import _C
    try:
        import torch
    except ImportError:  # torch is an optional oracle
        torch = None
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        threadpool_limits = None

    n_act = 1 << 18 if quick else 1 << 22               # 4M floats
    sm_shape = (2048, 512) if quick else (32768, 512)
    ce_shape = (512, 1000) if quick else (4096, 1000)
    reps = 3 if quick else 10
    rng = np.random.default_rng(0)
    xa = rng.standard_normal(n_act).astype(np.float32)
    ga = rng.standard_normal(n_act).astype(np.float32)
    xs = (rng.standard_normal(sm_shape) * 3).astype(np.float32)
    gs = rng.standard_normal(sm_shape).astype(np.float32)
    xc = (rng.standard_normal(ce_shape) * 3).astype(np.float32)
    tc = rng.integers(0, ce_shape[1], ce_shape[0])

    dl_act = {"relu": F.relu, "gelu": F.gelu, "sigmoid": F.sigmoid, "tanh": F.tanh}
    to_act = None
    if torch is not None:
        TF = torch.nn.functional
        to_act = {"relu": torch.relu, "gelu": TF.gelu, "sigmoid": torch.sigmoid,
                  "tanh": torch.tanh}

    def dl_case(fn, x, g):
        def f():
            if g is None:
                with dl.no_grad():
                    fn(dl.from_numpy(x))
            else:
                xt = dl.from_numpy(x).requires_grad_()
                fn(xt).backward(dl.from_numpy(g))
        return f

    def to_case(fn, x, g):
        def f():
            if g is None:
                with torch.no_grad():
                    fn(torch.from_numpy(x))
            else:
                xt = torch.from_numpy(x).requires_grad_()
                fn(xt).backward(torch.from_numpy(g))
        return f

    result = []
    prev = _C.get_num_threads()
    prev_torch = torch.get_num_threads() if torch is not None else None
    try:
        for nt in threads:
            _C.set_num_threads(nt)
            if torch is not None:
                torch.set_num_threads(nt)
            limit = threadpool_limits(limits=nt, user_api="blas") if threadpool_limits else None
            try:
                for name in ("relu", "gelu", "sigmoid", "tanh"):
                    for bwd in (False, True):
                        g = ga if bwd else None
                        tdl = _median_ms(dl_case(dl_act[name], xa, g), reps)
                        tnp = _median_ms(lambda: _np_act(name, xa, g), reps)
                        tto = _median_ms(to_case(to_act[name], xa, g), reps) if torch else None
                        size = ("%dM" % (n_act >> 20)) if n_act >= 1 << 20 else "%dK" % (n_act >> 10)
                        result.append(_row("%s %s %s" % (name, "fwd+bwd" if bwd else "fwd", size),
                                           nt, tdl, tnp, tto))
                for log in (False, True):
                    dfn = (lambda x: F.log_softmax(x, -1)) if log else (lambda x: F.softmax(x, -1))
                    tfn = None
                    if torch is not None:
                        tfn = (lambda x: torch.log_softmax(x, -1)) if log else \
                            (lambda x: torch.softmax(x, -1))
                    for bwd in (False, True):
                        g = gs if bwd else None
                        tdl = _median_ms(dl_case(dfn, xs, g), reps)
                        tnp = _median_ms(lambda: _np_softmax(xs, g, log), reps)
                        tto = _median_ms(to_case(tfn, xs, g), reps) if torch else None
                        result.append(_row("%s %s %s" % ("log_softmax" if log else "softmax",
                                                         "fwd+bwd" if bwd else "fwd",
                                                         "x".join(map(str, sm_shape))),
                                           nt, tdl, tnp, tto))
                tgt = dl.from_numpy(tc)
                for bwd in (False, True):
                    def dl_ce():
                        if bwd:
                            xt = dl.from_numpy(xc).requires_grad_()
                            F.cross_entropy(xt, tgt).backward()
                        else:
                            with dl.no_grad():
                                F.cross_entropy(dl.from_numpy(xc), tgt)
                    tdl = _median_ms(dl_ce, reps)
                    tnp = _median_ms(lambda: _np_cross_entropy(xc, tc, bwd), reps)
                    tto = None
                    if torch is not None:
                        ttc = torch.from_numpy(tc)

                        def to_ce():
                            if bwd:
                                xt = torch.from_numpy(xc).requires_grad_()
                                torch.nn.functional.cross_entropy(xt, ttc).backward()
                            else:
                                with torch.no_grad():
                                    torch.nn.functional.cross_entropy(torch.from_numpy(xc), ttc)
                        tto = _median_ms(to_ce, reps)
                    result.append(_row("cross_entropy %s %s" % ("fwd+bwd" if bwd else "fwd",
                                                               "x".join(map(str, ce_shape))),
                                       nt, tdl, tnp, tto))
            finally:
                if limit is not None:
                    limit.unregister()
    finally:
        _C.set_num_threads(prev)
        if torch is not None:
            torch.set_num_threads(prev_torch)
    return result


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
