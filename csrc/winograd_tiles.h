/* What the Winograd drivers (winograd.c: forward and input gradient; winograd_wgrad.c: weight
 * gradient) share: the numbering of output tiles and the input transform of a run of them. */
#ifndef DLCORE_WINOGRAD_TILES_H
#define DLCORE_WINOGRAD_TILES_H

#include <stdint.h>
#include "winograd.h"
#include "winograd_kernels.h"

/* Tile q of the tiles numbered image after image, row after row (TH x TW per image): its
 * image n, tile row ty and column tx; returns how many tiles from q on (at most q1 - q) lie in
 * that tile row, a run the transforms take at once. */
static inline int64_t wino_tile_run(int64_t TH, int64_t TW, int64_t q, int64_t q1, int64_t *n,
                                    int64_t *ty, int64_t *tx)
{
    const int64_t per_image = TH * TW, rem = q % per_image;
    *n = q / per_image;
    *ty = rem / TW;
    *tx = rem % TW;
    return TW - *tx < q1 - q ? TW - *tx : q1 - q;
}

/* The input transform of tiles q0 .. q1-1 (runs of any tile rows and images) and channels
 * c0 .. c1-1 into V: tile q of channel c at V + c * Tb + (q - q0), one (m+2)^2 slice per
 * transform element, ldv apart.
 * Channel by channel, and within a channel run after run, so that each plane is read top to
 * bottom (a stream the hardware prefetcher follows; the two rows adjacent tile rows share are
 * still in L1) instead of a few short rows from each of C planes per run: 3-5% off the
 * forward and fwd+bwd of (32, 64, 56, 56) here.  A caller splitting channels over threads
 * must leave each channel's row of V room for the kernel's whole-vector spill (see
 * winograd_kernels.h). */
static inline void wino_input_tiles(const winograd_tile_kernels *tk, const dl_wino_conv *cv,
                                    int m, const float *in, int64_t TH, int64_t TW, int64_t q0,
                                    int64_t q1, int64_t c0, int64_t c1, float *V, int64_t Tb,
                                    int64_t ldv)
{
    const int64_t HW = cv->H * cv->W;
    for (int64_t c = c0; c < c1; c++)
        for (int64_t q = q0, n, ty, tx, ntl; q < q1; q += ntl) {
            ntl = wino_tile_run(TH, TW, q, q1, &n, &ty, &tx);
            tk->input(in + (n * cv->C + c) * HW, cv->H, cv->W, ty * m - cv->ph,
                      tx * m - cv->pw, ntl, V + c * Tb + (q - q0), ldv);
        }
}

#endif
