/* The executor's helper threads (see plan_pool.h).
 *
 * They are a small pool of our own rather than an OpenMP team: an OpenMP team's end barrier
 * waits for every member to arrive, so on a busy machine a member the OS has not scheduled
 * yet stalls the whole call (measured: LeNet b32 at two threads, 27 ms median against 0.7 ms
 * when it runs alone); here the caller just does that share too.  Between jobs a helper
 * watches for the next one for SPIN_NS, then sleeps; a caller whose parts are done watches
 * its helpers finish for as long before it sleeps.  Waking a sleeping thread costs a halted
 * virtual CPU's wake-up in a KVM guest (tens of microseconds, measured here: LeNet b32 at two
 * threads ran barely faster than at one with sleeping helpers), which is the whole of a
 * small model's call.  Neither spins while the machine has more runnable threads than CPUs
 * (dl_team_size_for_load): there a spinning thread spends the time slice the next call needs
 * (measured no better, often worse, under load). */
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
#include "plan_pool.h"

enum { SPIN_NS = 200000, MAX_HELPERS = 63 };

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

typedef struct {
    dl_plan_part_fn fn;
    void *ctx;
    int nparts, helpers, max_helpers;
    int next;               /* the next part to take (atomic) */
} pool_job;

static struct {
    pthread_mutex_t mu;
    pthread_cond_t wake, idle;
    long gen;               /* bumped when a job is posted (atomic stores: spinners read it) */
    pool_job *job;          /* the posted job, NULL once its caller stops taking helpers */
    long active;            /* helpers in a job (atomic stores, as gen) */
    int nhelpers, busy, atfork;
    int spin;               /* the last job's caller found spare CPUs: helpers spin after it */
} pool = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, PTHREAD_COND_INITIALIZER,
          0, NULL, 0, 0, 0, 0, 0};

static void run_parts(pool_job *j)
{
    int c;
    while ((c = __atomic_fetch_add(&j->next, 1, __ATOMIC_ACQ_REL)) < j->nparts) j->fn(j->ctx, c);
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
        pool_job *j = pool.job;
        if (!j || j->helpers >= j->max_helpers) continue;
        j->helpers++;
        __atomic_store_n(&pool.active, pool.active + 1, __ATOMIC_RELEASE);
        pthread_mutex_unlock(&pool.mu);
        run_parts(j);
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

void dl_plan_pool_run(int nparts, int max_helpers, dl_plan_part_fn fn, void *ctx)
{
    if (max_helpers > nparts - 1) max_helpers = nparts - 1;
    pool_job j = {fn, ctx, nparts, 0, max_helpers > 0 ? max_helpers : 0, 0};
    int posted = 0;
    const int spin = j.max_helpers > 0 && dl_team_size_for_load(2) == 2;
    if (j.max_helpers > 0) {
        pthread_mutex_lock(&pool.mu);
        /* one caller at a time posts to the pool; a concurrent one runs its parts alone
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
    run_parts(&j);
    if (posted) {
        pthread_mutex_lock(&pool.mu);
        pool.job = NULL;   /* every part is taken: a late helper finds nothing to join */
        if (pool.active > 0 && spin) {
            pthread_mutex_unlock(&pool.mu);
            spin_on(&pool.active, 0, 0);
            pthread_mutex_lock(&pool.mu);
        }
        while (pool.active > 0) pthread_cond_wait(&pool.idle, &pool.mu);
        pool.busy = 0;
        pthread_mutex_unlock(&pool.mu);
    }
}
