/* The int8 GEMM family's kernels for one ISA (compiled once per ISA; see qgemm_kernels.h):
 * the portable integer tile (AVX2, AVX-512 without VNNI, or plain C), the dequantize epilogue
 * and the activation quantizer.
 *
 * The AVX2 tile (qgemm_tile_s16.h) widens both operands to 16 bits for vpmaddwd.  The AVX-512
 * table's tile, for CPUs without vpdpbusd, is the older byte-split one: vpmaddubsw multiplies
 * u8 by s8 and adds pairs into a saturating s16, and 255 * -128 * 2 = -65280 does not fit, so
 * it splits each activation byte as a = lo + 128 hi (lo < 128, hi in {0, 1}): lo pairs reach
 * at most 127 * 128 * 2 = 32512 and hi pairs 256, so both vpmaddubsw are exact, and vpmaddwd
 * by 1 and by 128 widens and recombines them in 32 bits.  Every path gives the same integer
 * sums.  The AVX2 table also has the 7-bit tile (qgemm_tile_u7.h) for activations quantized to
 * 0..127 (reduce_range). */
#include <math.h>
#include <string.h>
#include "simd.h"
#include "panel_tile.h"
#include "gemm_gelu.h"
#include "qrequant.h"
#include "dlcore/qgemm.h"
#include "qgemm_kernels.h"
#if defined(__AVX2__)
#include <immintrin.h>
#endif

#if defined(__AVX512F__)
/* the AVX-512 table without VNNI keeps the byte-split tile (not run on the AVX2 machines this
 * was last changed on); the AVX2 one is qgemm_tile_s16.h */
#define QG_MR 4
static inline __attribute__((always_inline)) void
panel_fixed(const size_t MR, size_t Kp, const uint8_t *A, size_t lda, const int8_t *B,
            int32_t *C, int accumulate)
{
    const __m256i lo_mask = _mm256_set1_epi8(0x7f), one8 = _mm256_set1_epi8(1);
    const __m256i ones = _mm256_set1_epi16(1), c128 = _mm256_set1_epi16(128);
    __m256i acc[QG_MR][2];
    for (size_t i = 0; i < MR; i++)
        for (size_t h = 0; h < 2; h++)
            acc[i][h] = accumulate ? _mm256_loadu_si256((const __m256i *)(C + i * QG_LDC + 8 * h))
                                   : _mm256_setzero_si256();
    for (size_t kg = 0; kg < Kp / 4; kg++) {
        __m256i b0 = _mm256_loadu_si256((const __m256i *)(B + kg * 64));
        __m256i b1 = _mm256_loadu_si256((const __m256i *)(B + kg * 64 + 32));
        for (size_t i = 0; i < MR; i++) {
            int32_t a4;
            memcpy(&a4, A + i * lda + kg * 4, 4);
            __m256i a = _mm256_set1_epi32(a4);
            __m256i alo = _mm256_and_si256(a, lo_mask);
            __m256i ahi = _mm256_and_si256(_mm256_srli_epi16(a, 7), one8);
            __m256i t0 = _mm256_maddubs_epi16(alo, b0), u0 = _mm256_maddubs_epi16(ahi, b0);
            __m256i t1 = _mm256_maddubs_epi16(alo, b1), u1 = _mm256_maddubs_epi16(ahi, b1);
            acc[i][0] = _mm256_add_epi32(acc[i][0], _mm256_add_epi32(
                _mm256_madd_epi16(t0, ones), _mm256_madd_epi16(u0, c128)));
            acc[i][1] = _mm256_add_epi32(acc[i][1], _mm256_add_epi32(
                _mm256_madd_epi16(t1, ones), _mm256_madd_epi16(u1, c128)));
        }
    }
    for (size_t i = 0; i < MR; i++) {
        _mm256_storeu_si256((__m256i *)(C + i * QG_LDC), acc[i][0]);
        _mm256_storeu_si256((__m256i *)(C + i * QG_LDC + 8), acc[i][1]);
    }
}

DL_PANEL_TILE(tile, panel_fixed, uint8_t, int8_t, int32_t, QG_NR)
#elif defined(__AVX2__)
#define QG_MR 6
#include "qgemm_tile_s16.h"
#include "qgemm_tile_u7.h"
#else
#define QG_MR 4
static void tile(size_t mr, size_t nv, size_t Kp, const uint8_t *A, size_t lda,
                 const int8_t *B, size_t pstride, int32_t *C, int accumulate)
{
    for (size_t i = 0; i < mr; i++)
        for (size_t v = 0; v < nv; v++) {
            int32_t acc[QG_NR] = {0};
            if (accumulate) memcpy(acc, C + i * QG_LDC + v * QG_NR, sizeof acc);
            const int8_t *Bv = B + v * pstride;
            for (size_t kg = 0; kg < Kp / 4; kg++)
                for (size_t j = 0; j < QG_NR; j++)
                    for (size_t t = 0; t < 4; t++)
                        acc[j] += (int32_t)A[i * lda + kg * 4 + t] * Bv[kg * 64 + j * 4 + t];
            memcpy(C + i * QG_LDC + v * QG_NR, acc, sizeof acc);
        }
}
#endif

static void epilogue(size_t n, const int32_t *acc, float a_scale, int32_t a_zp,
                     const float *w_scale, const int32_t *colsum, const float *bias, int act,
                     float *out, uint8_t *out_u8, float inv_out_scale, int32_t out_zp,
                     int32_t out_max)
{
#ifndef DL_VF_SCALAR
    if (out_u8 && act != DL_QACT_GELU) {
        /* one pass over whole vectors: dequantize, bias, relu, requantize to u8 (the float row
         * is never stored); the lanes past the last whole vector take the loops below */
        const vf as = vf_set1(a_scale), inv = vf_set1(inv_out_scale), zero = vf_zero();
        size_t j = 0;
#if defined(__AVX512F__)
        const __m512i za = _mm512_set1_epi32(a_zp), zo = _mm512_set1_epi32(out_zp);
        const __m512i lo = _mm512_setzero_si512(), hi = _mm512_set1_epi32(out_max);
        for (; j + DL_VF_LEN <= n; j += DL_VF_LEN) {
            const __m512i t = _mm512_sub_epi32(
                _mm512_loadu_si512(acc + j),
                _mm512_mullo_epi32(za, _mm512_loadu_si512(colsum + j)));
            vf sc = vf_mul(as, vf_loadu(w_scale + j));
            vf v = vf_from_int(t);
            v = bias ? vf_fma(v, sc, vf_loadu(bias + j)) : vf_mul(v, sc);
            if (act == DL_QACT_RELU) v = vf_max(zero, v);                  /* NaN stays */
            dl_requant_store16(out_u8 + j, vf_mul(v, inv), zo, lo, hi);     /* NaN -> 0 */
        }
#else
        int32_t t[QG_LDC];
        #pragma omp simd
        for (size_t jj = 0; jj < n; jj++) t[jj] = acc[jj] - a_zp * colsum[jj];
#if defined(__AVX2__)
        const __m256i zo = _mm256_set1_epi32(out_zp), lo = _mm256_setzero_si256();
        const __m256i hi = _mm256_set1_epi32(out_max);
#else
        const vf fz = vf_set1((float)out_zp), top = vf_set1((float)out_max);
#endif
        for (; j + DL_VF_LEN <= n; j += DL_VF_LEN) {
            vf sc = vf_mul(as, vf_loadu(w_scale + j));
            vf v = vf_from_int(vf_bits(vf_loadu((const float *)(t + j))));
            v = bias ? vf_fma(v, sc, vf_loadu(bias + j)) : vf_mul(v, sc);
            if (act == DL_QACT_RELU) v = vf_max(zero, v);                  /* NaN stays */
#if defined(__AVX2__)
            dl_requant_store8(out_u8 + j, vf_mul(v, inv), zo, lo, hi);      /* NaN -> 0 */
#else
            vf q = vf_min(top, vf_add(vf_roundf(vf_mul(v, inv)), fz));
            vf_store_u8(out_u8 + j, vf_select_ge(q, zero, q, zero));        /* NaN -> 0 */
#endif
        }
#endif
        if (j == n) return;
        acc += j;
        colsum += j;
        w_scale += j;
        bias = bias ? bias + j : NULL;
        out_u8 += j;
        n -= j;
    }
#if defined(__AVX512F__)
    if (!out_u8 && act == DL_QACT_GELU) {
        /* GELU on the dequantized vector in registers, stored once: as a second pass over the
         * stored row it cost more than the act kernel's separate pass (FFN 128x384->1536:
         * 0.22 ms against 0.16 over the plain GEMM) */
        const vf as = vf_set1(a_scale);
        const __m512i za = _mm512_set1_epi32(a_zp);
        size_t j = 0;
        for (; j + DL_VF_LEN <= n; j += DL_VF_LEN) {
            const __m512i t = _mm512_sub_epi32(
                _mm512_loadu_si512(acc + j),
                _mm512_mullo_epi32(za, _mm512_loadu_si512(colsum + j)));
            vf sc = vf_mul(as, vf_loadu(w_scale + j));
            vf v = vf_from_int(t);
            v = bias ? vf_fma(v, sc, vf_loadu(bias + j)) : vf_mul(v, sc);
            vf_storeu(out + j, dl_gelu_vf(v));
        }
        if (j == n) return;
        acc += j;
        colsum += j;
        w_scale += j;
        bias = bias ? bias + j : NULL;
        out += j;
        n -= j;
    }
#endif
#if defined(__AVX2__) && !defined(__AVX512F__)
    if (!out_u8) {
        /* the float row on AVX2 in one pass: dequantize, bias and activation in registers,
         * stored once; GELU four vectors at a time (each is one long dependency chain).  The
         * loops below stored the row, then read it back for GELU: 1.4x this GELU's time */
        const vf as = vf_set1(a_scale);
        const __m256i za = _mm256_set1_epi32(a_zp);
        size_t j = 0;
        for (; j + 4 * DL_VF_LEN <= n; j += 4 * DL_VF_LEN) {
            vf v[4];
            for (size_t u = 0; u < 4; u++) {
                const size_t c = j + u * DL_VF_LEN;
                const __m256i t = _mm256_sub_epi32(
                    _mm256_loadu_si256((const __m256i *)(acc + c)),
                    _mm256_mullo_epi32(za, _mm256_loadu_si256((const __m256i *)(colsum + c))));
                vf sc = vf_mul(as, vf_loadu(w_scale + c));
                v[u] = vf_from_int(t);
                v[u] = bias ? vf_fma(v[u], sc, vf_loadu(bias + c)) : vf_mul(v[u], sc);
            }
            for (size_t u = 0; u < 4; u++) {
                if (act == DL_QACT_RELU) v[u] = vf_max(vf_zero(), v[u]);     /* NaN stays */
                else if (act == DL_QACT_GELU) v[u] = dl_gelu_vf(v[u]);
                vf_storeu(out + j + u * DL_VF_LEN, v[u]);
            }
        }
        if (j == n) return;
        acc += j;
        colsum += j;
        w_scale += j;
        bias = bias ? bias + j : NULL;
        out += j;
        n -= j;
    }
#endif
#endif
    float buf[QG_LDC];
    float *y = out_u8 ? buf : out;
    #pragma omp simd
    for (size_t j = 0; j < n; j++) {
        float v = (float)(acc[j] - a_zp * colsum[j]) * (a_scale * w_scale[j]);
        y[j] = bias ? v + bias[j] : v;
    }
    if (act == DL_QACT_RELU) {
        #pragma omp simd
        for (size_t j = 0; j < n; j++) y[j] = y[j] < 0.0f ? 0.0f : y[j];  /* NaN stays */
    } else if (act == DL_QACT_GELU) {
        dl_gelu_row(y, n);
    }
    if (out_u8) {
        const float top = (float)out_max;
        #pragma omp simd
        for (size_t j = 0; j < n; j++) {
            float q = rintf(y[j] * inv_out_scale) + (float)out_zp;
            q = q > top ? top : q;
            q = q >= 0.0f ? q : 0.0f;      /* NaN -> 0: a u8 has no NaN */
            out_u8[j] = (uint8_t)(int32_t)q;
        }
    }
}

/* The u8 epilogue with one activation scale and zero point for every row (a static model's
 * convolutions): what epilogue() computes, the constants folded per column by the driver
 * (qgemm.c, qgemm_fold_t): q = clamp(rint(max(floor, (acc - zcs) fs + fo)), 0, out_max), zcs
 * = a_zp colsum, fs = a_scale w_scale / out_scale, fo = bias / out_scale + out_zp, floor the
 * zero point under ReLU, else -inf.  Half epilogue()'s operations per output (no vpmulld, no
 * second multiply, no zero-point add); the same codes but for a float rounding that may move a
 * tie by one code.  NaN -> 0 as there. */
static void epilogue_u8(size_t n, const int32_t *acc, const int32_t *zcs, const float *fs,
                        const float *fo, float floor, int32_t out_max, uint8_t *out)
{
    size_t j = 0;
#if defined(__AVX512F__)
    const __m512 fl = _mm512_set1_ps(floor), cap = _mm512_set1_ps(1073741824.0f);
    const __m512i lo = _mm512_setzero_si512(), hi = _mm512_set1_epi32(out_max);
    for (; j + 16 <= n; j += 16) {
        const __m512i t = _mm512_sub_epi32(_mm512_loadu_si512(acc + j),
                                           _mm512_loadu_si512(zcs + j));
        __m512 v = _mm512_fmadd_ps(_mm512_cvtepi32_ps(t), _mm512_loadu_ps(fs + j),
                                   _mm512_loadu_ps(fo + j));
        v = _mm512_min_ps(cap, _mm512_max_ps(fl, v));        /* NaN stays NaN */
        const __m512i r = _mm512_min_epi32(_mm512_max_epi32(_mm512_cvtps_epi32(v), lo), hi);
        _mm_storeu_si128((__m128i *)(out + j), _mm512_cvtusepi32_epi8(r));
    }
#elif defined(__AVX2__)
    const __m256 fl = _mm256_set1_ps(floor), cap = _mm256_set1_ps(1073741824.0f);
    const __m256i lo = _mm256_setzero_si256(), hi = _mm256_set1_epi32(out_max);
    const __m256i order = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
    for (; j + 8 <= n; j += 8) {
        __m256i r[2];
        const size_t nh = j + 16 <= n ? 2 : 1;
        for (size_t h = 0; h < nh; h++) {
            const size_t c = j + 8 * h;
            const __m256i t = _mm256_sub_epi32(_mm256_loadu_si256((const __m256i *)(acc + c)),
                                               _mm256_loadu_si256((const __m256i *)(zcs + c)));
            __m256 v = _mm256_fmadd_ps(_mm256_cvtepi32_ps(t), _mm256_loadu_ps(fs + c),
                                       _mm256_loadu_ps(fo + c));
            /* max(fl, v) keeps a NaN v (its second operand); the cap keeps a huge v from
             * converting to INT_MIN; cvtps2dq rounds to nearest even as rintf does; NaN
             * converts to INT_MIN and the max takes it to 0 */
            v = _mm256_min_ps(cap, _mm256_max_ps(fl, v));
            r[h] = _mm256_min_epi32(_mm256_max_epi32(_mm256_cvtps_epi32(v), lo), hi);
        }
        if (nh == 2) {
            /* 16 codes: the packs interleave the two vectors' 4-lane halves, the dword
             * permute puts them back in column order */
            const __m256i p = _mm256_packus_epi16(_mm256_packs_epi32(r[0], r[1]), lo);
            _mm_storeu_si128((__m128i *)(out + j), _mm256_castsi256_si128(
                _mm256_permutevar8x32_epi32(p, order)));
            j += 8;
        } else {
            const __m256i p = _mm256_packus_epi16(_mm256_packs_epi32(r[0], r[0]), lo);
            _mm_storel_epi64((__m128i *)(out + j), _mm256_castsi256_si128(
                _mm256_permutevar8x32_epi32(p, order)));
        }
    }
#endif
    const float top = (float)out_max;
    for (; j < n; j++) {
        float v = (float)(acc[j] - zcs[j]) * fs[j] + fo[j];
        v = v < floor ? floor : v;          /* NaN stays */
        float q = rintf(v);
        q = q > top ? top : q;
        q = q >= 0.0f ? q : 0.0f;           /* NaN -> 0 */
        out[j] = (uint8_t)(int32_t)q;
    }
}

static void minmax(size_t n, const float *x, float *mn_out, float *mx_out, int *nonfinite)
{
    vf mn = vf_set1(INFINITY), mx = vf_set1(-INFINITY), z = vf_zero();
    size_t i = 0;
    for (; i + DL_VF_LEN <= n; i += DL_VF_LEN) {
        vf v = vf_loadu(x + i);
        mn = vf_min(mn, v);
        mx = vf_max(mx, v);
        z = vf_add(z, vf_mul(v, vf_zero()));      /* NaN for NaN or Inf */
    }
    float lo = -vf_reduce_max(vf_sub(vf_zero(), mn)), hi = vf_reduce_max(mx);
    float zs = vf_reduce_add(z);
    for (; i < n; i++) {
        lo = x[i] < lo ? x[i] : lo;
        hi = x[i] > hi ? x[i] : hi;
        zs += x[i] * 0.0f;
    }
    *mn_out = lo;
    *mx_out = hi;
    *nonfinite = zs != zs;
}

static void quantize(size_t n, const float *x, float inv_scale, int32_t zp, float qmax,
                     uint8_t *q)
{
    const float fz = (float)zp;
    #pragma omp simd
    for (size_t i = 0; i < n; i++) {
        float v = rintf(x[i] * inv_scale) + fz;
        v = v > qmax ? qmax : v;
        v = v >= 0.0f ? v : 0.0f;
        q[i] = (uint8_t)(int32_t)v;
    }
}

const qgemm_kernels_t DL_ISA_FN(qgemm_kernels) = {
    .tile = tile,
#if defined(__AVX512F__)
    .tile_vnni = qgemm_tile_vnni,
    .tile_amx = qgemm_tile_amx,
#else
    .tile_vnni = NULL,
    .tile_amx = NULL,
#endif
#if defined(__AVX2__) && !defined(__AVX512F__)
    .tile_u7 = tile_u7,
    .mr_u7 = QG_MR_U7,
#else
    .tile_u7 = NULL,
    .mr_u7 = 0,
#endif
    .mr_max = QG_MR,
    .epilogue = epilogue,
    .epilogue_u8 = epilogue_u8,
    .minmax = minmax,
    .quantize = quantize,
};
