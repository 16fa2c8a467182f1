"""Benchmark helpers shared by the dlcore.bench.<family> modules and `dlcore bench`.

A family module exposes run(threads=(1, 2), quick=False) -> list of row dicts with keys
case, threads, dlcore_ms, numpy_ms, torch_ms (None without torch), ratio_numpy
(= numpy_ms / dlcore_ms: above 1 means dlcore is faster), ratio_torch, plus any extra keys;
and format_table(rows) -> str (this module's format_table does for most).

Timings: the median of `repeats` calls after `warmup` calls.  Every side runs with the same
thread count: dlcore's OpenMP threads, NumPy's BLAS threads (threadpoolctl) and torch's
intra-op threads are all set by `threads(n)`.
"""
import contextlib
import statistics
import time

__all__ = ["time_ms", "sides_ms", "threads", "blas_threads", "get_torch", "row",
           "format_table"]


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


def sides_ms(fns, repeats, interleave, settle_s=0.05):
    """Median ms of each side's function (None: skipped, gives None), after one warm-up call.

    interleave=True runs the sides in turn within each repeat, so that every side sees the same
    load on a shared machine: right for one thread.  With several threads an idle pool
    (dlcore's OpenMP, OpenBLAS, torch's) keeps spinning for a while after its call and would
    slow the next side down, so each side then runs its own block, after a pause of settle_s
    that lets the previous side's threads go to sleep."""
    ts = [[] for _ in fns]

    def once(fn, t):
        t0 = time.perf_counter()
        fn()
        t.append(time.perf_counter() - t0)

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
def threads(n):
    """Run the block with n threads for dlcore, NumPy's BLAS (if threadpoolctl is installed)
    and torch (if imported); previous settings are restored afterwards."""
    from .. import _C
    n = int(n)
    prev = _C.get_num_threads()
    _C.set_num_threads(n)
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
        _C.set_num_threads(prev)
        if limiter is not None:
            limiter.restore_original_limits()
        if torch is not None:
            torch.set_num_threads(prev_torch)


def row(case, threads, dlcore_ms, numpy_ms=None, torch_ms=None, **extra):
    """A result row with the ratios filled in (None where a side is missing)."""
    r = {"case": case, "threads": threads, "dlcore_ms": dlcore_ms, "numpy_ms": numpy_ms,
         "torch_ms": torch_ms,
         "ratio_numpy": numpy_ms / dlcore_ms if numpy_ms and dlcore_ms else None,
         "ratio_torch": torch_ms / dlcore_ms if torch_ms and dlcore_ms else None}
    r.update(extra)
    return r


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
