/* Depthwise convolution row kernels (stride 1), float32, one copy per ISA.
 *
 * Both read a zero-padded band of one input plane (built by conv.c), so the inner loops have
 * no bounds checks: output row i, column j reads buf[(i + r*dh)*bw + j + s*dw].  Every row of
 * the band has at least roundup(ow, 16) + (S-1)*dw columns, so a whole vector starting at
 * any j < ow stays inside the row.
 */
#include "simd.h"
#include "dlcore/conv.h"

/* out[i, j] = (accumulate ? out[i, j] : init) + sum_{r,s} wk[r*S+s] * buf[(i+r*dh)*bw + j+s*dw] */
void DL_ISA_FN(dl_dw_rows_s1_f32)(const float *buf, int64_t bw, float *out, int64_t oh,
                                  int64_t ow, int64_t ldo, const float *wk, int64_t R,
                                  int64_t S, int64_t dh, int64_t dw, float init, int accumulate)
{
    float tmp[DL_VF_LEN];
    for (int64_t i = 0; i < oh; i++) {
        float *orow = out + i * ldo;
        int64_t j = 0;
        for (; j < ow; j += DL_VF_LEN) {
            vf acc = vf_set1(init);
            for (int64_t r = 0; r < R; r++) {
                const float *brow = buf + (i + r * dh) * bw + j;
                const float *wr = wk + r * S;
                for (int64_t s = 0; s < S; s++)
                    acc = vf_fma(vf_set1(wr[s]), vf_loadu(brow + s * dw), acc);
            }
            if (j + DL_VF_LEN <= ow) {
                if (accumulate) acc = vf_add(vf_loadu(orow + j), acc);
                vf_storeu(orow + j, acc);
            } else {
                /* the last, partial vector: lanes past ow are computed and dropped */
                vf_storeu(tmp, acc);
                for (int64_t q = 0; q < ow - j; q++)
                    orow[j + q] = accumulate ? orow[j + q] + tmp[q] : tmp[q];
            }
        }
    }
}

/* gw[r*S+s] += sum_{i<oh, j<ow} gy[i*ldg + j] * buf[(i+r*dh)*bw + j+s*dw]; gy rows hold at
 * least roundup(ow, 16) readable elements (the caller pads them). */
void DL_ISA_FN(dl_dw_wgrad_s1_f32)(const float *buf, int64_t bw, const float *gy, int64_t ldg,
                                   int64_t oh, int64_t ow, int64_t R, int64_t S, int64_t dh,
                                   int64_t dw, float *gw)
{
    static const float iota[16] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};
    const int64_t full = ow - ow % DL_VF_LEN, rest = ow - full;
    /* the band's columns past ow may hold real inputs (even inf) that must not meet the
     * padding of a partial gradient vector: the tail product is masked, not just zero-padded */
    const vf lane = vf_loadu(iota), limit = vf_set1((float)rest);
    for (int64_t r = 0; r < R; r++) {
        for (int64_t s = 0; s < S; s++) {
            vf acc = vf_zero();
            for (int64_t i = 0; i < oh; i++) {
                const float *grow = gy + i * ldg;
                const float *brow = buf + (i + r * dh) * bw + s * dw;
                for (int64_t j = 0; j < full; j += DL_VF_LEN)
                    acc = vf_fma(vf_loadu(grow + j), vf_loadu(brow + j), acc);
                if (rest) {
                    vf prod = vf_mul(vf_loadu(grow + full), vf_loadu(brow + full));
                    acc = vf_add(acc, vf_select_lt(lane, limit, prod, vf_zero()));
                }
            }
            gw[r * S + s] += vf_reduce_add(acc);
        }
    }
}
