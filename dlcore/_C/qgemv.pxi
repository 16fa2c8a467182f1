# Quantised (ggml Q4_0 / Q4_1 / Q8_0) matrix products, weights dequantised on the fly.
from libc.stdint cimport uint8_t

cdef extern from "dlcore/qgemv.h":
    size_t dl_qblock_bytes(int kind) nogil
    int dl_qgemm_f32(int kind, size_t M, size_t N, size_t K, const float *x, size_t ldx,
                     const uint8_t *W, size_t ldw, float *y, size_t ldy, int accumulate) nogil
    int dl_qdequant_f32(int kind, size_t N, size_t K, const uint8_t *W, size_t ldw,
                        float *out) nogil
    size_t dl_qpack_bytes(int kind, size_t N, size_t K) nogil
    int dl_qpack(int kind, size_t N, size_t K, const uint8_t *W, size_t ldw, uint8_t *P) nogil
    int dl_qgemv_packed_f32(int kind, size_t N, size_t K, const float *x, const uint8_t *P,
                            float *y, int accumulate) nogil
    const char *dl_qgemv_packed_kernel_name()
    int dl_qgemm_packed_f32(int kind, size_t M, size_t N, size_t K, const float *x, size_t ldx,
                            const uint8_t *P, float *y, size_t ldy, int accumulate) nogil
    const char *dl_qgemm_packed_kernel_name()
    int dl_qgemv_packed_allow_vnni(int allow)

QGEMV_KINDS = {"Q4_0": 2, "Q4_1": 3, "Q8_0": 8}


cdef size_t _qgemv_check_w(int kind, cnp.ndarray w, size_t K, str fname) except 0:
    cdef size_t bb = dl_qblock_bytes(kind)
    if bb == 0:
        raise ValueError("%s: unknown block kind %d (Q4_0=2, Q4_1=3, Q8_0=8)" % (fname, kind))
    if K % 32 != 0:
        raise ValueError("%s: K must be a multiple of 32, got %d" % (fname, K))
    if cnp.PyArray_TYPE(w) != cnp.NPY_UINT8 or cnp.PyArray_NDIM(w) != 2:
        raise TypeError("%s: weights must be a 2-D uint8 array (rows of blocks), got %s %s-D"
                        % (fname, w.dtype, w.ndim))
    checked_ptr(w, fname, "weights", cnp.NPY_UINT8)
    if <size_t>w.shape[1] != K // 32 * bb:
        raise ValueError("%s: weight rows must hold %d bytes (%d blocks of %d) for K=%d, got %d"
                         % (fname, K // 32 * bb, K // 32, bb, K, w.shape[1]))
    return bb


def qgemm(int kind, cnp.ndarray x, cnp.ndarray w, cnp.ndarray out, bint accumulate=False):
    """out (M, N) = x (M, K) @ dequant(w).T for w (N, K/32*block bytes) uint8; float32, C-contiguous.
    accumulate: out += the product instead."""
    if cnp.PyArray_NDIM(x) != 2 or cnp.PyArray_NDIM(out) != 2:
        raise ValueError("qgemm: x and out must be 2-D, got %d-D and %d-D" % (x.ndim, out.ndim))
    cdef size_t M = x.shape[0], K = x.shape[1], N = w.shape[0]
    _qgemv_check_w(kind, w, K, "qgemm")
    cdef const float *px = <const float*>checked_ptr(x, "qgemm", "x", cnp.NPY_FLOAT32)
    cdef float *py = <float*>checked_ptr(out, "qgemm", "out", cnp.NPY_FLOAT32, (M, N), OP_WRITE)
    cdef const uint8_t *pw = <const uint8_t*>cnp.PyArray_DATA(w)
    cdef size_t ldw = w.shape[1]
    cdef int rc
    with nogil:
        rc = dl_qgemm_f32(kind, M, N, K, px, K, pw, ldw, py, N, accumulate)
    if rc == -2:
        raise MemoryError("qgemm: could not allocate scratch memory")
    if rc != 0:
        raise ValueError("qgemm: bad arguments")
    return out


def qdequant(int kind, cnp.ndarray w, size_t K):
    """float32 (N, K) weights from a (N, K/32*block bytes) uint8 array of blocks."""
    _qgemv_check_w(kind, w, K, "qdequant")
    cdef size_t N = w.shape[0]
    cdef cnp.ndarray out = np.empty((N, K), dtype=np.float32)
    cdef float *po = <float*>cnp.PyArray_DATA(out)   # made here: float32, contiguous
    cdef const uint8_t *pw = <const uint8_t*>cnp.PyArray_DATA(w)
    cdef size_t ldw = w.shape[1]
    cdef int rc
    with nogil:
        rc = dl_qdequant_f32(kind, N, K, pw, ldw, po)
    if rc != 0:
        raise ValueError("qdequant: bad arguments")
    return out


def qpack(int kind, cnp.ndarray w not None, size_t K):
    """The row-interleaved copy (1-D uint8) of a (N, K/32*block bytes) array of blocks, for
    qgemv_packed (layout and error bound: dlcore/qgemv.h)."""
    _qgemv_check_w(kind, w, K, "qpack")
    cdef size_t N = w.shape[0], ldw = w.shape[1]
    cdef cnp.ndarray out = np.empty(dl_qpack_bytes(kind, N, K), dtype=np.uint8)
    cdef const uint8_t *pw = <const uint8_t*>cnp.PyArray_DATA(w)
    cdef uint8_t *po = <uint8_t*>cnp.PyArray_DATA(out)
    cdef int rc
    with nogil:
        rc = dl_qpack(kind, N, K, pw, ldw, po)
    if rc != 0:
        raise ValueError("qpack: bad arguments")
    return out


def qgemv_packed(int kind, cnp.ndarray x not None, cnp.ndarray packed not None, size_t N,
                 cnp.ndarray out not None,
                 bint accumulate=False):
    """out (1, N) = x (1, K) @ W.T from packed = qpack(kind, W, K); accumulate: out += it.
    x is rounded to int16 per 32-block (see dlcore/qgemv.h for the bound)."""
    if cnp.PyArray_NDIM(x) != 2 or x.shape[0] != 1:
        raise ValueError("qgemv_packed: x must be (1, K), got shape %s" % ((<object>x).shape,))
    cdef size_t K = x.shape[1]
    if dl_qblock_bytes(kind) == 0:
        raise ValueError("qgemv_packed: unknown block kind %d (Q4_0=2, Q4_1=3, Q8_0=8)" % kind)
    if K % 32 != 0:
        raise ValueError("qgemv_packed: K must be a multiple of 32, got %d" % K)
    cdef size_t need = dl_qpack_bytes(kind, N, K)
    if cnp.PyArray_TYPE(packed) != cnp.NPY_UINT8 or cnp.PyArray_NDIM(packed) != 1 \
            or <size_t>packed.shape[0] != need:
        raise ValueError("qgemv_packed: packed must be the 1-D uint8 array qpack gives for "
                         "N=%d, K=%d (%d bytes), got %s of shape %s"
                         % (N, K, need, packed.dtype, (<object>packed).shape))
    checked_ptr(packed, "qgemv_packed", "packed", cnp.NPY_UINT8)
    cdef const float *px = <const float*>checked_ptr(x, "qgemv_packed", "x", cnp.NPY_FLOAT32)
    cdef float *py = <float*>checked_ptr(out, "qgemv_packed", "out", cnp.NPY_FLOAT32, (1, N),
                                         OP_WRITE)
    cdef const uint8_t *pp = <const uint8_t*>cnp.PyArray_DATA(packed)
    cdef int rc
    with nogil:
        rc = dl_qgemv_packed_f32(kind, N, K, px, pp, py, accumulate)
    if rc == -2:
        raise MemoryError("qgemv_packed: could not allocate scratch memory")
    if rc != 0:
        raise ValueError("qgemv_packed: bad arguments")
    return out


cdef int _qpacked_check(str fname, int kind, size_t N, size_t K, cnp.ndarray packed) except -1:
    if dl_qblock_bytes(kind) == 0:
        raise ValueError("%s: unknown block kind %d (Q4_0=2, Q4_1=3, Q8_0=8)" % (fname, kind))
    if K % 32 != 0:
        raise ValueError("%s: K must be a multiple of 32, got %d" % (fname, K))
    cdef size_t need = dl_qpack_bytes(kind, N, K)
    if cnp.PyArray_TYPE(packed) != cnp.NPY_UINT8 or cnp.PyArray_NDIM(packed) != 1 \
            or <size_t>packed.shape[0] != need:
        raise ValueError("%s: packed must be the 1-D uint8 array qpack gives for "
                         "N=%d, K=%d (%d bytes), got %s of shape %s"
                         % (fname, N, K, need, packed.dtype, (<object>packed).shape))
    checked_ptr(packed, fname, "packed", cnp.NPY_UINT8)
    return 0


def qgemm_packed(int kind, cnp.ndarray x not None, cnp.ndarray packed not None, size_t N,
                 cnp.ndarray out not None, bint accumulate=False):
    """out (M, N) = x (M, K) @ W.T from packed = qpack(kind, W, K), with x rounded to int8 per
    32-block (prompt processing; the scheme and its error bound: dlcore/qgemv.h).  accumulate:
    out += it.  Rows of x holding NaN or Inf take the exact float loop."""
    if cnp.PyArray_NDIM(x) != 2 or cnp.PyArray_NDIM(out) != 2:
        raise ValueError("qgemm_packed: x and out must be 2-D, got %d-D and %d-D"
                         % (x.ndim, out.ndim))
    cdef size_t M = x.shape[0], K = x.shape[1]
    _qpacked_check("qgemm_packed", kind, N, K, packed)
    cdef const float *px = <const float*>checked_ptr(x, "qgemm_packed", "x", cnp.NPY_FLOAT32)
    cdef float *py = <float*>checked_ptr(out, "qgemm_packed", "out", cnp.NPY_FLOAT32, (M, N),
                                         OP_WRITE)
    cdef const uint8_t *pp = <const uint8_t*>cnp.PyArray_DATA(packed)
    cdef int rc
    with nogil:
        rc = dl_qgemm_packed_f32(kind, M, N, K, px, K, pp, py, N, accumulate)
    if rc == -2:
        raise MemoryError("qgemm_packed: could not allocate scratch memory")
    if rc != 0:
        raise ValueError("qgemm_packed: bad arguments")
    return out


def qgemm_packed_kernel_name():
    """The tile qgemm_packed runs now ('avx512-vnni', 'avx512', 'avx2' or 'generic')."""
    return dl_qgemm_packed_kernel_name().decode()


def qgemv_packed_kernel_name():
    """The tile qgemv_packed runs now ('avx512-vnni', 'avx512', 'avx2' or 'generic')."""
    return dl_qgemv_packed_kernel_name().decode()


def qgemv_packed_allow_vnni(bint allow):
    """Let the AVX-512 path use the VNNI tile (the default) or not; returns the previous
    setting.  For tests of both AVX-512 tiles."""
    return bool(dl_qgemv_packed_allow_vnni(allow))
