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

/* The input transform of the ntl tiles of a run (tile row ty of image n of `in`, from tile
 * column tx; m x m output tiles) into V: channel c's run at V + c * Tb, one (m+2)^2 slice per
 * transform element, ldv apart. */
static inline void wino_input_run(const winograd_tile_kernels *tk, const dl_wino_conv *cv,
                                  int m, const float *in, int64_t n, int64_t ty, int64_t tx,
                                  int64_t ntl, float *V, int64_t Tb, int64_t ldv)
{
    const int64_t HW = cv->H * cv->W;
    const float *img = in + n * cv->C * HW;
    for (int64_t c = 0; c < cv->C; c++)
        tk->input(img + c * HW, cv->H, cv->W, ty * m - cv->ph, tx * m - cv->pw, ntl, V + c * Tb,
                  ldv);
}

#endif
