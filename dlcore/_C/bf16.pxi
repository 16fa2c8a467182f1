# bfloat16 / float16 conversions and the bf16 GEMM (bf16 values as uint16 bit patterns).
from libc.stdint cimport uint16_t

cdef extern from "dlcore/bf16.h":
    void dl_f32_to_bf16(size_t n, const float *x, uint16_t *y) nogil
    void dl_bf16_to_f32(size_t n, const uint16_t *x, float *y) nogil
    void dl_f32_to_f16(size_t n, const float *x, uint16_t *y) nogil
    void dl_f16_to_f32(size_t n, const uint16_t *x, float *y) nogil
    size_t dl_bf16_packed_elems(size_t N, size_t K) nogil
    int dl_bf16_pack(size_t N, size_t K, const uint16_t *W, size_t ldw, uint16_t *packed) nogil
    int dl_bf16_gemm(size_t M, size_t N, size_t K, const uint16_t *A, size_t lda,
                     const uint16_t *packed, const float *bias, int act, float *out,
                     size_t ldo) nogil
    const char *dl_bf16_kernel_name() nogil


def bf16_kernel_name():
    """The bf16 micro-kernel the ISA in use runs ('avx512-bf16', 'avx2' or 'generic')."""
    return dl_bf16_kernel_name().decode()


def f32_to_bf16(cnp.ndarray x not None):
    """uint16 bf16 bit patterns of float32 x (round to nearest even, NaN kept), same shape."""
    cdef const float *px = <const float*>checked_ptr(x, "f32_to_bf16", "x", cnp.NPY_FLOAT32)
    cdef cnp.ndarray y = np.empty((<object>x).shape, dtype=np.uint16)
    cdef size_t n = cnp.PyArray_SIZE(x)
    with nogil:
        dl_f32_to_bf16(n, px, <uint16_t*>cnp.PyArray_DATA(y))
    return y


def bf16_to_f32(cnp.ndarray x not None):
    cdef const uint16_t *px = <const uint16_t*>checked_ptr(x, "bf16_to_f32", "x", cnp.NPY_UINT16)
    cdef cnp.ndarray y = np.empty((<object>x).shape, dtype=np.float32)
    cdef size_t n = cnp.PyArray_SIZE(x)
    with nogil:
        dl_bf16_to_f32(n, px, <float*>cnp.PyArray_DATA(y))
    return y


def f32_to_f16(cnp.ndarray x not None):
    """float16 array of float32 x (round to nearest even)."""
    cdef const float *px = <const float*>checked_ptr(x, "f32_to_f16", "x", cnp.NPY_FLOAT32)
    cdef cnp.ndarray y = np.empty((<object>x).shape, dtype=np.float16)
    cdef size_t n = cnp.PyArray_SIZE(x)
    with nogil:
        dl_f32_to_f16(n, px, <uint16_t*>cnp.PyArray_DATA(y))
    return y


def f16_to_f32(cnp.ndarray x not None):
    cdef const uint16_t *px = <const uint16_t*>checked_ptr(x, "f16_to_f32", "x", cnp.NPY_FLOAT16)
    cdef cnp.ndarray y = np.empty((<object>x).shape, dtype=np.float32)
    cdef size_t n = cnp.PyArray_SIZE(x)
    with nogil:
        dl_f16_to_f32(n, px, <float*>cnp.PyArray_DATA(y))
    return y


def bf16_pack(cnp.ndarray w not None):
    """Packed bf16 weights (uint16 1-D) from bf16 weights w (N, K) (uint16)."""
    if cnp.PyArray_NDIM(w) != 2:
        raise ValueError("bf16_pack: w must be 2-D (N, K), got %d-D" % w.ndim)
    cdef size_t N = w.shape[0], K = w.shape[1]
    cdef const uint16_t *pw = <const uint16_t*>checked_ptr(w, "bf16_pack", "w", cnp.NPY_UINT16)
    cdef cnp.ndarray packed = np.empty(dl_bf16_packed_elems(N, K), dtype=np.uint16)
    with nogil:
        dl_bf16_pack(N, K, pw, K, <uint16_t*>cnp.PyArray_DATA(packed))
    return packed


def bf16_gemm(cnp.ndarray a not None, cnp.ndarray packed not None, size_t N, bias=None,
              act="none", out=None):
    """out (M, N) float32 = a (M, K) bf16 @ W^T (+ bias, activation), W packed by bf16_pack."""
    cdef str f = "bf16_gemm"
    if cnp.PyArray_NDIM(a) != 2:
        raise ValueError("bf16_gemm: a must be 2-D (M, K), got %d-D" % a.ndim)
    cdef size_t M = a.shape[0], K = a.shape[1]
    cdef const uint16_t *pa = <const uint16_t*>checked_ptr(a, f, "a", cnp.NPY_UINT16)
    cdef const uint16_t *pp = <const uint16_t*>checked_ptr(packed, f, "packed", cnp.NPY_UINT16,
                                                           <object>dl_bf16_packed_elems(N, K))
    cdef const float *pb = <const float*>checked_ptr(bias, f, "bias", cnp.NPY_FLOAT32, <object>N,
                                                     OP_OPTIONAL)
    cdef int iact = _qact(act, f)
    if out is None:
        out = np.empty((M, N), dtype=np.float32)
    cdef float *po = <float*>checked_ptr(out, f, "out", cnp.NPY_FLOAT32, (M, N), OP_WRITE)
    cdef int rc
    with nogil:
        rc = dl_bf16_gemm(M, N, K, pa, K, pp, pb, iact, po, N)
    if rc != 0:
        raise ValueError("bf16_gemm: bad arguments")
    return out
