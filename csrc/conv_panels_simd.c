/* conv_panels_kernels.h's packing copy, one copy per ISA: each run goes straight to its
 * place in the panels (on AVX-512 a run of up to 16 values at stride 1 or 2 is one or two
 * masked loads, a permute for stride 2 and one masked store), cut in two where it crosses
 * from one panel into the next.  Measured on Zen 4, for the 4x4 stride-2 convolution of
 * 32 channels at 7x7 outputs: gathering every value with vgatherdps cost more than the
 * im2col and packing passes it was to replace, and building each row in a buffer first
 * (then cut into panels) stalled its loads on the masked stores just made. */
#include "simd.h"
#include "conv_panels_kernels.h"

/* the widest panel of any ISA's GEMM (gemm_kernels.h's NR) */
enum { DL_PANEL_MAX_NR = 32 };

static inline size_t min_sz(size_t a, size_t b) { return a < b ? a : b; }

/* d[v] = s[v*step] for v < L */
static inline void copy_run(float *d, const float *s, int64_t L, int64_t step)
{
#if defined(__AVX512F__)
    if (L == 4 && step == 1) {
        _mm_storeu_ps(d, _mm_loadu_ps(s));
        return;
    }
    if (step == 1 || step == 2) {
        const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24,
                                               26, 28, 30);
        for (int64_t v = 0; v < L; v += 16) {
            const int64_t m = L - v < 16 ? L - v : 16, span = (m - 1) * step + 1;
            const float *src = s + v * step;
            const __mmask16 lo = (__mmask16)(span >= 16 ? 0xFFFFu : (1u << span) - 1u);
            __m512 a = _mm512_maskz_loadu_ps(lo, src);
            if (step == 2) {
                const __mmask16 hi = (__mmask16)(span > 16 ? (1u << (span - 16)) - 1u : 0u);
                a = _mm512_permutex2var_ps(a, even, _mm512_maskz_loadu_ps(hi, src + 16));
            }
            _mm512_mask_storeu_ps(d + v, (__mmask16)(m >= 16 ? 0xFFFFu : (1u << m) - 1u), a);
        }
        return;
    }
#endif
    for (int64_t v = 0; v < L; v++) d[v] = s[v * step];
}

#if defined(__AVX512F__)
/* Runs of 4 contiguous values (a 4-wide kernel row, dilation 1) into whole 32-wide panels:
 * a panel row is 8 runs, two registers of four 128-bit loads each, and the runs' offsets stay
 * in registers down the panel (the general loop's bookkeeping per run cost ~11 cycles for
 * 4 values). */
static void quads_to_panels(const conv_panel_src *s, size_t k0, size_t kc, size_t u0,
                            size_t panels, float *dst)
{
    for (size_t q = 0; q < panels; q++) {
        const int32_t *o = s->run_off + u0 + q * 8;
        const int64_t o0 = o[0], o1 = o[1], o2 = o[2], o3 = o[3], o4 = o[4], o5 = o[5],
                      o6 = o[6], o7 = o[7];
        float *d = dst + q * 32 * kc;
        for (size_t k = 0; k < kc; k++, d += 32) {
            const float *b = s->xp + s->row_off[k0 + k];
            __m512 a = _mm512_castps128_ps512(_mm_loadu_ps(b + o0));
            __m512 c = _mm512_castps128_ps512(_mm_loadu_ps(b + o4));
            a = _mm512_insertf32x4(a, _mm_loadu_ps(b + o1), 1);
            c = _mm512_insertf32x4(c, _mm_loadu_ps(b + o5), 1);
            a = _mm512_insertf32x4(a, _mm_loadu_ps(b + o2), 2);
            c = _mm512_insertf32x4(c, _mm_loadu_ps(b + o6), 2);
            a = _mm512_insertf32x4(a, _mm_loadu_ps(b + o3), 3);
            c = _mm512_insertf32x4(c, _mm_loadu_ps(b + o7), 3);
            _mm512_storeu_ps(d, a);
            _mm512_storeu_ps(d + 16, c);
        }
    }
}
#endif

#if defined(__AVX2__) && !defined(__AVX512F__)
/* AVX2's panels are 16 wide: a panel row is 4 runs of 4 contiguous values, two registers of
 * two 128-bit loads each, the runs' offsets in registers down the panel (the general loop
 * copied them one value at a time: the 4x4 stride-2 weight gradient 32 -> 64 channels spent
 * a third as long packing as in its GEMM). */
static void quads_to_panels16(const conv_panel_src *s, size_t k0, size_t kc, size_t u0,
                              size_t panels, float *dst)
{
    for (size_t q = 0; q < panels; q++) {
        const int32_t *o = s->run_off + u0 + q * 4;
        const int64_t o0 = o[0], o1 = o[1], o2 = o[2], o3 = o[3];
        float *d = dst + q * 16 * kc;
        for (size_t k = 0; k < kc; k++, d += 16) {
            const float *b = s->xp + s->row_off[k0 + k];
            const __m256 a = _mm256_insertf128_ps(_mm256_castps128_ps256(_mm_loadu_ps(b + o0)),
                                                  _mm_loadu_ps(b + o1), 1);
            const __m256 c = _mm256_insertf128_ps(_mm256_castps128_ps256(_mm_loadu_ps(b + o2)),
                                                  _mm_loadu_ps(b + o3), 1);
            _mm256_storeu_ps(d, a);
            _mm256_storeu_ps(d + 8, c);
        }
    }
}
#endif

#if defined(__AVX2__) && !defined(__AVX512F__)
#include "simd_lanes.h"
/* One panel's rows from pieces at stride 1 or 2 (as pieces_to_panel below), a whole vector of
 * 8 values at a time: a vector that runs past its piece is stored whole when it stays inside
 * the panel row (the pieces after it, and the zeros past w, overwrite the rest), else in
 * pieces (a masked store is microcoded on Zen).  Stride 2 loads 16 values and keeps the even
 * ones.  Reads up to 16 values past a piece's last one (the caller's slack). */
static void pieces_to_panel8(const conv_panel_src *s, size_t k0, size_t kc, const int64_t *off,
                             const size_t *at, const size_t *len, size_t pieces, size_t w,
                             size_t nr, float *d)
{
    const int64_t step = s->step;
    for (size_t k = 0; k < kc; k++, d += nr) {
        const float *b = s->xp + s->row_off[k0 + k];
        for (size_t i = 0; i < pieces; i++) {
            const float *src = b + off[i];
            for (size_t v = 0; v < len[i]; v += DL_VF_LEN) {
                vf a;
                if (step == 1) {
                    a = vf_loadu(src + v);
                } else {
                    vf a2[2], o[2];
                    a2[0] = vf_loadu(src + 2 * v);
                    a2[1] = vf_loadu(src + 2 * v + DL_VF_LEN);
                    vf_deinterleave2(a2, o);
                    a = o[0];
                }
                const size_t lane = at[i] + v;
                if (lane + DL_VF_LEN <= nr)
                    vf_storeu(d + lane, a);
                else
                    vf_store_part(d + lane, a, len[i] - v < DL_VF_LEN ? len[i] - v : DL_VF_LEN);
            }
        }
        for (size_t i = w; i < nr; i++) d[i] = 0.0f;
    }
}
#endif

#if defined(__AVX512F__)
/* One panel's rows from pieces of at most 16 values at stride 1 or 2 (off, at, len: source
 * offset from the row's base, lane, length), their masks made once for the whole panel; lanes
 * w .. nr-1 are zero. */
static void pieces_to_panel(const conv_panel_src *s, size_t k0, size_t kc, const int64_t *off,
                            const size_t *at, const size_t *len, size_t pieces, size_t w,
                            size_t nr, float *d)
{
    const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26,
                                           28, 30);
    const int64_t step = s->step;
    __mmask16 lo[DL_PANEL_MAX_NR], hi[DL_PANEL_MAX_NR], out[DL_PANEL_MAX_NR];
    for (size_t i = 0; i < pieces; i++) {
        const size_t span = (len[i] - 1) * (size_t)step + 1;
        lo[i] = (__mmask16)(span >= 16 ? 0xFFFFu : (1u << span) - 1u);
        hi[i] = (__mmask16)(span > 16 ? (1u << (span - 16)) - 1u : 0u);
        out[i] = (__mmask16)(len[i] >= 16 ? 0xFFFFu : (1u << len[i]) - 1u);
    }
    for (size_t k = 0; k < kc; k++, d += nr) {
        const float *b = s->xp + s->row_off[k0 + k];
        for (size_t i = 0; i < pieces; i++) {
            __m512 a = _mm512_maskz_loadu_ps(lo[i], b + off[i]);
            if (step == 2)
                a = hi[i] ? _mm512_permutex2var_ps(a, even,
                                                   _mm512_maskz_loadu_ps(hi[i], b + off[i] + 16))
                          : _mm512_permutexvar_ps(even, a);
            _mm512_mask_storeu_ps(d + at[i], out[i], a);
        }
        for (size_t i = w; i < nr; i++) d[i] = 0.0f;
    }
}
#endif

static void pack_rows(const void *ctx, size_t k0, size_t kc, size_t j0, size_t n, size_t nr,
                      float *dst)
{
    const conv_panel_src *s = (const conv_panel_src *)ctx;
    const size_t L = (size_t)s->L;
#if defined(__AVX512F__)
    if (L == 4 && s->step == 1 && nr == 32 && j0 % 4 == 0 && n % 32 == 0) {
        quads_to_panels(s, k0, kc, j0 / 4, n / 32, dst);
        return;
    }
#elif defined(__AVX2__)
    if (L == 4 && s->step == 1 && nr == 16 && j0 % 4 == 0 && n >= 16) {
        /* whole panels by quads, a last partial one by the loop below */
        const size_t full = n / 16;
        quads_to_panels16(s, k0, kc, j0 / 4, full, dst);
        if (n % 16 == 0) return;
        dst += full * 16 * kc;
        j0 += full * 16;
        n -= full * 16;
    }
#endif
    /* panel by panel: the runs' pieces that fall into a panel (their source offsets from the
     * row's base, lanes and lengths) are the same on every row, so they are worked out once
     * per panel and each row is then only the copies */
    int64_t off[DL_PANEL_MAX_NR];
    size_t at[DL_PANEL_MAX_NR], len[DL_PANEL_MAX_NR];
    for (size_t q = 0; q * nr < n; q++) {
        const size_t c0 = j0 + q * nr, c1 = c0 + (n - q * nr < nr ? n - q * nr : nr);
        size_t pieces = 0;
        for (size_t c = c0; c < c1;) {
            const size_t u = c / L, v = c - u * L;
            const size_t m = L - v < c1 - c ? L - v : c1 - c;
            off[pieces] = s->run_off[u] + (int64_t)v * s->step;
            at[pieces] = c - c0;
            len[pieces++] = m;
            c += m;
        }
        float *d = dst + q * nr * kc;
        const size_t w = c1 - c0;
#if defined(__AVX512F__)
        if ((s->step == 1 || s->step == 2) && L <= 16) {
            pieces_to_panel(s, k0, kc, off, at, len, pieces, w, nr, d);
            continue;
        }
#elif defined(__AVX2__)
        if ((s->step == 1 || s->step == 2) && s->vec_slack) {
            pieces_to_panel8(s, k0, kc, off, at, len, pieces, w, nr, d);
            continue;
        }
#endif
        for (size_t k = 0; k < kc; k++, d += nr) {
            const float *b = s->xp + s->row_off[k0 + k];
            for (size_t i = 0; i < pieces; i++) copy_run(d + at[i], b + off[i], (int64_t)len[i], s->step);
            for (size_t i = w; i < nr; i++) d[i] = 0.0f;
        }
    }
}

static void pad_planes(const float *x, int64_t C, int64_t H, int64_t W, int64_t ph, int64_t pw,
                       int64_t Hp, int64_t Wp, float *xp)
{
    /* x's columns land on xp's [j0, j1), its rows on [i0, i1) */
    const int64_t j0 = pw < Wp ? pw : Wp, j1 = pw + W < Wp ? pw + W : Wp;
    const int64_t i0 = ph < Hp ? ph : Hp, i1 = ph + H < Hp ? ph + H : Hp;
    for (int64_t c = 0; c < C; c++) {
        const float *xc = x + c * H * W;
        float *d = xp + c * Hp * Wp;
#if defined(__AVX512F__)
        if (Wp <= 16) {
            /* a row is one masked load of x's columns (the other lanes are not read) and one
             * masked store */
            const __mmask16 row = (__mmask16)((1u << Wp) - 1u);
            const __mmask16 in = (__mmask16)(((1u << j1) - 1u) & ~((1u << j0) - 1u));
            for (int64_t i = 0; i < Hp; i++, d += Wp) {
                const __m512 v = i < i0 || i >= i1
                                     ? _mm512_setzero_ps()
                                     : _mm512_maskz_loadu_ps(in, xc + (i - ph) * W - pw);
                _mm512_mask_storeu_ps(d, row, v);
            }
            continue;
        }
#endif
        for (int64_t i = 0; i < Hp; i++, d += Wp) {
            if (i < i0 || i >= i1 || j1 <= j0) {
                memset(d, 0, (size_t)Wp * sizeof(float));
                continue;
            }
            const float *sr = xc + (i - ph) * W - pw;
            int64_t j = 0;
            for (; j < j0; j++) d[j] = 0.0f;
            for (; j < j1; j++) d[j] = sr[j];
            for (; j < Wp; j++) d[j] = 0.0f;
        }
    }
}

const conv_panels_kernels_t DL_ISA_FN(conv_panels_kernels) = {pack_rows, pad_planes};
