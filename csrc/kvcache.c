/* Driver of the key/value-cache kernels (dlcore/kvcache.h): the rotary append (portable C:
 * a few hundred floats per position) and OpenMP over the query rows of the attention. */
#include <string.h>

#include "dlcore/kvcache.h"
#include "dlcore/runtime.h"
#include "kvcache_kernels.h"

/* Multiply-adds below which a second thread costs more than it saves. */
#define KV_GRAIN ((size_t)1 << 15)
/* Scratch scores on the stack up to this many positions. */
#define KV_STACK 1024

/* dst[0..D) = src rotated by the table row (c, s) of D/2 entries. */
static void rotate_row(size_t D, const float *src, const float *c, const float *s,
                       int interleaved, float *dst)
{
    const size_t h = D / 2;
    if (interleaved) {
        for (size_t i = 0; i < h; i++) {
            float a = src[2 * i], b = src[2 * i + 1];
            dst[2 * i] = a * c[i] - b * s[i];
            dst[2 * i + 1] = a * s[i] + b * c[i];
        }
    } else {
        for (size_t i = 0; i < h; i++) {
            float a = src[i], b = src[i + h];
            dst[i] = a * c[i] - b * s[i];
            dst[i + h] = a * s[i] + b * c[i];
        }
    }
}

int dl_kv_append_f32(size_t L, size_t H, size_t Hk, size_t D, const float *qkv, size_t ldqkv,
                     const float *cos, const float *sin, int interleaved, size_t start,
                     size_t max_len, float *q, float *kc, float *vc)
{
    if (Hk == 0 || H % Hk != 0 || start > max_len || L > max_len - start
        || ldqkv < (H + 2 * Hk) * D || (cos && (D % 2 != 0 || !sin)))
        return -1;
    const size_t h2 = D / 2;
    for (size_t l = 0; l < L; l++) {
        const float *row = qkv + l * ldqkv;
        const size_t p = start + l;
        const float *c = cos ? cos + p * h2 : NULL, *s = sin ? sin + p * h2 : NULL;
        for (size_t h = 0; h < H + Hk; h++) {
            float *dst = h < H ? q + (l * H + h) * D : kc + ((h - H) * max_len + p) * D;
            if (c) rotate_row(D, row + h * D, c, s, interleaved, dst);
            else memcpy(dst, row + h * D, D * sizeof(float));
        }
        for (size_t g = 0; g < Hk; g++)
            memcpy(vc + (g * max_len + p) * D, row + (H + Hk + g) * D, D * sizeof(float));
    }
    return 0;
}

int dl_kv_attend_f32(size_t L, size_t H, size_t Hk, size_t D, const float *q, const float *kc,
                     const float *vc, size_t start, size_t max_len, float scale, float *out)
{
    if (Hk == 0 || H % Hk != 0 || start > max_len || L > max_len - start) return -1;
    if (L == 0 || H == 0 || D == 0) return 0;
    const kvcache_kernels_t *kt = kvcache_kernels();
    const size_t G = H / Hk, rows = L * H, S_max = start + L;
    const int nt = dl_threads_for(rows * S_max * D, KV_GRAIN);
    int failed = 0;
    #pragma omp parallel num_threads(nt)
    {
        float stack[KV_STACK];
        float *s = S_max <= KV_STACK ? stack : dl_alloc(S_max * sizeof(float));
        if (!s) {
            #pragma omp atomic write
            failed = 1;
        }
        #pragma omp for schedule(static)
        for (size_t r = 0; r < rows; r++) {
            if (!s) continue;
            const size_t l = r / H, h = r % H, g = h / G;
            kt->attend_row(start + l + 1, D, q + r * D, kc + g * max_len * D,
                           vc + g * max_len * D, scale, s, out + r * D);
        }
        if (s != stack) dl_free(s);
    }
    return failed ? -2 : 0;
}
