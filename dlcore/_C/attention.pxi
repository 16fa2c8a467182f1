cdef extern from "dlcore/attention.h":
    ctypedef struct dl_attn_desc:
        size_t B, H, L, S, D, Dv
        ptrdiff_t q_s[3]
        ptrdiff_t k_s[3]
        ptrdiff_t v_s[3]
        const void *mask
        int mask_kind
        ptrdiff_t m_s[4]
        int causal
        double scale
        ptrdiff_t dq_s[3]
        ptrdiff_t dk_s[3]
        ptrdiff_t dv_s[3]
        ptrdiff_t o_s[3]
    int dl_attn_fwd_f32(const dl_attn_desc *d, const float *q, const float *k, const float *v,
                        float *out, float *lse) nogil
    int dl_attn_bwd_f32(const dl_attn_desc *d, const float *q, const float *k, const float *v,
                        const float *out, const float *lse, const float *dout,
                        float *dq, float *dk, float *dv) nogil
    int dl_attn_fwd_f64(const dl_attn_desc *d, const double *q, const double *k,
                        const double *v, double *out, double *lse) nogil
    int dl_attn_fwd_checked_f32(const dl_attn_desc *d, const float *q, const float *k,
                                const float *v, float *out, float *lse, int *nonfinite) nogil
    int dl_attn_fwd_checked_f64(const dl_attn_desc *d, const double *q, const double *k,
                                const double *v, double *out, double *lse, int *nonfinite) nogil
    int dl_attn_bwd_f64(const dl_attn_desc *d, const double *q, const double *k,
                        const double *v, const double *out, const double *lse,
                        const double *dout, double *dq, double *dk, double *dv) nogil


cdef void _attn_strides(cnp.ndarray a, str name, ptrdiff_t *s) except *:
    """Element strides of batch, head, row of a 4-D array whose last dim is contiguous."""
    if cnp.PyArray_NDIM(a) != 4:
        raise ValueError("attention: %s must be 4-D (B, H, rows, dim), got %d-D"
                         % (name, cnp.PyArray_NDIM(a)))
    cdef ptrdiff_t item = cnp.PyArray_ITEMSIZE(a)
    if cnp.PyArray_SIZE(a) == 0:   # NumPy gives empty arrays zero strides; nothing is read
        s[0] = s[1] = s[2] = 0
        return
    if cnp.PyArray_DIM(a, 3) > 1 and cnp.PyArray_STRIDE(a, 3) != item:
        raise ValueError("attention: the last dim of %s must be contiguous" % name)
    for i in range(3):
        if cnp.PyArray_STRIDE(a, i) % item != 0:
            raise ValueError("attention: %s has a stride that is not a whole element" % name)
        s[i] = cnp.PyArray_STRIDE(a, i) // item


cdef void _attn_desc(dl_attn_desc *d, cnp.ndarray q, cnp.ndarray k, cnp.ndarray v,
                     object mask, int causal, double scale) except *:
    _attn_strides(q, "query", d.q_s)
    d.o_s[0] = d.o_s[1] = d.o_s[2] = 0                  # out C-contiguous
    _attn_strides(k, "key", d.k_s)
    _attn_strides(v, "value", d.v_s)
    cdef int t = float_type(q, "attention", "query")
    if cnp.PyArray_TYPE(k) != t or cnp.PyArray_TYPE(v) != t:
        raise TypeError("attention: query, key, value must share a dtype")
    d.B = q.shape[0]
    d.H = q.shape[1]
    d.L = q.shape[2]
    d.D = q.shape[3]
    d.S = k.shape[2]
    d.Dv = v.shape[3]
    if (k.shape[0] != d.B or k.shape[1] != d.H or v.shape[0] != d.B or v.shape[1] != d.H
            or k.shape[3] != d.D or v.shape[2] != d.S):
        raise ValueError("attention: shapes do not match: query %s, key %s, value %s"
                         % ((<object>q).shape, (<object>k).shape, (<object>v).shape))
    d.causal = 1 if causal else 0
    d.scale = scale
    d.mask = NULL
    d.mask_kind = 0
    cdef cnp.ndarray m
    cdef ptrdiff_t item
    if mask is not None:
        m = mask
        if m.ndim != 4 or m.shape[0] != d.B or m.shape[1] != d.H or m.shape[2] != d.L \
                or m.shape[3] != d.S:
            raise ValueError("attention: mask must be broadcast to %s, got %s"
                             % ((d.B, d.H, d.L, d.S), (<object>m).shape))
        if cnp.PyArray_TYPE(m) == cnp.NPY_BOOL or cnp.PyArray_TYPE(m) == cnp.NPY_UINT8:
            d.mask_kind = 1
        elif cnp.PyArray_TYPE(m) == t:
            d.mask_kind = 2
        else:
            raise TypeError("attention: mask must be bool or %s, got %s" % (q.dtype, m.dtype))
        item = cnp.PyArray_ITEMSIZE(m)
        for i in range(4):
            if cnp.PyArray_STRIDE(m, i) % item != 0:
                raise ValueError("attention: mask has a stride that is not a whole element")
            d.m_s[i] = cnp.PyArray_STRIDE(m, i) // item
        d.mask = cnp.PyArray_DATA(m)


def attention_forward(cnp.ndarray q, cnp.ndarray k, cnp.ndarray v, object mask, bint causal,
                      double scale, cnp.ndarray out, cnp.ndarray lse, bint check_finite=False):
    """Fused SDPA forward on 4-D (B, H, rows, dim) arrays: fills out (B, H, L, Dv) and the
    per-row log-sum-exp lse (B, H, L) and returns out.  mask: None or a (B, H, L, S) view
    (bool: may attend, float: added).  check_finite: return None instead when q, k or v holds
    a NaN or inf (out and lse are then unspecified), checked on the way at next to no cost."""
    cdef dl_attn_desc d
    _attn_desc(&d, q, k, v, mask, causal, scale)
    cdef int t = cnp.PyArray_TYPE(q)
    cdef void *po = checked_ptr(out, "attention", "out", t, (d.B, d.H, d.L, d.Dv), OP_WRITE)
    cdef void *pl = checked_ptr(lse, "attention", "lse", t, (d.B, d.H, d.L), OP_WRITE)
    cdef void *pq = cnp.PyArray_DATA(q)
    cdef void *pk = cnp.PyArray_DATA(k)
    cdef void *pv = cnp.PyArray_DATA(v)
    cdef int rc, nonfinite = 0
    if t == cnp.NPY_FLOAT32:
        with nogil:
            if check_finite:
                rc = dl_attn_fwd_checked_f32(&d, <float*>pq, <float*>pk, <float*>pv,
                                             <float*>po, <float*>pl, &nonfinite)
            else:
                rc = dl_attn_fwd_f32(&d, <float*>pq, <float*>pk, <float*>pv, <float*>po,
                                     <float*>pl)
    else:
        with nogil:
            if check_finite:
                rc = dl_attn_fwd_checked_f64(&d, <double*>pq, <double*>pk, <double*>pv,
                                             <double*>po, <double*>pl, &nonfinite)
            else:
                rc = dl_attn_fwd_f64(&d, <double*>pq, <double*>pk, <double*>pv, <double*>po,
                                     <double*>pl)
    if rc != 0:
        raise MemoryError("attention: could not allocate scratch memory")
    return None if nonfinite else out


cdef void _grad_out(cnp.ndarray a, str name, int t, tuple shape, ptrdiff_t *s) except *:
    """Checks one gradient output of attention_backward and reads its strides into s."""
    if cnp.PyArray_TYPE(a) != t or tuple((<object>a).shape) != shape:
        raise ValueError("attention: %s must have the query's dtype and shape %s, got %s %s"
                         % (name, shape, (<object>a).dtype, (<object>a).shape))
    if not cnp.PyArray_ISWRITEABLE(a):
        raise ValueError("attention: %s must be writeable" % name)
    _attn_strides(a, name, s)


def attention_backward(cnp.ndarray q, cnp.ndarray k, cnp.ndarray v, object mask, bint causal,
                       double scale, cnp.ndarray out, cnp.ndarray lse, cnp.ndarray dout,
                       cnp.ndarray dq, cnp.ndarray dk, cnp.ndarray dv):
    """Fused SDPA backward from the forward's out and lse: fills dq, dk, dv (shaped like q,
    k, v; any strides with the last dim contiguous, e.g. views of one packed q|k|v gradient;
    they must not overlap).  dout is C-contiguous like out."""
    cdef dl_attn_desc d
    _attn_desc(&d, q, k, v, mask, causal, scale)
    cdef int t = cnp.PyArray_TYPE(q)
    cdef void *po = checked_ptr(out, "attention", "out", t, (d.B, d.H, d.L, d.Dv))
    cdef void *pl = checked_ptr(lse, "attention", "lse", t, (d.B, d.H, d.L))
    cdef void *pg = checked_ptr(dout, "attention", "dout", t, (d.B, d.H, d.L, d.Dv))
    _grad_out(dq, "dq", t, (d.B, d.H, d.L, d.D), d.dq_s)
    _grad_out(dk, "dk", t, (d.B, d.H, d.S, d.D), d.dk_s)
    _grad_out(dv, "dv", t, (d.B, d.H, d.S, d.Dv), d.dv_s)
    for a, b in ((dq, dk), (dq, dv), (dk, dv)):
        try:
            overlap = np.shares_memory(a, b, max_work=1 << 20)
        except np.exceptions.TooHardError:
            overlap = True
        if overlap:
            raise ValueError("attention: dq, dk and dv must not overlap")
    cdef void *gq = cnp.PyArray_DATA(dq)
    cdef void *gk = cnp.PyArray_DATA(dk)
    cdef void *gv = cnp.PyArray_DATA(dv)
    cdef void *pq = cnp.PyArray_DATA(q)
    cdef void *pk = cnp.PyArray_DATA(k)
    cdef void *pv = cnp.PyArray_DATA(v)
    cdef int rc
    if t == cnp.NPY_FLOAT32:
        with nogil:
            rc = dl_attn_bwd_f32(&d, <float*>pq, <float*>pk, <float*>pv, <float*>po,
                                 <float*>pl, <float*>pg, <float*>gq, <float*>gk, <float*>gv)
    else:
        with nogil:
            rc = dl_attn_bwd_f64(&d, <double*>pq, <double*>pk, <double*>pv, <double*>po,
                                 <double*>pl, <double*>pg, <double*>gq, <double*>gk,
                                 <double*>gv)
    if rc != 0:
        raise MemoryError("attention: could not allocate scratch memory")
    return dq, dk, dv
