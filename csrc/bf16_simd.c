/* The 16-bit float family's kernels for one ISA (compiled once per ISA; see bf16_kernels.h):
 * the portable bf16 tile, the bias/activation epilogue and the conversions.
 *
 * A bf16 is the top half of a float32, so widening is a 16-bit shift: the AVX2 tile reads a
 * packed pair as one 32-bit lane and makes the even element (low half) by a shift and the odd
 * one (high half) by a mask, then runs two float32 FMAs. */
#include <math.h>
#include <string.h>
#include "simd.h"
#include "panel_tile.h"
#include "gemm_gelu.h"
#include "dlcore/qgemm.h"
#include "bf16_kernels.h"
#include "half_scalar.h"
#if defined(__AVX2__)
#include <immintrin.h>
#endif

#define BF_MR 4

#if defined(__AVX2__)
static inline __attribute__((always_inline)) void
panel_fixed(const size_t MR, size_t K, const uint16_t *A, size_t lda, const uint16_t *B,
            float *C, int accumulate)
{
    const __m256i hi = _mm256_set1_epi32((int32_t)0xffff0000u);
    __m256 acc[BF_MR][2];
    for (size_t i = 0; i < MR; i++)
        for (size_t h = 0; h < 2; h++)
            acc[i][h] = accumulate ? _mm256_loadu_ps(C + i * BF_LDC + 8 * h) : _mm256_setzero_ps();
    const size_t kp_full = K / 2, kp_all = (K + 1) / 2;
    for (size_t kp = 0; kp < kp_all; kp++) {
        __m256i b0 = _mm256_loadu_si256((const __m256i *)(B + kp * 32));
        __m256i b1 = _mm256_loadu_si256((const __m256i *)(B + kp * 32 + 16));
        __m256 b0e = _mm256_castsi256_ps(_mm256_slli_epi32(b0, 16));
        __m256 b0o = _mm256_castsi256_ps(_mm256_and_si256(b0, hi));
        __m256 b1e = _mm256_castsi256_ps(_mm256_slli_epi32(b1, 16));
        __m256 b1o = _mm256_castsi256_ps(_mm256_and_si256(b1, hi));
        for (size_t i = 0; i < MR; i++) {
            int32_t a2;
            if (kp < kp_full) memcpy(&a2, A + i * lda + 2 * kp, 4);
            else a2 = A[i * lda + 2 * kp];
            __m256 ae = _mm256_castsi256_ps(_mm256_set1_epi32((int32_t)((uint32_t)a2 << 16)));
            __m256 ao = _mm256_castsi256_ps(_mm256_set1_epi32((int32_t)((uint32_t)a2 & 0xffff0000u)));
            acc[i][0] = _mm256_fmadd_ps(ao, b0o, _mm256_fmadd_ps(ae, b0e, acc[i][0]));
            acc[i][1] = _mm256_fmadd_ps(ao, b1o, _mm256_fmadd_ps(ae, b1e, acc[i][1]));
        }
    }
    for (size_t i = 0; i < MR; i++) {
        _mm256_storeu_ps(C + i * BF_LDC, acc[i][0]);
        _mm256_storeu_ps(C + i * BF_LDC + 8, acc[i][1]);
    }
}

DL_PANEL_TILE(tile, panel_fixed, uint16_t, uint16_t, float, BF_NR)
#else
static inline float widen(uint16_t h)
{
    uint32_t b = (uint32_t)h << 16;
    float f;
    memcpy(&f, &b, 4);
    return f;
}

static void tile(size_t mr, size_t nv, size_t K, const uint16_t *A, size_t lda,
                 const uint16_t *B, size_t pstride, float *C, int accumulate)
{
    for (size_t i = 0; i < mr; i++)
        for (size_t v = 0; v < nv; v++) {
            float acc[BF_NR] = {0};
            if (accumulate) memcpy(acc, C + i * BF_LDC + v * BF_NR, sizeof acc);
            const uint16_t *Bv = B + v * pstride;
            for (size_t k = 0; k < K; k++) {
                float a = widen(A[i * lda + k]);
                for (size_t j = 0; j < BF_NR; j++)
                    acc[j] += a * widen(Bv[k / 2 * 32 + j * 2 + k % 2]);
            }
            memcpy(C + i * BF_LDC + v * BF_NR, acc, sizeof acc);
        }
}
#endif

static void epilogue(size_t n, const float *c, const float *bias, int act, float *out)
{
    #pragma omp simd
    for (size_t j = 0; j < n; j++) out[j] = bias ? c[j] + bias[j] : c[j];
    if (act == DL_QACT_RELU) {
        #pragma omp simd
        for (size_t j = 0; j < n; j++) out[j] = out[j] < 0.0f ? 0.0f : out[j];
    } else if (act == DL_QACT_GELU) {
        dl_gelu_row(out, n);
    }
}

/* round to nearest even on the bits; NaN made quiet, sign and top payload kept */
static void to_bf16(size_t n, const float *x, uint16_t *y)
{
    #pragma omp simd
    for (size_t i = 0; i < n; i++) {
        uint32_t b;
        memcpy(&b, x + i, 4);
        uint32_t r = b + 0x7fffu + ((b >> 16) & 1u);
        y[i] = (uint16_t)((b & 0x7fffffffu) > 0x7f800000u ? (b >> 16) | 0x40u : r >> 16);
    }
}

static void from_bf16(size_t n, const uint16_t *x, float *y)
{
    #pragma omp simd
    for (size_t i = 0; i < n; i++) {
        uint32_t b = (uint32_t)x[i] << 16;
        memcpy(y + i, &b, 4);
    }
}

static uint16_t f16_from_f32_soft(float f)
{
    uint32_t x;
    memcpy(&x, &f, 4);
    uint16_t sign = (uint16_t)((x >> 16) & 0x8000u);
    uint32_t ax = x & 0x7fffffffu;
    if (ax > 0x7f800000u) return sign | 0x7e00u | (uint16_t)((ax >> 13) & 0x3ffu);
    if (ax >= 0x477ff000u) return sign | 0x7c00u;       /* rounds past 65504 (ties to even) */
    if (ax < 0x38800000u)                                /* half denormal: units of 2^-24 */
        return sign | (uint16_t)rintf(fabsf(f) * 16777216.0f);
    uint32_t r = ax - 0x38000000u;                       /* exponent bias 127 -> 15 */
    r += 0xfffu + ((r >> 13) & 1u);
    return sign | (uint16_t)(r >> 13);
}

static void to_f16(size_t n, const float *x, uint16_t *y)
{
    size_t i = 0;
#if defined(__AVX512F__)
    for (; i + 16 <= n; i += 16)
        _mm256_storeu_si256((__m256i *)(y + i),
                            _mm512_cvtps_ph(_mm512_loadu_ps(x + i), _MM_FROUND_TO_NEAREST_INT));
#elif defined(__AVX2__)
    for (; i + 8 <= n; i += 8)
        _mm_storeu_si128((__m128i *)(y + i),
                         _mm256_cvtps_ph(_mm256_loadu_ps(x + i), _MM_FROUND_TO_NEAREST_INT));
#endif
    for (; i < n; i++) y[i] = f16_from_f32_soft(x[i]);
}

static void from_f16(size_t n, const uint16_t *x, float *y)
{
    size_t i = 0;
#if defined(__AVX512F__)
    for (; i + 16 <= n; i += 16)
        _mm512_storeu_ps(y + i, _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(x + i))));
#elif defined(__AVX2__)
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(y + i, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(x + i))));
#endif
    for (; i < n; i++) y[i] = half_bits_to_f32(x[i]);
}

const bf16_kernels_t DL_ISA_FN(bf16_kernels) = {
    .tile = tile,
#if defined(__AVX512F__)
    .tile_bf16 = bf16_tile_avx512bf16,
    .tile_amx = bf16_tile_amx,
#else
    .tile_bf16 = NULL,
    .tile_amx = NULL,
#endif
    .mr_max = BF_MR,
    .epilogue = epilogue,
    .to_bf16 = to_bf16,
    .from_bf16 = from_bf16,
    .to_f16 = to_f16,
    .from_f16 = from_f16,
};
