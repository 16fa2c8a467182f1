"""The benchmarks: one module per family, the one place their workloads live.

A family module exposes run(threads=(1, 2), quick=False) -> list of row dicts with keys
case, threads, dlcore_ms, numpy_ms, torch_ms (None without torch), ratio_numpy
(= numpy_ms / dlcore_ms: above 1 means dlcore is faster), ratio_torch, plus any extra keys;
and format_table(rows) -> str (this module's format_table does for most).  `dlcore bench`
prints those tables.

The families that benchmarks/bench_<family>.py also times under pytest-benchmark (gemm, conv,
rnn, attention, elementwise, optim, gan) expose their cases as cases(quick) and each case's
work as workload(case, torch) -> Workload: the sides ('dlcore', 'numpy', 'torch', ...) as
no-argument callables doing the same work, and check(), which compares dlcore's outputs with
the NumPy reference and raises MismatchError beyond the family's stated tolerance.  run() and
the pytest suites both call check() before timing, so a wrong kernel never gets a time.

Timers: time_ms (a median of calls), block_median_ms (each side in its own blocks, the best
block median) and sides_ms (the sides in turn within each round, for one thread); each family
says which it uses.  Every side runs with the same thread count: dlcore's OpenMP threads (through
dlcore.runtime), NumPy's BLAS threads (threadpoolctl) and torch's intra-op threads are all set
by `threads(n)`.
"""
import contextlib
import statistics
import time

import numpy as np

__all__ = ["time_ms", "sides_ms", "block_median_ms", "threads", "blas_threads", "get_torch",
           "row", "format_table", "Workload", "MismatchError", "assert_close", "output_check",
           "timed_cases", "interleaved_timer", "param_id", "ms_table"]


class MismatchError(AssertionError):
    """dlcore's output differs from the NumPy reference beyond the stated tolerance."""


def assert_close(case, what, got, want, rtol, atol=0.0, ref="NumPy"):
    """Raise MismatchError unless max|got - want| <= atol + rtol * max|want| (in float64);
    `ref` names the reference in the message.

    The bound is relative to the largest reference value rather than to each element, so
    sums that cancel to near zero do not demand more than float32 can give."""
    got = np.asarray(getattr(got, "_data", got), dtype=np.float64)
    want = np.asarray(getattr(want, "_data", want), dtype=np.float64)
    if got.shape != want.shape:
        raise MismatchError("%s: %s has shape %s, the %s reference %s"
                            % (case, what, got.shape, ref, want.shape))
    if got.size == 0:
        return
    if not np.isfinite(got).all():
        raise MismatchError("%s: %s has non-finite values" % (case, what))
    err = float(np.max(np.abs(got - want)))
    bound = atol + rtol * float(np.max(np.abs(want)))
    if not err <= bound:
        raise MismatchError("%s: %s differs from the %s reference by %.3g, more than the "
                            "tolerance %.3g (rtol %g of max |reference| %.3g, atol %g)"
                            % (case, what, ref, err, bound, rtol, float(np.max(np.abs(want))),
                               atol))


class Workload:
    """One case of a family: `sides` maps a side ('dlcore', 'numpy', 'torch', ...) to a
    no-argument callable (sides that cannot run here, e.g. torch when it is not installed,
    are left out); check() runs dlcore once and compares it with the NumPy reference."""

    def __init__(self, case, sides, check):
        self.case = case
        self.sides = {k: v for k, v in sides.items() if v is not None}
        self._check = check

    def check(self):
        self._check()
        return self

    def __repr__(self):
        return "Workload(%r, sides=%s)" % (self.case, sorted(self.sides))


def output_check(label, bwd, dl_fn, got, reference, names, rtol):
    """check() for a forward or forward+backward case: dl_fn() runs dlcore's side (returning
    the output when forward only); got() lists what it left after forward+backward (output,
    then gradients) in the order of `names`; reference() gives the NumPy values (the output
    alone when forward only, else a sequence in the order of `names`)."""
    def check():
        if not bwd:
            assert_close(label, names[0], dl_fn(), reference(), rtol)
            return
        dl_fn()
        for what, g, want in zip(names, got(), reference()):
            assert_close(label, what, g, want, rtol)
    return check


def timed_cases(cases, workload, threads, timer, torch=None):
    """For each case and thread count: (case, n, {side: ms}).  Each case's workload is built
    once; at each thread count it is checked, then timer(sides, n) times its sides with every
    pool (dlcore, BLAS, torch) at n threads."""
    for c in cases:
        w = workload(c, torch)
        for n in threads:
            with threads_scope(n):
                w.check()
                ms = timer(w.sides, n)
            yield c, n, ms


def interleaved_timer(rounds):
    """A timed_cases timer: sides_ms over `rounds`, interleaved at one thread."""
    def timer(sides, n):
        return dict(zip(sides, sides_ms(list(sides.values()), rounds, interleave=n == 1)))
    return timer


def param_id(value):
    """A case's label with '_' for spaces (or any other value as is): a pytest id that -k
    expressions can name."""
    return value["case"].replace(" ", "_") if isinstance(value, dict) else value


def block_median_ms(fn, budget_s=None, reps=None, min_reps=5, max_reps=400, blocks=5,
                    settle_s=0.05):
    """Milliseconds per call of fn(): after a pause of settle_s (the previous side's spinning
    pool threads go to sleep) and two warm-up calls, `blocks` blocks of `reps` calls (or as
    many as fit in budget_s, within [min_reps, max_reps]), each block re-warmed by one call;
    the smallest block median.  On a machine shared with other jobs a block that overlapped
    someone's burst is discarded this way, while a single lucky call cannot win."""
    if settle_s:
        time.sleep(settle_s)
    fn()
    fn()
    t0 = time.perf_counter()
    fn()
    one = max(time.perf_counter() - t0, 1e-7)
    if reps is None:
        reps = int(min(max_reps, max(min_reps, budget_s / one / blocks)))
    best = float("inf")
    for _ in range(blocks):
        fn()
        samples = []
        for _ in range(max(1, int(reps))):
            t0 = time.perf_counter()
            fn()
            samples.append(time.perf_counter() - t0)
        best = min(best, statistics.median(samples))
    return best * 1e3


def time_ms(fn, repeats=10, warmup=2, min_seconds=0.0):
    """Median wall time of fn() in milliseconds over `repeats` calls (at least `min_seconds` of
    calls in all, when given), after `warmup` untimed calls."""
    for _ in range(max(0, int(warmup))):
        fn()
    samples = []
    start = time.perf_counter()
    while len(samples) < max(1, int(repeats)) or time.perf_counter() - start < min_seconds:
        t0 = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - t0) * 1e3)
        if len(samples) >= 10000:
            break
    return statistics.median(samples)


def sides_ms(fns, repeats, interleave, settle_s=0.05, cpu=False):
    """Median ms of each side's function (None: skipped, gives None), after one warm-up call.

    interleave=True runs the sides in turn within each repeat, so that every side sees the same
    load on a shared machine: right for one thread.  With several threads an idle pool
    (dlcore's OpenMP, OpenBLAS, torch's) keeps spinning for a while after its call and would
    slow the next side down, so each side then runs its own block, after a pause of settle_s
    that lets the previous side's threads go to sleep.  cpu=True times by the process's CPU
    time (time.process_time) instead of the wall clock: for one thread on a shared machine,
    where other processes' load stretches wall time (measured 2-6x at a load of 15 on 2 cores)
    but not the CPU time a side's own work takes."""
    ts = [[] for _ in fns]
    clock = time.process_time if cpu else time.perf_counter

    def once(fn, t):
        t0 = clock()
        fn()
        t.append(clock() - t0)

    if interleave:
        for fn in fns:
            if fn is not None:
                fn()
        for _ in range(max(1, int(repeats))):
            for fn, t in zip(fns, ts):
                if fn is not None:
                    once(fn, t)
    else:
        for fn, t in zip(fns, ts):
            if fn is None:
                continue
            time.sleep(settle_s)
            fn()
            for _ in range(max(1, int(repeats))):
                once(fn, t)
    return [statistics.median(t) * 1e3 if t else None for t in ts]


@contextlib.contextmanager
def blas_threads(n):
    """NumPy's BLAS limited to n threads for the block (when threadpoolctl is installed)."""
    limiter = None
    try:
        from threadpoolctl import threadpool_limits
        limiter = threadpool_limits(limits=int(n), user_api="blas")
    except ImportError:
        pass
    try:
        yield n
    finally:
        if limiter is not None:
            limiter.restore_original_limits()


_torch = {"checked": False, "mod": None}


def get_torch():
    """The torch module when it is installed (benchmarks compare against it), else None."""
    if not _torch["checked"]:
        _torch["checked"] = True
        try:
            import torch
            _torch["mod"] = torch
        except ImportError:
            _torch["mod"] = None
    return _torch["mod"]


@contextlib.contextmanager
def threads_scope(n):
    """Run the block with n threads for dlcore, NumPy's BLAS (if threadpoolctl is installed)
    and torch (if installed); previous settings are restored afterwards."""
    from ..runtime import get_num_threads, set_num_threads
    n = int(n)
    prev = get_num_threads()
    set_num_threads(n)
    limiter = None
    try:
        from threadpoolctl import threadpool_limits
        limiter = threadpool_limits(limits=n, user_api="blas")
    except ImportError:
        pass
    torch = get_torch()
    prev_torch = torch.get_num_threads() if torch is not None else None
    if torch is not None:
        torch.set_num_threads(n)
    try:
        yield n
    finally:
        set_num_threads(prev)
        if limiter is not None:
            limiter.restore_original_limits()
        if torch is not None:
            torch.set_num_threads(prev_torch)


threads = threads_scope   # the name the family modules and the pytest suites use


def row(case, threads, dlcore_ms, numpy_ms=None, torch_ms=None, **extra):
    """A result row with the ratios filled in (None where a side is missing)."""
    r = {"case": case, "threads": threads, "dlcore_ms": dlcore_ms, "numpy_ms": numpy_ms,
         "torch_ms": torch_ms,
         "ratio_numpy": numpy_ms / dlcore_ms if numpy_ms and dlcore_ms else None,
         "ratio_torch": torch_ms / dlcore_ms if torch_ms and dlcore_ms else None}
    r.update(extra)
    return r


def ms_table(rows, case_width, ratio_heads=("np/dl", "torch/dl")):
    """Lines of the fixed-width table most families print: case, threads, the three sides'
    milliseconds and the two ratios ('-' where a value is missing)."""
    def f(v, spec):
        return "-" if v is None else format(v, spec)
    fmt = "%%-%ds %%3s %%10s %%10s %%10s %%8s %%8s" % case_width
    head = fmt % (("case", "thr", "dlcore ms", "numpy ms", "torch ms") + tuple(ratio_heads))
    lines = [head, "-" * len(head)]
    for r in rows:
        lines.append(fmt % (r["case"], f(r["threads"], "d"), f(r["dlcore_ms"], ".2f"),
                            f(r["numpy_ms"], ".2f"), f(r["torch_ms"], ".2f"),
                            f(r["ratio_numpy"], ".2f"), f(r["ratio_torch"], ".2f")))
    return lines


_DEFAULT_COLUMNS = ("case", "threads", "dlcore_ms", "numpy_ms", "torch_ms", "ratio_numpy",
                    "ratio_torch")


def _cell(v):
    if v is None:
        return "-"
    if isinstance(v, float):
        if v != v:
            return "nan"
        a = abs(v)
        if a >= 1000:
            return "%.0f" % v
        if a >= 100:
            return "%.1f" % v
        if a >= 1:
            return "%.2f" % v
        return "%.3g" % v
    return str(v)


def format_table(rows, columns=None):
    """rows (dicts) as an aligned text table; columns default to the benchmark columns present,
    then any extra keys in first-seen order."""
    rows = list(rows)
    if not rows:
        return "(no results)"
    if columns is None:
        seen = []
        for r in rows:
            for k in r:
                if k not in seen:
                    seen.append(k)
        columns = [c for c in _DEFAULT_COLUMNS if c in seen] + \
                  [c for c in seen if c not in _DEFAULT_COLUMNS]
    cells = [[_cell(r.get(c)) for c in columns] for r in rows]
    widths = [max(len(str(c)), *(len(row_[i]) for row_ in cells)) for i, c in enumerate(columns)]
    numeric = [all(isinstance(r.get(c), (int, float)) or r.get(c) is None for r in rows)
               and c != "case" for c in columns]

    def line(vals):
        return "  ".join(v.rjust(w) if num else v.ljust(w)
                         for v, w, num in zip(vals, widths, numeric)).rstrip()

    out = [line([str(c) for c in columns]), "  ".join("-" * w for w in widths)]
    out += [line(r) for r in cells]
    return "\n".join(out)
