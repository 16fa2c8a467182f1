# Key/value-cache attention for token-by-token generation (rotary append, then attention).

cdef extern from "dlcore/kvcache.h":
    int dl_kv_append_f32(size_t L, size_t H, size_t Hk, size_t D, const float *qkv,
                         size_t ldqkv, const float *cos, const float *sin, int interleaved,
                         size_t start, size_t max_len, float *q, float *kc, float *vc) nogil
    int dl_kv_attend_f32(size_t L, size_t H, size_t Hk, size_t D, const float *q,
                         const float *kc, const float *vc, size_t start, size_t max_len,
                         float scale, float *out) nogil


def kv_cache_attention(cnp.ndarray qkv, cnp.ndarray kc, cnp.ndarray vc, object cos,
                       object sin, bint interleaved, size_t start, size_t num_heads,
                       double scale, cnp.ndarray out):
    """Appends the L positions of qkv (L, (num_heads + 2 Hk) D) to the caches kc, vc
    (Hk, max_len, D) at start .. start + L - 1 (keys rotated by the (>= start + L, D / 2)
    tables cos, sin unless None) and fills out (L, num_heads D) with the causal attention of
    the rotated queries over positions 0 .. start + l.  float32, C-contiguous."""
    fname = "kv_cache_attention"
    if cnp.PyArray_NDIM(kc) != 3 or cnp.PyArray_NDIM(qkv) != 2:
        raise ValueError("%s: caches must be 3-D and qkv 2-D, got %d-D and %d-D"
                         % (fname, kc.ndim, qkv.ndim))
    cdef size_t Hk = kc.shape[0], max_len = kc.shape[1], D = kc.shape[2]
    cdef size_t H = num_heads, L = qkv.shape[0]
    if Hk == 0 or H == 0 or H % Hk != 0:
        raise ValueError("%s: num_heads %d must be a positive multiple of the %d kv heads"
                         % (fname, H, Hk))
    if start > max_len or L > max_len - start:
        raise ValueError("%s: positions %d .. %d exceed the caches' %d" % (fname, start,
                                                                          start + L, max_len))
    cdef const float *pqkv = <const float*>checked_ptr(qkv, fname, "qkv", cnp.NPY_FLOAT32,
                                                       (L, (H + 2 * Hk) * D))
    cdef float *pk = <float*>checked_ptr(kc, fname, "k_cache", cnp.NPY_FLOAT32, None, OP_WRITE)
    cdef float *pv = <float*>checked_ptr(vc, fname, "v_cache", cnp.NPY_FLOAT32,
                                         (Hk, max_len, D), OP_WRITE)
    cdef float *po = <float*>checked_ptr(out, fname, "out", cnp.NPY_FLOAT32, (L, H * D),
                                         OP_WRITE)
    cdef const float *pc = NULL
    cdef const float *ps = NULL
    if (cos is None) != (sin is None):
        raise ValueError("%s: cos and sin must both be given or both be None" % fname)
    if cos is not None:
        if D % 2 != 0:
            raise ValueError("%s: rotary positions need an even head dim, got %d" % (fname, D))
        pc = <const float*>checked_ptr(cos, fname, "cos", cnp.NPY_FLOAT32)
        ps = <const float*>checked_ptr(sin, fname, "sin", cnp.NPY_FLOAT32, cos.shape)
        if cos.ndim != 2 or cos.shape[1] != D // 2 or <size_t>cos.shape[0] < start + L:
            raise ValueError("%s: cos must be (>= %d, %d), got %s" % (fname, start + L, D // 2,
                                                                    cos.shape))
    cdef cnp.ndarray q = np.empty((L, H * D), dtype=np.float32)
    cdef float *pq = <float*>cnp.PyArray_DATA(q)
    cdef int rc
    with nogil:
        rc = dl_kv_append_f32(L, H, Hk, D, pqkv, (H + 2 * Hk) * D, pc, ps, interleaved, start,
                              max_len, pq, pk, pv)
        if rc == 0:
            rc = dl_kv_attend_f32(L, H, Hk, D, pq, pk, pv, start, max_len, <float>scale, po)
    if rc == -2:
        raise MemoryError("%s: could not allocate scratch memory" % fname)
    if rc != 0:
        raise ValueError("%s: bad arguments" % fname)
    return out
