/* Which steps of a plan run on the thread team, decided once when the plan is made.
 *
 * A step's work is counted in multiply-adds for products and convolutions and as 8 units per
 * element for elementwise, normalisation, pooling and copy steps (one element of those costs
 * about what 8 multiply-adds do at the FMA peak: they stream memory).  A step of less than
 * DL_PLAN_TEAM_MIN_WORK units (2^19: ~9 us on one core at the measured 117 GFLOP/s peak) runs
 * on the calling thread alone: splitting it would save at most ~4 us at two threads, while
 * starting a team costs ~2-5 us when its workers are awake and ~10-30 us when they sleep
 * (measured here, a KVM guest).  The kernels keep their own grain sizes for the steps that
 * pass; this only keeps the small ones off the team, and tells the executor whether a plan
 * needs a team at all (only then does it bind one to cores, see dlcore/affinity.h).  Ops of
 * unknown cost (gathers, casts, the int8 steps) are left to their kernels.
 *
 * A plan with no step for the team (an MLP at batch 1) still has products of a few rows by
 * a large matrix: those stream the matrix once, and two threads each streaming half of it
 * save half that time, which the executor's helper pool (plan_pool.c) gets at ~1 us a call
 * when its helper spins.  Measured here, MLP 784-256-128-10 at batch 1 and two threads
 * (alternated blocks in one run, a shared machine): 13.4 us a call on one thread, 9.1 us
 * with the 784 x 256 product split (it streams 200 K floats); splitting the 256 x 128 one
 * too (33 K floats, ~1 us) gained nothing.  Hence DL_PLAN_SPLIT_MIN_WEIGHTS. */
#include <stdint.h>

#include "dlcore/plan.h"
#include "dlcore/rnn.h"

static int64_t prod(const int64_t *v, int n)
{
    int64_t p = 1;
    for (int d = 0; d < n; d++) p *= v[d] > 0 ? v[d] : 0;
    return p;
}

/* multiply-adds (or 8 x elements) of a step; -1 when unknown */
static int64_t step_work(const dl_plan_step *s)
{
    const int64_t *i = s->i;
    switch (s->op) {
    case DL_PLAN_GEMM: {
        const int nb = (int)i[10];
        return i[2] * i[3] * i[4] * prod(i + 11, nb < 0 ? 0 : nb > 4 ? 4 : nb);
    }
    case DL_PLAN_CONV:
    case DL_PLAN_CONV_T:
    case DL_PLAN_CONV_GEMM:
    case DL_PLAN_CONV_DIRECT: {
        const int64_t g = i[15] > 0 ? i[15] : 1;
        /* CONV_T's ints describe the convolution from y to x: the same product count */
        return i[0] * i[4] * i[7] * i[8] * (i[1] / g) * i[5] * i[6];
    }
    case DL_PLAN_MBCONV:
        return i[0] * i[11] * i[12] * i[4] * (i[1] * i[8] * i[8] + i[6] * i[7] + i[5]);
    case DL_PLAN_ATTENTION:
        return i[0] * i[1] * i[2] * i[3] * (i[4] + i[5]);
    case DL_PLAN_RNN:
        return i[1] * i[2] * 4 * i[4] * (i[3] + i[4]);
    case DL_PLAN_COPY:
        return 8 * prod(i + 2, i[1] < 0 ? 0 : i[1] > 8 ? 8 : (int)i[1]);
    case DL_PLAN_FILL:
        return 8 * i[0];
    case DL_PLAN_ACT:
        return 8 * i[1];
    case DL_PLAN_SOFTMAX:
        return 8 * i[0] * i[1] * i[2];
    case DL_PLAN_BINARY:
        return 8 * prod(i + 2, i[1] < 0 ? 0 : i[1] > 6 ? 6 : (int)i[1]);
    case DL_PLAN_UNARY:
        return 8 * i[1];
    case DL_PLAN_LAYERNORM:
    case DL_PLAN_SKIP_LAYERNORM:
        return 8 * i[0] * i[1];
    case DL_PLAN_MAXPOOL:
    case DL_PLAN_AVGPOOL:
        return 8 * i[0] * i[3] * i[4] + i[0] * i[3] * i[4] * i[5] * i[6];
    case DL_PLAN_ADAPTIVE_AVGPOOL:
    case DL_PLAN_ADAPTIVE_MAXPOOL:
    case DL_PLAN_RESIZE:
        return 8 * i[0] * (i[1] * i[2] + i[3] * i[4]);
    case DL_PLAN_BATCHNORM:
        return 8 * i[0] * i[1] * i[2];
    case DL_PLAN_REDUCE:
        return 8 * i[1] * i[2] * i[3];
    default:
        return -1;
    }
}

int dl_plan_step_wants_team(const dl_plan_step *s)
{
    const int64_t w = step_work(s);
    return w < 0 || w >= DL_PLAN_TEAM_MIN_WORK;
}

/* The load rule (dl_team_size_for_load) shrinks a call's team while the machine has more
 * runnable threads than CPUs, for the steps that synchronise their threads many times: each
 * barrier waits out the time slice of whichever member the OS has descheduled.  A step whose
 * threads run apart until one join loses at most one such wait, and each thread it keeps
 * still gets its share of a busy machine's CPUs (as eager's and ONNX Runtime's threads do):
 * cutting it to one thread only halves its share.  The recurrent step splitting the batch
 * (rnn_packed.c: a packed form, 2 x DL_RNN_SPLIT_ROWS_MIN rows or more) is such a step; its
 * smaller batches split each step's hidden units and stay under the rule. */
int dl_plan_step_ignores_load(const dl_plan_step *s)
{
    return s->op == DL_PLAN_RNN && s->i[9] != 0 && s->i[2] >= 2 * DL_RNN_SPLIT_ROWS_MIN;
}

int dl_plan_step_splits_columns(const dl_plan_step *s)
{
    const int64_t *i = s->i;
    if (s->op != DL_PLAN_GEMM || i[10] < 0 || i[10] > 4 || prod(i + 11, (int)i[10]) != 1)
        return 0;
    return i[2] >= 1 && i[2] <= DL_PLAN_SPLIT_MAX_ROWS && i[3] >= 32 &&
           i[3] * i[4] >= DL_PLAN_SPLIT_MIN_WEIGHTS;
}

void dl_plan_team_flags(int nsteps, const dl_plan_step *steps, unsigned char *team)
{
    int heavy = 0;
    for (int k = 0; k < nsteps; k++) {
        team[k] = (unsigned char)(dl_plan_step_splits_columns(&steps[k]) ? DL_PLAN_ON_HELPERS
                                  : dl_plan_step_wants_team(&steps[k]) ? DL_PLAN_ON_TEAM
                                                                       : DL_PLAN_ALONE);
        heavy |= team[k] == DL_PLAN_ON_TEAM;
    }
    /* beside the OpenMP team the helpers would spin against its spinning workers: a plan
     * that forks the team keeps its few-row products as they were */
    if (heavy)
        for (int k = 0; k < nsteps; k++)
            if (team[k] == DL_PLAN_ON_HELPERS)
                team[k] = (unsigned char)(dl_plan_step_wants_team(&steps[k]) ? DL_PLAN_ON_TEAM
                                                                           : DL_PLAN_ALONE);
}
