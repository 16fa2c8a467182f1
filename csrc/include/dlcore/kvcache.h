/* Key/value-cache kernels for autoregressive decoding: append the new positions' rotated keys
 * and values to a cache, and attend the new queries over every cached position.
 *
 * Layouts (float32, C-contiguous):
 *   qkv    L rows of (H + 2 Hk) * D: the H query heads, Hk key heads, Hk value heads of each
 *          new position, as one q|k|v projection produces them (row stride ldqkv floats);
 *   q      (L, H, D) rotated queries;
 *   kc, vc (Hk, max_len, D) caches; position p of kv head g at (g * max_len + p) * D;
 *   cos, sin (rows >= start + L, D / 2) rotary tables, row p for position p;
 *   out    (L, H, D).
 * Query head h reads kv head h / (H / Hk) (grouped-query attention).  Query row l sits at
 * position start + l and sees positions 0 .. start + l (causal).
 */
#ifndef DLCORE_KVCACHE_H
#define DLCORE_KVCACHE_H

#include <stddef.h>

/* Rotates the queries of qkv into q and the keys into kc at positions start .. start + L - 1,
 * copies the values into vc.  cos == NULL: no rotation.  interleaved != 0 rotates the pairs
 * (x[2i], x[2i+1]) (GGUF's order), else (x[i], x[i + D/2]).  D must be even with tables.
 * Returns 0, or -1 for bad arguments (H not a multiple of Hk, positions past max_len). */
int dl_kv_append_f32(size_t L, size_t H, size_t Hk, size_t D, const float *qkv, size_t ldqkv,
                     const float *cos, const float *sin, int interleaved, size_t start,
                     size_t max_len, float *q, float *kc, float *vc);

/* out = softmax(scale * q k^T) v over the causal window of each query row (see above).
 * Returns 0, -1 for bad arguments, -2 when scratch memory could not be allocated. */
int dl_kv_attend_f32(size_t L, size_t H, size_t Hk, size_t D, const float *q, const float *kc,
                     const float *vc, size_t start, size_t max_len, float scale, float *out);

#endif
