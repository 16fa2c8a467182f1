"""GEMM benchmark: dlcore's sgemm against numpy.matmul (OpenBLAS) and torch, in one run.

    from dlcore.bench import gemm
    print(gemm.format_table(gemm.run(threads=(1, 2))))

Cases (float32, shapes written M x K x N):
  square n = 64 ... 2048            A @ B
  Linear-shaped                     x (M x K) @ W.T, W stored (N x K) as nn.Linear keeps it
  fused bias + ReLU                 one GEMM with the epilogue vs GEMM then a separate
                                    bias-add and ReLU pass over the output (dlcore both ways)
Timing: each side runs in its own blocks of calls (never interleaving dlcore's OpenMP pool with
OpenBLAS's in a hot loop, which slows both), warm-up calls first; the time is the median of a
block of calls, the best of five blocks (see _median_time).
numpy's OpenBLAS gets the same thread count through threadpoolctl, torch through
torch.set_num_threads. Outputs are preallocated and reused on every side (out=), so no side pays
page faults. Ratios > 1 mean dlcore is faster.
"""
import os
import time

import numpy as np

from .. import _C

# Measured fp32 FMA peak of one Zen 4 core here (3.67 GHz x 32 FLOP/cycle), see BASELINE.md.
PEAK_GFLOPS_PER_CORE = 117.0

SQUARE = (64, 128, 256, 512, 1024, 2048)
LINEAR = ((64, 784, 512), (1, 768, 3072), (512, 768, 768), (2048, 512, 128))
FUSED = ((512, 768, 768), (64, 784, 512))


def _torch():
    try:
        import torch
    except Exception:  # torch is optional: an oracle, never a dependency
        return None
    return torch


def _median_time(fn, budget_s, min_reps=5, max_reps=400, blocks=5):
    """Seconds per call of fn(): warm-up, then `blocks` blocks of repeated calls; the median
    of each block, and the smallest of those block medians is returned.  On a machine shared
    with other jobs a block that overlapped someone's burst is discarded this way, while a
    single lucky call cannot win (it is a median).  Every side is timed the same way."""
    time.sleep(0.05)   # let the previous side's spinning pool threads go to sleep
    fn()
    fn()
    t0 = time.perf_counter()
    fn()
    one = max(time.perf_counter() - t0, 1e-7)
    reps = int(min(max_reps, max(min_reps, budget_s / one / blocks)))
    best = float("inf")
    for _ in range(blocks):
        fn()   # re-warm
        samples = []
        for _ in range(reps):
            t0 = time.perf_counter()
            fn()
            samples.append(time.perf_counter() - t0)
        best = min(best, float(np.median(samples)))
    return best


class _BlasThreads:
    """Set numpy's BLAS thread count for a block (threadpoolctl if installed)."""

    def __init__(self, n):
        self.n = n
        self.ctx = None

    def __enter__(self):
        try:
            from threadpoolctl import threadpool_limits
            self.ctx = threadpool_limits(limits=self.n, user_api="blas")
        except ImportError:
            self.ctx = None
        return self

    def __exit__(self, *exc):
        if self.ctx is not None:
            self.ctx.restore_original_limits()
        return False


def _cases(quick):
    sq = SQUARE[:-1] if quick else SQUARE
    out = []
    for n in sq:
        out.append(dict(case="square %d" % n, M=n, K=n, N=n, linear=False, fused=False))
    for M, K, N in LINEAR:
        out.append(dict(case="linear %dx%dx%d" % (M, K, N), M=M, K=K, N=N, linear=True,
                        fused=False))
    for M, K, N in (FUSED[:1] if quick else FUSED):
        out.append(dict(case="linear+bias+relu %dx%dx%d" % (M, K, N), M=M, K=K, N=N,
                        linear=True, fused=True))
    return out


def _bench_case(c, nt, budget, torch):
    rng = np.random.default_rng(0)
    M, K, N = c["M"], c["K"], c["N"]
    A = rng.standard_normal((M, K), dtype=np.float32)
    if c["linear"]:
        W = rng.standard_normal((N, K), dtype=np.float32)   # nn.Linear layout
        Bop = W.T                                            # a view: nobody copies it
    else:
        W = rng.standard_normal((K, N), dtype=np.float32)
        Bop = W
    bias = rng.standard_normal(N, dtype=np.float32)
    C = np.empty((M, N), np.float32)
    tb = bool(c["linear"])
    row = dict(case=c["case"], threads=nt, M=M, K=K, N=N)

    if c["fused"]:
        def dl():
            _C.gemm(A, W, C, False, tb, 1.0, 0.0, bias, _C.BIAS_ROW, _C.ACT_RELU)

        def dl_unfused():
            _C.gemm(A, W, C, False, tb)
            np.add(C, bias, out=C)
            np.maximum(C, 0, out=C)

        def npf():
            np.matmul(A, Bop, out=C)
            np.add(C, bias, out=C)
            np.maximum(C, 0, out=C)
    else:
        def dl():
            _C.gemm(A, W, C, False, tb)
        dl_unfused = None

        def npf():
            np.matmul(A, Bop, out=C)

    _C.set_num_threads(nt)
    row["dlcore_ms"] = _median_time(dl, budget) * 1e3
    if dl_unfused is not None:
        row["unfused_ms"] = _median_time(dl_unfused, budget) * 1e3
        row["ratio_unfused"] = row["unfused_ms"] / row["dlcore_ms"]
    with _BlasThreads(nt):
        row["numpy_ms"] = _median_time(npf, budget) * 1e3
    row["torch_ms"] = None
    if torch is not None:
        prev = torch.get_num_threads()
        torch.set_num_threads(nt)
        try:
            tA, tW, tC, tb_ = (torch.from_numpy(A), torch.from_numpy(W), torch.from_numpy(C),
                               torch.from_numpy(bias))
            tB = tW.t() if c["linear"] else tW
            with torch.no_grad():
                if c["fused"]:
                    def tf():
                        torch.addmm(tb_, tA, tB, out=tC)
                        tC.relu_()
                else:
                    def tf():
                        torch.matmul(tA, tB, out=tC)
                row["torch_ms"] = _median_time(tf, budget) * 1e3
        finally:
            torch.set_num_threads(prev)
    flops = 2.0 * M * N * K
    row["gflops"] = flops / (row["dlcore_ms"] * 1e-3) / 1e9
    row["peak_frac"] = row["gflops"] / (PEAK_GFLOPS_PER_CORE * nt)
    row["ratio_numpy"] = row["numpy_ms"] / row["dlcore_ms"]
    row["ratio_torch"] = (row["torch_ms"] / row["dlcore_ms"]) if row["torch_ms"] else None
    return row


def run(threads=(1, 2), quick=False):
    """Benchmark rows (one per case and thread count), each a dict with case, threads,
    dlcore_ms, numpy_ms, torch_ms (None without torch), ratio_numpy, ratio_torch, gflops,
    peak_frac (of the fp32 FMA peak of `threads` cores) and, for fused cases, unfused_ms and
    ratio_unfused (dlcore GEMM + separate bias/ReLU pass vs the fused epilogue)."""
    torch = _torch()
    budget = 0.08 if quick else 0.4
    prev = _C.get_num_threads()
    rows = []
    try:
        for nt in threads:
            for c in _cases(quick):
                rows.append(_bench_case(c, nt, budget, torch))
    finally:
        _C.set_num_threads(prev)
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
                      _fmt(r["gflops"], ".1f"), _fmt(r["peak_frac"] * 100, ".0f") + "%",
                      _fmt(r.get("ratio_unfused"), ".2f")))
    widths = [max(len(h), *(len(l[i]) for l in lines)) if lines else len(h)
              for i, h in enumerate(head)]
    out = ["  ".join(h.ljust(w) if i == 0 else h.rjust(w) for i, (h, w) in
                     enumerate(zip(head, widths)))]
    out.append("  ".join("-" * w for w in widths))
    for l in lines:
        out.append("  ".join(v.ljust(w) if i == 0 else v.rjust(w) for i, (v, w) in
                             enumerate(zip(l, widths))))
    notes = ["ratios > 1: dlcore faster; peak = fraction of %.0f GFLOP/s per core x threads"
             % PEAK_GFLOPS_PER_CORE]
    for var in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE"):
        if os.environ.get(var):
            notes.append("warning: %s is set; unset it for representative numpy timings" % var)
    return "\n".join(out + notes)


if __name__ == "__main__":
    import sys
    print(format_table(run(quick="--quick" in sys.argv)))
