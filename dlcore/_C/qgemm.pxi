# int8 GEMM (u8 activations x s8 weights, fused dequantize) and the activation quantizer.
from libc.stdint cimport uint8_t, int8_t, int32_t

cdef extern from "dlcore/qgemm.h":
    size_t dl_u8s8_kpad(size_t K) nogil
    size_t dl_u8s8_packed_bytes(size_t N, size_t K) nogil
    int dl_u8s8_pack(size_t N, size_t K, const int8_t *W, size_t ldw, int8_t *packed,
                     int32_t *colsum) nogil
    int dl_quantize_rows_u8(size_t M, size_t K, const float *x, size_t ldx, int per_row,
                            int qmax, uint8_t *q, size_t ldq, float *scale, int32_t *zp) nogil
    int dl_u8s8_gemm(size_t M, size_t N, size_t K, const uint8_t *A, size_t lda,
                     const int8_t *packed, const int32_t *colsum, const float *a_scale,
                     const int32_t *a_zp, const float *w_scale, const float *bias, int act,
                     float *out, size_t ldo, uint8_t *out_u8, float out_scale, int32_t out_zp,
                     int32_t *raw_s32, int a_u7, int out_u7) nogil
    int dl_u8s8_gemm_qrows(size_t M, size_t N, size_t K, const uint8_t *A, size_t lda,
                           const int8_t *packed, const int32_t *colsum, const float *a_scale,
                           const int32_t *a_zp, const float *w_scale, const float *bias,
                           int act, int a_u7, int qmax, uint8_t *q, size_t ldq, float *q_scale,
                           int32_t *q_zp, float *work, size_t work_rows) nogil
    size_t dl_u8s8_qrows_work_rows(size_t M, int threads) nogil
    const char *dl_u8s8_kernel_name(int a_u7) nogil
    int DL_QGEMM_MAX_K

QACT = {"none": 0, "relu": 1, "gelu": 2}
QGEMM_MAX_K = DL_QGEMM_MAX_K


cdef int _qact(object act, str fname) except -1:
    if act not in QACT:
        raise ValueError("%s: activation must be one of %s, got %r" % (fname, sorted(QACT), act))
    return QACT[act]


def u8s8_kernel_name(bint reduce_range=False):
    """The int8 micro-kernel the ISA in use runs ('amx', 'avx512-vnni', 'avx2' or 'generic'),
    for full-range or (reduce_range) 7-bit activations ('avx2-u7' where that has its own)."""
    return dl_u8s8_kernel_name(reduce_range).decode()


def u8s8_kpad(size_t K):
    return dl_u8s8_kpad(K)


def u8s8_pack(cnp.ndarray w not None):
    """(packed int8 1-D, colsum int32 (N,)) from int8 weights w (N, K)."""
    if cnp.PyArray_NDIM(w) != 2:
        raise ValueError("u8s8_pack: w must be 2-D (N, K), got %d-D" % w.ndim)
    cdef size_t N = w.shape[0], K = w.shape[1]
    if K > DL_QGEMM_MAX_K:
        raise ValueError("u8s8_pack: K must be at most %d, got %d" % (DL_QGEMM_MAX_K, K))
    cdef const int8_t *pw = <const int8_t*>checked_ptr(w, "u8s8_pack", "w", cnp.NPY_INT8)
    cdef cnp.ndarray packed = np.empty(dl_u8s8_packed_bytes(N, K), dtype=np.int8)
    cdef cnp.ndarray colsum = np.empty(N, dtype=np.int32)
    cdef int8_t *pp = <int8_t*>cnp.PyArray_DATA(packed)
    cdef int32_t *pc = <int32_t*>cnp.PyArray_DATA(colsum)
    with nogil:
        dl_u8s8_pack(N, K, pw, K, pp, pc)
    return packed, colsum


def quantize_rows_u8(cnp.ndarray x not None, bint per_row=True, bint reduce_range=False):
    """(q uint8 (M, Kp) zero padded, scale float32 (M,), zero_point int32 (M,)) for x (M, K);
    codes 0..255, or 0..127 with reduce_range."""
    if cnp.PyArray_NDIM(x) != 2:
        raise ValueError("quantize_rows_u8: x must be 2-D (M, K), got %d-D" % x.ndim)
    cdef size_t M = x.shape[0], K = x.shape[1]
    if K > DL_QGEMM_MAX_K:
        raise ValueError("quantize_rows_u8: K must be at most %d, got %d" % (DL_QGEMM_MAX_K, K))
    cdef const float *px = <const float*>checked_ptr(x, "quantize_rows_u8", "x", cnp.NPY_FLOAT32)
    cdef size_t Kp = dl_u8s8_kpad(K)
    cdef cnp.ndarray q = np.empty((M, Kp), dtype=np.uint8)
    cdef cnp.ndarray scale = np.empty(M, dtype=np.float32)
    cdef cnp.ndarray zp = np.empty(M, dtype=np.int32)
    cdef int rc
    with nogil:
        rc = dl_quantize_rows_u8(M, K, px, K, per_row, 127 if reduce_range else 255,
                                 <uint8_t*>cnp.PyArray_DATA(q), Kp,
                                 <float*>cnp.PyArray_DATA(scale), <int32_t*>cnp.PyArray_DATA(zp))
    if rc != 0:
        raise ValueError("quantize_rows_u8: bad arguments")
    return q, scale, zp


def u8s8_gemm(cnp.ndarray q not None, cnp.ndarray packed not None, cnp.ndarray colsum not None,
              size_t K, cnp.ndarray a_scale not None, cnp.ndarray a_zp not None,
              cnp.ndarray w_scale not None, bias=None, act="none", out=None, out_u8=None,
              float out_scale=1.0, int out_zp=0, raw=None, bint reduce_range=False,
              bint out_reduce_range=False):
    """out (M, N) float32 = dequantized q (M, Kp) u8 @ W^T (+ bias, activation), W packed by
    u8s8_pack; or, with out_u8 (M, N) uint8, that result requantized with out_scale/out_zp.
    raw (M, N) int32, when given, receives the bare integer sums.  reduce_range: q's codes
    should be in 0..127 (the 7-bit tile; checked per tile, exact either way);
    out_reduce_range: out_u8's codes clamped to 0..127 (7-bit outputs)."""
    cdef str f = "u8s8_gemm"
    if cnp.PyArray_NDIM(q) != 2:
        raise ValueError("u8s8_gemm: q must be 2-D (M, Kp), got %d-D" % q.ndim)
    cdef size_t M = q.shape[0], N = cnp.PyArray_SIZE(colsum)
    cdef size_t Kp = dl_u8s8_kpad(K)
    if K > DL_QGEMM_MAX_K:
        raise ValueError("u8s8_gemm: K must be at most %d, got %d" % (DL_QGEMM_MAX_K, K))
    cdef const uint8_t *pq = <const uint8_t*>checked_ptr(q, f, "q", cnp.NPY_UINT8, (M, Kp))
    cdef const int8_t *pp = <const int8_t*>checked_ptr(packed, f, "packed", cnp.NPY_INT8,
                                                       <object>dl_u8s8_packed_bytes(N, K))
    cdef const int32_t *pc = <const int32_t*>checked_ptr(colsum, f, "colsum", cnp.NPY_INT32, <object>N)
    cdef const float *pas = <const float*>checked_ptr(a_scale, f, "a_scale", cnp.NPY_FLOAT32, <object>M)
    cdef const int32_t *paz = <const int32_t*>checked_ptr(a_zp, f, "a_zp", cnp.NPY_INT32, <object>M)
    cdef const float *pws = <const float*>checked_ptr(w_scale, f, "w_scale", cnp.NPY_FLOAT32, <object>N)
    cdef const float *pb = <const float*>checked_ptr(bias, f, "bias", cnp.NPY_FLOAT32, <object>N,
                                                     OP_OPTIONAL)
    cdef int iact = _qact(act, f)
    cdef float *po = NULL
    cdef uint8_t *pu = NULL
    if (out is None) == (out_u8 is None):
        raise ValueError("u8s8_gemm: give exactly one of out (float32) and out_u8 (uint8)")
    if out is not None:
        po = <float*>checked_ptr(out, f, "out", cnp.NPY_FLOAT32, (M, N), OP_WRITE)
    else:
        pu = <uint8_t*>checked_ptr(out_u8, f, "out_u8", cnp.NPY_UINT8, (M, N), OP_WRITE)
        if not out_scale > 0:
            raise ValueError("u8s8_gemm: out_scale must be > 0, got %r" % out_scale)
        if not 0 <= out_zp <= 255:
            raise ValueError("u8s8_gemm: out_zp must be in 0..255, got %d" % out_zp)
    cdef int32_t *pr = <int32_t*>checked_ptr(raw, f, "raw", cnp.NPY_INT32, (M, N),
                                             OP_WRITE | OP_OPTIONAL)
    cdef int rc
    with nogil:
        rc = dl_u8s8_gemm(M, N, K, pq, Kp, pp, pc, pas, paz, pws, pb, iact, po, N, pu,
                          out_scale, out_zp, pr, reduce_range, out_reduce_range)
    if rc != 0:
        raise ValueError("u8s8_gemm: bad arguments")
    return out if out is not None else out_u8


def u8s8_gemm_qrows(cnp.ndarray q not None, cnp.ndarray packed not None,
                    cnp.ndarray colsum not None, size_t K, cnp.ndarray a_scale not None,
                    cnp.ndarray a_zp not None, cnp.ndarray w_scale not None, bias=None,
                    act="none", bint reduce_range=False, bint out_reduce_range=False,
                    size_t work_rows=0):
    """u8s8_gemm's float result quantized again per row, as quantize_rows_u8(per_row=True,
    reduce_range=out_reduce_range) would: (codes uint8 (M, Kp of N), scale (M,), zero point
    (M,)), the float rows passing through a work buffer of work_rows rows (0: the default,
    qrows_work_rows(M, threads))."""
    cdef str f = "u8s8_gemm_qrows"
    if cnp.PyArray_NDIM(q) != 2:
        raise ValueError("u8s8_gemm_qrows: q must be 2-D (M, Kp), got %d-D" % q.ndim)
    cdef size_t M = q.shape[0], N = cnp.PyArray_SIZE(colsum)
    if K > DL_QGEMM_MAX_K or N > DL_QGEMM_MAX_K:
        raise ValueError("u8s8_gemm_qrows: K and N must be at most %d, got %d and %d"
                         % (DL_QGEMM_MAX_K, K, N))
    cdef size_t Kp = dl_u8s8_kpad(K), Np = dl_u8s8_kpad(N)
    cdef const uint8_t *pq = <const uint8_t*>checked_ptr(q, f, "q", cnp.NPY_UINT8, (M, Kp))
    cdef const int8_t *pp = <const int8_t*>checked_ptr(packed, f, "packed", cnp.NPY_INT8,
                                                       <object>dl_u8s8_packed_bytes(N, K))
    cdef const int32_t *pc = <const int32_t*>checked_ptr(colsum, f, "colsum", cnp.NPY_INT32, <object>N)
    cdef const float *pas = <const float*>checked_ptr(a_scale, f, "a_scale", cnp.NPY_FLOAT32, <object>M)
    cdef const int32_t *paz = <const int32_t*>checked_ptr(a_zp, f, "a_zp", cnp.NPY_INT32, <object>M)
    cdef const float *pws = <const float*>checked_ptr(w_scale, f, "w_scale", cnp.NPY_FLOAT32, <object>N)
    cdef const float *pb = <const float*>checked_ptr(bias, f, "bias", cnp.NPY_FLOAT32, <object>N,
                                                     OP_OPTIONAL)
    cdef int iact = _qact(act, f)
    if work_rows == 0:
        work_rows = dl_u8s8_qrows_work_rows(M, dl_num_threads())
    if work_rows > M:
        work_rows = M
    cdef cnp.ndarray out = np.empty((M, Np), dtype=np.uint8)
    cdef cnp.ndarray scale = np.empty(M, dtype=np.float32)
    cdef cnp.ndarray zp = np.empty(M, dtype=np.int32)
    cdef cnp.ndarray work = np.empty(max(work_rows, 1) * max(N, 1), dtype=np.float32)
    cdef int rc
    with nogil:
        rc = dl_u8s8_gemm_qrows(M, N, K, pq, Kp, pp, pc, pas, paz, pws, pb, iact, reduce_range,
                                127 if out_reduce_range else 255,
                                <uint8_t*>cnp.PyArray_DATA(out), Np,
                                <float*>cnp.PyArray_DATA(scale), <int32_t*>cnp.PyArray_DATA(zp),
                                <float*>cnp.PyArray_DATA(work), max(work_rows, 1))
    if rc != 0:
        raise ValueError("u8s8_gemm_qrows: bad arguments")
    return out, scale, zp


def qrows_work_rows(size_t M, int threads):
    """Rows of work u8s8_gemm_qrows (and the plan's QLINEAR with quantized rows out) use."""
    return dl_u8s8_qrows_work_rows(M, threads)


cdef extern from "dlcore/qrnn.h":
    int dl_qrnn_fwd(int mode, size_t T, size_t B, size_t H, float *xg, const int8_t *packed,
                    const int32_t *colsum, const float *w_scale, const float *b_hh, float *h,
                    float *c, float *out, int reverse) nogil


def qrnn_forward(str mode, cnp.ndarray xg not None, cnp.ndarray packed not None,
                 cnp.ndarray colsum not None, cnp.ndarray w_scale not None, b_hh,
                 cnp.ndarray h not None, c, cnp.ndarray out not None, bint reverse=False):
    """The recurrence of one quantized LSTM/GRU layer direction (dlcore/qrnn.h): xg (T, B, G)
    float32 input projections (GRU: overwritten), W_hh packed by u8s8_pack, h (B, H) and, LSTM,
    c (B, H) updated in place to the final state, out (T, B, H) written."""
    cdef str f = "qrnn_forward"
    if mode not in ("LSTM", "GRU"):
        raise ValueError("%s: mode must be 'LSTM' or 'GRU', got %r" % (f, mode))
    cdef int imode = 0 if mode == "LSTM" else 1
    if cnp.PyArray_NDIM(h) != 2 or cnp.PyArray_NDIM(xg) != 3:
        raise ValueError("%s: h must be 2-D (B, H) and xg 3-D (T, B, G)" % f)
    cdef size_t B = h.shape[0], H = h.shape[1], T = xg.shape[0]
    cdef size_t G = (4 if imode == 0 else 3) * H
    if H > DL_QGEMM_MAX_K:
        raise ValueError("%s: hidden size must be at most %d, got %d" % (f, DL_QGEMM_MAX_K, H))
    cdef float *px = <float*>checked_ptr(xg, f, "xg", cnp.NPY_FLOAT32, (T, B, G), OP_WRITE)
    cdef const int8_t *pp = <const int8_t*>checked_ptr(packed, f, "packed", cnp.NPY_INT8,
                                                       <object>dl_u8s8_packed_bytes(G, H))
    cdef const int32_t *pc = <const int32_t*>checked_ptr(colsum, f, "colsum", cnp.NPY_INT32, <object>G)
    cdef const float *pws = <const float*>checked_ptr(w_scale, f, "w_scale", cnp.NPY_FLOAT32, <object>G)
    cdef const float *pb = NULL
    if imode == 1:
        pb = <const float*>checked_ptr(b_hh, f, "b_hh", cnp.NPY_FLOAT32, <object>G, OP_OPTIONAL)
    elif b_hh is not None:
        raise ValueError("%s: LSTM takes b_hh summed into xg, got b_hh" % f)
    cdef float *ph = <float*>checked_ptr(h, f, "h", cnp.NPY_FLOAT32, (B, H), OP_WRITE)
    cdef float *pcell = NULL
    if imode == 0:
        pcell = <float*>checked_ptr(c, f, "c", cnp.NPY_FLOAT32, (B, H), OP_WRITE)
    cdef float *po = <float*>checked_ptr(out, f, "out", cnp.NPY_FLOAT32, (T, B, H), OP_WRITE)
    cdef int rc
    with nogil:
        rc = dl_qrnn_fwd(imode, T, B, H, px, pp, pc, pws, pb, ph, pcell, po, reverse)
    if rc == -2:
        raise MemoryError("%s: out of memory" % f)
    if rc != 0:
        raise ValueError("%s: bad arguments" % f)
    return out


cdef extern from "dlcore/plan.h":
    size_t dl_plan_qlinear_scratch(size_t M, size_t K) nogil


def qlinear_plan_scratch(size_t M, size_t K):
    """Bytes of scratch the executor's int8 Linear step needs for M rows of K inputs."""
    return dl_plan_qlinear_scratch(M, K)
