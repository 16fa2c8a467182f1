/* Max pooling with 3x3 windows at stride 2 (ResNet's stem; padding 0 or 1, any output size,
 * ceil mode included), for the MAXPOOL step.  Per output row: the three input rows' maximum
 * into a row buffer with -inf borders (whole vectors straight from the plane), then each
 * output lane's three columns as the even and odd lanes of that buffer split in registers
 * (simd_lanes.h's deinterleave) at offsets 0 and 2.  No padded copy of the plane: the
 * general kernel (plan_dw_simd.c) pads each plane into column phases first, which cost
 * most of its time here (527 us for ResNet-18's 64 planes of 112x112 at one thread).
 * NaN wins, as in dlcore/pool.h: a window holding one gives NaN.  The executor takes it on
 * the AVX2 and AVX-512 paths only (plan.c). */
#include <math.h>
#include <stdint.h>

#include "dlcore/alloc.h"
#include "dlcore/runtime.h"
#include "plan_kernels.h"
#include "simd.h"
#include "simd_lanes.h"

/* the larger of a and b, NaN if either is */
static inline vf max_nan(vf a, vf b) { return vf_keep_nan(a, vf_max(a, b)); }

/* One plane: x (H x W) -> y (OH x OW); buf holds BW floats. */
static void plane(const float *x, float *y, int64_t H, int64_t W, int64_t OH, int64_t OW,
                  int64_t ph, int64_t pw, float *buf, int64_t BW)
{
    const vf ninf = vf_set1(-INFINITY);
    /* buf[pw + c] = column c's maximum; the borders stay -inf */
    for (int64_t k = 0; k < BW; k += DL_VF_LEN) vf_storeu(buf + k, ninf);
    float *row = buf + pw;
    for (int64_t oh = 0; oh < OH; oh++) {
        const int64_t r0 = 2 * oh - ph < 0 ? 0 : 2 * oh - ph;
        const int64_t r1 = 2 * oh - ph + 3 > H ? H : 2 * oh - ph + 3;
        int64_t c = 0;
        for (; c + DL_VF_LEN <= W; c += DL_VF_LEN) {
            vf m = ninf;
            for (int64_t r = r0; r < r1; r++) m = max_nan(m, vf_loadu(x + r * W + c));
            vf_storeu(row + c, m);
        }
        if (c < W) {
            vf m = ninf;
            for (int64_t r = r0; r < r1; r++)
                m = max_nan(m, vf_load_part(x + r * W + c, (size_t)(W - c), -INFINITY));
            vf_store_part(row + c, m, (size_t)(W - c));
        }
        /* output ow reads padded columns 2ow, 2ow + 1, 2ow + 2 = buf[2ow ..] */
        float *yr = y + oh * OW;
        for (int64_t o = 0; o < OW; o += DL_VF_LEN) {
            vf a[2], e0[2], e2[2];
            a[0] = vf_loadu(buf + 2 * o);
            a[1] = vf_loadu(buf + 2 * o + DL_VF_LEN);
            vf_deinterleave2(a, e0);
            a[0] = vf_loadu(buf + 2 * o + 2);
            a[1] = vf_loadu(buf + 2 * o + 2 + DL_VF_LEN);
            vf_deinterleave2(a, e2);
            const vf m = max_nan(max_nan(e0[0], e0[1]), e2[0]);
            if (o + DL_VF_LEN <= OW) vf_storeu(yr + o, m);
            else vf_store_part(yr + o, m, (size_t)(OW - o));
        }
    }
}

/* i: pool ints (planes H W OH OW kh kw sh sw ph pw dh dw) with 3x3 windows, stride 2,
 * padding 0 or 1, dilation 1.  -1 when scratch memory is short. */
static int maxpool3s2(const int64_t *i, const float *x, float *y)
{
    const int64_t planes = i[0], H = i[1], W = i[2], OH = i[3], OW = i[4], ph = i[9],
                  pw = i[10];
    /* columns read: up to 2 * (OW rounded up to whole vectors) + 2 + a vector */
    const int64_t need = 2 * ((OW + DL_VF_LEN - 1) / DL_VF_LEN * DL_VF_LEN) + 2 + DL_VF_LEN;
    int64_t BW = pw + W + DL_VF_LEN;
    BW = (need > BW ? need : BW) + DL_VF_LEN;
    BW = (BW + DL_VF_LEN - 1) / DL_VF_LEN * DL_VF_LEN;
    const int nt = dl_threads_for((size_t)(planes * OH * OW * 9), (size_t)1 << 16);
    int fail = 0;
#ifdef DL_HAVE_OPENMP
#pragma omp parallel num_threads(nt) if (nt > 1)
#endif
    {
        float *buf = dl_alloc(sizeof(float) * (size_t)BW);
        if (!buf) {
#ifdef DL_HAVE_OPENMP
#pragma omp atomic write
#endif
            fail = 1;
        } else {
#ifdef DL_HAVE_OPENMP
#pragma omp for schedule(static)
#endif
            for (int64_t p = 0; p < planes; p++)
                plane(x + p * H * W, y + p * OH * OW, H, W, OH, OW, ph, pw, buf, BW);
        }
        dl_free(buf);
    }
    (void)nt;
    return fail ? -1 : 0;
}

const plan_pool_kernels_t DL_ISA_FN(plan_pool_kernels) = {maxpool3s2};
