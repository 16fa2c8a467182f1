/* The time loops of dl_rnn_forward / dl_rnn_backward, written once for both element types:
 * rnn.c instantiates this file through each_dtype.h (T, SUF, GEMM). */

/* C (M x N) = op(A) @ op(B) + beta*C (+ bias row), where an empty inner dimension gives the
 * right answer without relying on the GEMM's handling of K = 0. */
static void SUF(mm)(int ta, int tb, size_t M, size_t N, size_t K, const T *A,
                    ptrdiff_t lda, const T *B, ptrdiff_t ldb, T beta,
                    T *C, ptrdiff_t ldc, const T *bias)
{
    if (M == 0 || N == 0) return;
    if (K == 0) {
        for (size_t i = 0; i < M; i++)
            for (size_t j = 0; j < N; j++) {
                T v = beta != 0 ? beta * C[i * ldc + j] : 0;
                C[i * ldc + j] = v + (bias ? bias[j] : 0);
            }
        return;
    }
    GEMM(ta, tb, M, N, K, 1, A, lda, B, ldb, beta, C, ldc, bias,
         bias ? DL_BIAS_ROW : DL_BIAS_NONE, DL_ACT_NONE);
}

static void SUF(copy_rows)(size_t n, size_t w, const T *src, ptrdiff_t lds,
                           T *dst, ptrdiff_t ldd)
{
    for (size_t i = 0; i < n; i++) memcpy(dst + i * ldd, src + i * lds, w * sizeof(T));
}

static void SUF(add_rows)(size_t n, size_t w, const T *src, ptrdiff_t lds,
                          T *dst, ptrdiff_t ldd)
{
    for (size_t i = 0; i < n; i++) {
        const T *s = src + i * lds;
        T *o = dst + i * ldd;
        for (size_t j = 0; j < w; j++) o[j] += s[j];
    }
}

/* Column sums of a (rows x w) matrix into out (w). */
static void SUF(col_sums)(size_t rows, size_t w, const T *a, T *out)
{
    memset(out, 0, w * sizeof(T));
    for (size_t i = 0; i < rows; i++) {
        const T *r = a + i * w;
        for (size_t j = 0; j < w; j++) out[j] += r[j];
    }
}

/* Row offsets of each step in the packed layout: off[t] .. off[t+1]. */
static size_t *SUF(offsets)(const dl_rnn_desc *d)
{
    size_t *off = dl_alloc((d->n_steps + 1) * sizeof(size_t));
    if (!off) return NULL;
    off[0] = 0;
    for (size_t t = 0; t < d->n_steps; t++) off[t + 1] = off[t] + (size_t)d->batch_sizes[t];
    return off;
}

int SUF(dl_rnn_forward)(const dl_rnn_desc *d, const T *x, ptrdiff_t ldx,
                        const T *w_ih, const T *w_hh, const T *b_x,
                        const T *b_h, const T *w_hr, const T *h0,
                        const T *c0, T *out, ptrdiff_t ldo, T *hn,
                        T *cn, T *reserve, T *work)
{
    const size_t NS = d->n_steps, B = d->B, I = d->n_input, H = d->H, P = d->P;
    const int lstm = d->mode == DL_RNN_LSTM, gru = d->mode == DL_RNN_GRU;
    const int relu = d->mode == DL_RNN_RELU, proj = lstm && w_hr != NULL;
    const size_t G = dl_rnn_gates(d->mode) * H;
    const size_t rows = dl_rnn_total_rows(d);

    size_t *off = SUF(offsets)(d);
    /* LSTM: each step's whole pre-activation, [x_t | h_{t-1}] @ [w_ih | w_hh]^T, goes to a
     * small buffer (hs) that stays hot for the cell, whose row stride is padded off a multiple
     * of 4 KiB (rows that alias in the cache sets stall the stores).  The other modes keep the
     * input projection of all steps in one GEMM before the loop (the gate buffer). */
    const size_t ldhs = lstm ? G + 16 : 0;
    const int gate_buf = !lstm || reserve;
    size_t n_scratch = B * P + B * H + (gru ? B * G : 0) + (proj ? B * H : 0) + B * ldhs
                       + (reserve || work || !gate_buf ? 0 : rows * G);
    T *scratch = dl_alloc(n_scratch * sizeof(T));
    SUF(rec) whh;
    memset(&whh, 0, sizeof whh);
    /* several threads, no projection: the whole loop on one thread team (rnn.c) */
    const int team = lstm && !proj ? SUF(lstm_team_threads)(d) : 0;
    int rc = team > 1 ? 0
             : lstm ? SUF(rec_init2)(&whh, I, w_ih, I, P, w_hh, P, G, rows)
                    : SUF(rec_init)(&whh, 1, P, G, w_hh, P, B);
    if (!off || !scratch || rc != 0) {
        if (rc == 0) SUF(rec_free)(&whh);
        dl_free(off);
        dl_free(scratch);
        return -1;
    }
    T *h = scratch, *c = h + B * P, *hg = c + B * H;
    T *hs = hg + (gru ? B * G : 0);
    T *rbuf = hs + B * ldhs;
    T *gates = reserve ? reserve
                      : (!gate_buf ? NULL : (work ? work : rbuf + (proj ? B * H : 0)));
    /* reserve: gates | h_{t-1} | LSTM: tanh(c_t), c_{t-1}, [r_t] | GRU: recurrent n part */
    T *hprev = reserve ? gates + rows * G : NULL;
    T *tc = NULL, *cprev = NULL, *rsave = NULL, *hgn = NULL;
    if (reserve && lstm) {
        tc = hprev + rows * P;
        cprev = tc + rows * H;
        if (proj) rsave = cprev + rows * H;
    }
    if (reserve && gru) hgn = hprev + rows * P;

    if (h0) memcpy(h, h0, B * P * sizeof(T));
    else memset(h, 0, B * P * sizeof(T));
    if (lstm && c0) memcpy(c, c0, B * H * sizeof(T));
    else memset(c, 0, B * H * sizeof(T));

    /* every step's input projection in one GEMM, the bias fused */
    if (!lstm) SUF(mm)(0, 1, rows, G, I, x, ldx, w_ih, I, 0, gates, G, b_x);

    if (team > 1
        && SUF(lstm_team_fwd)(d, team, off, x, ldx, w_ih, w_hh, b_x, h, c, out, ldo, gates,
                              hprev, tc, cprev) != 0) {
        dl_free(off);
        dl_free(scratch);
        return -1;
    }
    for (size_t s = 0; s < NS && team <= 1; s++) {
        size_t t = d->reverse ? NS - 1 - s : s;
        size_t n = (size_t)d->batch_sizes[t], o = off[t];
        if (n == 0) continue;
        T *g = gates ? gates + o * G : NULL;
        if (hprev) memcpy(hprev + o * P, h, n * P * sizeof(T));
        if (lstm) {
            if (cprev) memcpy(cprev + o * H, c, n * H * sizeof(T));
            SUF(rec_mm2)(&whh, n, x + o * ldx, ldx, h, P, 0, hs, ldhs);
            /* g (the activated gates) exists only when training */
            if (proj) {
                T *r = rsave ? rsave + o * H : rbuf;
                SUF(dl_lstm_cell_fwd)(n, H, NULL, hs, ldhs, b_x, g, c,
                                      tc ? tc + o * H : NULL, r, H, NULL, 0);
                SUF(mm)(0, 1, n, P, H, r, H, w_hr, H, 0, h, P, NULL);
                SUF(copy_rows)(n, P, h, P, out + o * ldo, ldo);
            } else {
                /* the cell writes h_t to the state and to the output at once */
                SUF(dl_lstm_cell_fwd)(n, H, NULL, hs, ldhs, b_x, g, c,
                                      tc ? tc + o * H : NULL, h, P, out + o * ldo, ldo);
            }
        } else if (gru) {
            if (b_h) {
                for (size_t i = 0; i < n; i++) memcpy(hg + i * G, b_h, G * sizeof(T));
            }
            SUF(rec_mm)(&whh, n, h, P, b_h ? 1 : 0, hg, G);
            SUF(dl_gru_cell_fwd)(n, H, g, hg, h, P, hgn ? hgn + o * H : NULL);
            SUF(copy_rows)(n, P, h, P, out + o * ldo, ldo);
        } else {
            SUF(rec_mm)(&whh, n, h, P, 1, g, G);
            SUF(dl_rnn_cell_fwd)(n, H, relu, g, h, P);
            SUF(copy_rows)(n, P, h, P, out + o * ldo, ldo);
        }
    }
    if (hn) memcpy(hn, h, B * P * sizeof(T));
    if (lstm && cn) memcpy(cn, c, B * H * sizeof(T));
    SUF(rec_free)(&whh);
    dl_free(off);
    dl_free(scratch);
    return 0;
}

int SUF(dl_rnn_backward)(const dl_rnn_desc *d, const T *x, ptrdiff_t ldx,
                         const T *w_ih, const T *w_hh, const T *w_hr,
                         const T *reserve, const T *dout, ptrdiff_t lddo,
                         const T *dhn, const T *dcn,
                         T *dx, ptrdiff_t lddx, int dx_accumulate,
                         T *dw_ih, T *dw_hh, T *db_x, T *db_h,
                         T *dw_hr, T *dh0, T *dc0, T *work)
{
    const size_t NS = d->n_steps, B = d->B, I = d->n_input, H = d->H, P = d->P;
    const int lstm = d->mode == DL_RNN_LSTM, gru = d->mode == DL_RNN_GRU;
    const int relu = d->mode == DL_RNN_RELU, proj = lstm && w_hr != NULL;
    const size_t G = dl_rnn_gates(d->mode) * H;
    const size_t rows = dl_rnn_total_rows(d);

    const T *gates = reserve, *hprev = reserve + rows * G;
    const T *tc = NULL, *cprev = NULL, *rsave = NULL, *hgn = NULL;
    if (lstm) {
        tc = hprev + rows * P;
        cprev = tc + rows * H;
        if (proj) rsave = cprev + rows * H;
    }
    if (gru) hgn = hprev + rows * P;

    size_t *off = SUF(offsets)(d);
    /* the large part (dG, dHG, dhall) is `work` when the caller gives it */
    size_t n_big = rows * G * (gru ? 2 : 1) + (proj ? rows * P : 0);
    size_t n_scratch = (work ? 0 : n_big) + B * P + B * H + (proj ? B * H : 0);
    T *scratch = dl_alloc(n_scratch * sizeof(T));
    SUF(rec) whh;
    if (!off || !scratch || SUF(rec_init)(&whh, 0, G, P, w_hh, P, B) != 0) {
        dl_free(off);
        dl_free(scratch);
        return -1;
    }
    /* dG: input-side pre-activation gradients of all steps; GRU's recurrent side differs in its
     * n part (dHG); dh, dc: the carried state gradients; dhall: every step's dh (for dW_hr). */
    T *big = work ? work : scratch, *small = work ? scratch : scratch + n_big;
    T *dG = big, *dHG = dG + rows * G, *dhall = dHG + (gru ? rows * G : 0);
    T *dh = small, *dc = dh + B * P, *dr = dc + B * H;

    if (dhn) memcpy(dh, dhn, B * P * sizeof(T));
    else memset(dh, 0, B * P * sizeof(T));
    if (lstm && dcn) memcpy(dc, dcn, B * H * sizeof(T));
    else memset(dc, 0, B * H * sizeof(T));

    for (size_t s = 0; s < NS; s++) {
        size_t t = d->reverse ? s : NS - 1 - s;
        size_t n = (size_t)d->batch_sizes[t], o = off[t];
        if (n == 0) continue;
        const T *g = gates + o * G;
        T *dg = dG + o * G;
        if (dout) SUF(add_rows)(n, P, dout + o * lddo, lddo, dh, P);
        if (lstm) {
            const T *dcell = dh;
            if (proj) {
                memcpy(dhall + o * P, dh, n * P * sizeof(T));
                SUF(mm)(0, 0, n, H, P, dh, P, w_hr, H, 0, dr, H, NULL);
                dcell = dr;
            }
            SUF(dl_lstm_cell_bwd)(n, H, g, tc + o * H, cprev + o * H, dcell, dc, dg);
            SUF(rec_mm)(&whh, n, dg, G, 0, dh, P);
        } else if (gru) {
            T *dhg = dHG + o * G;
            SUF(dl_gru_cell_bwd)(n, H, g, hgn + o * H, hprev + o * P, dh, dg, dhg, dh);
            SUF(rec_mm)(&whh, n, dhg, G, 1, dh, P);
        } else {
            SUF(dl_rnn_cell_bwd)(n, H, relu, g, dh, dg);
            SUF(rec_mm)(&whh, n, dg, G, 0, dh, P);
        }
    }
    SUF(rec_free)(&whh);
    if (dh0) memcpy(dh0, dh, B * P * sizeof(T));
    if (dc0 && lstm) memcpy(dc0, dc, B * H * sizeof(T));

    /* the weight gradients over all steps at once */
    const T *dgh = gru ? dHG : dG;
    if (dw_ih) SUF(mm)(1, 0, G, I, rows, dG, G, x, ldx, 0, dw_ih, I, NULL);
    if (dw_hh) SUF(mm)(1, 0, G, P, rows, dgh, G, hprev, P, 0, dw_hh, P, NULL);
    if (proj && dw_hr) SUF(mm)(1, 0, P, H, rows, dhall, P, rsave, H, 0, dw_hr, H, NULL);
    if (db_x) SUF(col_sums)(rows, G, dG, db_x);
    if (db_h && gru) SUF(col_sums)(rows, G, dHG, db_h);
    if (dx) SUF(mm)(0, 0, rows, I, G, dG, G, w_ih, I, dx_accumulate ? 1 : 0, dx, lddx, NULL);
    dl_free(off);
    dl_free(scratch);
    return 0;
}
