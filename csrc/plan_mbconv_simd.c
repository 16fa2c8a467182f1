/* The fused inverted-residual step (plan_mbconv.h), per ISA.
 *
 * One task is a run of consecutive strips of TR output rows of one image.  For a strip:
 *   1. the expanded rows it needs, (TR - 1) * stride + R of them, are in E (Ce planes of ER
 *      rows of W): those shared with the previous strip are moved down, the others are the
 *      product We x (those rows of x), bias and Relu/ReLU6 in the GEMM epilogue;
 *   2. each expanded plane's rows are copied, zero-padded and (stride 2) split into column
 *      and row phases, into one small flat grid (as plan_dw_simd.c's, so every tap of a
 *      vector of outputs is one contiguous load), summed with its filter into the strip's
 *      depthwise rows D (Ce planes of TR x OW), bias and activation applied;
 *   3. y's TR output rows += Wp x D (+ bias), the skip value already in y when residual.
 * E, D and the grid stay in L2 (the planner sizes TR for it); the expanded map is never
 * written out whole.  Strips past the first of a task reuse the rows it has (the next strip
 * needs R - stride of them again), so each expanded row is computed once per task. */
#include <stdint.h>
#include <stddef.h>
#include <string.h>

#include "dlcore/act.h"
#include "dlcore/gemm.h"
#include "dlcore/plan.h"
#include "dlcore/runtime.h"
#include "simd.h"
#include "simd_lanes.h"
#include "dw_grid_sum.h"
#include "plan_dw_same.h"
#include "plan_mbconv.h"
#ifdef DL_HAVE_OPENMP
#include <omp.h>
#endif

#define L DL_VF_LEN

enum { MAX_TAPS = 49 };

static int64_t round_up(int64_t a, int64_t b) { return (a + b - 1) / b * b; }

typedef struct {
    const double *f;
    const dl_plan_mbconv_packed *pk;
    const float *x, *be, *wd, *bd, *bp;
    float *y;
    int64_t Cin, H, W, Ce, Cout, R, S, st, ph, pw, OH, OW, TR;
    int64_t ER;          /* expanded rows held: st * (TR - 1 + q) + ph + 1 */
    int64_t q;           /* depthwise rows computed above a strip's first: ceil(ph / st) */
    int64_t CW, PS;      /* the flat grid: columns per phase row, floats per phase */
    int64_t strips, per_task, tasks_per_image;
    int64_t toff[MAX_TAPS];
    size_t e_at, d_at, g_at, o_at, floats;   /* the task's scratch: E, D, grid, sums */
    dl_act_t eact;
    int kind, clip, res;
    float lo, hi;
} mb_args;

/* One phase row of padded columns [0, CW) from expanded row xr (NULL: a zero row); whole
 * vectors, the last spilling into the next row (written after it) or the phase's slack. */
static void grid_row_s1(const mb_args *a, const float *xr, float *dst)
{
    for (int64_t k = 0; k < a->CW; k += L) {
        const int64_t c = k - a->pw;   /* input column of lane 0 */
        vf_storeu(dst + k, xr ? vf_load_range(xr + c, -c, a->W - c) : vf_zero());
    }
}

/* both column phases of a stride-2 row: lane l of phase b is padded column 2 (k + l) + b */
static void grid_row_s2(const mb_args *a, const float *xr, float *d0, float *d1)
{
    for (int64_t k = 0; k < a->CW; k += L) {
        vf in[2], o[2];
        if (!xr) {
            o[0] = o[1] = vf_zero();
        } else {
            const int64_t c = 2 * k - a->pw;
            in[0] = vf_load_range(xr + c, -c, a->W - c);
            in[1] = vf_load_range(xr + c + L, -c - L, a->W - c - L);
            vf_deinterleave2(in, o);
        }
        vf_storeu(d0 + k, o[0]);
        vf_storeu(d1 + k, o[1]);
    }
}

/* The grid of one expanded plane for output rows [o0, o0 + nr): phase (p, b) holds the padded
 * rows = p mod st and columns = b mod st; e: the plane's rows from image row o0 * st - ph,
 * of which rows [0, need) are the computed ones (those inside the image). */
static void grid_plane(const mb_args *a, const float *e, int64_t o0, int64_t nr, float *g)
{
    const int64_t st = a->st, CW = a->CW, PR = nr + (a->R - 1) / st;
    const int64_t base = o0 * st - a->ph, need = (nr - 1) * st + a->R;
    for (int64_t p = 0; p < st; p++) {
        float *ph = g + p * st * a->PS;
        for (int64_t r = 0; r < PR; r++) {
            const int64_t pr = r * st + p, h = base + pr;
            const float *xr = pr < need && h >= 0 && h < a->H ? e + pr * a->W : NULL;
            if (st == 1)
                grid_row_s1(a, xr, ph + r * CW);
            else
                grid_row_s2(a, xr, ph + r * CW, ph + a->PS + r * CW);
        }
        for (int64_t b = 0; b < st; b++) {
            float *z = ph + b * a->PS;
            for (int64_t j = PR * CW; j < a->PS; j++) z[j] = 0.0f;
        }
    }
}

/* Output rows [o0, o0 + nr) of image n.  E's plane rows are the image rows from
 * lo = st * (o0 - q) on (q = ceil(ph / st)), zero outside the image, so that a "same"
 * depthwise conv of those rows as a plane of their own (dl_plan_dw_same, reading them in
 * place) has this strip's outputs as its rows q .. q + nr - 1 (a few rows more are computed
 * and dropped).  E holds image rows [*held_lo, *held_hi) from *held_base on (none when
 * held_hi <= held_lo) and is left holding this strip's. */
static void strip(const mb_args *a, int64_t n, int64_t o0, int64_t nr, float *buf,
                  int64_t *held_base, int64_t *held_hi, int64_t *held_ld)
{
    const int64_t W = a->W, HW = a->H * W, st = a->st, q = a->q;
    float *E = buf + a->e_at, *D = buf + a->d_at;
    const int64_t lo = st * (o0 - q), hi = (o0 + nr - 1) * st + a->ph + 1, rows = hi - lo;
    /* planes of exactly the strip's rows (the depthwise kernel's plane stride): fewer in the
     * last strip */
    const int64_t ldE = rows * W;
    const int64_t clo = lo > 0 ? lo : 0, chi = hi < a->H ? hi : a->H;
    int64_t from = clo;
    if (*held_hi > clo) {
        /* the rows the last strip expanded and this one reads again: moved, not recomputed */
        /* (to lower addresses channel by channel: a plane's destination never reaches the
         * next plane's source, the new planes being no longer than the old) */
        const int64_t src = clo - *held_base, dst = clo - lo, cnt = (*held_hi - clo) * W;
        const int64_t ldo = *held_ld;
        if (src != dst || ldo != ldE)
            for (int64_t c = 0; c < a->Ce; c++)
                memmove(E + c * ldE + dst * W, E + c * ldo + src * W, sizeof(float) * (size_t)cnt);
        from = *held_hi;
    }
    if (lo < 0)   /* after the move, which may read where these rows go */
        for (int64_t c = 0; c < a->Ce; c++)
            memset(E + c * ldE, 0, sizeof(float) * (size_t)(-lo * W));
    if (chi > from)
        dl_sgemm_packed_run(&a->pk->expand, 0, (size_t)((chi - from) * W), 1.0f,
                            a->x + n * a->Cin * HW + from * W, (ptrdiff_t)HW, 0.0f,
                            E + (from - lo) * W, (ptrdiff_t)ldE, a->be,
                            a->be ? DL_BIAS_COL : DL_BIAS_NONE, a->eact, 1);
    if (hi > a->H)
        for (int64_t c = 0; c < a->Ce; c++)
            memset(E + c * ldE + (chi - lo) * W, 0, sizeof(float) * (size_t)((hi - chi) * W));
    *held_base = lo;
    *held_hi = chi;
    *held_ld = ldE;
    /* the depthwise rows: the strip's rows as planes of their own, read in place */
    const int64_t OHS = (rows + st - 1) / st, ldD = OHS * a->OW;
    int64_t di[17] = {1, a->Ce, rows, W, a->Ce, a->R, a->S, OHS, a->OW, st, st, a->ph, a->pw,
                      1, 1, a->Ce, a->kind};
    if (DL_ISA_FN(dl_plan_dw_same_applies)(di)) {
        DL_ISA_FN(dl_plan_dw_same)(di, a->f, E, a->wd, a->bd, D, NULL);
    } else {
        /* its other cases: each plane's rows through a small padded grid */
        float *g = buf + a->g_at, *fo = buf + a->o_at;
        const int64_t taps = a->R * a->S, J = round_up(nr * a->CW, L);
        const int64_t first = o0 * st - a->ph - lo;   /* E's row of the grid's row 0 */
        for (int64_t c = 0; c < a->Ce; c++) {
            grid_plane(a, E + c * ldE + first * W, o0, nr, g);
            dw_grid_sum(g, a->wd + c * taps, a->toff, taps, J,
                        vf_set1(a->bd ? a->bd[c] : 0.0f), a->clip, vf_set1(a->lo),
                        vf_set1(a->hi), fo);
            float *d = D + c * ldD + q * a->OW;
            for (int64_t r = 0; r < nr; r++) {
                const float *s = fo + r * a->CW;
                float *t = d + r * a->OW;
                int64_t k = 0;
                for (; k + L <= a->OW; k += L) vf_storeu(t + k, vf_loadu(s + k));
                if (k < a->OW) vf_store_part(t + k, vf_loadu(s + k), (size_t)(a->OW - k));
            }
            if (!a->clip && a->kind >= 0)
                for (int64_t r = 0; r < nr; r++)
                    dl_act_fwd_f32(a->kind, d + r * a->OW, d + r * a->OW, (size_t)a->OW,
                                   (float)a->f[0], (float)a->f[1], (float)a->f[2]);
        }
    }
    const int64_t OHW = a->OH * a->OW;
    dl_sgemm_packed_run(&a->pk->project, 0, (size_t)(nr * a->OW), 1.0f, D + q * a->OW,
                        (ptrdiff_t)ldD, a->res ? 1.0f : 0.0f,
                        a->y + n * a->Cout * OHW + o0 * a->OW, (ptrdiff_t)OHW, a->bp,
                        a->bp ? DL_BIAS_COL : DL_BIAS_NONE, DL_ACT_NONE, 1);
}

static void task(const mb_args *a, int64_t t, float *buf)
{
    const int64_t n = t / a->tasks_per_image, k = t % a->tasks_per_image;
    const int64_t s0 = k * a->per_task;
    const int64_t s1 = s0 + a->per_task < a->strips ? s0 + a->per_task : a->strips;
    int64_t base = 0, held_hi = -1, held_ld = 0;
    for (int64_t s = s0; s < s1; s++) {
        const int64_t o0 = s * a->TR;
        strip(a, n, o0, a->OH - o0 < a->TR ? a->OH - o0 : a->TR, buf, &base, &held_hi, &held_ld);
    }
}

static int run(const int64_t *i, const double *f, const dl_plan_mbconv_packed *pk,
               const float *x, const float *be, const float *wd, const float *bd,
               const float *bp, float *y)
{
    if (!pk || !dl_plan_mbconv_ok(i)) return -1;
    mb_args a;
    a.f = f; a.pk = pk; a.x = x; a.be = be; a.wd = wd; a.bd = bd; a.bp = bp; a.y = y;
    const int64_t N = i[0];
    a.Cin = i[1]; a.H = i[2]; a.W = i[3]; a.Ce = i[4]; a.Cout = i[5]; a.R = i[6]; a.S = i[7];
    a.st = i[8]; a.ph = i[9]; a.pw = i[10]; a.OH = i[11]; a.OW = i[12];
    a.eact = (dl_act_t)i[13];
    a.kind = (int)i[14];
    a.res = i[15] != 0;
    a.TR = i[16] < a.OH ? i[16] : a.OH;
    a.clip = a.kind == DL_AF_RELU || a.kind == DL_AF_HARDTANH;
    a.lo = a.kind == DL_AF_RELU ? 0.0f : (float)f[0];
    a.hi = a.kind == DL_AF_RELU ? __builtin_inff() : (float)f[1];
    const int64_t st = a.st;
    a.q = (a.ph + st - 1) / st;
    a.ER = st * (a.TR - 1 + a.q) + a.ph + 1;
    /* the flat grid of TR rows (plan_dw_simd.c's): output (r, ow) at r * CW + ow, tap (p, q)
     * at an offset from it in phase (p mod st, q mod st) */
    a.CW = a.OW + (a.S - 1) / st;
    const int64_t PR = a.TR + (a.R - 1) / st, J = round_up(a.TR * a.CW, L);
    const int64_t reach = J + ((a.R - 1) / st) * a.CW + (a.S - 1) / st;
    const int64_t rows = PR * a.CW + L;
    a.PS = round_up(reach > rows ? reach : rows, L);
    for (int64_t r = 0; r < a.R; r++)
        for (int64_t s = 0; s < a.S; s++)
            a.toff[r * a.S + s] = ((r % st) * st + s % st) * a.PS + (r / st) * a.CW + s / st;
    a.e_at = 0;
    a.d_at = a.e_at + (size_t)round_up(a.Ce * a.ER * a.W, 16);
    a.g_at = a.d_at + (size_t)round_up(a.Ce * ((a.ER + st - 1) / st) * a.OW, 16);
    a.o_at = a.g_at + (size_t)round_up(st * st * a.PS, 16);
    a.floats = a.o_at + (size_t)round_up(J + L, 16);
    a.strips = (a.OH + a.TR - 1) / a.TR;
    /* threads take images; fewer images than threads: each image's strips in runs, one per
     * thread (a run's first strip expands its halo rows again) */
    const size_t work = (size_t)(N * a.OH * a.OW * a.Ce * (a.Cin * st * st + a.R * a.S + a.Cout));
    int nt = dl_threads_for(work, (size_t)1 << 18);
    a.tasks_per_image = N >= nt ? 1 : (nt + N - 1) / N;
    if (a.tasks_per_image > a.strips) a.tasks_per_image = a.strips;
    a.per_task = (a.strips + a.tasks_per_image - 1) / a.tasks_per_image;
    const int64_t tasks = N * a.tasks_per_image;
    if (nt > tasks) nt = (int)tasks;
    const size_t bytes = a.floats * sizeof(float);
    /* the depthwise kernel a strip calls runs on its caller's thread alone */
    if (nt <= 1) {
        float *buf = dl_alloc(bytes);
        if (!buf) return -1;
        const int prev = dl_set_local_num_threads(1);
        for (int64_t t = 0; t < tasks; t++) task(&a, t, buf);
        dl_set_local_num_threads(prev);
        dl_free(buf);
        return 0;
    }
    int failed = 0;
#ifdef DL_HAVE_OPENMP
#pragma omp parallel num_threads(nt) reduction(| : failed)
#endif
    {
        float *buf = dl_alloc(bytes);
        if (!buf) failed = 1;
        const int prev = dl_set_local_num_threads(1);
#ifdef DL_HAVE_OPENMP
#pragma omp for schedule(dynamic, 1)
#endif
        for (int64_t t = 0; t < tasks; t++)
            if (buf) task(&a, t, buf);
        dl_set_local_num_threads(prev);
        dl_free(buf);
    }
    return failed ? -1 : 0;
}

const plan_mbconv_kernels_t DL_ISA_FN(plan_mbconv_kernels) = {run};
