/* A batched call as independent slices (see dl_plan_run_sliced in dlcore/plan.h).  Each
 * step's own threading forks and joins its team (64 times in MobileNetV2); slices of the
 * batch on separate threads meet once per call, and each slice's kernels see the
 * single-thread sizes the plan was tuned at.  The planner only asks for this when no op of
 * the graph mixes samples (dlcore/jit/batch_split.py).  The slices are the parts of one job
 * of the executor's helper pool (plan_pool.c): the caller works through them itself and
 * waits only for slices a helper has actually started. */
#include <pthread.h>
#include <stdint.h>

#include "dlcore/plan.h"
#include "plan_pool.h"

enum { MAX_IO = 64 };

typedef struct {
    dl_plan *p;
    int n_io;
    char *const *io;
    const int64_t *slice_bytes;
    pthread_mutex_t mu;
    int failed, err;        /* the first failure (under mu) */
    int64_t detail;
} sliced_job;

static void run_slice(void *ctx, int c)
{
    sliced_job *j = ctx;
    char *ptrs[MAX_IO];
    int e = DL_PLAN_OK, rc;
    int64_t d = 0;
    for (int k = 0; k < j->n_io; k++) ptrs[k] = j->io[k] + (int64_t)c * j->slice_bytes[k];
    char *arena = dl_plan_arena_acquire(j->p);
    if (!arena) {
        rc = 1;
        e = DL_PLAN_ENOMEM;
    } else {
        rc = dl_plan_run(j->p, 0, 2147483647, arena, ptrs, 1, &e, &d);
        dl_plan_arena_release(j->p, arena);
    }
    if (rc) {
        pthread_mutex_lock(&j->mu);
        if (!j->failed) {
            j->failed = rc;
            j->err = e;
            j->detail = d;
        }
        pthread_mutex_unlock(&j->mu);
    }
}

int dl_plan_run_sliced(dl_plan *p, int nslices, char *const *io, int n_io,
                       const int64_t *slice_bytes, int nthreads, int *err, int64_t *detail)
{
    *err = DL_PLAN_OK;
    *detail = 0;
    if (n_io > MAX_IO || nslices < 1) {
        *err = DL_PLAN_EINDEX;
        return 1;
    }
    if (nthreads > nslices) nthreads = nslices;
    sliced_job j = {p, n_io, io, slice_bytes, PTHREAD_MUTEX_INITIALIZER, 0, DL_PLAN_OK, 0};
    dl_plan_pool_run(nslices, nthreads > 1 ? nthreads - 1 : 0, run_slice, &j);
    pthread_mutex_destroy(&j.mu);
    if (j.failed) {
        *err = j.err;
        *detail = j.detail;
    }
    return j.failed;
}
