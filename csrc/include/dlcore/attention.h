/* Fused scaled dot-product attention: out = softmax(scale * Q K^T + mask) V per (batch, head).
 *
 * Shapes: Q (B, H, L, D), K (B, H, S, D), V (B, H, S, Dv), out (B, H, L, Dv) C-contiguous
 * (the forward may take other strides for out: o_s),
 * lse (B, H, L) C-contiguous: per query row, log(sum_j exp(score_ij)) with the scores already
 * scaled and masked (-inf for a fully masked row, whose output row is 0, as in PyTorch).
 * Q, K and V are read through element strides (batch, head, row); their last dim is contiguous.
 * The mask, if any, is read through four strides (batch, head, row, column; 0 on broadcast
 * dims): DL_ATTN_MASK_BOOL reads uint8 (nonzero = may attend), DL_ATTN_MASK_ADD reads the
 * element type and adds it to the score.  causal keeps key j for query i only when j <= i
 * (the top-left aligned lower triangle, PyTorch's is_causal), and composes with a mask.
 *
 * Forward never builds the L x S score matrix: it walks key tiles with a running row max and
 * sum.  Backward recomputes each score tile from lse and writes dq, dk, dv through their own
 * element strides (dq_s, dk_s, dv_s: batch, head, row; last dim contiguous), so they can land
 * in a packed q|k|v gradient; dout is C-contiguous (B, H, L, Dv).  The functions return 0, or -1 when scratch memory
 * could not be allocated (then the outputs are unspecified).
 */
#ifndef DLCORE_ATTENTION_H
#define DLCORE_ATTENTION_H

#include <stddef.h>
#include <stdint.h>

enum { DL_ATTN_MASK_NONE = 0, DL_ATTN_MASK_BOOL = 1, DL_ATTN_MASK_ADD = 2 };

typedef struct {
    size_t B, H, L, S, D, Dv;
    ptrdiff_t q_s[3], k_s[3], v_s[3];   /* element strides of batch, head, row */
    const void *mask;                   /* NULL or uint8 / element type, see mask_kind */
    int mask_kind;
    ptrdiff_t m_s[4];                   /* element strides of batch, head, row, column */
    int causal;
    double scale;
    ptrdiff_t dq_s[3], dk_s[3], dv_s[3];  /* backward only: strides of the gradients */
    /* forward only: element strides of out's batch, head, row (last dim contiguous), so a
     * plan can write (B, L, H, Dv) with the heads already merged; all 0: C-contiguous */
    ptrdiff_t o_s[3];
} dl_attn_desc;

/* out's strides as d->o_s gives them, or C-contiguous ones where those are all 0 */
static inline void dl_attn_out_strides(const dl_attn_desc *d, ptrdiff_t s[3])
{
    const int given = d->o_s[0] || d->o_s[1] || d->o_s[2];
    s[2] = given ? d->o_s[2] : (ptrdiff_t)d->Dv;
    s[1] = given ? d->o_s[1] : (ptrdiff_t)(d->L * d->Dv);
    s[0] = given ? d->o_s[0] : (ptrdiff_t)(d->H * d->L * d->Dv);
}

int dl_attn_fwd_f32(const dl_attn_desc *d, const float *q, const float *k, const float *v,
                    float *out, float *lse);
int dl_attn_bwd_f32(const dl_attn_desc *d, const float *q, const float *k, const float *v,
                    const float *out, const float *lse, const float *dout,
                    float *dq, float *dk, float *dv);
int dl_attn_fwd_f64(const dl_attn_desc *d, const double *q, const double *k, const double *v,
                    double *out, double *lse);
/* The forwards that also tell whether q, k or v holds a NaN or inf: *nonfinite = 1, and out
 * and lse are then unspecified (the online softmax does not carry IEEE's NaN through every
 * row, so the Python caller takes the composed ops instead).  In float32 the check rides on
 * the kernel's packing of the operands and costs next to nothing. */
int dl_attn_fwd_checked_f32(const dl_attn_desc *d, const float *q, const float *k,
                            const float *v, float *out, float *lse, int *nonfinite);
int dl_attn_fwd_checked_f64(const dl_attn_desc *d, const double *q, const double *k,
                            const double *v, double *out, double *lse, int *nonfinite);
int dl_attn_bwd_f64(const dl_attn_desc *d, const double *q, const double *k, const double *v,
                    const double *out, const double *lse, const double *dout,
                    double *dq, double *dk, double *dv);

#endif
