"""Optimizer-step benchmark: dlcore's fused kernels against a NumPy reference and torch.optim.

    from dlcore.bench import optim
    print(optim.format_table(optim.run(threads=(1, 2))))

Cases (float32, 10M parameters in four buffers of 4M, 3M, 2M and 1M; 1M in quick mode):
  adam           Adam(lr=1e-3), one step over every buffer
  sgd-momentum   SGD(lr=1e-2, momentum=0.9)
Sides:
  dlcore         optimizer.step(): one fused C pass per buffer
  numpy          the same update written with in-place NumPy ufuncs and reused scratch
                 (the fastest plain-NumPy form: no temporaries allocated per step)
  torch          torch.optim default on CPU (a per-tensor loop), foreach=True, and fused=True
Timing: the sides take turns in rounds (a warm-up call, then the best of 3 timed calls each),
and each side's figure is the median over the rounds: on a shared machine a burst of load
then hits every side alike instead of whichever happened to run at that moment.  dlcore
gets `threads` OpenMP threads, torch torch.set_num_threads(threads); NumPy's element-wise
ufuncs are single-threaded.  glibc's mmap/trim thresholds are fixed first (as BASELINE.md
describes) so no side pays page faults that another side avoids by chance.  Before timing,
two steps of fresh dlcore and NumPy optimizers from the same start are compared: the change
of every parameter within RTOL x its largest value plus 4 float32 ulps of the parameters.
Ratios > 1 mean dlcore is faster.  An update moves 28 bytes per parameter for Adam (read p,
g, m, v; write p, m, v) and 20 for SGD with momentum, so `dlcore_GBps` shows how close the
step runs to memory bandwidth.
"""
import ctypes
import math
import time

import numpy as np

from . import Workload, assert_close, get_torch, row, timed_cases

SIZES = (4_000_000, 3_000_000, 2_000_000, 1_000_000)
QUICK_SIZES = (400_000, 300_000, 200_000, 100_000)
BYTES_PER_PARAM = {"adam": 28, "sgd-momentum": 20}
SIDES = ("dlcore", "numpy", "torch", "torch_foreach", "torch_fused")
RTOL = 1e-4


def _fix_malloc():
    """Keep freed big blocks in the heap (same settings for every side); glibc only."""
    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt(-3, 32 * 1024 * 1024)    # M_MMAP_THRESHOLD
        libc.mallopt(-1, 1024 * 1024 * 1024)  # M_TRIM_THRESHOLD
    except (OSError, AttributeError):
        pass


def _interleaved_ms(sides, rounds, per_round=3):
    """{name: median over rounds of the best of `per_round` timed calls} for {name: fn}."""
    samples = {name: [] for name in sides}
    for _ in range(rounds):
        for name, fn in sides.items():
            fn()  # re-warm after the other sides ran
            best = math.inf
            for _ in range(per_round):
                t0 = time.perf_counter()
                fn()
                best = min(best, time.perf_counter() - t0)
            samples[name].append(best * 1e3)
    return {name: float(np.median(v)) for name, v in samples.items()}


# ------------------------------------------------------------------- NumPy references
class NumpyAdam:
    """Adam in place with NumPy ufuncs and one reused scratch buffer per parameter."""

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8):
        self.params, self.lr, self.betas, self.eps = params, lr, betas, eps
        self.m = [np.zeros_like(p) for p in params]
        self.v = [np.zeros_like(p) for p in params]
        self.tmp = [np.empty_like(p) for p in params]
        self.t = 0

    def step(self, grads):
        b1, b2 = self.betas
        self.t += 1
        step_size = self.lr / (1 - b1 ** self.t)
        bc2_sqrt = math.sqrt(1 - b2 ** self.t)
        f = self.params[0].dtype.type
        for p, g, m, v, tmp in zip(self.params, grads, self.m, self.v, self.tmp):
            m *= f(b1)
            np.multiply(g, f(1 - b1), out=tmp)
            m += tmp
            v *= f(b2)
            np.multiply(g, g, out=tmp)
            tmp *= f(1 - b2)
            v += tmp
            np.sqrt(v, out=tmp)
            tmp /= f(bc2_sqrt)
            tmp += f(self.eps)
            np.divide(m, tmp, out=tmp)
            tmp *= f(-step_size)
            p += tmp


class NumpySGD:
    """SGD with momentum in place with NumPy ufuncs and one reused scratch per parameter."""

    def __init__(self, params, lr=1e-2, momentum=0.9):
        self.params, self.lr, self.momentum = params, lr, momentum
        self.buf = [None] * len(params)
        self.tmp = [np.empty_like(p) for p in params]

    def step(self, grads):
        f = self.params[0].dtype.type
        for i, (p, g, tmp) in enumerate(zip(self.params, grads, self.tmp)):
            if self.buf[i] is None:
                self.buf[i] = g.copy()
            else:
                self.buf[i] *= f(self.momentum)
                self.buf[i] += g
            np.multiply(self.buf[i], f(-self.lr), out=tmp)
            p += tmp


# ----------------------------------------------------------------------------- cases
def cases(quick=False):
    """Dicts: case (the row label), name ('adam' or 'sgd-momentum'), sizes."""
    sizes = QUICK_SIZES if quick else SIZES
    n_params = sum(sizes)
    label = "%dM" % round(n_params / 1e6) if n_params >= 1e6 else "%dk" % (n_params // 1000)
    return [dict(case="%s %s" % (name, label), name=name, sizes=sizes)
            for name in ("adam", "sgd-momentum")]


def operands(sizes):
    """(parameters, gradients): float32 arrays of the given sizes, the same on every side."""
    rng = np.random.default_rng(0)
    arrays = [rng.standard_normal(n).astype(np.float32) for n in sizes]
    grads = [(0.1 * rng.standard_normal(n)).astype(np.float32) for n in sizes]
    return arrays, grads


def _dl_opt(name, arrays, grads):
    from ..nn import Parameter
    from ..optim import SGD, Adam
    from ..tensor import Tensor
    params = [Parameter(a.copy()) for a in arrays]
    for p, g in zip(params, grads):
        p.grad = Tensor._wrap(g)
    opt = Adam(params, lr=1e-3) if name == "adam" else SGD(params, lr=1e-2, momentum=0.9)
    return opt, params


def _numpy_opt(name, arrays):
    params = [a.copy() for a in arrays]
    return (NumpyAdam(params) if name == "adam" else NumpySGD(params)), params


def _torch_side(torch, name, arrays, grads, **flags):
    params = [torch.nn.Parameter(torch.from_numpy(a.copy())) for a in arrays]
    for p, g in zip(params, grads):
        p.grad = torch.from_numpy(g)
    try:
        if name == "adam":
            opt = torch.optim.Adam(params, lr=1e-3, **flags)
        else:
            opt = torch.optim.SGD(params, lr=1e-2, momentum=0.9, **flags)
        opt.step()
    except Exception:  # an option this torch build lacks on CPU
        return None

    def step():
        with torch.no_grad():
            opt.step()
    return step


def workload(c, torch=None, data=None):
    """Each side's optimizer over its own copy of the parameters (data: operands(c['sizes'])
    when already made); the timed call is one step()."""
    name = c["name"]
    arrays, grads = data if data is not None else operands(c["sizes"])
    dl_opt, _ = _dl_opt(name, arrays, grads)
    np_opt, _ = _numpy_opt(name, arrays)
    sides = {"dlcore": dl_opt.step, "numpy": lambda: np_opt.step(grads)}
    if torch is not None:
        for key, flags in (("torch", {}), ("torch_foreach", {"foreach": True}),
                           ("torch_fused", {"fused": True})):
            sides[key] = _torch_side(torch, name, arrays, grads, **flags)

    def check():
        # fresh optimizers: two steps (the first sets up momentum / moments) from the same
        # start; compared is the change of the parameters, the update itself
        opt, dl_params = _dl_opt(name, arrays, grads)
        ref, np_params = _numpy_opt(name, arrays)
        for _ in range(2):
            opt.step()
            ref.step(grads)
        for i, (a, p, r) in enumerate(zip(arrays, dl_params, np_params)):
            # atol: the float32 rounding of the parameters themselves (a few ulps)
            atol = 4 * np.finfo(np.float32).eps * float(np.max(np.abs(a)))
            assert_close("optim " + c["case"], "update of parameter %d" % i, p.numpy() - a,
                         r - a, RTOL, atol)
    return Workload(c["case"], sides, check)


def run(threads=(1, 2), quick=False):
    """Rows: case, threads, dlcore_ms, numpy_ms, torch_ms (torch's default), ratio_numpy,
    ratio_torch, plus torch_foreach_ms, torch_fused_ms, ratio_torch_fused and dlcore_GBps."""
    _fix_malloc()
    rounds = 3 if quick else 7
    rows = []
    for c, nt, ms in timed_cases(cases(quick), workload, threads,
                                 lambda sides, n: _interleaved_ms(sides, rounds), get_torch()):
        t_fused = ms.get("torch_fused")
        r = row(c["case"], nt, ms["dlcore"], ms["numpy"], ms.get("torch"),
                torch_foreach_ms=ms.get("torch_foreach"), torch_fused_ms=t_fused,
                ratio_torch_fused=t_fused / ms["dlcore"] if t_fused else None,
                dlcore_GBps=BYTES_PER_PARAM[c["name"]] * sum(c["sizes"]) / ms["dlcore"] / 1e6)
        rows.append(r)
    return rows


COLUMNS = ("case", "threads", "dlcore_ms", "numpy_ms", "torch_ms", "torch_foreach_ms",
           "torch_fused_ms", "ratio_numpy", "ratio_torch", "ratio_torch_fused", "dlcore_GBps")


def _cell(v):
    if v is None:
        return "-"
    if isinstance(v, float):
        return "%.2f" % v if abs(v) < 100 else "%.1f" % v
    return str(v)


def format_table(rows):
    """The rows as an aligned text table (ratios > 1: dlcore faster)."""
    rows = list(rows)
    if not rows:
        return "(no results)"
    cells = [[_cell(r.get(c)) for c in COLUMNS] for r in rows]
    widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(COLUMNS)]
    lines = ["  ".join(c.rjust(w) if i else c.ljust(w)
                       for i, (c, w) in enumerate(zip(COLUMNS, widths))),
             "  ".join("-" * w for w in widths)]
    for row in cells:
        lines.append("  ".join(v.rjust(w) if i else v.ljust(w)
                               for i, (v, w) in enumerate(zip(row, widths))))
    return "\n".join(lines)


if __name__ == "__main__":
    import sys
    print(format_table(run(quick="--quick" in sys.argv)))
