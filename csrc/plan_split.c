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
 * Between calls a helper watches for the next job for SPIN_NS, then sleeps; a caller whose
 * slices are done watches its helpers finish for as long before it sleeps.  Waking a sleeping
 * thread costs a halted virtual CPU's wake-up in a KVM guest (tens of microseconds, measured
 * here: LeNet b32 at two threads ran barely faster than at one with sleeping helpers), which
 * is the whole slice of a small model.  Neither spins while the machine has more runnable
 * threads than CPUs (dl_team_size_for_load): there a spinning thread spends the time slice
 * the next call needs (measured no better, often worse, under load). */
#include <pthread.h>
#include <stdint.h>
#include <time.h>
#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define cpu_relax() _mm_pause()
#else
#define cpu_relax() ((void)0)
#endif

#include "dlcore/affinity.h"
#include "dlcore/plan.h"

enum { SPIN_NS = 200000 };

static int64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Waits up to SPIN_NS, without the lock, while *v == old (want_eq = 1) or *v != old. */
static void spin_on(const long *v, long old, int want_eq)
{
    const int64_t end = mono_ns() + SPIN_NS;
    for (;;) {
        for (int k = 0; k < 64; k++) {
            if ((__atomic_load_n(v, __ATOMIC_ACQUIRE) == old) != want_eq) return;
            cpu_relax();
        }
        if (mono_ns() >= end) return;
    }
}

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
    long gen;               /* bumped when a job is posted (atomic stores: spinners read it) */
    sliced_job *job;        /* the posted job, NULL once its caller stops taking helpers */
    long active;            /* helpers in a job (atomic stores, as gen) */
    int nhelpers, busy, atfork;
    int spin;               /* the last job's caller found spare CPUs: helpers spin after it */
} pool = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, PTHREAD_COND_INITIALIZER,
          0, NULL, 0, 0, 0, 0, 0};

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
        if (pool.gen == seen && pool.spin) {
            pthread_mutex_unlock(&pool.mu);
            spin_on(&pool.gen, seen, 1);
            pthread_mutex_lock(&pool.mu);
        }
        while (pool.gen == seen) pthread_cond_wait(&pool.wake, &pool.mu);
        seen = pool.gen;
        sliced_job *j = pool.job;
        if (!j || j->helpers >= j->max_helpers) continue;
        j->helpers++;
        __atomic_store_n(&pool.active, pool.active + 1, __ATOMIC_RELEASE);
        pthread_mutex_unlock(&pool.mu);
        run_slices(j);
        pthread_mutex_lock(&pool.mu);
        __atomic_store_n(&pool.active, pool.active - 1, __ATOMIC_RELEASE);
        if (pool.active == 0) pthread_cond_broadcast(&pool.idle);
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
    pool.nhelpers = pool.busy = pool.spin = 0;
    pool.active = 0;
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
    const int spin = j.max_helpers > 0 && dl_team_size_for_load(2) == 2;
    if (j.max_helpers > 0) {
        pthread_mutex_lock(&pool.mu);
        /* one caller at a time posts to the pool; a concurrent one runs its slices alone
         * (its own Python thread is its parallelism) */
        if (!pool.busy) {
            grow(j.max_helpers);
            pool.busy = 1;
            pool.job = &j;
            pool.spin = spin;
            __atomic_store_n(&pool.gen, pool.gen + 1, __ATOMIC_RELEASE);
            posted = 1;
            pthread_cond_broadcast(&pool.wake);
        }
        pthread_mutex_unlock(&pool.mu);
    }
    run_slices(&j);
    if (posted) {
        pthread_mutex_lock(&pool.mu);
        pool.job = NULL;   /* every slice is taken: a late helper finds nothing to join */
        if (pool.active > 0 && spin) {
            pthread_mutex_unlock(&pool.mu);
            spin_on(&pool.active, 0, 0);
            pthread_mutex_lock(&pool.mu);
        }
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
