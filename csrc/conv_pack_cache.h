/* Weights packed once for many eager inference calls (conv_pack_cache.c), the way an
 * inference plan packs its constant weights when it is made: conv_routes.c's im2col and
 * small-map routes run the plan's CONV_GEMM kernels (plan_conv.c) on them.
 *
 * An entry is found only under the weights' seal token (dlcore/autograd/sealed.py): a sealed
 * array is read-only and every engine writer breaks the seal first, so the same token on the
 * same address proves the values unchanged without reading them.  Calls without a token
 * (weights that cannot be sealed, calls recording gradients) never use the cache. */
#ifndef DLCORE_CONV_PACK_CACHE_H
#define DLCORE_CONV_PACK_CACHE_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    const float *w;   /* the weights (K x CRS, row-major) */
    uint64_t token;   /* their seal token, nonzero */
    int kind;         /* what was made of them (the caller's code) */
    int isa;          /* the dl_isa_t it was made for */
    int64_t K, CRS;
} dl_conv_pack_key;

/* make builds the packed form of key's weights (NULL when out of memory) and sets *bytes;
 * destroy frees it. */
typedef void *(*dl_conv_pack_make)(const dl_conv_pack_key *key, size_t *bytes);
typedef void (*dl_conv_pack_destroy)(void *packed);

/* The packed weights for key: the cached ones, or new ones from make, kept when the budget
 * allows.  NULL when key->token is 0 or make fails.  Give it back with dl_conv_pack_release
 * (which destroys it when the cache did not keep it). */
void *dl_conv_pack_acquire(const dl_conv_pack_key *key, dl_conv_pack_make make,
                           dl_conv_pack_destroy destroy);
void dl_conv_pack_release(void *packed, dl_conv_pack_destroy destroy);

/* Frees every entry not in use; entries and bytes held (either may be NULL). */
void dl_conv_pack_cache_clear(void);
void dl_conv_pack_cache_stats(size_t *entries, size_t *bytes);

#endif
