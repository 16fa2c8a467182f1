"""The engine's run-time settings: kernel threads, the SIMD path, build facts, array memory.

With dlcore/ops and dlcore/optim this is the only Python that talks to the compiled extension
(`dlcore._C`); everything else (nn, data, models, bench, cli) asks here.
"""
import functools
import os

from .. import _C
from . import memory  # noqa: F401

ISA_NAMES = tuple(_C.ISA_NAMES)


def set_num_threads(n):
    """Threads the C kernels use (OpenMP); also DLCORE_NUM_THREADS / OMP_NUM_THREADS at start."""
    if int(n) < 1:
        raise ValueError("set_num_threads: n must be >= 1, got %r" % (n,))
    _C.set_num_threads(int(n))


def get_num_threads():
    return _C.get_num_threads()


class num_threads:
    """Context manager (or decorator) that runs its block with n kernel threads and restores
    the previous count afterwards: ``with dl.num_threads(1): train(...)``."""

    def __init__(self, n):
        if int(n) < 1:
            raise ValueError("num_threads: n must be >= 1, got %r" % (n,))
        self.n = int(n)
        self._prev = []

    def __enter__(self):
        self._prev.append(_C.get_num_threads())
        _C.set_num_threads(self.n)
        return self

    def __exit__(self, *exc):
        _C.set_num_threads(self._prev.pop())
        return False

    def __call__(self, fn):
        @functools.wraps(fn)
        def wrapped(*args, **kwargs):
            with self:
                return fn(*args, **kwargs)
        return wrapped


def thread_binding():
    """True when a planned call that uses several threads binds them to cores for its length:
    on by default, off with DLCORE_BIND=0 or when OMP_PROC_BIND, OMP_PLACES or
    GOMP_CPU_AFFINITY is set (the user's own binding then holds).  Binding stays inside the
    calling thread's affinity mask (an MPI rank's, os.sched_setaffinity's), needs as many
    cores in it as threads, and leaves the caller's mask as it was after the call; it is
    skipped while the machine has more runnable threads than CPUs, unless
    DLCORE_BIND=always (or set_thread_binding("always"))."""
    return _C.thread_binding()


def set_thread_binding(on):
    """Turn that binding on (True), off (False) or on even on an oversubscribed machine
    ("always") for later calls; returns whether it is on."""
    mode = 2 if on == "always" else 1 if on else 0
    if isinstance(on, str) and on != "always":
        raise ValueError("set_thread_binding: on must be True, False or 'always', got %r"
                         % (on,))
    return _C.set_thread_binding(mode) > 0


def threads_for_load(n):
    """How many of n threads a planned call uses now: n, or fewer (at least 1) while the
    machine has stayed oversubscribed (more runnable threads than CPUs over several readings
    of /proc/loadavg, csrc/team_load.h); always n with DLCORE_DYNAMIC=0."""
    return _C.team_size_for_load(int(n))


def get_isa():
    """Name of the SIMD path the kernels use now ('generic', 'avx2' or 'avx512')."""
    return _C.get_isa()


def set_isa(name):
    """Force a SIMD path this CPU supports (tests run every path); DLCORE_ISA at start."""
    _C.set_isa(name)


def best_isa():
    return _C.best_isa()


def supported_isas():
    return tuple(_C.supported_isas())


def amx_status():
    """{'int8': ..., 'bf16': ...}: whether each GEMM family runs on Intel AMX tiles and why
    not: 'used', 'present (not used: ...)', 'absent (...)', 'refused by the OS (...)',
    'off (DLCORE_AMX=0)', 'disabled by the self-check (...)'.  The first call detects AMX and,
    on a CPU that has it, asks Linux for the tile permission and runs the self-check."""
    return {kind: _C.amx_status(kind) for kind in ("int8", "bf16")}


def allow_amx(on):
    """Let the GEMMs use AMX where it is ready (True, the default) or keep them on the AVX-512
    tiles (False), for comparisons; returns the previous setting.  DLCORE_AMX=0 at start turns
    AMX off for the process (then this cannot turn it on)."""
    return _C.amx_allow(bool(on))


def have_openmp():
    """True if the kernels were built with OpenMP (otherwise they run on one thread)."""
    return bool(_C.have_openmp())


def extension_path():
    return getattr(_C.ext, "__file__", "?")


def _one_thread_after_fork():
    # A fork()ed child inherits libgomp's record of the parent's thread pool but not its
    # threads, so its first parallel region of more than one thread waits for them forever.
    # A team of one never touches the pool: every kernel passes the engine's thread count
    # (num_threads(n)), so setting it to 1 here makes fork safe (DataLoader workers, user
    # multiprocessing).  A child may raise it again only if this process never ran a
    # parallel region before forking.
    _C.set_num_threads(1)


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_one_thread_after_fork)
