/* NLL loss written once for both element types: csrc/loss.c instantiates this file through
 * each_dtype.h (T, SUF; target_ok and NLL_GRAIN come from loss.c). */

int64_t SUF(dl_nll_fwd)(const T *x, const int64_t *target, const T *weight, size_t N, size_t C,
                        int64_t ignore_index, T *loss, double *sum_loss, double *sum_weight)
{
    double tl = 0.0, tw = 0.0;
    int64_t bad = -1;
    for (size_t i = 0; i < N; i++) {
        const int64_t t = target[i];
        if (!target_ok(t, C, ignore_index)) {
            if (t != ignore_index && bad < 0) bad = (int64_t)i;
            if (loss) loss[i] = 0;
            continue;
        }
        const T wt = weight ? weight[t] : (T)1;
        const T l = -wt * x[i * C + t];
        if (loss) loss[i] = l;
        tl += l;
        tw += wt;
    }
    *sum_loss = tl;
    *sum_weight = tw;
    return bad;
}

void SUF(dl_nll_bwd)(const int64_t *target, const T *weight, size_t N, size_t C,
                     int64_t ignore_index, const T *g, T gscale, T *gx)
{
    int nt = dl_threads_for(N * C, NLL_GRAIN);
#pragma omp parallel for num_threads(nt) schedule(static) if (nt > 1)
    for (size_t i = 0; i < N; i++) {
        memset(gx + i * C, 0, C * sizeof(T));
        const int64_t t = target[i];
        if (target_ok(t, C, ignore_index))
            gx[i * C + t] = -(weight ? weight[t] : (T)1) * (g ? g[i] : (T)1) * gscale;
    }
}
