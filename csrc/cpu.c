/* CPU feature detection, ISA selection and the engine's thread count. */
#include <stdlib.h>
#include <string.h>
#include "dlcore/runtime.h"
#ifdef DL_HAVE_OPENMP
#include <omp.h>
#endif

static int g_isa = -1;
static int g_threads = 0;
/* a per-thread cap set around one executor call (dl_set_local_num_threads); 0: none */
static __thread int t_threads = 0;

dl_isa_t dl_cpu_best_isa(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_cpu_init();
    /* gcc and clang check the OS's XSAVE support for these as well. */
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
        __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl"))
        return DL_ISA_AVX512;
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
        return DL_ISA_AVX2;
#endif
    return DL_ISA_GENERIC;
}

const char *dl_isa_name(dl_isa_t isa)
{
    switch (isa) {
    case DL_ISA_AVX512: return "avx512";
    case DL_ISA_AVX2: return "avx2";
    default: return "generic";
    }
}

static void init_isa(void)
{
    dl_isa_t best = dl_cpu_best_isa();
    dl_isa_t want = best;
    const char *env = getenv("DLCORE_ISA");
    if (env && *env) {
        if (strcmp(env, "generic") == 0) want = DL_ISA_GENERIC;
        else if (strcmp(env, "avx2") == 0) want = DL_ISA_AVX2;
        else if (strcmp(env, "avx512") == 0) want = DL_ISA_AVX512;
    }
    g_isa = want <= best ? want : best;
}

dl_isa_t dl_isa(void)
{
    if (g_isa < 0) init_isa();
    return (dl_isa_t)g_isa;
}

int dl_set_isa(dl_isa_t isa)
{
    if (isa < DL_ISA_GENERIC || isa > DL_ISA_AVX512 || isa > dl_cpu_best_isa()) return -1;
    g_isa = isa;
    return 0;
}

int dl_have_openmp(void)
{
#ifdef DL_HAVE_OPENMP
    return 1;
#else
    return 0;
#endif
}

#ifdef DL_HAVE_OPENMP
int dl_thread_id(void) { return omp_get_thread_num(); }
int dl_team_size(void) { return omp_get_num_threads(); }
#else
int dl_thread_id(void) { return 0; }
int dl_team_size(void) { return 1; }
#endif

static int env_threads(const char *name)
{
    const char *v = getenv(name);
    if (!v || !*v) return 0;
    int n = atoi(v);
    return n > 0 ? n : 0;
}

int dl_num_threads(void)
{
    if (t_threads > 0) return t_threads;
    if (g_threads <= 0) {
        int n = env_threads("DLCORE_NUM_THREADS");
#ifdef DL_HAVE_OPENMP
        if (n <= 0) n = omp_get_max_threads();  /* honours OMP_NUM_THREADS */
#endif
        g_threads = n > 0 ? n : 1;
    }
    return g_threads;
}

void dl_set_num_threads(int n)
{
#ifdef DL_HAVE_OPENMP
    g_threads = n > 0 ? n : 1;
#else
    (void)n;
    g_threads = 1;
#endif
}

int dl_set_local_num_threads(int n)
{
    int old = t_threads;
#ifdef DL_HAVE_OPENMP
    t_threads = n > 0 ? n : 0;
#else
    t_threads = n > 0 ? 1 : 0;
#endif
    return old;
}

void *dl_alloc(size_t bytes)
{
    void *p = NULL;
    if (bytes == 0) bytes = 64;
    if (posix_memalign(&p, 64, bytes) != 0) return NULL;
    return p;
}

void dl_free(void *p) { free(p); }
