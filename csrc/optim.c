/* Optimizer kernels: ISA dispatch and threading.  The per-ISA bodies are in optim_simd.c.
 *
 * An update is element-wise, so threads take contiguous pieces of every buffer.  Piece
 * borders fall on multiples of CHUNK_ALIGN elements (whole cache lines for float and double
 * when the buffers are 64-byte aligned) so two threads never write the same line.
 */
#include "dlcore/optim.h"
#include "dlcore/optim_kernels.h"
#include "dlcore/runtime.h"
#ifdef DL_HAVE_OPENMP
#include <omp.h>
#endif

/* Below this many elements per thread, starting a thread costs more than it saves. */
#define GRAIN ((size_t)1 << 15)
#define CHUNK_ALIGN ((size_t)64)
#define PIECES_PER_THREAD 8

/* [lo, hi) of part t of T over n elements (the reductions keep a static split so that the
 * sum is the same whichever thread runs first). */
static inline void chunk(size_t n, int t, int T, size_t *lo, size_t *hi)
{
    size_t per = (n + (size_t)T - 1) / (size_t)T;
    per = (per + CHUNK_ALIGN - 1) / CHUNK_ALIGN * CHUNK_ALIGN;
    size_t a = per * (size_t)t, b = a + per;
    *lo = a < n ? a : n;
    *hi = b < n ? b : n;
}

typedef void (*range_fn)(const void *job, size_t lo, size_t hi);

/* Runs body(job, lo, hi) over [0, n) on as many threads as the size is worth.
 * The range is cut into several pieces per thread, handed out dynamically: on a shared
 * machine one thread is often descheduled for a while, and with a static split the other
 * threads would wait for it at the end of the region instead of taking over its work. */
static void run_chunks(size_t n, range_fn body, const void *job)
{
    int nt = dl_threads_for(n, GRAIN);
    if (nt <= 1) {
        body(job, 0, n);
        return;
    }
#ifdef DL_HAVE_OPENMP
    size_t piece = n / ((size_t)nt * PIECES_PER_THREAD);
    if (piece < GRAIN / 2) piece = GRAIN / 2;
    piece = (piece + CHUNK_ALIGN - 1) / CHUNK_ALIGN * CHUNK_ALIGN;
    long npieces = (long)((n + piece - 1) / piece);
#pragma omp parallel for num_threads(nt) schedule(dynamic, 1)
    for (long k = 0; k < npieces; k++) {
        size_t lo = (size_t)k * piece;
        size_t hi = lo + piece < n ? lo + piece : n;
        body(job, lo, hi);
    }
#else
    body(job, 0, n);
#endif
}

static inline float *off_f(float *p, size_t k) { return p ? p + k : NULL; }
static inline double *off_d(double *p, size_t k) { return p ? p + k : NULL; }

/* ---- SGD ---- */
typedef void (*sgd_f32_fn)(float *, const float *, float *, size_t, const dl_sgd_args *);
typedef void (*sgd_f64_fn)(double *, const double *, double *, size_t, const dl_sgd_args *);
typedef struct { sgd_f32_fn fn; float *p; const float *g; float *buf; const dl_sgd_args *a; }
    sgd_f32_job;
typedef struct { sgd_f64_fn fn; double *p; const double *g; double *buf; const dl_sgd_args *a; }
    sgd_f64_job;

static void sgd_f32_range(const void *job, size_t lo, size_t hi)
{
    const sgd_f32_job *j = job;
    j->fn(j->p + lo, j->g + lo, off_f(j->buf, lo), hi - lo, j->a);
}

static void sgd_f64_range(const void *job, size_t lo, size_t hi)
{
    const sgd_f64_job *j = job;
    j->fn(j->p + lo, j->g + lo, off_d(j->buf, lo), hi - lo, j->a);
}

void dl_sgd_f32(float *p, const float *g, float *buf, size_t n, const dl_sgd_args *a)
{
    dl_isa_t isa = dl_isa();
    sgd_f32_job j = {isa == DL_ISA_AVX512 ? dl_sgd_f32_avx512
                     : isa == DL_ISA_AVX2 ? dl_sgd_f32_avx2 : dl_sgd_f32_generic,
                     p, g, buf, a};
    run_chunks(n, sgd_f32_range, &j);
}

void dl_sgd_f64(double *p, const double *g, double *buf, size_t n, const dl_sgd_args *a)
{
    dl_isa_t isa = dl_isa();
    sgd_f64_job j = {isa == DL_ISA_AVX512 ? dl_sgd_f64_avx512
                     : isa == DL_ISA_AVX2 ? dl_sgd_f64_avx2 : dl_sgd_f64_generic,
                     p, g, buf, a};
    run_chunks(n, sgd_f64_range, &j);
}

/* ---- Adam / AdamW ---- */
typedef void (*adam_f32_fn)(float *, const float *, float *, float *, float *, size_t,
                            const dl_adam_args *);
typedef void (*adam_f64_fn)(double *, const double *, double *, double *, double *, size_t,
                            const dl_adam_args *);
typedef struct {
    adam_f32_fn fn; float *p; const float *g; float *m, *v, *vmax; const dl_adam_args *a;
} adam_f32_job;
typedef struct {
    adam_f64_fn fn; double *p; const double *g; double *m, *v, *vmax; const dl_adam_args *a;
} adam_f64_job;

static void adam_f32_range(const void *job, size_t lo, size_t hi)
{
    const adam_f32_job *j = job;
    j->fn(j->p + lo, j->g + lo, j->m + lo, j->v + lo, off_f(j->vmax, lo), hi - lo, j->a);
}

static void adam_f64_range(const void *job, size_t lo, size_t hi)
{
    const adam_f64_job *j = job;
    j->fn(j->p + lo, j->g + lo, j->m + lo, j->v + lo, off_d(j->vmax, lo), hi - lo, j->a);
}

void dl_adam_f32(float *p, const float *g, float *m, float *v, float *vmax, size_t n,
                 const dl_adam_args *a)
{
    dl_isa_t isa = dl_isa();
    adam_f32_job j = {isa == DL_ISA_AVX512 ? dl_adam_f32_avx512
                      : isa == DL_ISA_AVX2 ? dl_adam_f32_avx2 : dl_adam_f32_generic,
                      p, g, m, v, vmax, a};
    run_chunks(n, adam_f32_range, &j);
}

void dl_adam_f64(double *p, const double *g, double *m, double *v, double *vmax, size_t n,
                 const dl_adam_args *a)
{
    dl_isa_t isa = dl_isa();
    adam_f64_job j = {isa == DL_ISA_AVX512 ? dl_adam_f64_avx512
                      : isa == DL_ISA_AVX2 ? dl_adam_f64_avx2 : dl_adam_f64_generic,
                      p, g, m, v, vmax, a};
    run_chunks(n, adam_f64_range, &j);
}

/* ---- RMSprop ---- */
typedef void (*rms_f32_fn)(float *, const float *, float *, float *, float *, size_t,
                           const dl_rmsprop_args *);
typedef void (*rms_f64_fn)(double *, const double *, double *, double *, double *, size_t,
                           const dl_rmsprop_args *);
typedef struct {
    rms_f32_fn fn; float *p; const float *g; float *sq, *gavg, *buf; const dl_rmsprop_args *a;
} rms_f32_job;
typedef struct {
    rms_f64_fn fn; double *p; const double *g; double *sq, *gavg, *buf;
    const dl_rmsprop_args *a;
} rms_f64_job;

static void rms_f32_range(const void *job, size_t lo, size_t hi)
{
    const rms_f32_job *j = job;
    j->fn(j->p + lo, j->g + lo, j->sq + lo, off_f(j->gavg, lo), off_f(j->buf, lo), hi - lo,
          j->a);
}

static void rms_f64_range(const void *job, size_t lo, size_t hi)
{
    const rms_f64_job *j = job;
    j->fn(j->p + lo, j->g + lo, j->sq + lo, off_d(j->gavg, lo), off_d(j->buf, lo), hi - lo,
          j->a);
}

void dl_rmsprop_f32(float *p, const float *g, float *sq, float *gavg, float *buf, size_t n,
                    const dl_rmsprop_args *a)
{
    dl_isa_t isa = dl_isa();
    rms_f32_job j = {isa == DL_ISA_AVX512 ? dl_rmsprop_f32_avx512
                     : isa == DL_ISA_AVX2 ? dl_rmsprop_f32_avx2 : dl_rmsprop_f32_generic,
                     p, g, sq, gavg, buf, a};
    run_chunks(n, rms_f32_range, &j);
}

void dl_rmsprop_f64(double *p, const double *g, double *sq, double *gavg, double *buf,
                    size_t n, const dl_rmsprop_args *a)
{
    dl_isa_t isa = dl_isa();
    rms_f64_job j = {isa == DL_ISA_AVX512 ? dl_rmsprop_f64_avx512
                     : isa == DL_ISA_AVX2 ? dl_rmsprop_f64_avx2 : dl_rmsprop_f64_generic,
                     p, g, sq, gavg, buf, a};
    run_chunks(n, rms_f64_range, &j);
}

/* ---- Adagrad ---- */
typedef void (*ada_f32_fn)(float *, const float *, float *, size_t, const dl_adagrad_args *);
typedef void (*ada_f64_fn)(double *, const double *, double *, size_t, const dl_adagrad_args *);
typedef struct { ada_f32_fn fn; float *p; const float *g; float *sum; const dl_adagrad_args *a; }
    ada_f32_job;
typedef struct {
    ada_f64_fn fn; double *p; const double *g; double *sum; const dl_adagrad_args *a;
} ada_f64_job;

static void ada_f32_range(const void *job, size_t lo, size_t hi)
{
    const ada_f32_job *j = job;
    j->fn(j->p + lo, j->g + lo, j->sum + lo, hi - lo, j->a);
}

static void ada_f64_range(const void *job, size_t lo, size_t hi)
{
    const ada_f64_job *j = job;
    j->fn(j->p + lo, j->g + lo, j->sum + lo, hi - lo, j->a);
}

void dl_adagrad_f32(float *p, const float *g, float *sum, size_t n, const dl_adagrad_args *a)
{
    dl_isa_t isa = dl_isa();
    ada_f32_job j = {isa == DL_ISA_AVX512 ? dl_adagrad_f32_avx512
                     : isa == DL_ISA_AVX2 ? dl_adagrad_f32_avx2 : dl_adagrad_f32_generic,
                     p, g, sum, a};
    run_chunks(n, ada_f32_range, &j);
}

void dl_adagrad_f64(double *p, const double *g, double *sum, size_t n, const dl_adagrad_args *a)
{
    dl_isa_t isa = dl_isa();
    ada_f64_job j = {isa == DL_ISA_AVX512 ? dl_adagrad_f64_avx512
                     : isa == DL_ISA_AVX2 ? dl_adagrad_f64_avx2 : dl_adagrad_f64_generic,
                     p, g, sum, a};
    run_chunks(n, ada_f64_range, &j);
}

/* ---- sum of squares ---- */
typedef double (*sumsq_f32_fn)(const float *, size_t);
typedef double (*sumsq_f64_fn)(const double *, size_t);

/* Per-thread partial sums are added in thread order, so the result does not depend on
 * scheduling (it does depend on the thread count, by rounding only). */
#define DL_MAX_SUMSQ_THREADS 256

double dl_sumsq_f32(const float *x, size_t n)
{
    dl_isa_t isa = dl_isa();
    sumsq_f32_fn fn = isa == DL_ISA_AVX512 ? dl_sumsq_f32_avx512
                    : isa == DL_ISA_AVX2 ? dl_sumsq_f32_avx2 : dl_sumsq_f32_generic;
    double part[DL_MAX_SUMSQ_THREADS] = {0};
    int nt = dl_threads_for(n, GRAIN);
    if (nt > DL_MAX_SUMSQ_THREADS) nt = DL_MAX_SUMSQ_THREADS;
    if (nt <= 1) return fn(x, n);
#ifdef DL_HAVE_OPENMP
#pragma omp parallel num_threads(nt)
    {
        size_t lo, hi;
        int t = omp_get_thread_num();
        chunk(n, t, omp_get_num_threads(), &lo, &hi);
        if (lo < hi && t < DL_MAX_SUMSQ_THREADS) part[t] = fn(x + lo, hi - lo);
    }
#endif
    double s = 0.0;
    for (int t = 0; t < nt; t++) s += part[t];
    return s;
}

double dl_sumsq_f64(const double *x, size_t n)
{
    dl_isa_t isa = dl_isa();
    sumsq_f64_fn fn = isa == DL_ISA_AVX512 ? dl_sumsq_f64_avx512
                    : isa == DL_ISA_AVX2 ? dl_sumsq_f64_avx2 : dl_sumsq_f64_generic;
    double part[DL_MAX_SUMSQ_THREADS] = {0};
    int nt = dl_threads_for(n, GRAIN);
    if (nt > DL_MAX_SUMSQ_THREADS) nt = DL_MAX_SUMSQ_THREADS;
    if (nt <= 1) return fn(x, n);
#ifdef DL_HAVE_OPENMP
#pragma omp parallel num_threads(nt)
    {
        size_t lo, hi;
        int t = omp_get_thread_num();
        chunk(n, t, omp_get_num_threads(), &lo, &hi);
        if (lo < hi && t < DL_MAX_SUMSQ_THREADS) part[t] = fn(x + lo, hi - lo);
    }
#endif
    double s = 0.0;
    for (int t = 0; t < nt; t++) s += part[t];
    return s;
}
