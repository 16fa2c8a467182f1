/* Whether the GEMM families may use AMX (dlcore/amx.h): CPUID, XCR0, the Linux tile permission,
 * DLCORE_AMX, and each kind's self-check, decided once per process.
 *
 * This file is compiled with the portable flags and never executes a tile instruction; the
 * self-checks (amx_selfcheck.c) do, on the calling thread only, and only after CPUID, XCR0 and
 * the kernel's permission all said yes.  While they run, SIGILL, SIGSEGV and SIGBUS raised on
 * that thread jump back here (the kind is then disabled, with the signal as its reason); the
 * same signals on any other thread go to the handlers that were installed before.
 *
 * Linux keeps the tile data (XSTATE component 18) off until a process asks for it with
 * arch_prctl(ARCH_REQ_XCOMP_PERM); the grant covers the whole process, threads already
 * running included, and a tile instruction without it raises SIGILL.  The request is made
 * here, at the first GEMM call that could use AMX (before it enters its parallel region). */
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "dlcore/amx.h"
#include "dlcore/runtime.h"
#include "amx_tiles.h"
#if defined(__x86_64__)
#include <cpuid.h>
#include <errno.h>
#include <pthread.h>
#endif
#if defined(__linux__) && defined(__x86_64__)
#include <sys/syscall.h>
#include <unistd.h>
#define DL_ARCH_GET_XCOMP_PERM 0x1022
#define DL_ARCH_REQ_XCOMP_PERM 0x1023
#define DL_XFEATURE_XTILEDATA 18
#endif

enum { ST_ABSENT, ST_REFUSED, ST_OFF, ST_SELFCHECK, ST_READY };

typedef struct {
    int state;
    char why[200];
} amx_kind_t;

static amx_kind_t g_kind[2];
/* 0 not yet decided, 1 being decided, 2 decided */
static int g_once = 0;
/* set from any thread when a tile configuration did not take; AMX is then off */
static int g_failed = 0;
static char g_failed_why[120];
static int g_allowed = 1;

static void set_kind(int k, int state, const char *why)
{
    g_kind[k].state = state;
    snprintf(g_kind[k].why, sizeof g_kind[k].why, "%s", why);
}

static void set_both(int state, const char *why)
{
    set_kind(DL_AMX_INT8, state, why);
    set_kind(DL_AMX_BF16, state, why);
}

static int env_off(void)
{
    const char *v = getenv("DLCORE_AMX");
    return v && (strcmp(v, "0") == 0 || strcasecmp(v, "off") == 0 || strcasecmp(v, "false") == 0
                 || strcasecmp(v, "no") == 0);
}

#if defined(__x86_64__)
/* ---- the fault guard of the self-checks ------------------------------------------------ */
static volatile sig_atomic_t g_guard_on = 0;
static pthread_t g_guard_thread;
static sigjmp_buf g_guard_env;
static const int g_guard_sigs[3] = {SIGILL, SIGSEGV, SIGBUS};
static struct sigaction g_guard_old[3];

static void guard_restore(void)
{
    for (int i = 0; i < 3; i++) sigaction(g_guard_sigs[i], &g_guard_old[i], NULL);
}

static void on_fault(int sig, siginfo_t *info, void *uc)
{
    (void)info;
    (void)uc;
    if (g_guard_on && pthread_equal(pthread_self(), g_guard_thread)) {
        g_guard_on = 0;
        siglongjmp(g_guard_env, sig);
    }
    /* another thread's fault: put the earlier handlers back; the faulting instruction runs
     * again and reaches them */
    guard_restore();
}

/* runs check(why) with the guard; 0 passed, else why says what failed */
static int guarded(int (*check)(char *, size_t), char *why, size_t len, const char *name)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_fault;
    sa.sa_flags = SA_SIGINFO;
    sigemptyset(&sa.sa_mask);
    for (int i = 0; i < 3; i++) sigaction(g_guard_sigs[i], &sa, &g_guard_old[i]);
    g_guard_thread = pthread_self();
    int rc;
    int sig = sigsetjmp(g_guard_env, 1);
    if (sig == 0) {
        g_guard_on = 1;
        rc = check(why, len);
        g_guard_on = 0;
    } else {
        dl_amx_tiles_forget();
        snprintf(why, len, "%s raised by the %s tile", sig == SIGILL ? "SIGILL"
                 : sig == SIGSEGV ? "SIGSEGV" : "SIGBUS", name);
        rc = -1;
    }
    guard_restore();
    return rc;
}

static unsigned long long read_xcr0(void)
{
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d) || !(c & (1u << 27)))   /* OSXSAVE: xgetbv allowed */
        return 0;
    unsigned lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return ((unsigned long long)hi << 32) | lo;
}

static void decide(void)
{
    unsigned a, b, c, d;
    if (env_off()) {
        set_both(ST_OFF, "DLCORE_AMX=0");
        return;
    }
    if (__get_cpuid_max(0, NULL) < 7) {
        set_both(ST_ABSENT, "no CPUID leaf 7");
        return;
    }
    __cpuid_count(7, 0, a, b, c, d);
    const int tile = (d >> 24) & 1, i8 = (d >> 25) & 1, bf = (d >> 22) & 1;
    if (!tile) {
        set_both(ST_ABSENT, "CPUID reports no AMX-TILE");
        return;
    }
    __builtin_cpu_init();
    const int avx512 = dl_cpu_best_isa() == DL_ISA_AVX512;
    set_kind(DL_AMX_INT8, ST_READY, "");
    set_kind(DL_AMX_BF16, ST_READY, "");
    if (!i8) set_kind(DL_AMX_INT8, ST_ABSENT, "CPUID reports no AMX-INT8");
    else if (!avx512 || !__builtin_cpu_supports("avx512vnni"))
        set_kind(DL_AMX_INT8, ST_ABSENT, "no AVX512-VNNI for the edge path");
    if (!bf) set_kind(DL_AMX_BF16, ST_ABSENT, "CPUID reports no AMX-BF16");
    else if (!avx512 || !__builtin_cpu_supports("avx512bf16"))
        set_kind(DL_AMX_BF16, ST_ABSENT, "no AVX512-BF16 for the edge path");
    if (!dl_amx_built()) {
        set_both(ST_ABSENT, "this build has no AMX kernels (the compiler took no -mamx-*)");
        return;
    }
    if ((read_xcr0() & (3ull << 17)) != (3ull << 17)) {
        set_both(ST_REFUSED, "XCR0 does not enable the tile state");
        return;
    }
#if defined(__linux__)
    if (syscall(SYS_arch_prctl, DL_ARCH_REQ_XCOMP_PERM, DL_XFEATURE_XTILEDATA) != 0) {
        char why[160];
        snprintf(why, sizeof why, "arch_prctl(ARCH_REQ_XCOMP_PERM): %s", strerror(errno));
        set_both(ST_REFUSED, why);
        return;
    }
    unsigned long long perm = 0;
    if (syscall(SYS_arch_prctl, DL_ARCH_GET_XCOMP_PERM, &perm) != 0
        || !(perm & (1ull << DL_XFEATURE_XTILEDATA))) {
        set_both(ST_REFUSED, "ARCH_GET_XCOMP_PERM does not list the tile data");
        return;
    }
#else
    set_both(ST_REFUSED, "dlcore requests the tile permission on Linux only");
    return;
#endif
    char why[160];
    if (g_kind[DL_AMX_INT8].state == ST_READY
        && guarded(dl_amx_selfcheck_int8, why, sizeof why, "int8") != 0)
        set_kind(DL_AMX_INT8, ST_SELFCHECK, why);
    if (g_kind[DL_AMX_BF16].state == ST_READY
        && guarded(dl_amx_selfcheck_bf16, why, sizeof why, "bf16") != 0)
        set_kind(DL_AMX_BF16, ST_SELFCHECK, why);
}
#else
static void decide(void)
{
    if (env_off()) set_both(ST_OFF, "DLCORE_AMX=0");
    else set_both(ST_ABSENT, "not an x86-64 CPU");
}
#endif

static void decide_once(void)
{
    if (__atomic_load_n(&g_once, __ATOMIC_ACQUIRE) == 2) return;
    int expected = 0;
    if (__atomic_compare_exchange_n(&g_once, &expected, 1, 0, __ATOMIC_ACQ_REL,
                                    __ATOMIC_ACQUIRE)) {
        decide();
        __atomic_store_n(&g_once, 2, __ATOMIC_RELEASE);
        return;
    }
    while (__atomic_load_n(&g_once, __ATOMIC_ACQUIRE) != 2) sched_yield();
}

void dl_amx_note_failure(const char *why)
{
    int expected = 0;
    if (__atomic_compare_exchange_n(&g_failed, &expected, 1, 0, __ATOMIC_ACQ_REL,
                                    __ATOMIC_ACQUIRE)) {
        snprintf(g_failed_why, sizeof g_failed_why, "%s", why);
        __atomic_store_n(&g_failed, 2, __ATOMIC_RELEASE);
    }
}

int dl_amx_ready(int kind)
{
    if (kind != DL_AMX_INT8 && kind != DL_AMX_BF16) return 0;
    decide_once();
    return g_kind[kind].state == ST_READY && !__atomic_load_n(&g_failed, __ATOMIC_ACQUIRE);
}

int dl_amx_allow(int allow)
{
    int prev = __atomic_exchange_n(&g_allowed, allow != 0, __ATOMIC_ACQ_REL);
    return prev;
}

int dl_amx_allowed(void) { return __atomic_load_n(&g_allowed, __ATOMIC_ACQUIRE); }

const char *dl_amx_status(int kind)
{
    static __thread char text[320];
    if (kind != DL_AMX_INT8 && kind != DL_AMX_BF16) return "unknown kind";
    decide_once();
    const amx_kind_t *k = &g_kind[kind];
    if (k->state == ST_READY && __atomic_load_n(&g_failed, __ATOMIC_ACQUIRE) == 2) {
        snprintf(text, sizeof text, "disabled (%s)", g_failed_why);
        return text;
    }
    switch (k->state) {
    case ST_READY:
        if (!dl_amx_allowed()) return "present (not used: turned off for tests or benchmarks)";
        if (dl_isa() != DL_ISA_AVX512) {
            snprintf(text, sizeof text, "present (not used: SIMD path %s)", dl_isa_name(dl_isa()));
            return text;
        }
        return "used";
    case ST_OFF: return "off (DLCORE_AMX=0)";
    case ST_ABSENT: snprintf(text, sizeof text, "absent (%s)", k->why); return text;
    case ST_REFUSED: snprintf(text, sizeof text, "refused by the OS (%s)", k->why); return text;
    default: snprintf(text, sizeof text, "disabled by the self-check (%s)", k->why); return text;
    }
}
