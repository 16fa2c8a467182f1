# The inference executor (csrc/plan.c): a plan built by dlcore.jit.plan runs here with the GIL
# released for the whole call.
from libc.stdint cimport int32_t, int64_t, uintptr_t
from libc.stdlib cimport malloc, free

cdef extern from "dlcore/plan.h":
    ctypedef struct dl_plan_slot:
        int32_t kind
        int32_t index
        int64_t offset
        void *ptr
    ctypedef struct dl_plan_step:
        int32_t op
        int32_t slot[14]
        int64_t off[14]
        int64_t i[40]
        double f[6]
    ctypedef struct dl_plan:
        pass
    enum:
        DL_PLAN_DIRECT_MAX_FLOATS
        DL_PLAN_DIRECT_MAX_TAPS
        DL_PLAN_S2W_MAX_C
        DL_PLAN_S2W_MAX_RS
    dl_plan *dl_plan_new(int nsteps, const dl_plan_step *steps, int nslots,
                         const dl_plan_slot *slots, size_t arena_bytes) nogil
    void dl_plan_free(dl_plan *p) nogil
    int dl_plan_step_team(const dl_plan *p, int k) nogil
    int dl_plan_step_keeps_threads(const dl_plan *p, int k) nogil
    void dl_plan_shared_stats(int64_t *buffers, int64_t *bytes) nogil
    int dl_plan_gemm_columns() nogil
    int dl_plan_step_winograd(const dl_plan *p, int k) nogil
    char *dl_plan_arena_acquire(dl_plan *p) nogil
    void dl_plan_arena_release(dl_plan *p, char *arena) nogil
    int dl_plan_run(const dl_plan *p, int begin, int end, char *arena, char *const *io,
                    int nthreads, int *err, int64_t *detail) nogil
    int dl_plan_run_sliced(dl_plan *p, int nslices, char *const *io, int n_io,
                           const int64_t *slice_bytes, int nthreads, int *err,
                           int64_t *detail) nogil

PLAN_MAX_OPS, PLAN_MAX_INTS, PLAN_MAX_FLOATS = 14, 40, 6
PLAN_DIRECT_MAX_FLOATS, PLAN_DIRECT_MAX_TAPS = DL_PLAN_DIRECT_MAX_FLOATS, DL_PLAN_DIRECT_MAX_TAPS
PLAN_S2W_MAX_C, PLAN_S2W_MAX_RS = DL_PLAN_S2W_MAX_C, DL_PLAN_S2W_MAX_RS
_PLAN_ERRORS = {1: "out of memory", 2: "index out of range", 3: "unknown step"}


def plan_shared_weights():
    """(buffers, bytes) of the transformed/packed weights plans share now
    (csrc/plan_shared.c): one copy per distinct buffer however many plans use it."""
    cdef int64_t n = 0, b = 0
    dl_plan_shared_stats(&n, &b)
    return int(n), int(b)


def plan_gemm_columns():
    """The columns of the float32 GEMM's register tile on the SIMD path in use (32 on
    AVX-512, 16 on AVX2): the lowering sizes its product orientations by it."""
    return int(dl_plan_gemm_columns())


class PlanError(RuntimeError):
    """A step of a plan failed; .step is its index, .code and .detail say why."""

    def __init__(self, msg, step, code, detail):
        super().__init__(msg)
        self.step, self.code, self.detail = step, code, detail


cdef class CPlan:
    """A C plan: steps (ops int32 (S,), slots int32 (S, 14), offs int64 (S, 14), ints int64
    (S, 40), floats float64 (S, 6)) over slots (kinds, io indices, arena offsets, constant
    arrays).  `keep` holds every array a step points to."""
    cdef dl_plan *p
    cdef object keep
    cdef int n_io
    cdef public size_t arena_bytes

    def __cinit__(self, ops, slots, offs, ints, floats, kinds, io_index, arena_off, consts,
                  size_t arena_bytes, int n_io):
        cdef int S = len(ops), K = len(kinds), s, j
        cdef dl_plan_step *st = <dl_plan_step*>malloc(sizeof(dl_plan_step) * (S if S else 1))
        cdef dl_plan_slot *sl = <dl_plan_slot*>malloc(sizeof(dl_plan_slot) * (K if K else 1))
        cdef cnp.ndarray a
        if st == NULL or sl == NULL:
            free(st)
            free(sl)
            raise MemoryError("CPlan: out of memory")
        cdef int32_t[:] ops_v = np.ascontiguousarray(ops, np.int32)
        cdef int32_t[:, :] slots_v = np.ascontiguousarray(slots, np.int32).reshape(S, 14)
        cdef int64_t[:, :] offs_v = np.ascontiguousarray(offs, np.int64).reshape(S, 14)
        cdef int64_t[:, :] ints_v = np.ascontiguousarray(ints, np.int64).reshape(S, 40)
        cdef double[:, :] fl_v = np.ascontiguousarray(floats, np.float64).reshape(S, 6)
        try:
            for s in range(S):
                st[s].op = ops_v[s]
                for j in range(14):
                    st[s].slot[j] = slots_v[s, j]
                    st[s].off[j] = offs_v[s, j]
                for j in range(40):
                    st[s].i[j] = ints_v[s, j]
                for j in range(6):
                    st[s].f[j] = fl_v[s, j]
            for j in range(K):
                sl[j].kind = kinds[j]
                sl[j].index = io_index[j]
                sl[j].offset = arena_off[j]
                sl[j].ptr = NULL
                if consts[j] is not None:
                    a = consts[j]
                    if not cnp.PyArray_IS_C_CONTIGUOUS(a):
                        raise ValueError("CPlan: constant %d is not C-contiguous" % j)
                    sl[j].ptr = cnp.PyArray_DATA(a)
            self.p = dl_plan_new(S, st, K, sl, arena_bytes)
        finally:
            free(st)
            free(sl)
        if self.p == NULL:
            raise MemoryError("CPlan: out of memory")
        self.keep = list(consts)
        self.n_io = n_io
        self.arena_bytes = arena_bytes

    def __dealloc__(self):
        if self.p != NULL:
            dl_plan_free(self.p)

    def team_steps(self):
        """Per step, True when it may run on the OpenMP thread team (csrc/plan_team.c),
        False when it runs on the calling thread or splits over the helpers (helper_steps)."""
        cdef int k = 0
        out = []
        while dl_plan_step_team(self.p, k) >= 0:
            out.append(dl_plan_step_team(self.p, k) == 1)
            k += 1
        return out

    def helper_steps(self):
        """Per step, True when it is a few-row product whose columns split over the
        executor's helper threads (csrc/plan_gemm_split.c: plans with no team step)."""
        cdef int k = 0
        out = []
        while dl_plan_step_team(self.p, k) >= 0:
            out.append(dl_plan_step_team(self.p, k) == 2)
            k += 1
        return out

    def load_free_steps(self):
        """Per step, True when it keeps the threads a call asks for on an oversubscribed
        machine, where the load rule shrinks the team (csrc/plan_team.c)."""
        cdef int k = 0
        out = []
        while dl_plan_step_keeps_threads(self.p, k) >= 0:
            out.append(dl_plan_step_keeps_threads(self.p, k) == 1)
            k += 1
        return out

    def winograd_steps(self):
        """Per step, the Winograd tile size (2 or 4) it runs on filters transformed when the
        plan was made (csrc/plan_winograd.c), 0 for a step without."""
        cdef int k = 0
        out = []
        while dl_plan_step_winograd(self.p, k) >= 0:
            out.append(dl_plan_step_winograd(self.p, k))
            k += 1
        return out

    def acquire(self):
        """An arena for one call: (handle, uint8 array viewing it)."""
        cdef char *a
        with nogil:
            a = dl_plan_arena_acquire(self.p)
        if a == NULL:
            raise MemoryError("plan: could not allocate the %d-byte arena" % self.arena_bytes)
        cdef cnp.npy_intp n = self.arena_bytes
        view = cnp.PyArray_SimpleNewFromData(1, &n, cnp.NPY_UINT8, a)
        return <uintptr_t>a, view

    def release(self, uintptr_t handle):
        dl_plan_arena_release(self.p, <char*>handle)

    def run(self, list io, int nthreads=0, int begin=0, int end=-1, uintptr_t arena=0):
        """Runs steps [begin, end) (all by default) on the arrays `io` (inputs then outputs,
        C-contiguous, the dtypes and shapes planned), in a fresh arena or the given one."""
        cdef int n = len(io), k, rc = 0, err = 0
        cdef int64_t detail = 0
        cdef char *ptrs[64]
        cdef char **io_p = ptrs
        cdef char *a = <char*>arena
        cdef bint own = arena == 0
        if n != self.n_io:
            raise ValueError("plan: expected %d input/output arrays, got %d" % (self.n_io, n))
        if n > 64:
            io_p = <char**>malloc(sizeof(char*) * n)
            if io_p == NULL:
                raise MemoryError("plan: out of memory")
        try:
            for k in range(n):
                io_p[k] = <char*>cnp.PyArray_DATA(<cnp.ndarray>io[k])
            with nogil:
                if own:
                    a = dl_plan_arena_acquire(self.p)
                if a != NULL:
                    rc = dl_plan_run(self.p, begin, end if end >= 0 else 2147483647, a, io_p,
                                     nthreads, &err, &detail)
                    if own:
                        dl_plan_arena_release(self.p, a)
        finally:
            if io_p != ptrs:
                free(io_p)
        if a == NULL:
            raise MemoryError("plan: could not allocate the %d-byte arena" % self.arena_bytes)
        if rc:
            raise PlanError("plan: step %d failed: %s%s" % (
                rc - 1, _PLAN_ERRORS.get(err, "error %d" % err),
                " (index %d)" % detail if err == 2 else ""), rc - 1, err, detail)

    def run_sliced(self, list io, int nslices, int nthreads):
        """Runs the plan (made for one slice of the batch) on `nslices` consecutive slices
        of the arrays `io` (the whole batch: inputs then outputs, C-contiguous, each a
        multiple of nslices planned slices), the slices shared out over nthreads threads."""
        cdef int n = len(io), k, rc = 0, err = 0
        cdef int64_t detail = 0
        cdef char *ptrs[64]
        cdef int64_t sb[64]
        cdef cnp.ndarray a
        if n != self.n_io:
            raise ValueError("plan: expected %d input/output arrays, got %d" % (self.n_io, n))
        if n > 64:
            raise ValueError("plan: a sliced run takes at most 64 arrays, got %d" % n)
        if nslices < 1:
            raise ValueError("plan: nslices must be at least 1, got %d" % nslices)
        for k in range(n):
            a = <cnp.ndarray>io[k]
            if not cnp.PyArray_ISCARRAY(a) or cnp.PyArray_NBYTES(a) % nslices:
                raise ValueError("plan: array %d must be C-contiguous in %d equal slices"
                                 % (k, nslices))
            ptrs[k] = <char*>cnp.PyArray_DATA(a)
            sb[k] = cnp.PyArray_NBYTES(a) // nslices
        with nogil:
            rc = dl_plan_run_sliced(self.p, nslices, ptrs, n, sb, nthreads, &err, &detail)
        if rc:
            raise PlanError("plan: step %d failed: %s%s" % (
                rc - 1, _PLAN_ERRORS.get(err, "error %d" % err),
                " (index %d)" % detail if err == 2 else ""), rc - 1, err, detail)
