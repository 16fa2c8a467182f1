/* Optimizer entry points written once for both element types: csrc/optim.c instantiates this
 * file through each_dtype.h (T, SUF); optim_kernels()->SUF(update) is the running ISA's
 * kernel for the dtype (optim_kernels.h), and run_chunks splits the work. */

static inline T *SUF(optim_off)(T *p, size_t k) { return p ? p + k : NULL; }

/* ---- SGD ---- */
typedef struct {
    void (*fn)(T *, const T *, T *, size_t, const dl_sgd_args *);
    T *p; const T *g; T *buf; const dl_sgd_args *a;
} SUF(sgd_job);

static void SUF(sgd_range)(const void *job, size_t lo, size_t hi)
{
    const SUF(sgd_job) *j = job;
    j->fn(j->p + lo, j->g + lo, SUF(optim_off)(j->buf, lo), hi - lo, j->a);
}

void SUF(dl_sgd)(T *p, const T *g, T *buf, size_t n, const dl_sgd_args *a)
{
    SUF(sgd_job) j = {optim_kernels()->SUF(sgd), p, g, buf, a};
    run_chunks(n, SUF(sgd_range), &j);
}

/* ---- Adam / AdamW ---- */
typedef struct {
    void (*fn)(T *, const T *, T *, T *, T *, size_t, const dl_adam_args *);
    T *p; const T *g; T *m, *v, *vmax; const dl_adam_args *a;
} SUF(adam_job);

static void SUF(adam_range)(const void *job, size_t lo, size_t hi)
{
    const SUF(adam_job) *j = job;
    j->fn(j->p + lo, j->g + lo, j->m + lo, j->v + lo, SUF(optim_off)(j->vmax, lo), hi - lo,
          j->a);
}

void SUF(dl_adam)(T *p, const T *g, T *m, T *v, T *vmax, size_t n, const dl_adam_args *a)
{
    SUF(adam_job) j = {optim_kernels()->SUF(adam), p, g, m, v, vmax, a};
    run_chunks(n, SUF(adam_range), &j);
}

/* ---- RMSprop ---- */
typedef struct {
    void (*fn)(T *, const T *, T *, T *, T *, size_t, const dl_rmsprop_args *);
    T *p; const T *g; T *sq, *gavg, *buf; const dl_rmsprop_args *a;
} SUF(rms_job);

static void SUF(rms_range)(const void *job, size_t lo, size_t hi)
{
    const SUF(rms_job) *j = job;
    j->fn(j->p + lo, j->g + lo, j->sq + lo, SUF(optim_off)(j->gavg, lo),
          SUF(optim_off)(j->buf, lo), hi - lo, j->a);
}

void SUF(dl_rmsprop)(T *p, const T *g, T *sq, T *gavg, T *buf, size_t n,
                     const dl_rmsprop_args *a)
{
    SUF(rms_job) j = {optim_kernels()->SUF(rmsprop), p, g, sq, gavg, buf, a};
    run_chunks(n, SUF(rms_range), &j);
}

/* ---- Adagrad ---- */
typedef struct {
    void (*fn)(T *, const T *, T *, size_t, const dl_adagrad_args *);
    T *p; const T *g; T *sum; const dl_adagrad_args *a;
} SUF(ada_job);

static void SUF(ada_range)(const void *job, size_t lo, size_t hi)
{
    const SUF(ada_job) *j = job;
    j->fn(j->p + lo, j->g + lo, j->sum + lo, hi - lo, j->a);
}

void SUF(dl_adagrad)(T *p, const T *g, T *sum, size_t n, const dl_adagrad_args *a)
{
    SUF(ada_job) j = {optim_kernels()->SUF(adagrad), p, g, sum, a};
    run_chunks(n, SUF(ada_range), &j);
}

/* ---- sum of squares ----
 * Per-thread partial sums are added in thread order, so the result does not depend on
 * scheduling (it does depend on the thread count, by rounding only). */
double SUF(dl_sumsq)(const T *x, size_t n)
{
    double (*fn)(const T *, size_t) = optim_kernels()->SUF(sumsq);
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
