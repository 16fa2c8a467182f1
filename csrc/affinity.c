/* Binding the executor's OpenMP team to cores for one call (see dlcore/affinity.h).
 *
 * A core is the set of logical CPUs sysfs lists as its siblings (hyper-threads share one), so
 * a place is a whole core, as OMP_PLACES=cores makes it.  The workers are pinned from inside
 * a parallel region, each by itself: libgomp gives team slot t to the same pool thread in
 * every region of one caller, so the pins hold for the kernels' regions that follow.  That
 * region (and its syscalls) runs only when the binding changes; a call otherwise pays a
 * mask read and two mask writes for the caller, ~1-2 us, and binds only plans that have a
 * step worth a team (plan.c).  A machine with more runnable threads than CPUs is left to the
 * scheduler (oversubscribed() below). */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dlcore/affinity.h"
#include "team_load.h"

#if defined(__linux__)
#include <pthread.h>
#include <sched.h>
#include <time.h>
#include <unistd.h>
#define DL_HAVE_AFFINITY 1
#endif
#ifdef DL_HAVE_OPENMP
#include <omp.h>
#endif

static int g_bind = -1;  /* -1: not decided yet */

static int env_set(const char *name)
{
    const char *v = getenv(name);
    return v && *v;
}

static int user_binding(void)
{
    return env_set("OMP_PROC_BIND") || env_set("OMP_PLACES") || env_set("GOMP_CPU_AFFINITY");
}

int dl_bind_enabled(void)
{
    int b = __atomic_load_n(&g_bind, __ATOMIC_RELAXED);
    if (b < 0) {
        const char *v = getenv("DLCORE_BIND");
        int on = !(v && (strcmp(v, "0") == 0 || strcmp(v, "false") == 0 ||
                         strcmp(v, "off") == 0 || strcmp(v, "no") == 0));
        if (on && v && strcmp(v, "always") == 0) on = 2;
        b = user_binding() ? 0 : on;
        __atomic_store_n(&g_bind, b, __ATOMIC_RELAXED);
    }
    return b;
}

int dl_set_bind(int on)
{
    int b = user_binding() ? 0 : on < 0 ? 0 : on > 2 ? 2 : on;
    __atomic_store_n(&g_bind, b, __ATOMIC_RELAXED);
    return b;
}

#if defined(DL_HAVE_AFFINITY) && defined(DL_HAVE_OPENMP)

enum { MAX_CPUS = CPU_SETSIZE };

/* core_rep[c]: 1 + the lowest CPU of c's core (0: not read yet) */
static int core_rep[MAX_CPUS];

static int core_of(int cpu)
{
    int r = __atomic_load_n(&core_rep[cpu], __ATOMIC_RELAXED);
    if (r) return r - 1;
    char path[96];
    int first = cpu;
    const char *names[2] = {"core_cpus_list", "thread_siblings_list"};
    for (int k = 0; k < 2; k++) {
        snprintf(path, sizeof path, "/sys/devices/system/cpu/cpu%d/topology/%s", cpu, names[k]);
        FILE *f = fopen(path, "r");
        if (!f) continue;
        int v;
        if (fscanf(f, "%d", &v) == 1 && v >= 0 && v < MAX_CPUS) first = v;
        fclose(f);
        break;
    }
    __atomic_store_n(&core_rep[cpu], first + 1, __ATOMIC_RELAXED);
    return first;
}

/* the binding the calling thread's workers got last (0: none yet), and while the calling
 * thread itself is pinned, its mask from before (for a fork in between) */
static __thread uint64_t t_key;
static __thread int t_pinned;
static __thread cpu_set_t t_orig;
static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;

static void after_fork_child(void)
{
    /* the child has none of the workers; a child of a pinned thread gets the mask back */
    if (t_pinned) sched_setaffinity(0, sizeof(cpu_set_t), &t_orig);
    t_pinned = 0;
    t_key = 0;
}

static void register_atfork(void) { pthread_atfork(NULL, NULL, after_fork_child); }

static uint64_t mix(uint64_t h, const void *p, size_t n)
{
    const unsigned char *c = p;
    for (size_t k = 0; k < n; k++) h = (h ^ c[k]) * 1099511628211ull;
    return h;
}

/* The machine's load as team_load.h decides from readings of /proc/loadavg ("running/total":
 * threads runnable machine-wide, the reader among them), one at most every
 * DL_TEAM_LOAD_SAMPLE_NS, taken by whichever call comes first. */
static dl_team_load g_load;  /* 0: no busy reading yet, as dl_team_load_init() */
static int64_t g_next_ns;

static dl_team_load machine_load(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    const int64_t now = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
    int64_t next = __atomic_load_n(&g_next_ns, __ATOMIC_RELAXED);
    if (now < next || !__atomic_compare_exchange_n(&g_next_ns, &next,
                                                   now + DL_TEAM_LOAD_SAMPLE_NS, 0,
                                                   __ATOMIC_RELAXED, __ATOMIC_RELAXED))
        return __atomic_load_n(&g_load, __ATOMIC_RELAXED);
    int sp = 1 << 20;  /* unknown: room for any team */
    FILE *f = fopen("/proc/loadavg", "r");
    if (f) {
        double l1, l5, l15;
        int running = 0, total = 0;
        const long online = sysconf(_SC_NPROCESSORS_ONLN);
        if (fscanf(f, "%lf %lf %lf %d/%d", &l1, &l5, &l15, &running, &total) == 5 &&
            online > 0)
            sp = (int)online - running;
        fclose(f);
    }
    const dl_team_load s = dl_team_load_note(__atomic_load_n(&g_load, __ATOMIC_RELAXED), sp);
    __atomic_store_n(&g_load, s, __ATOMIC_RELAXED);
    return s;
}

/* A team pinned to cores on a machine with more runnable threads than CPUs waits for its
 * own cores' turns instead of taking whichever comes free: ResNet-18 b1 at two threads with
 * ~14 runnable threads on 2 CPUs took 280-330 ms bound against 150-260 ms unbound. */
static int oversubscribed(void) { return dl_team_load_oversubscribed(machine_load()); }

static int g_dynamic = -1;

int dl_team_size_for_load(int nt)
{
    if (nt < 2) return nt;
    int d = __atomic_load_n(&g_dynamic, __ATOMIC_RELAXED);
    if (d < 0) {
        const char *v = getenv("DLCORE_DYNAMIC");
        d = !(v && (strcmp(v, "0") == 0 || strcmp(v, "false") == 0 ||
                    strcmp(v, "off") == 0 || strcmp(v, "no") == 0));
        __atomic_store_n(&g_dynamic, d, __ATOMIC_RELAXED);
    }
    if (!d) return nt;
    return dl_team_load_size(machine_load(), nt);
}

/* the CPUs of `mask` on core `rep` */
static void core_set(const cpu_set_t *mask, int rep, cpu_set_t *out)
{
    CPU_ZERO(out);
    for (int c = 0; c < MAX_CPUS; c++)
        if (CPU_ISSET(c, mask) && core_of(c) == rep) CPU_SET(c, out);
}

void dl_team_bind(int nt, dl_team_binding *b)
{
    b->bound = 0;
    if (nt < 2 || omp_in_parallel() || !dl_bind_enabled()) return;
    pthread_once(&atfork_once, register_atfork);
    cpu_set_t *orig = (cpu_set_t *)b->orig;
    _Static_assert(sizeof(b->orig) >= sizeof(cpu_set_t), "dl_team_binding.orig too small");
    if (sched_getaffinity(0, sizeof(cpu_set_t), orig) != 0) return;
    /* the cores of the mask in CPU order, and the one the caller runs on */
    int reps[MAX_CPUS], ncores = 0, here = -1;
    const int cpu = sched_getcpu();
    const int my_rep = cpu >= 0 && cpu < MAX_CPUS && CPU_ISSET(cpu, orig) ? core_of(cpu) : -1;
    for (int c = 0; c < MAX_CPUS; c++) {
        if (!CPU_ISSET(c, orig)) continue;
        const int r = core_of(c);
        int k = 0;
        while (k < ncores && reps[k] != r) k++;
        if (k == ncores) reps[ncores++] = r;
        if (r == my_rep) here = k;
    }
    const int bind = ncores >= nt && (dl_bind_enabled() == 2 || !oversubscribed());
    if (here < 0) here = 0;
    uint64_t key = mix(1469598103934665603ull, orig, sizeof(cpu_set_t));
    const int who[3] = {bind, bind ? reps[here] : -1, nt};
    key = mix(key, who, sizeof who) | 1;
    if (key != t_key) {
        /* each worker sets its own mask: its core's, or the caller's whole mask */
#pragma omp parallel num_threads(nt)
        {
            const int t = omp_get_thread_num();
            if (t > 0) {
                cpu_set_t s;
                if (bind) core_set(orig, reps[(here + t) % ncores], &s);
                else s = *orig;
                pthread_setaffinity_np(pthread_self(), sizeof(cpu_set_t), &s);
            }
        }
        t_key = key;
    }
    if (!bind) return;
    cpu_set_t mine;
    core_set(orig, reps[here], &mine);
    t_orig = *orig;
    t_pinned = 1;
    if (sched_setaffinity(0, sizeof(cpu_set_t), &mine) == 0) b->bound = 1;
    else t_pinned = 0;
}

void dl_team_unbind(dl_team_binding *b)
{
    if (!b->bound) return;
    sched_setaffinity(0, sizeof(cpu_set_t), (const cpu_set_t *)b->orig);
    t_pinned = 0;
    b->bound = 0;
}

#else

int dl_team_size_for_load(int nt) { return nt; }

void dl_team_bind(int nt, dl_team_binding *b)
{
    (void)nt;
    b->bound = 0;
}

void dl_team_unbind(dl_team_binding *b) { b->bound = 0; }

#endif
