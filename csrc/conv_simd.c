/* Convolution's float32 inner loops, one copy per ISA (conv.c reaches them through
 * conv_kernels(); float64 uses the portable loops of conv_im2col_impl.h and conv_dw_impl.h,
 * which these match element for element).
 *
 * im2col / col2im: the rows are short (an output row of a 14x14 map is 14 floats), so a
 * memcpy/memset call per run cost more than the copy itself: these move each run with a few
 * vector loads and stores inline where partial vectors are single masked instructions
 * (DL_VF_MASKED: AVX-512), plain loops otherwise.  Every source index touched is inside
 * the input row.
 *
 * Depthwise rows (stride 1): both kernels read a zero-padded band of one input plane (built by
 * conv.c), so the inner loops have no bounds checks: output row i, column j reads
 * buf[(i + r*dh)*bw + j + s*dw].  Every row of the band has at least roundup(ow, 16) +
 * (S-1)*dw columns, so a whole vector starting at any j < ow stays inside the row.
 */
#include <string.h>
#include "simd.h"
#include "simd_lanes.h"
#include "dlcore/conv.h"
#include "conv_kernels.h"
#include "conv_dw_same.h"

#ifdef DL_VF_MASKED
/* lanes of the partial vector at j of a run of n */
static inline size_t col_lanes(int64_t n) { return n >= DL_VF_LEN ? DL_VF_LEN : (size_t)n; }

/* d[j] = 0 for j < n */
static inline void row_zero(float *d, int64_t n)
{
    for (int64_t j = 0; j < n; j += DL_VF_LEN) vf_store_part(d + j, vf_zero(), col_lanes(n - j));
}

/* d[j] = src[j] for lo <= j < hi (src + j is in range only there) */
static inline void row_copy(float *d, const float *xr, int64_t off, int64_t lo, int64_t hi)
{
    for (int64_t j = lo; j < hi; j += DL_VF_LEN) {
        const size_t k = col_lanes(hi - j);
        vf_store_part(d + j, vf_load_part(xr + (off + j), k, 0.0f), k);
    }
}

/* xr[off + j] += s[j] for lo <= j < hi */
static inline void row_add(float *xr, int64_t off, const float *s, int64_t lo, int64_t hi)
{
    for (int64_t j = lo; j < hi; j += DL_VF_LEN) {
        const size_t k = col_lanes(hi - j);
        float *o = xr + (off + j);
        vf_store_part(o, vf_add(vf_load_part(o, k, 0.0f), vf_load_part(s + j, k, 0.0f)), k);
    }
}
#else
static inline void row_zero(float *d, int64_t n)
{
    for (int64_t j = 0; j < n; j++) d[j] = 0.0f;
}

static inline void row_copy(float *d, const float *xr, int64_t off, int64_t lo, int64_t hi)
{
    for (int64_t j = lo; j < hi; j++) d[j] = xr[off + j];
}

static inline void row_add(float *xr, int64_t off, const float *s, int64_t lo, int64_t hi)
{
    for (int64_t j = lo; j < hi; j++) xr[off + j] += s[j];
}
#endif

static inline int64_t col_clamp(int64_t v, int64_t lo, int64_t hi)
{
    return v < lo ? lo : (v > hi ? hi : v);
}

/* The taps of one kernel column s over an output row: output columns [lo, hi) read input
 * columns ow*sw + off (off = s*dw - pw) inside 0 .. W-1; the others are padding.  The same
 * for every row, so im2col/col2im work it out once per (c, r, s), not per run. */
static inline void tap_columns(int64_t off, int64_t sw, int64_t W, int64_t OW, int64_t *lo,
                               int64_t *hi)
{
    /* a = ceil(-off / sw), b = floor((W - 1 - off) / sw) + 1 on non-negative operands; no
     * division for strides 1 and 2 (a divide per row cost more than a small map's copy) */
    const int64_t na = off >= 0 ? 0 : -off, nb = off > W - 1 ? -1 : W - 1 - off;
    int64_t a, b;
    if (sw == 1) {
        a = na, b = nb + 1;
    } else if (sw == 2) {
        a = (na + 1) >> 1, b = nb < 0 ? 0 : (nb >> 1) + 1;
    } else {
        a = (na + sw - 1) / sw, b = nb < 0 ? 0 : nb / sw + 1;
    }
    *lo = col_clamp(a, 0, OW);
    *hi = col_clamp(b, *lo, OW);
}

#ifdef DL_VF_MASKED
/* d[j] = xr[iw0 + 2j] for lo <= j < hi: masked loads of the span (lanes past it are not
 * read) and one two-source permute picking the even lanes */
static inline void stride2_copy(float *d, const float *xr, int64_t iw0, int64_t lo, int64_t hi)
{
    const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26,
                                           28, 30);
    for (int64_t j = lo; j < hi; j += 16) {
        const int64_t n = hi - j < 16 ? hi - j : 16, span = 2 * n - 1;
        const float *src = xr + (iw0 + 2 * j);
        const vf a = vf_load_part(src, col_lanes(span), 0.0f);
        const vf b = span > 16 ? vf_load_part(src + 16, col_lanes(span - 16), 0.0f) : vf_zero();
        vf_store_part(d + j, _mm512_permutex2var_ps(a, even, b), col_lanes(n));
    }
}
#elif defined(__AVX2__)
/* d[j] = xr[iw0 + 2j] for lo <= j < hi: groups of 8 from two loads of 16 columns, the even
 * ones split off in registers (simd_lanes.h); the 16th column of the last group (one past
 * the last one read) is masked off, and the last < 8 go one by one (a masked store would
 * cost more on AMD).  The stride-2 layers' im2col went scalar here: 10-12% of ResNet-18's
 * stride-2 3x3 convolutions at batch 1. */
static inline void stride2_copy(float *d, const float *xr, int64_t iw0, int64_t lo, int64_t hi)
{
    int64_t j = lo;
    for (; j + DL_VF_LEN <= hi; j += DL_VF_LEN) {
        const float *src = xr + (iw0 + 2 * j);
        vf a[2], o[2];
        a[0] = vf_loadu(src);
        a[1] = j + DL_VF_LEN < hi ? vf_loadu(src + DL_VF_LEN)
                                  : vf_load_part(src + DL_VF_LEN, DL_VF_LEN - 1, 0.0f);
        vf_deinterleave2(a, o);
        vf_storeu(d + j, o[0]);
    }
    for (; j < hi; j++) d[j] = xr[iw0 + 2 * j];
}
#else
static inline void stride2_copy(float *d, const float *xr, int64_t iw0, int64_t lo, int64_t hi)
{
    for (int64_t j = lo; j < hi; j++) d[j] = xr[iw0 + 2 * j];
}
#endif

/* d[j] = xr[iw0 + j*sw] for lo <= j < hi */
static inline void strided_copy(float *d, const float *xr, int64_t iw0, int64_t sw, int64_t lo,
                                int64_t hi)
{
    if (sw == 1) {
        row_copy(d, xr, iw0, lo, hi);
    } else if (sw == 2) {
        stride2_copy(d, xr, iw0, lo, hi);
    } else {
        for (int64_t j = lo; j < hi; j++) d[j] = xr[iw0 + j * sw];
    }
}

/* xr[iw0 + j*sw] += d[j] for lo <= j < hi */
static inline void strided_add(float *xr, int64_t iw0, int64_t sw, const float *d, int64_t lo,
                               int64_t hi)
{
    if (sw == 1) {
        row_add(xr, iw0, d, lo, hi);
    } else {
        for (int64_t j = lo; j < hi; j++) xr[iw0 + j * sw] += d[j];
    }
}

/* col[((c*R + r)*S + s) * ldc + q] = x[c, ih, iw] for the np output positions p0 .. p0+np-1
 * (zero outside x); see conv_im2col_impl.h. */
static void im2col(const dl_conv_params *p, const float *x, int64_t Cg,
                   int64_t p0, int64_t np, float *col, int64_t ldc)
{
    const int64_t H = p->H, W = p->W, R = p->R, S = p->S, OW = p->OW, sw = p->sw;
    /* the first run's output row and column; every later run starts a row (no division per
     * run: the runs are only a row long) */
    const int64_t oh0 = p0 / OW, ow0 = p0 % OW;
    for (int64_t c = 0; c < Cg; c++) {
        const float *xc = x + c * H * W;
        for (int64_t r = 0; r < R; r++) {
            for (int64_t s = 0; s < S; s++) {
                float *dst = col + ((c * R + r) * S + s) * ldc;
                const int64_t off = s * p->dw - p->pw;
                int64_t jlo, jhi;
                tap_columns(off, sw, W, OW, &jlo, &jhi);
                int64_t q = 0, oh = oh0, ow = ow0;
                while (q < np) {
                    const int64_t run = col_clamp(OW - ow, 0, np - q);
                    const int64_t ih = oh * p->sh - p->ph + r * p->dh;
                    float *d = dst + q;
                    if (ih < 0 || ih >= H) {
                        row_zero(d, run);
                    } else {
                        /* this run covers output columns ow .. ow+run-1 */
                        const int64_t lo = col_clamp(jlo - ow, 0, run);
                        const int64_t hi = col_clamp(jhi - ow, lo, run);
                        row_zero(d, lo);
                        strided_copy(d, xc + ih * W, ow * sw + off, sw, lo, hi);
                        row_zero(d + hi, run - hi);
                    }
                    q += run;
                    oh++;
                    ow = 0;
                }
            }
        }
    }
}

/* The adjoint: x[c, ih, iw] += col[...] for the same positions.  Kept apart from im2col
 * rather than sharing one walker with a direction (as padded_taps does): for these loops the
 * shared form changed gcc's code, and on a loaded machine no slowdown could be ruled out;
 * the padded walker compiles to the instructions the two copies had. */
static void col2im(const dl_conv_params *p, const float *col, int64_t Cg,
                   int64_t p0, int64_t np, float *x, int64_t ldc)
{
    const int64_t H = p->H, W = p->W, R = p->R, S = p->S, OW = p->OW, sw = p->sw;
    /* the first run's output row and column; every later run starts a row (no division per
     * run: the runs are only a row long) */
    const int64_t oh0 = p0 / OW, ow0 = p0 % OW;
    for (int64_t c = 0; c < Cg; c++) {
        float *xc = x + c * H * W;
        for (int64_t r = 0; r < R; r++) {
            for (int64_t s = 0; s < S; s++) {
                const float *src = col + ((c * R + r) * S + s) * ldc;
                const int64_t off = s * p->dw - p->pw;
                int64_t jlo, jhi;
                tap_columns(off, sw, W, OW, &jlo, &jhi);
                int64_t q = 0, oh = oh0, ow = ow0;
                while (q < np) {
                    const int64_t run = col_clamp(OW - ow, 0, np - q);
                    const int64_t ih = oh * p->sh - p->ph + r * p->dh;
                    if (ih >= 0 && ih < H) {
                        const int64_t lo = col_clamp(jlo - ow, 0, run);
                        const int64_t hi = col_clamp(jhi - ow, lo, run);
                        strided_add(xc + ih * W, ow * sw + off, sw, src + q, lo, hi);
                    }
                    q += run;
                    oh++;
                    ow = 0;
                }
            }
        }
    }
}

/* ---- the small-map forms, from and into zero-padded planes (see conv_im2col_impl.h) ----
 * No run needs a bounds check, so on AVX-512 a run of up to 16 outputs is one masked load
 * (two for stride 2 past 8 outputs), a permute for stride 2, and one masked store, with the
 * masks made once per call. */

/* xp = x zero-padded into Cg planes of Hp x Wp */
static void pad_planes(const dl_conv_params *p, const float *x, int64_t Cg, int64_t Hp,
                       int64_t Wp, float *xp)
{
    const int64_t H = p->H, W = p->W;
    const int64_t j0 = p->pw < Wp ? p->pw : Wp, j1 = col_clamp(p->pw + W, j0, Wp);
#ifdef DL_VF_MASKED
    if (Wp <= 16) {
        /* a row is one masked load of x's columns (lanes j0 .. j1-1; the others are neither
         * read nor kept) and one store */
        const __mmask16 row = (__mmask16)((1u << Wp) - 1u);
        const __mmask16 in = (__mmask16)(((1u << j1) - 1u) & ~((1u << j0) - 1u));
        for (int64_t c = 0; c < Cg; c++)
            for (int64_t i = 0; i < Hp; i++) {
                const int64_t ih = i - p->ph;
                const __m512 v = ih < 0 || ih >= H
                                     ? _mm512_setzero_ps()
                                     : _mm512_maskz_loadu_ps(in, x + (c * H + ih) * W - p->pw);
                _mm512_mask_storeu_ps(xp + (c * Hp + i) * Wp, row, v);
            }
        return;
    }
#endif
    for (int64_t c = 0; c < Cg; c++)
        for (int64_t i = 0; i < Hp; i++) {
            float *d = xp + (c * Hp + i) * Wp;
            const int64_t ih = i - p->ph;
            if (ih < 0 || ih >= H) {
                row_zero(d, Wp);
                continue;
            }
            row_zero(d, j0);
            row_copy(d, x + (c * H + ih) * W, -p->pw, j0, j1);
            row_zero(d + j1, Wp - j1);
        }
}

/* x[c, i, j] += xp[c, i + ph, j + pw] inside xp */
static void unpad_add(const dl_conv_params *p, const float *xp, int64_t Cg, int64_t Hp,
                      int64_t Wp, float *x)
{
    const int64_t H = p->H, W = p->W;
    const int64_t j0 = p->pw < Wp ? p->pw : Wp, j1 = col_clamp(p->pw + W, j0, Wp);
    const int64_t i0 = p->ph < Hp ? p->ph : Hp, i1 = col_clamp(p->ph + H, i0, Hp);
#ifdef DL_VF_MASKED
    if (Wp <= 16) {
        const __mmask16 in = (__mmask16)(((1u << j1) - 1u) & ~((1u << j0) - 1u));
        for (int64_t c = 0; c < Cg; c++)
            for (int64_t i = i0; i < i1; i++) {
                float *d = x + (c * H + i - p->ph) * W - p->pw;
                const __m512 v = _mm512_maskz_loadu_ps(in, xp + (c * Hp + i) * Wp);
                _mm512_mask_storeu_ps(d, in, _mm512_add_ps(_mm512_maskz_loadu_ps(in, d), v));
            }
        return;
    }
#endif
    for (int64_t c = 0; c < Cg; c++)
        for (int64_t i = i0; i < i1; i++)
            row_add(x + (c * H + i - p->ph) * W, -p->pw, xp + (c * Hp + i) * Wp, j0, j1);
}

#ifdef DL_VF_MASKED
/* runs of OW <= 16 outputs at stride sw in {1, 2}: the masks and permutes, made once */
typedef struct {
    __mmask16 out, lo, hi;   /* the outputs; the input span's first and second 16 lanes */
    int two;                 /* the span needs a second load */
    __m512i pick, spread_lo, spread_hi;
    __mmask16 even;
} run_masks;

static inline int run_masks_for(int64_t OW, int64_t sw, run_masks *m)
{
    const int64_t span = (OW - 1) * sw + 1;
    memset(m, 0, sizeof *m);
    if (OW > 16 || (sw != 1 && sw != 2)) return 0;
    m->out = (__mmask16)((1u << OW) - 1u);
    m->lo = (__mmask16)(span >= 16 ? 0xFFFFu : (1u << span) - 1u);
    m->hi = (__mmask16)(span > 16 ? (1u << (span - 16)) - 1u : 0u);
    m->two = span > 16;
    m->pick = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    m->spread_lo = _mm512_setr_epi32(0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7);
    m->spread_hi = _mm512_setr_epi32(8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13, 14, 14, 15,
                                     15);
    m->even = (__mmask16)0x5555u;
    return 1;
}

/* d[j] = src[j*sw], j < OW */
static inline void run_copy(const run_masks *m, int64_t sw, float *d, const float *src)
{
    __m512 v = _mm512_maskz_loadu_ps(m->lo, src);
    if (sw == 2) {
        const __m512 b = m->two ? _mm512_maskz_loadu_ps(m->hi, src + 16) : _mm512_setzero_ps();
        v = _mm512_permutex2var_ps(v, m->pick, b);
    }
    _mm512_mask_storeu_ps(d, m->out, v);
}

/* dst[j*sw] += s[j], j < OW */
static inline void run_add(const run_masks *m, int64_t sw, float *dst, const float *s)
{
    const __m512 v = _mm512_maskz_loadu_ps(m->out, s);
    if (sw == 1) {
        _mm512_mask_storeu_ps(dst, m->out,
                              _mm512_add_ps(_mm512_maskz_loadu_ps(m->out, dst), v));
        return;
    }
    const __m512 a = _mm512_maskz_loadu_ps(m->lo, dst);
    _mm512_mask_storeu_ps(dst, m->lo,
                          _mm512_mask_add_ps(a, m->even, a,
                                             _mm512_permutexvar_ps(m->spread_lo, v)));
    if (m->two) {
        const __m512 b = _mm512_maskz_loadu_ps(m->hi, dst + 16);
        _mm512_mask_storeu_ps(dst + 16, m->hi,
                              _mm512_mask_add_ps(b, m->even, b,
                                                 _mm512_permutexvar_ps(m->spread_hi, v)));
    }
}
#endif

/* The taps of padded planes in im2col's order, one row of a tap at a time:
 * col[((c*R + r)*S + s) * ldc + oh*OW + ow] <-> xp[c, oh*sh + r*dh, ow*sw + s*dw].
 * adjoint = 0 copies xp into col (im2col); adjoint = 1 adds col into xp (col2im).  A constant
 * at each call site, so each caller compiles to its own loop. */
static inline void padded_taps(const dl_conv_params *p, float *xp, int64_t Cg, int64_t Hp,
                               int64_t Wp, float *col, int64_t ldc, int adjoint)
{
    const int64_t R = p->R, S = p->S, OH = p->OH, OW = p->OW, sw = p->sw;
    const int64_t rstep = p->sh * Wp;
#ifdef DL_VF_MASKED
    run_masks m;
    const int fast = run_masks_for(OW, sw, &m);
#endif
    for (int64_t c = 0; c < Cg; c++)
        for (int64_t r = 0; r < R; r++)
            for (int64_t s = 0; s < S; s++) {
                float *x = xp + (c * Hp + r * p->dh) * Wp + s * p->dw;
                float *d = col + ((c * R + r) * S + s) * ldc;
#ifdef DL_VF_MASKED
                if (fast) {
                    for (int64_t oh = 0; oh < OH; oh++, d += OW, x += rstep) {
                        if (adjoint) run_add(&m, sw, x, d);
                        else run_copy(&m, sw, d, x);
                    }
                    continue;
                }
#endif
                for (int64_t oh = 0; oh < OH; oh++, d += OW, x += rstep) {
                    if (adjoint) strided_add(x, 0, sw, d, 0, OW);
                    else strided_copy(d, x, 0, sw, 0, OW);
                }
            }
}

#ifdef DL_VF_MASKED
/* col2im where a padded row has at most 16 columns (a 7x7 output of a 4x4 stride-2
 * convolution reads rows of 16): one row of x gathers the runs of every tap that lands on it
 * into a register (tap s: the permute spread[s] into lanes land[s]) and is added to x once,
 * through a mask of x's columns: no padded planes, no read-modify-write per tap and no
 * store-to-load stalls between taps (measured here 2.9 -> 2.5 ms for the 64x32x14x14 input
 * gradient of a 4x4 stride-2 convolution to 64 channels; the same trick for im2col, a row load
 * and a permute per tap, ran slower than padded_taps's run copies). */
typedef struct {
    int64_t Hp, Wp;
    __mmask16 in, out;
    __m512i spread[16];
    __mmask16 land[16];
} rows16;

static int rows16_for(const dl_conv_params *p, rows16 *m)
{
    m->Hp = (p->OH - 1) * p->sh + (p->R - 1) * p->dh + 1;
    m->Wp = (p->OW - 1) * p->sw + (p->S - 1) * p->dw + 1;
    if (m->Wp > 16 || p->OW > 16 || p->S > 16) return 0;
    const int64_t j0 = p->pw < m->Wp ? p->pw : m->Wp, j1 = col_clamp(p->pw + p->W, j0, m->Wp);
    m->in = (__mmask16)(((1u << j1) - 1u) & ~((1u << j0) - 1u));
    m->out = (__mmask16)((1u << p->OW) - 1u);
    for (int64_t s = 0; s < p->S; s++) {
        int32_t sp[16];
        unsigned land = 0;
        for (int64_t l = 0; l < 16; l++) {
            const int64_t t = l - s * p->dw;
            sp[l] = 0;
            if (l < m->Wp && t >= 0 && t % p->sw == 0 && t / p->sw < p->OW) {
                sp[l] = (int32_t)(t / p->sw);
                land |= 1u << l;
            }
        }
        m->spread[s] = _mm512_loadu_si512(sp);
        m->land[s] = (__mmask16)land;
    }
    return 1;
}

/* output row oh of kernel row r reads padded row i = oh*sh + r*dh: oh for (i, r), or -1 */
static inline int64_t row_of(const dl_conv_params *p, int64_t i, int64_t r)
{
    const int64_t t = i - r * p->dh;
    if (t < 0 || t % p->sh) return -1;
    return t / p->sh < p->OH ? t / p->sh : -1;
}

static void col2im_rows16(const dl_conv_params *p, const rows16 *m, const float *col,
                          int64_t Cg, float *x, int64_t ldc)
{
    const int64_t H = p->H, W = p->W, R = p->R, S = p->S, OW = p->OW;
    const int64_t i0 = p->ph, i1 = col_clamp(p->ph + H, i0, m->Hp);
    for (int64_t c = 0; c < Cg; c++)
        for (int64_t i = i0; i < i1; i++) {
            __m512 acc = _mm512_setzero_ps();
            for (int64_t r = 0; r < R; r++) {
                const int64_t oh = row_of(p, i, r);
                if (oh < 0) continue;
                const float *src = col + (c * R + r) * S * ldc + oh * OW;
                for (int64_t s = 0; s < S; s++) {
                    const __m512 v = _mm512_maskz_loadu_ps(m->out, src + s * ldc);
                    acc = _mm512_mask_add_ps(acc, m->land[s], acc,
                                             _mm512_permutexvar_ps(m->spread[s], v));
                }
            }
            float *d = x + (c * H + i - p->ph) * W - p->pw;
            _mm512_mask_storeu_ps(d, m->in, _mm512_add_ps(_mm512_maskz_loadu_ps(m->in, d), acc));
        }
}
#endif

#if !defined(DL_VF_MASKED) && !defined(DL_VF_SCALAR)
/* ---- AVX2's small-map forms: phase planes (conv_phase_extent in conv_kernels.h) ----
 * Every run of a tap is OW contiguous values of a phase row, moved a whole vector at a time:
 * a run shorter than a vector is one load and one store that runs past it (into the next
 * run, written after it, or the slack past the image's columns), a longer one ends with a
 * vector that overlaps the one before.  Without masked stores (microcoded on Zen), this is
 * what keeps a 7-wide run from being 7 scalar copies: the 4x4 stride-2 convolution 32 -> 64
 * channels, 14x14 -> 7x7, spent about as long in im2col_image as in its GEMM. */

/* x's Cg planes (H x W) zero-padded and split into phase planes xq (Hq x Wq each, the order
 * (c, a, b)).  Stride 1 both ways: the padded rows are the phase rows.  Otherwise the rows
 * (Hq*sh of Wq*sw per plane) are written to pad first, all of them, and then split: a row
 * read back as vectors right after its scalar copy stalled each load on the stores before
 * it, and a masked load of x's row in place cost as much (a vmaskmovps load per 8 values). */
static void phase_planes(const dl_conv_params *p, const float *x, int64_t Cg, int64_t Hq,
                         int64_t Wq, float *pad, float *xq)
{
    const int64_t H = p->H, W = p->W, sh = p->sh, sw = p->sw, pw = p->pw, plane = Hq * Wq;
    const int64_t wide = Wq * sw, rows = Hq * sh;
    /* x's columns that land in a padded row of `wide` (the columns past Wp are never read) */
    const int64_t ncopy = col_clamp(W, 0, wide - pw);
    /* stride 1 both ways: plane c's padded rows are its phase plane */
    const int unit = sh == 1 && sw == 1;
    float *dst = unit ? xq : pad;
    for (int64_t c = 0; c < Cg; c++)
        for (int64_t i = 0; i < rows; i++) {
            float *d = dst + (c * rows + i) * wide;
            for (int64_t j = 0; j < wide; j += DL_VF_LEN) vf_storeu(d + j, vf_zero());
            const int64_t ih = i - p->ph;
            if (ih < 0 || ih >= H) continue;
            const float *xr = x + (c * H + ih) * W;
            for (int64_t j = 0; j < ncopy; j++) d[pw + j] = xr[j];
        }
    if (unit) return;
    for (int64_t c = 0; c < Cg; c++)
        for (int64_t i = 0; i < rows; i++) {
            const float *row = pad + (c * rows + i) * wide;
            float *q0 = xq + ((c * sh + i % sh) * sw) * plane + (i / sh) * Wq;
            if (sw == 1) {
                for (int64_t j = 0; j < Wq; j += DL_VF_LEN) vf_storeu(q0 + j, vf_loadu(row + j));
                continue;
            }
            if (sw == 2) {
                for (int64_t j = 0; j < Wq; j += DL_VF_LEN) {
                    vf a2[2], o[2];
                    a2[0] = vf_loadu(row + 2 * j);
                    a2[1] = vf_loadu(row + 2 * j + DL_VF_LEN);
                    vf_deinterleave2(a2, o);
                    vf_storeu(q0 + j, o[0]);
                    vf_storeu(q0 + plane + j, o[1]);
                }
                continue;
            }
            for (int64_t b = 0; b < sw; b++)
                for (int64_t j = 0; j < Wq; j++) q0[b * plane + j] = row[j * sw + b];
        }
}

/* The offsets of tap (c, r, s)'s phase-plane run for output row 0 (see conv_phase_extent),
 * kept as running sums: a division per tap cost more than its runs' copies. */
typedef struct {
    int64_t sh, sw, dh, dw, Wq, plane;
    int64_t a, rq, b, sq;   /* the row (column) phase and phase-row (column) offset of r (s) */
} phase_walk;

static inline void phase_walk_init(const dl_conv_params *p, int64_t Wq, int64_t plane,
                                   phase_walk *w)
{
    w->sh = p->sh, w->sw = p->sw, w->dh = p->dh, w->dw = p->dw, w->Wq = Wq, w->plane = plane;
}
static inline void phase_r0(phase_walk *w) { w->a = 0, w->rq = 0; }
static inline void phase_s0(phase_walk *w) { w->b = 0, w->sq = 0; }
/* step r (s) by one: the tap's offset moves by the dilation */
static inline void phase_r_next(phase_walk *w)
{
    w->a += w->dh;
    while (w->a >= w->sh) w->a -= w->sh, w->rq++;
}
static inline void phase_s_next(phase_walk *w)
{
    w->b += w->dw;
    while (w->b >= w->sw) w->b -= w->sw, w->sq++;
}
/* the offset in channel c's phase planes */
static inline int64_t phase_off(const phase_walk *w)
{
    return ((w->a * w->sw + w->b) * w->plane) + w->rq * w->Wq + w->sq;
}

/* d[j] = src[j], j < n, whole vectors: up to DL_VF_LEN - 1 values past n are written (n <
 * DL_VF_LEN) and src is read as far */
static inline void run_copy_over(float *d, const float *src, int64_t n)
{
    if (n < DL_VF_LEN) {
        vf_storeu(d, vf_loadu(src));
        return;
    }
    int64_t j = 0;
    for (; j + DL_VF_LEN <= n; j += DL_VF_LEN) vf_storeu(d + j, vf_loadu(src + j));
    if (j < n) vf_storeu(d + n - DL_VF_LEN, vf_loadu(src + n - DL_VF_LEN));
}

static void im2col_image(const dl_conv_params *p, const float *x, int64_t Cg, float *xp,
                         float *col, int64_t ldc)
{
    const int64_t R = p->R, S = p->S, OH = p->OH, OW = p->OW;
    int64_t Hq, Wq;
    conv_phase_extent(p, DL_VF_LEN, &Hq, &Wq);
    const int64_t cstep = p->sh * p->sw * Hq * Wq;
    /* the padded rows after the planes and the slack their last run may read */
    float *pad = xp + Cg * cstep + DL_CONV_RUN_SLACK;
    vf_storeu(pad - DL_CONV_RUN_SLACK, vf_zero());
    vf_storeu(pad - DL_VF_LEN, vf_zero());
    phase_planes(p, x, Cg, Hq, Wq, pad, xp);
    phase_walk pw;
    phase_walk_init(p, Wq, Hq * Wq, &pw);
    for (int64_t c = 0; c < Cg; c++) {
        phase_r0(&pw);
        for (int64_t r = 0; r < R; r++, phase_r_next(&pw)) {
            phase_s0(&pw);
            for (int64_t s = 0; s < S; s++, phase_s_next(&pw)) {
                const float *src = xp + c * cstep + phase_off(&pw);
                float *d = col + ((c * R + r) * S + s) * ldc;
                for (int64_t oh = 0; oh < OH; oh++) run_copy_over(d + oh * OW, src + oh * Wq, OW);
            }
        }
    }
}

/* x += the adjoint of im2col_image applied to col, for strides 1 and 2 and kernel rows up to
 * DL_PHASE_MAX_S wide (else the padded planes' form, padded_col2im_image).  A padded row of
 * x's is summed in registers, DL_VF_LEN phase columns at a time: each tap that lands on the
 * row adds its run with one load placed at the run's lanes and a mask of them (no
 * read-modify-write of a plane per tap, whose overlapping stores stalled the loads after
 * them; no vmaskmovps, whose load cost more than the add); the two phases are interleaved
 * back into a padded row, a channel's rows kept in xp and then added to x. */
enum { DL_PHASE_MAX_S = 16 };

static void padded_col2im_image(const dl_conv_params *p, const float *col, int64_t Cg,
                                float *xp, float *x, int64_t ldc);

static void col2im_image(const dl_conv_params *p, const float *col, int64_t Cg, float *xp,
                         float *x, int64_t ldc)
{
    const int64_t R = p->R, S = p->S, OH = p->OH, OW = p->OW, H = p->H, W = p->W;
    const int64_t sh = p->sh, sw = p->sw, pw = p->pw;
    /* a run's loads start up to (S-1)*dw/sw before it and end as far past a vector after it:
     * within the slack (conv_kernels.h) */
    if (sw > 2 || S > DL_PHASE_MAX_S ||
        (S - 1) * p->dw / sw + DL_VF_LEN > DL_CONV_RUN_SLACK) {
        padded_col2im_image(p, col, Cg, xp, x, ldc);
        return;
    }
    int64_t Hq, Wq;
    conv_phase_extent(p, DL_VF_LEN, &Hq, &Wq);
    const int64_t Hp = (OH - 1) * sh + (R - 1) * p->dh + 1;
    const int64_t Wp = (OW - 1) * sw + (S - 1) * p->dw + 1;
    const int64_t ncopy = col_clamp(W, 0, Wp - pw);   /* x's columns any tap reads */
    const int64_t i1 = col_clamp(p->ph + H, p->ph, Hp), wide = Wq * sw;
    if (ncopy <= 0) return;
    phase_walk pwk;
    phase_walk_init(p, Wq, Hq * Wq, &pwk);
    /* per kernel column s: its phase, its phase-column offset, and for the chunk at j the
     * lanes of its run (sq - j <= lane < sq - j + OW) */
    int64_t sb[DL_PHASE_MAX_S], sq[DL_PHASE_MAX_S];
    phase_s0(&pwk);
    for (int64_t s = 0; s < S; s++, phase_s_next(&pwk)) sb[s] = pwk.b, sq[s] = pwk.sq;
    for (int64_t j = 0; j < Wq; j += DL_VF_LEN) {
        vf_lanes lanes[DL_PHASE_MAX_S];
        for (int64_t s = 0; s < S; s++) lanes[s] = vf_range_lanes(sq[s] - j, sq[s] - j + OW);
        for (int64_t c = 0; c < Cg; c++) {
            const float *colc = col + c * R * S * ldc + j;
            for (int64_t i = p->ph; i < i1; i++) {
                const int64_t a = i % sh, iq = i / sh;
                vf acc0 = vf_zero(), acc1 = vf_zero();
                phase_r0(&pwk);
                for (int64_t r = 0; r < R; r++, phase_r_next(&pwk)) {
                    const int64_t oh = iq - pwk.rq;
                    if (pwk.a != a || oh < 0 || oh >= OH) continue;
                    const float *src = colc + r * S * ldc + oh * OW;
                    for (int64_t s = 0; s < S; s++) {
                        const vf v = vf_mask_lanes(vf_loadu(src + s * ldc - sq[s]), lanes[s]);
                        if (sb[s]) acc1 = vf_add(acc1, v);
                        else acc0 = vf_add(acc0, v);
                    }
                }
                float *brow = xp + (c * (i1 - p->ph) + i - p->ph) * wide;
                if (sw == 1) {
                    vf_storeu(brow + j, acc0);
                } else {
                    const vf a2[2] = {acc0, acc1};
                    vf o[2];
                    vf_interleave2(a2, o);
                    vf_storeu(brow + 2 * j, o[0]);
                    vf_storeu(brow + 2 * j + DL_VF_LEN, o[1]);
                }
            }
        }
    }
    /* x[c, ih, iw] += padded row ih + ph at column iw + pw (written long before these
     * unaligned loads, which so do not wait on their stores) */
    for (int64_t c = 0; c < Cg; c++)
        for (int64_t i = p->ph; i < i1; i++) {
            const float *brow = xp + (c * (i1 - p->ph) + i - p->ph) * wide + pw;
            float *xr = x + (c * H + i - p->ph) * W;
            int64_t q = 0;
            for (; q + DL_VF_LEN <= ncopy; q += DL_VF_LEN)
                vf_storeu(xr + q, vf_add(vf_loadu(xr + q), vf_loadu(brow + q)));
            if (q < ncopy) {
                const size_t k = (size_t)(ncopy - q);
                vf_store_part(xr + q, vf_add(vf_load_part(xr + q, k, 0.0f),
                                             vf_load_part(brow + q, k, 0.0f)), k);
            }
        }
}
#define DL_CONV_PHASE_FORMS 1
#endif

/* The whole map of one image (Cg planes of x) as columns (see padded_taps); xp: scratch of
 * Cg*Hp*Wp elements */
static void padded_im2col_image(const dl_conv_params *p, const float *x, int64_t Cg, float *xp,
                                float *col, int64_t ldc)
{
    const int64_t Hp = (p->OH - 1) * p->sh + (p->R - 1) * p->dh + 1;
    const int64_t Wp = (p->OW - 1) * p->sw + (p->S - 1) * p->dw + 1;
    pad_planes(p, x, Cg, Hp, Wp, xp);
    padded_taps(p, xp, Cg, Hp, Wp, col, ldc, 0);
}

/* x += the adjoint of padded_im2col_image applied to col (xp: scratch, as there) */
static void padded_col2im_image(const dl_conv_params *p, const float *col, int64_t Cg,
                                float *xp, float *x, int64_t ldc)
{
#ifdef DL_VF_MASKED
    rows16 m;
    if (rows16_for(p, &m)) {
        col2im_rows16(p, &m, col, Cg, x, ldc);
        return;
    }
#endif
    const int64_t Hp = (p->OH - 1) * p->sh + (p->R - 1) * p->dh + 1;
    const int64_t Wp = (p->OW - 1) * p->sw + (p->S - 1) * p->dw + 1;
    memset(xp, 0, (size_t)(Cg * Hp * Wp) * sizeof(float));
    padded_taps(p, xp, Cg, Hp, Wp, (float *)col, ldc, 1);   /* col only read here */
    unpad_add(p, xp, Cg, Hp, Wp, x);
}

#ifndef DL_CONV_PHASE_FORMS
/* AVX-512 and the portable build: the padded planes' forms */
static void im2col_image(const dl_conv_params *p, const float *x, int64_t Cg, float *xp,
                         float *col, int64_t ldc)
{
    padded_im2col_image(p, x, Cg, xp, col, ldc);
}
static void col2im_image(const dl_conv_params *p, const float *col, int64_t Cg, float *xp,
                         float *x, int64_t ldc)
{
    padded_col2im_image(p, col, Cg, xp, x, ldc);
}
#endif

/* out[i, j] = (accumulate ? out[i, j] : init) + sum_{r,s} wk[r*S+s] * buf[(i+r*dh)*bw + j+s*dw] */
static void dw_rows_s1(const float *buf, int64_t bw, float *out, int64_t oh,
                       int64_t ow, int64_t ldo, const float *wk, int64_t R,
                       int64_t S, int64_t dh, int64_t dw, float init, int accumulate)
{
    float tmp[DL_VF_LEN];
    for (int64_t i = 0; i < oh; i++) {
        float *orow = out + i * ldo;
        int64_t j = 0;
        for (; j < ow; j += DL_VF_LEN) {
            vf acc = vf_set1(init);
            for (int64_t r = 0; r < R; r++) {
                const float *brow = buf + (i + r * dh) * bw + j;
                const float *wr = wk + r * S;
                for (int64_t s = 0; s < S; s++)
                    acc = vf_fma(vf_set1(wr[s]), vf_loadu(brow + s * dw), acc);
            }
            if (j + DL_VF_LEN <= ow) {
                if (accumulate) acc = vf_add(vf_loadu(orow + j), acc);
                vf_storeu(orow + j, acc);
            } else {
                /* the last, partial vector: lanes past ow are computed and dropped */
                vf_storeu(tmp, acc);
                for (int64_t q = 0; q < ow - j; q++)
                    orow[j + q] = accumulate ? orow[j + q] + tmp[q] : tmp[q];
            }
        }
    }
}

/* gw[r*S+s] += sum_{i<oh, j<ow} gy[i*ldg + j] * buf[(i+r*dh)*bw + j+s*dw]; gy rows hold at
 * least roundup(ow, 16) readable elements (the caller pads them). */
static void dw_wgrad_s1(const float *buf, int64_t bw, const float *gy, int64_t ldg,
                        int64_t oh, int64_t ow, int64_t R, int64_t S, int64_t dh,
                        int64_t dw, float *gw)
{
    static const float iota[16] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};
    const int64_t full = ow - ow % DL_VF_LEN, rest = ow - full;
    /* the band's columns past ow may hold real inputs (even inf) that must not meet the
     * padding of a partial gradient vector: the tail product is masked, not just zero-padded */
    const vf lane = vf_loadu(iota), limit = vf_set1((float)rest);
    for (int64_t r = 0; r < R; r++) {
        for (int64_t s = 0; s < S; s++) {
            vf acc = vf_zero();
            for (int64_t i = 0; i < oh; i++) {
                const float *grow = gy + i * ldg;
                const float *brow = buf + (i + r * dh) * bw + s * dw;
                for (int64_t j = 0; j < full; j += DL_VF_LEN)
                    acc = vf_fma(vf_loadu(grow + j), vf_loadu(brow + j), acc);
                if (rest) {
                    vf prod = vf_mul(vf_loadu(grow + full), vf_loadu(brow + full));
                    acc = vf_add(acc, vf_select_lt(lane, limit, prod, vf_zero()));
                }
            }
            gw[r * S + s] += vf_reduce_add(acc);
        }
    }
}

const conv_kernels_t DL_ISA_FN(conv_kernels) = {
    im2col, col2im, dw_rows_s1, dw_wgrad_s1, im2col_image, col2im_image,
    DL_ISA_FN(dl_conv_dw_same_fwd), DL_ISA_FN(dl_conv_dw_same_bwd_data),
    DL_ISA_FN(dl_conv_dw3_wgrad_plane)};
