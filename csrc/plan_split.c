/* A batched call as independent slices (see dl_plan_run_sliced in dlcore/plan.h).  Each
 * step's own threading forks and joins its team (64 times in MobileNetV2); slices of the
 * batch on separate threads meet once per call, and each slice's kernels see the
 * single-thread sizes the plan was tuned at.  The planner only asks for this when no op of
 * the graph mixes samples (dlcore/jit/batch_split.py).
 *
 * The helpers are a small pool of our own rather than an OpenMP team: the caller works
 * through the slices itself and waits only for slices a helper has actually started.  An
 * OpenMP team's end barrier waits for every member to arrive, so on a busy machine a helper
 * the OS has not scheduled yet stalls the whole call (measured: LeNet b32 at two threads, 27
 * ms median against 0.7 ms when it runs alone); here the caller just does that share too.
 * Helpers sleep between calls rather than spin: on a shared machine a spinning thread spends
 * the time slice the next call needs (measured no better, often worse, under load). */
#include <pthread.h>
#include <stdint.h>

#include "dlcore/plan.h"

enum { MAX_IO = 64, MAX_HELPERS = 63 };

typedef struct {
    dl_plan *p;
    int nslices, n_io, helpers, max_helpers;
    char *const *io;
    const int64_t *slice_bytes;
    int next;               /* the next slice to take (atomic) */
    int failed, err;        /* the first failure (under the pool's lock) */
    int64_t detail;
} sliced_job;

static struct {
    pthread_mutex_t mu;
    pthread_cond_t wake, idle;
    long gen;               /* bumped when a job is posted */
    sliced_job *job;        /* the posted job, NULL once its caller stops taking helpers */
    int nhelpers, active, busy, atfork;
} pool = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, PTHREAD_COND_INITIALIZER,
          0, NULL, 0, 0, 0, 0};

static void run_slices(sliced_job *j)
{
    int c;
    while ((c = __atomic_fetch_add(&j->next, 1, __ATOMIC_ACQ_REL)) < j->nslices) {
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
            pthread_mutex_lock(&pool.mu);
            if (!j->failed) {
                j->failed = rc;
                j->err = e;
                j->detail = d;
            }
            pthread_mutex_unlock(&pool.mu);
        }
    }
}

static void *helper(void *arg)
{
    long seen = (long)(intptr_t)arg;
    pthread_mutex_lock(&pool.mu);
    for (;;) {
        while (pool.gen == seen) pthread_cond_wait(&pool.wake, &pool.mu);
        seen = pool.gen;
        sliced_job *j = pool.job;
        if (!j || j->helpers >= j->max_helpers) continue;
        j->helpers++;
        pool.active++;
        pthread_mutex_unlock(&pool.mu);
        run_slices(j);
        pthread_mutex_lock(&pool.mu);
        if (--pool.active == 0) pthread_cond_broadcast(&pool.idle);
    }
    return NULL;
}

/* a forked child has none of the parent's helpers */
static void after_fork_child(void)
{
    pthread_mutex_init(&pool.mu, NULL);
    pthread_cond_init(&pool.wake, NULL);
    pthread_cond_init(&pool.idle, NULL);
    pool.job = NULL;
    pool.nhelpers = pool.active = pool.busy = 0;
}

/* with the lock held: at least n helpers, as many as could be started */
static void grow(int n)
{
    if (!pool.atfork) {
        pthread_atfork(NULL, NULL, after_fork_child);
        pool.atfork = 1;
    }
    while (pool.nhelpers < n && pool.nhelpers < MAX_HELPERS) {
        pthread_t t;
        pthread_attr_t at;
        pthread_attr_init(&at);
        pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
        const int rc = pthread_create(&t, &at, helper, (void *)(intptr_t)pool.gen);
        pthread_attr_destroy(&at);
        if (rc) break;
        pool.nhelpers++;
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
    sliced_job j = {p, nslices, n_io, 0, nthreads > 1 ? nthreads - 1 : 0, io, slice_bytes,
                    0, 0, DL_PLAN_OK, 0};
    int posted = 0;
    if (j.max_helpers > 0) {
        pthread_mutex_lock(&pool.mu);
        /* one caller at a time posts to the pool; a concurrent one runs its slices alone
         * (its own Python thread is its parallelism) */
        if (!pool.busy) {
            grow(j.max_helpers);
            pool.busy = 1;
            pool.job = &j;
            pool.gen++;
            posted = 1;
            pthread_cond_broadcast(&pool.wake);
        }
        pthread_mutex_unlock(&pool.mu);
    }
    run_slices(&j);
    if (posted) {
        pthread_mutex_lock(&pool.mu);
        pool.job = NULL;   /* every slice is taken: a late helper finds nothing to join */
        while (pool.active > 0) pthread_cond_wait(&pool.idle, &pool.mu);
        pool.busy = 0;
        pthread_mutex_unlock(&pool.mu);
    }
    if (j.failed) {
        *err = j.err;
        *detail = j.detail;
    }
    return j.failed;
}
