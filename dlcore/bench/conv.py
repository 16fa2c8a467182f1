"""Convolution and pooling benchmark: dlcore (each algorithm) against a NumPy im2col reference
and torch.

    from dlcore.bench import conv
    print(conv.format_table(conv.run(threads=(1, 2))))

Cases (float32, NCHW): forward and forward+backward of
  3x3 pad 1: (32,3,32,32)->32, (32,64,56,56)->64, (8,256,14,14)->256, (1,64,56,56)->64,
             (8,128,28,28)->128
  depthwise 3x3 pad 1: (32,128,28,28), groups 128
  1x1: (32,256,14,14)->512
  max-pool 2x2 stride 2: (32,64,56,56)
Sides: `dlcore` (the algorithm dlcore picks itself, named in the `algo` column), and for the
3x3 stride-1 convolutions each algorithm forced (`im2col`: im2col + GEMM; `winograd`:
Winograd F(4x4, 3x3) or F(2x2, 3x3), whichever it would pick; the weight gradient is im2col
in both), `numpy` and `torch`.
The NumPy reference is im2col by sliding_window_view + one tensordot (OpenBLAS) for the
convolutions, col2im by strided adds for the input gradient, and a reshape-max for the pooling
(with an argmax mask for its backward).  Before timing, every dlcore side's output and
gradients are checked against it: max |error| <= RTOL x max |reference|, each tensor.
Timing: the sides take turns within each round (so a burst of someone else's load hits all
of them alike; with several threads a short pause before each turn lets the previous pool's
spinning threads sleep, and an untimed call then wakes the side's own), and each side's time
is its fastest round (other load only slows a call down).  numpy's BLAS gets the thread count through threadpoolctl, torch through
torch.set_num_threads.  Ratios are their time / dlcore's time: > 1 means dlcore is faster.
GFLOP/s count the direct convolution's 2 N K C/groups R S OH OW per pass (3 passes for
forward+backward) for the `dlcore` side; `peak` is that over the measured fp32 FMA peak of
`threads` cores (dlcore.bench._peak).  Both are direct-convolution equivalents: Winograd does
a quarter (F(4x4)) or 4/9 (F(2x2)) of those multiplications, so it can pass 100%.
"""
import time

import numpy as np

from ..ops.conv import conv2d_algorithm, conv_algorithm
from . import Workload, block_median_ms, get_torch, output_check, row, threads_scope
from ._peak import fma_peak

CONVS = [
    # kind, (N, C, H, W), K, kernel, padding, groups
    ("conv3x3", (32, 3, 32, 32), 32, 3, 1, 1),
    ("conv3x3", (32, 64, 56, 56), 64, 3, 1, 1),
    ("conv3x3", (8, 256, 14, 14), 256, 3, 1, 1),
    ("conv3x3", (1, 64, 56, 56), 64, 3, 1, 1),
    ("conv3x3", (8, 128, 28, 28), 128, 3, 1, 1),
    ("depthwise3x3", (32, 128, 28, 28), 128, 3, 1, 128),
    ("conv1x1", (32, 256, 14, 14), 512, 1, 0, 1),
]
QUICK = ((32, 3, 32, 32), (8, 128, 28, 28), (32, 128, 28, 28))   # the --quick convolutions
POOL = ("maxpool2x2", (32, 64, 56, 56))
MODES = ("fwd", "fwd+bwd")
ALGOS = ("im2col", "winograd")          # the sides that force one algorithm
SIDES = ("dlcore",) + ALGOS + ("numpy", "torch")
RTOL = 1e-4


# ---- the NumPy reference --------------------------------------------------------------------

def np_conv_forward(x, w, pad, groups):
    """im2col (a strided view of the padded input) and one tensordot per group."""
    from numpy.lib.stride_tricks import sliding_window_view
    K, Cg, R, S = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad))) if pad else x
    cols = sliding_window_view(xp, (R, S), axis=(2, 3))  # (N, C, OH, OW, R, S)
    if groups == x.shape[1] and Cg == 1 and K == groups:
        return np.einsum("nchwrs,crs->nchw", cols, w[:, 0], optimize=True)
    y = np.tensordot(cols, w, axes=([1, 4, 5], [1, 2, 3]))  # (N, OH, OW, K)
    return np.ascontiguousarray(y.transpose(0, 3, 1, 2))


def np_conv_backward(x, w, gy, pad, groups):
    """Weight gradient over the im2col view, input gradient by col2im (strided adds)."""
    from numpy.lib.stride_tricks import sliding_window_view
    K, Cg, R, S = w.shape
    N, C, H, W = x.shape
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad))) if pad else x
    cols = sliding_window_view(xp, (R, S), axis=(2, 3))
    OH, OW = gy.shape[2:]
    gxp = np.zeros(xp.shape, x.dtype)
    if groups == C and Cg == 1 and K == groups:
        gw = np.einsum("nchwrs,nchw->crs", cols, gy, optimize=True)[:, None]
        for r in range(R):
            for s in range(S):
                gxp[:, :, r:r + OH, s:s + OW] += gy * w[:, 0, r, s][None, :, None, None]
    else:
        gw = np.tensordot(gy, cols, axes=([0, 2, 3], [0, 2, 3]))  # (K, C, R, S)
        gcols = np.tensordot(gy, w, axes=([1], [0]))  # (N, OH, OW, C, R, S)
        for r in range(R):
            for s in range(S):
                gxp[:, :, r:r + OH, s:s + OW] += gcols[:, :, :, :, r, s].transpose(0, 3, 1, 2)
    gb = gy.sum(axis=(0, 2, 3))
    gx = gxp[:, :, pad:pad + H, pad:pad + W] if pad else gxp
    return gx, gw, gb


def np_maxpool2(x):
    N, C, H, W = x.shape
    return x.reshape(N, C, H // 2, 2, W // 2, 2).max(axis=(3, 5))


def np_maxpool2_backward(x, y, gy):
    N, C, H, W = x.shape
    win = x.reshape(N, C, H // 2, 2, W // 2, 2)
    mask = win == y[:, :, :, None, :, None]
    return (mask * gy[:, :, :, None, :, None]).reshape(N, C, H, W)


# ---- cases and their sides --------------------------------------------------------------------

def cases(quick=False):
    """Dicts: case (the row label), mode ('fwd' or 'fwd+bwd'), op ('conv' or 'pool'), shape,
    and for convolutions K, k, pad, groups.  quick: a quarter of the batch, two convolutions."""
    out = []
    for kind, shape, K, k, pad, groups in [c for c in CONVS if not quick or c[1] in QUICK]:
        if quick:
            shape = (max(1, shape[0] // 4),) + shape[1:]
        name = "%s %s%s" % (kind, "x".join(map(str, shape)),
                            "" if groups == shape[1] == K else "->%d" % K)
        for mode in MODES:
            out.append(dict(case="%s %s" % (name, mode), mode=mode, op="conv", shape=shape,
                            K=K, k=k, pad=pad, groups=groups))
    kind, shape = POOL
    if quick:
        shape = (8,) + shape[1:]
    for mode in MODES:
        out.append(dict(case="%s %s %s" % (kind, "x".join(map(str, shape)), mode), mode=mode,
                        op="pool", shape=shape))
    return out


def workload(c, torch=None):
    """The case's data and its dlcore / numpy / torch sides (forward, or forward+backward
    through each framework's autograd with a given output gradient)."""
    import dlcore as dl
    import dlcore.nn.functional as F
    rng = np.random.default_rng(0)
    shape, bwd = c["shape"], c["mode"] == "fwd+bwd"
    x = rng.standard_normal(shape).astype(np.float32)
    if c["op"] == "pool":
        gy = rng.standard_normal(shape[:2] + (shape[2] // 2, shape[3] // 2)).astype(np.float32)
        return _pool_workload(c, x, gy, bwd, dl, F, torch)
    N, C, H, W = shape
    K, k, pad, groups = c["K"], c["k"], c["pad"], c["groups"]
    w = (rng.standard_normal((K, C // groups, k, k)) * 0.1).astype(np.float32)
    b = rng.standard_normal(K).astype(np.float32)
    gy = rng.standard_normal((N, K, H + 2 * pad - k + 1, W + 2 * pad - k + 1)).astype(np.float32)
    xt, wt, bt = (dl.tensor(a, requires_grad=bwd) for a in (x, w, b))
    gyt = dl.tensor(gy)

    def dl_fn():
        if bwd:
            xt.grad = wt.grad = bt.grad = None
            F.conv2d(xt, wt, bt, 1, pad, 1, groups).backward(gyt)
        else:
            with dl.no_grad():
                return F.conv2d(xt, wt, bt, 1, pad, 1, groups)

    def forced(algo):
        """dl_fn with the algorithm forced (None where it would not apply)."""
        if k != 3 or groups != 1:
            return None

        def fn():
            with conv_algorithm(algo):
                return dl_fn()
        return fn

    def np_fn():
        if bwd:   # (the bias add is left out here, as it always was: ratios stay comparable)
            return (np_conv_forward(x, w, pad, groups),) + np_conv_backward(x, w, gy, pad,
                                                                            groups)
        return np_conv_forward(x, w, pad, groups) + b[None, :, None, None]

    t_fn = None
    if torch is not None:
        tx, tw, tb = (torch.tensor(a, requires_grad=bwd) for a in (x, w, b))
        tgy = torch.tensor(gy)

        def t_fn():
            if bwd:
                tx.grad = tw.grad = tb.grad = None
                torch.nn.functional.conv2d(tx, tw, tb, 1, pad, 1, groups).backward(tgy)
            else:
                with torch.no_grad():
                    torch.nn.functional.conv2d(tx, tw, tb, 1, pad, 1, groups)

    def reference():
        y = np_conv_forward(x, w, pad, groups) + b[None, :, None, None]
        return (y,) + np_conv_backward(x, w, gy, pad, groups) if bwd else y

    def got():
        with dl.no_grad():
            return F.conv2d(xt, wt, bt, 1, pad, 1, groups), xt.grad, wt.grad, bt.grad
    sides = {"dlcore": dl_fn, "im2col": forced("im2col"), "winograd": forced("winograd"),
             "numpy": np_fn, "torch": t_fn}
    names = ("output", "input grad", "weight grad", "bias grad")
    checks = [output_check("conv %s (%s)" % (c["case"], side), bwd, sides[side], got, reference,
                           names, RTOL)
              for side in ("dlcore",) + ALGOS if sides[side] is not None]

    def check():
        for one in checks:
            one()
    load = Workload(c["case"], sides, check)
    load.algo = conv2d_algorithm(shape, (K, C // groups, k, k), 1, pad, 1, groups)
    return load


def _pool_workload(c, x, gy, bwd, dl, F, torch):
    xt, gyt = dl.tensor(x, requires_grad=bwd), dl.tensor(gy)

    def dl_fn():
        if bwd:
            xt.grad = None
            F.max_pool2d(xt, 2).backward(gyt)
        else:
            with dl.no_grad():
                return F.max_pool2d(xt, 2)

    def np_fn():
        y = np_maxpool2(x)
        return (y, np_maxpool2_backward(x, y, gy)) if bwd else y

    t_fn = None
    if torch is not None:
        tx, tgy = torch.tensor(x, requires_grad=bwd), torch.tensor(gy)

        def t_fn():
            if bwd:
                tx.grad = None
                torch.nn.functional.max_pool2d(tx, 2).backward(tgy)
            else:
                with torch.no_grad():
                    torch.nn.functional.max_pool2d(tx, 2)

    def got():
        with dl.no_grad():
            return F.max_pool2d(xt, 2), xt.grad
    # max and its gradient routing are exact: tolerance 0
    check = output_check("conv " + c["case"], bwd, dl_fn, got, np_fn, ("output", "input grad"),
                         0.0)
    return Workload(c["case"], {"dlcore": dl_fn, "numpy": np_fn, "torch": t_fn}, check)


# ---- the run ----------------------------------------------------------------------------------

def alternating_min_ms(sides, rounds, pause_s=0.0):
    """{side: ms}: every side once per round, in turn, after one warm-up call each; a side's
    time is its fastest call.  With pause_s, each turn starts with a pause (the previous
    side's spinning threads go to sleep) and an untimed call (which wakes this side's own
    threads), so the timed call runs back to back as the one-thread rows and a training loop
    do: timed straight after the pause, a 0.2 ms convolution took 0.3-0.4 ms at one thread
    and at two alike (its threads and caches cold), which made two threads look slower than
    one thread timed back to back."""
    best = {}
    for fn in sides.values():
        fn()
    for _ in range(rounds):
        for side, fn in sides.items():
            if pause_s:
                time.sleep(pause_s)
                fn()
            t0 = time.perf_counter()
            fn()
            best[side] = min(best.get(side, float("inf")), time.perf_counter() - t0)
    return {side: t * 1e3 for side, t in best.items()}


def _flop(c):
    if c["op"] != "conv":
        return None
    N, C, H, W = c["shape"]
    k, pad = c["k"], c["pad"]
    P = (H + 2 * pad - k + 1) * (W + 2 * pad - k + 1)
    f = 2.0 * N * c["K"] * (C // c["groups"]) * k * k * P
    return f * 3 if c["mode"] == "fwd+bwd" else f


def run(threads=(1, 2), quick=False):
    """Rows with the sides' milliseconds (dlcore_ms, im2col_ms, winograd_ms, numpy_ms,
    torch_ms), algo (what dlcore picks), gflops and peak_frac of the dlcore side, and the
    ratios to torch of each dlcore side."""
    peak, _ = fma_peak()
    rounds = 3 if quick else 7
    out = []
    for c in cases(quick):
        w = workload(c, get_torch())
        for n in threads:
            with threads_scope(n):
                w.check()
                # numpy's reference is slow and not in the comparison that matters: its own block
                sides = {k: v for k, v in w.sides.items() if k != "numpy"}
                ms = alternating_min_ms(sides, rounds, 0.02 if n > 1 else 0.0)
                ms["numpy"] = block_median_ms(w.sides["numpy"], reps=1, min_reps=1, blocks=2,
                                              settle_s=0.05)
            r = row(c["case"], n, ms["dlcore"], ms["numpy"], ms.get("torch"),
                    im2col_ms=ms.get("im2col"), winograd_ms=ms.get("winograd"),
                    algo=getattr(w, "algo", "-"))
            fl = _flop(c)
            r["gflops"] = fl / ms["dlcore"] / 1e6 if fl else None
            r["peak_frac"] = r["gflops"] / (peak * n) if fl and peak else None
            t = ms.get("torch")
            for side in ALGOS:
                v = ms.get(side)
                r["ratio_torch_" + side] = t / v if t and v else None
            out.append(r)
    return out


def format_table(rows):
    def f(v, spec):
        return "-" if v is None else format(v, spec)
    head = ("%-36s %3s %-11s %9s %9s %9s %9s %9s %6s %6s %6s %7s %5s"
            % ("case", "thr", "algo", "dlcore ms", "im2col", "winograd", "numpy", "torch",
               "t/dl", "t/i2c", "t/wino", "GFLOP/s", "peak"))
    lines = [head, "-" * len(head)]
    for r in rows:
        lines.append("%-36s %3d %-11s %9s %9s %9s %9s %9s %6s %6s %6s %7s %5s" % (
            r["case"], r["threads"], r.get("algo") or "-", f(r["dlcore_ms"], ".2f"),
            f(r.get("im2col_ms"), ".2f"), f(r.get("winograd_ms"), ".2f"),
            f(r["numpy_ms"], ".1f"), f(r["torch_ms"], ".2f"), f(r["ratio_torch"], ".2f"),
            f(r.get("ratio_torch_im2col"), ".2f"), f(r.get("ratio_torch_winograd"), ".2f"),
            f(r.get("gflops"), ".1f"),
            "-" if r.get("peak_frac") is None else "%.0f%%" % (100 * r["peak_frac"])))
    peak, how = fma_peak()
    lines.append("times: fastest of alternating rounds; t/x = torch ms / x ms (> 1: dlcore "
                 "faster); peak = GFLOP/s over %s"
                 % ("%.0f GFLOP/s per core x threads (%s)" % (peak, how) if peak else how))
    return "\n".join(lines)


if __name__ == "__main__":
    import sys
    print(format_table(run(quick="--quick" in sys.argv)))
