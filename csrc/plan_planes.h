/* The executor's per-plane kernels (depthwise convolution, max pooling) share their planes out
 * over a team in chunks taken as threads come free, so a thread the OS delays on a busy
 * machine holds up nobody; each thread has its own scratch.  nt <= 1 opens no OpenMP region
 * (even a team of one costs ~0.5 us, a sixth of LeNet's first conv). */
#ifndef DLCORE_PLAN_PLANES_H
#define DLCORE_PLAN_PLANES_H
#include <stddef.h>
#include <stdint.h>
#include "dlcore/runtime.h"
#ifdef DL_HAVE_OPENMP
#include <omp.h>
#endif

typedef void (*dl_plane_body)(const void *ctx, int64_t p, float *scratch);

/* body(ctx, p, scratch) for p in [0, planes) on nt threads, scratch_bytes each (none when 0).
 * -1 when scratch memory is short. */
static inline int dl_each_plane(int nt, int64_t planes, size_t scratch_bytes,
                                dl_plane_body body, const void *ctx)
{
    if (nt > planes) nt = (int)planes;
    if (nt <= 1) {
        float *buf = scratch_bytes ? dl_alloc(scratch_bytes) : NULL;
        if (scratch_bytes && !buf) return -1;
        for (int64_t p = 0; p < planes; p++) body(ctx, p, buf);
        dl_free(buf);
        return 0;
    }
    const int64_t chunk = 4;
    int64_t next = 0;
    int failed = 0;
#ifdef DL_HAVE_OPENMP
#pragma omp parallel num_threads(nt) reduction(| : failed)
#endif
    {
        float *buf = scratch_bytes ? dl_alloc(scratch_bytes) : NULL;
        if (scratch_bytes && !buf) {
            failed = 1;
        } else {
            for (;;) {
                int64_t p0;
#ifdef DL_HAVE_OPENMP
#pragma omp atomic capture
#endif
                { p0 = next; next += chunk; }
                if (p0 >= planes) break;
                for (int64_t p = p0; p < planes && p < p0 + chunk; p++) body(ctx, p, buf);
            }
        }
        dl_free(buf);
    }
    return failed ? -1 : 0;
}

#endif
