"""GEMM benchmark: dlcore's sgemm against numpy.matmul (OpenBLAS) and torch, in one run.

    from dlcore.bench import gemm
    print(gemm.format_table(gemm.run(threads=(1, 2))))

Cases (float32, shapes written M x K x N):
  square n = 64 ... 2048            A @ B
  Linear-shaped                     x (M x K) @ W.T, W stored (N x K) as nn.Linear keeps it
  Linear backward                   of the Linear shape M x K x N: dX = dY @ W (M x N x K, no
                                    transpose) and dW = dY.T @ X (N x M x K, op(A) = A.T read
                                    in place), the products a training step adds
  fused bias + ReLU                 one GEMM with the epilogue vs GEMM then a separate
                                    bias-add and ReLU pass over the output (dlcore both ways)
dlcore's side is dlcore.ops.matmul.gemm (the checked array-level op, ~0.5 us a call over the
raw kernel binding).  Before timing, its output is checked against a float64 NumPy product:
max |error| <= RTOL x max |reference|.
Timing: each side runs in its own blocks of calls (never interleaving dlcore's OpenMP pool with
OpenBLAS's in a hot loop, which slows both), warm-up calls first; the time is the median of a
block of calls, the best of five blocks (dlcore.bench.block_median_ms).
numpy's OpenBLAS gets the same thread count through threadpoolctl, torch through
torch.set_num_threads. Outputs are preallocated and reused on every side (out=), so no side pays
page faults. Ratios > 1 mean dlcore is faster.  `peak` is the fraction of the fp32 FMA peak of
`threads` cores, measured on this machine (dlcore.bench._peak).
"""
import os

import numpy as np

from ..ops.matmul import gemm as dl_gemm
from . import Workload, assert_close, block_median_ms, get_torch, row, timed_cases
from ._peak import fma_peak

SQUARE = (64, 128, 256, 512, 1024, 2048)
LINEAR = ((64, 784, 512), (1, 768, 3072), (512, 768, 768), (2048, 512, 128), (512, 768, 3072))
LINEAR_BWD = ((64, 784, 512), (512, 768, 3072))
FUSED = ((512, 768, 768), (64, 784, 512))
SIDES = ("dlcore", "dlcore_unfused", "numpy", "torch")
RTOL = 1e-5


def cases(quick=False):
    """The cases as dicts: case (the row label), M, K, N (of the product computed), linear
    (op(B) = W.T), ta (op(A) = A.T), fused."""
    sq = SQUARE[:-1] if quick else SQUARE
    out = []
    for n in sq:
        out.append(dict(case="square %d" % n, M=n, K=n, N=n, linear=False, fused=False))
    for M, K, N in (LINEAR[:-1] if quick else LINEAR):
        out.append(dict(case="linear %dx%dx%d" % (M, K, N), M=M, K=K, N=N, linear=True,
                        fused=False))
    for M, K, N in (LINEAR_BWD[:1] if quick else LINEAR_BWD):
        out.append(dict(case="linear dX %dx%dx%d" % (M, K, N), M=M, K=N, N=K, linear=False,
                        fused=False))
        out.append(dict(case="linear dW %dx%dx%d" % (M, K, N), M=N, K=M, N=K, linear=False,
                        ta=True, fused=False))
    for M, K, N in (FUSED[:1] if quick else FUSED):
        out.append(dict(case="linear+bias+relu %dx%dx%d" % (M, K, N), M=M, K=K, N=N,
                        linear=True, fused=True))
    return out


def workload(c, torch=None):
    """Operands of case `c` and its sides: dlcore, dlcore_unfused (fused cases: GEMM then a
    separate bias + ReLU pass), numpy and torch (when given), all writing one output C."""
    rng = np.random.default_rng(0)
    M, K, N = c["M"], c["K"], c["N"]
    ta = bool(c.get("ta", False))
    A = rng.standard_normal((K, M) if ta else (M, K), dtype=np.float32)
    Aop = A.T if ta else A                                   # a view, read in place
    if c["linear"]:
        W = rng.standard_normal((N, K), dtype=np.float32)   # nn.Linear layout
        Bop = W.T                                            # a view: nobody copies it
    else:
        W = rng.standard_normal((K, N), dtype=np.float32)
        Bop = W
    bias = rng.standard_normal(N, dtype=np.float32)
    C = np.empty((M, N), np.float32)
    tb = bool(c["linear"])
    if c["fused"]:
        def dl():
            dl_gemm(A, W, C, transpose_b=tb, bias=bias, activation="relu")

        def dl_unfused():
            dl_gemm(A, W, C, transpose_b=tb)
            np.add(C, bias, out=C)
            np.maximum(C, 0, out=C)

        def npf():
            np.matmul(A, Bop, out=C)
            np.add(C, bias, out=C)
            np.maximum(C, 0, out=C)
    else:
        dl_unfused = None

        def dl():
            dl_gemm(A, W, C, transpose_a=ta, transpose_b=tb)

        def npf():
            np.matmul(Aop, Bop, out=C)
    sides = {"dlcore": dl, "dlcore_unfused": dl_unfused, "numpy": npf, "torch": None}
    if torch is not None:
        tA, tW, tC, tb_ = (torch.from_numpy(A), torch.from_numpy(W), torch.from_numpy(C),
                           torch.from_numpy(bias))
        tA = tA.t() if ta else tA
        tB = tW.t() if c["linear"] else tW
        if c["fused"]:
            def tf():
                torch.addmm(tb_, tA, tB, out=tC)
                tC.relu_()
        else:
            def tf():
                torch.matmul(tA, tB, out=tC)
        sides["torch"] = tf

    def check():
        for name in ("dlcore", "dlcore_unfused"):
            if sides[name] is not None:
                C.fill(np.nan)
                sides[name]()
                ref = Aop.astype(np.float64) @ Bop.astype(np.float64)
                if c["fused"]:
                    ref = np.maximum(ref + bias, 0)
                assert_close("gemm %s (%s)" % (c["case"], name), "C", C, ref, RTOL)
    return Workload(c["case"], sides, check)


def run(threads=(1, 2), quick=False):
    """Benchmark rows (one per case and thread count), each a dict with case, threads,
    dlcore_ms, numpy_ms, torch_ms (None without torch), ratio_numpy, ratio_torch, gflops,
    peak_frac (of the measured fp32 FMA peak of `threads` cores; None where it cannot be
    measured) and, for fused cases, unfused_ms and ratio_unfused (dlcore GEMM + separate
    bias/ReLU pass vs the fused epilogue)."""
    budget = 0.08 if quick else 0.4
    peak, _ = fma_peak()

    def timer(sides, n):
        return {k: block_median_ms(fn, budget) for k, fn in sides.items()}
    rows = []
    for c, nt, ms in timed_cases(cases(quick), workload, threads, timer, get_torch()):
        r = row(c["case"], nt, ms["dlcore"], ms["numpy"], ms.get("torch"), M=c["M"], K=c["K"],
                N=c["N"])
        if "dlcore_unfused" in ms:
            r["unfused_ms"] = ms["dlcore_unfused"]
            r["ratio_unfused"] = r["unfused_ms"] / r["dlcore_ms"]
        r["gflops"] = 2.0 * c["M"] * c["N"] * c["K"] / (r["dlcore_ms"] * 1e-3) / 1e9
        r["peak_frac"] = r["gflops"] / (peak * nt) if peak else None
        rows.append(r)
    return rows


def _fmt(v, spec):
    return "-" if v is None else format(v, spec)


def format_table(rows):
    """A plain-text table of run()'s rows."""
    head = ("case", "T", "dlcore ms", "numpy ms", "torch ms", "np/dl", "torch/dl",
            "GFLOP/s", "peak", "unfused/fused")
    lines = []
    for r in rows:
        lines.append((r["case"], str(r["threads"]), _fmt(r["dlcore_ms"], ".4f"),
                      _fmt(r["numpy_ms"], ".4f"), _fmt(r.get("torch_ms"), ".4f"),
                      _fmt(r["ratio_numpy"], ".2f"), _fmt(r.get("ratio_torch"), ".2f"),
                      _fmt(r["gflops"], ".1f"),
                      "-" if r.get("peak_frac") is None else "%.0f%%" % (r["peak_frac"] * 100),
                      _fmt(r.get("ratio_unfused"), ".2f")))
    widths = [max(len(h), *(len(l[i]) for l in lines)) if lines else len(h)
              for i, h in enumerate(head)]
    out = ["  ".join(h.ljust(w) if i == 0 else h.rjust(w) for i, (h, w) in
                     enumerate(zip(head, widths)))]
    out.append("  ".join("-" * w for w in widths))
    for l in lines:
        out.append("  ".join(v.ljust(w) if i == 0 else v.rjust(w) for i, (v, w) in
                             enumerate(zip(l, widths))))
    peak, how = fma_peak()
    notes = ["ratios > 1: dlcore faster; peak = fraction of %s"
             % ("%.0f GFLOP/s per core x threads (%s)" % (peak, how) if peak else
                "the FMA peak, not known here (%s)" % how)]
    for var in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE"):
        if os.environ.get(var):
            notes.append("warning: %s is set; unset it for representative numpy timings" % var)
    return "\n".join(out + notes)


if __name__ == "__main__":
    import sys
    print(format_table(run(quick="--quick" in sys.argv)))
