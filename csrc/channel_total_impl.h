/* The sum of channel c of x (N, C, L): each row of L values summed in T (vectorized), the
 * rows added in double.  Part of the T/SUF templates that need it (batchnorm_impl.h,
 * conv_wgrad_impl.h): included once per instantiation, so no include guard. */
static inline double SUF(channel_total)(int64_t N, int64_t C, int64_t L, const T *x, int64_t c)
{
    double s = 0.0;
    for (int64_t n = 0; n < N; n++) {
        const T *row = x + (n * C + c) * L;
        T rs = 0;
        #pragma omp simd reduction(+ : rs)
        for (int64_t l = 0; l < L; l++) rs += row[l];
        s += (double)rs;
    }
    return s;
}
