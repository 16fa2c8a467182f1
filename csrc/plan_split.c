/* A batched call as independent slices (see dl_plan_run_sliced in dlcore/plan.h).  Each
 * step's own threading forks and joins its team (64 times in MobileNetV2); slices of the
 * batch on separate threads join once per call, and each slice's kernels see the
 * single-thread sizes the plan was tuned at.  The planner only asks for this when no op of
 * the graph mixes samples (dlcore/jit/batch_split.py). */
#include <stdint.h>

#include "dlcore/plan.h"
#ifdef DL_HAVE_OPENMP
#include <omp.h>
#endif

enum { MAX_IO = 64 };

int dl_plan_run_sliced(dl_plan *p, int nslices, char *const *io, int n_io,
                       const int64_t *slice_bytes, int nthreads, int *err, int64_t *detail)
{
    int failed = 0;
    *err = DL_PLAN_OK;
    *detail = 0;
    if (n_io > MAX_IO || nslices < 1) {
        *err = DL_PLAN_EINDEX;
        return 1;
    }
    if (nthreads > nslices) nthreads = nslices;
    if (nthreads < 1) nthreads = 1;
#ifdef DL_HAVE_OPENMP
    /* dynamic: a thread the OS delays takes fewer slices instead of holding the others */
#pragma omp parallel for num_threads(nthreads) schedule(dynamic, 1) if (nthreads > 1)
#endif
    for (int c = 0; c < nslices; c++) {
        char *ptrs[MAX_IO];
        int e = DL_PLAN_OK, rc;
        int64_t d = 0;
        for (int k = 0; k < n_io; k++) ptrs[k] = io[k] + (int64_t)c * slice_bytes[k];
        char *arena = dl_plan_arena_acquire(p);
        if (!arena) {
            rc = 1;
            e = DL_PLAN_ENOMEM;
        } else {
            rc = dl_plan_run(p, 0, 2147483647, arena, ptrs, 1, &e, &d);
            dl_plan_arena_release(p, arena);
        }
        if (rc) {
#ifdef DL_HAVE_OPENMP
#pragma omp critical(dl_plan_sliced_error)
#endif
            if (!failed) {
                failed = rc;
                *err = e;
                *detail = d;
            }
        }
    }
    return failed;
}
