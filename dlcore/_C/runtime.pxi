cdef extern from "dlcore/runtime.h":
    ctypedef enum dl_isa_t:
        DL_ISA_GENERIC
        DL_ISA_AVX2
        DL_ISA_AVX512
    dl_isa_t dl_cpu_best_isa()
    dl_isa_t dl_isa()
    int dl_set_isa(dl_isa_t isa)
    const char *dl_isa_name(dl_isa_t isa)
    int dl_num_threads()
    void dl_set_num_threads(int n)
    int dl_have_openmp()

cdef extern from "dlcore/affinity.h":
    int dl_bind_enabled()
    int dl_set_bind(int on)
    int dl_team_size_for_load(int nt) nogil
    void dl_team_load_replay(int nt, int online, int n, const int *running, int *sizes) nogil

_ISA_BY_NAME = {"generic": DL_ISA_GENERIC, "avx2": DL_ISA_AVX2, "avx512": DL_ISA_AVX512}
ISA_NAMES = ("generic", "avx2", "avx512")


def get_isa():
    """Name of the SIMD path in use: 'generic', 'avx2' or 'avx512'."""
    return dl_isa_name(dl_isa()).decode()


def best_isa():
    """Name of the best SIMD path this CPU supports."""
    return dl_isa_name(dl_cpu_best_isa()).decode()


def supported_isas():
    """The SIMD paths this CPU can run, from the portable one up."""
    return ISA_NAMES[: <int>dl_cpu_best_isa() + 1]


def set_isa(name):
    """Force a SIMD path (tests use this to check every path)."""
    if name not in _ISA_BY_NAME:
        raise ValueError("set_isa: name must be one of %s, got %r" % (ISA_NAMES, name))
    if dl_set_isa(_ISA_BY_NAME[name]) != 0:
        raise RuntimeError("set_isa: this CPU cannot run the %r path (best: %r)"
                           % (name, best_isa()))


def get_num_threads():
    return dl_num_threads()


def set_num_threads(int n):
    if n < 1:
        raise ValueError("set_num_threads: n must be >= 1, got %d" % n)
    dl_set_num_threads(n)


def have_openmp():
    return bool(dl_have_openmp())


def thread_binding():
    """True when the executor binds its thread team to cores (dlcore/affinity.h)."""
    return bool(dl_bind_enabled())


def thread_binding_mode():
    """0 off, 1 on unless the machine is oversubscribed, 2 always (DLCORE_BIND=always)."""
    return dl_bind_enabled()


def team_size_for_load(int nt):
    """The team size a planned call asking for nt threads gets now (fewer while the machine
    stays oversubscribed; csrc/team_load.h)."""
    return dl_team_size_for_load(nt)


def team_load_replay(int nt, int online, running):
    """The team sizes a call asking for nt threads gets after each reading of `running`
    (runnable threads machine-wide) on `online` CPUs, from a fresh start: the load rule of
    csrc/team_load.h without the clock or /proc/loadavg (for the tests)."""
    r = np.ascontiguousarray(np.asarray(running, dtype=np.intc).reshape(-1))
    out = np.zeros(r.shape[0], dtype=np.intc)
    cdef int[::1] rv = r
    cdef int[::1] ov = out
    if r.shape[0]:
        dl_team_load_replay(nt, online, <int>r.shape[0], &rv[0], &ov[0])
    return [int(v) for v in out]


def set_thread_binding(int mode):
    """Set the team's binding mode (0, 1, 2 as thread_binding_mode); returns the mode in force
    (0 while the user's OMP_PROC_BIND / OMP_PLACES / GOMP_CPU_AFFINITY is set)."""
    return dl_set_bind(mode)


cdef extern from "dlcore/amx.h":
    int DL_AMX_INT8
    int DL_AMX_BF16
    int dl_amx_ready(int kind) nogil
    int dl_amx_allow(int allow) nogil
    int dl_amx_allowed() nogil
    const char *dl_amx_status(int kind) nogil

_AMX_KINDS = {"int8": DL_AMX_INT8, "bf16": DL_AMX_BF16}


def amx_status(str kind):
    """Whether the int8 or bf16 GEMM uses AMX, and why not: 'used', 'present (...)', 'absent
    (...)', 'refused by the OS (...)', 'off (DLCORE_AMX=0)', 'disabled by the self-check
    (...)'.  The first call detects AMX and, where the CPU has it, requests the tile permission
    and runs the self-check."""
    if kind not in _AMX_KINDS:
        raise ValueError("amx_status: kind must be 'int8' or 'bf16', got %r" % (kind,))
    cdef int k = _AMX_KINDS[kind]
    cdef const char *s
    with nogil:
        s = dl_amx_status(k)
    return s.decode()


def amx_allow(bint allow):
    """Allow (True) or forbid (False) AMX for later GEMM calls (tests and benchmarks compare
    it with the AVX-512 tiles); returns the previous setting."""
    return bool(dl_amx_allow(allow))
