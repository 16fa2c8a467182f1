/* A product of a few rows (batch-1 Linear layers) split by columns over the executor's
 * helpers (plan_pool.c), for plans whose steps are all too small for the OpenMP team.
 *
 * Such a product streams its matrix once and does ~1 multiply-add per float it reads, so its
 * time is the matrix's trip from L2 (784 x 256 floats of an MLP's first layer: ~8 us of a
 * 13 us call at one thread).  Two threads each stream half of it.  Through the OpenMP team
 * that only paid without binding it to cores (bound: 16.8 us a call against 9.1, one run at
 * a load of ~4 on 2 CPUs, DLCORE_DYNAMIC=0) and an
 * end barrier waits for a member the OS has not scheduled; the helper pool's caller instead
 * does every part no helper has started, so a late or sleeping helper costs the call little.
 * The parts are runs of columns (multiples of 16: whole vectors of the kernels); each part is
 * finished (bias, activation) by the thread that computed it, while it is in cache. */
#include <stddef.h>
#include <stdint.h>

#include "dlcore/act.h"
#include "dlcore/gemm.h"
#include "dlcore/plan.h"
#include "plan_pool.h"

/* parts per thread: a helper that starts late still finds a part to take */
enum { PARTS_PER_THREAD = 2, MIN_PART_COLS = 32 };

typedef struct {
    const dl_plan_step *s;
    const float *A, *B, *bias;
    float *C;
    size_t cols;            /* columns per part, a multiple of 16 */
} split_job;

static void run_part(void *ctx, int part)
{
    const split_job *j = ctx;
    const int64_t *i = j->s->i;
    const double *f = j->s->f;
    const size_t M = (size_t)i[2], N = (size_t)i[3], K = (size_t)i[4];
    const size_t j0 = (size_t)part * j->cols;
    if (j0 >= N) return;
    const size_t n = j0 + j->cols < N ? j->cols : N - j0;
    const int tb = (int)i[1];
    const ptrdiff_t ldb = i[6], ldc = i[7];
    const dl_bias_t bk = j->bias ? (dl_bias_t)i[27] : DL_BIAS_NONE;
    float *C = j->C + j0;
    dl_sgemm_ex((int)i[0], tb, M, n, K, (float)f[3], j->A, i[5],
                tb ? j->B + (ptrdiff_t)j0 * ldb : j->B + j0, ldb, (float)f[4], C, ldc,
                bk == DL_BIAS_ROW ? j->bias + j0 : j->bias, bk, (dl_act_t)i[8], 1);
    const int post = (int)i[9];
    if (post >= 0)
        for (size_t r = 0; r < M; r++)
            dl_act_fwd_f32(post, C + (ptrdiff_t)r * ldc, C + (ptrdiff_t)r * ldc, n, (float)f[0],
                           (float)f[1], (float)f[2]);
}

void dl_plan_gemm_split(const dl_plan_step *s, const float *A, const float *B,
                        const float *bias, float *C, int nthreads)
{
    const size_t N = (size_t)s->i[3];
    size_t parts = (size_t)(nthreads > 1 ? nthreads : 1) * PARTS_PER_THREAD;
    const size_t most = N / MIN_PART_COLS;
    if (parts > most) parts = most ? most : 1;
    size_t cols = (N + parts - 1) / parts;
    cols = (cols + 15) / 16 * 16;
    split_job j = {s, A, B, bias, C, cols};
    const int n = (int)((N + cols - 1) / cols);
    dl_plan_pool_run(n, nthreads - 1, run_part, &j);
}
