/* Recurrent layers (Elman RNN with tanh/relu, LSTM with optional projection, GRU): one call runs
 * the whole time loop of one layer in one direction, forward or backward (BPTT).
 *
 * Layout ("packed", PyTorch's PackedSequence): step t owns rows [off_t, off_t + bs[t]) of every
 * per-step matrix, off_t = bs[0] + ... + bs[t-1], batch_sizes non-increasing, bs[0] = B.  A plain
 * (T, B, F) batch is the case bs[t] = B for all t.  Sequences are sorted longest first, so the
 * rows active at a step are a prefix of the batch and a finished sequence simply stops updating
 * its state row: its final state is the state after its last step, padding never enters.
 *
 * Gate order is PyTorch's: LSTM i, f, g, o; GRU r, z, n.  Weights are row-major as PyTorch
 * stores them: w_ih (G, I), w_hh (G, P), w_hr (P, H), G = gates * H, P = proj size or H.
 *
 * Forward per step:  pre = xg_t (all steps by ONE GEMM before the loop, bias fused)
 *                          + h_{t-1} @ w_hh^T (one GEMM per step, accumulated in place),
 * then one fused pass applies the nonlinearities and the state update.  LSTM instead runs one
 * GEMM per step over both, [x_t | h_{t-1}] @ [w_ih | w_hh]^T, with both weights packed once
 * into shared panels, into a small buffer the cell (which adds the bias) reads while it is
 * hot: no all-steps gate buffer to write and read back, none at all for inference.  Backward mirrors it:
 * one fused pass per step gives the pre-activation gradients, one GEMM per step carries dh back,
 * and dW_ih, dW_hh, dW_hr, the biases and dX come from big GEMMs over all steps at the end.
 */
#ifndef DLCORE_RNN_H
#define DLCORE_RNN_H

#include <stddef.h>
#include <stdint.h>

typedef enum { DL_RNN_TANH = 0, DL_RNN_RELU = 1, DL_RNN_LSTM = 2, DL_RNN_GRU = 3 } dl_rnn_mode_t;

typedef struct {
    dl_rnn_mode_t mode;
    size_t n_steps;               /* steps (not "T": the kernels' element-type macro) */
    const int64_t *batch_sizes;   /* T entries, non-increasing, each in [0, B] */
    size_t B;                     /* rows of the state (= batch_sizes[0] when T > 0) */
    size_t n_input;               /* input features (not "I": complex.h takes that name) */
    size_t H;                     /* hidden size */
    size_t P;                     /* output/state size: proj_size (LSTM) or H */
    int reverse;                  /* 1: run from the last step to the first */
} dl_rnn_desc;

/* Gates per hidden unit: 1, 4 or 3. */
size_t dl_rnn_gates(dl_rnn_mode_t mode);
/* Rows of all steps together: sum of batch_sizes. */
size_t dl_rnn_total_rows(const dl_rnn_desc *d);
/* Elements of the reserve a training forward fills and backward reads. */
size_t dl_rnn_reserve_size(const dl_rnn_desc *d);
/* Elements of the large per-call buffers: an inference forward's gate buffer (0 for LSTM, which
 * needs none), and backward's per-step gradients.  Callers that reuse memory pass them in (`work`); with NULL they are
 * allocated per call (fresh pages cost ~1.7 us per 4 KiB here, several ms for a layer). */
size_t dl_rnn_fwd_work_size(const dl_rnn_desc *d);
size_t dl_rnn_bwd_work_size(const dl_rnn_desc *d);

/* Forward of one layer-direction.
 *   x (rows, I) row stride ldx; out (rows, P) row stride ldo (columns of a wider matrix allowed)
 *   b_x: the bias fused into the input GEMM (G; RNN/LSTM: b_ih + b_hh, GRU: b_ih) or NULL
 *   b_h: GRU's b_hh (3H) or NULL; ignored by the other modes
 *   w_hr: LSTM projection (P, H) or NULL when P == H without projection
 *   h0 (B, P), c0 (B, H) (LSTM only) or NULL for zeros; hn (B, P), cn (B, H) written
 *   reserve: dl_rnn_reserve_size elements (training) or NULL (inference)
 *   work: dl_rnn_fwd_work_size elements or NULL (only used when reserve is NULL)
 * Returns 0, or -1 when scratch memory could not be allocated. */
int dl_rnn_forward_f32(const dl_rnn_desc *d, const float *x, ptrdiff_t ldx,
                       const float *w_ih, const float *w_hh, const float *b_x, const float *b_h,
                       const float *w_hr, const float *h0, const float *c0,
                       float *out, ptrdiff_t ldo, float *hn, float *cn, float *reserve,
                       float *work);
int dl_rnn_forward_f64(const dl_rnn_desc *d, const double *x, ptrdiff_t ldx,
                       const double *w_ih, const double *w_hh, const double *b_x, const double *b_h,
                       const double *w_hr, const double *h0, const double *c0,
                       double *out, ptrdiff_t ldo, double *hn, double *cn, double *reserve,
                       double *work);

/* Backward of one layer-direction, from the reserve of its forward.
 *   dout (rows, P) stride lddo, dhn (B, P), dcn (B, H): incoming gradients, each may be NULL (0)
 *   dx (rows, I) stride lddx: written (dx_accumulate = 0) or added to (1); NULL to skip
 *   dw_ih (G, I), dw_hh (G, P), dw_hr (P, H): written; NULL to skip
 *   db_x (G): sum over rows of the input-side pre-activation gradient (RNN/LSTM: the gradient of
 *     b_ih and of b_hh alike); db_h (3H): GRU's b_hh gradient; NULL to skip
 *   dh0 (B, P), dc0 (B, H): written; NULL to skip
 *   work: dl_rnn_bwd_work_size elements or NULL
 * Returns 0, or -1 when scratch memory could not be allocated. */
int dl_rnn_backward_f32(const dl_rnn_desc *d, const float *x, ptrdiff_t ldx,
                        const float *w_ih, const float *w_hh, const float *w_hr,
                        const float *reserve, const float *dout, ptrdiff_t lddo,
                        const float *dhn, const float *dcn,
                        float *dx, ptrdiff_t lddx, int dx_accumulate,
                        float *dw_ih, float *dw_hh, float *db_x, float *db_h, float *dw_hr,
                        float *dh0, float *dc0, float *work);
int dl_rnn_backward_f64(const dl_rnn_desc *d, const double *x, ptrdiff_t ldx,
                        const double *w_ih, const double *w_hh, const double *w_hr,
                        const double *reserve, const double *dout, ptrdiff_t lddo,
                        const double *dhn, const double *dcn,
                        double *dx, ptrdiff_t lddx, int dx_accumulate,
                        double *dw_ih, double *dw_hh, double *db_x, double *db_h, double *dw_hr,
                        double *dh0, double *dc0, double *work);

/* The work per thread (rows x gate columns x inner size, per step) below which the LSTM forward
 * runs its time loop the usual way rather than on a thread team; grain 0 only reads it.
 * Returns the previous value.  Tests lower it to reach the team path on small sizes. */
size_t dl_rnn_team_grain(size_t grain);
/* Threads a float32 forward of d runs its time loop on as one team (1: the usual loop). */
int dl_rnn_team_threads_f32(const dl_rnn_desc *d);
/* The fewest batch rows a thread owns when the inference executor's recurrent step splits
 * the batch over its threads (rnn_packed.c): a batch of 2 x this or more runs that way. */
#define DL_RNN_SPLIT_ROWS_MIN 8
/* Threads the executor's recurrent step splits the batch of d over, weights packed in `form`
 * (1 joint, 2 split; rnn_packed.c); 1: it does not split the batch. */
int dl_rnn_split_threads_f32(const dl_rnn_desc *d, int form);

/* ---- fused cell kernels on n rows of H units (exposed for tests) ----
 * LSTM forward: the pre-activations are the sum of those given of xg (n, 4H), hg (n, 4H, row
 * stride ldhg) and bias (4H, every row); gates (n, 4H; NULL: not kept; may be xg) receives the
 * activated gates; c (n, H) holds c_{t-1} and receives c_t; tc (n, H) receives tanh(c_t) (NULL:
 * not kept); h (n, H) stride ldh and h2 (stride ldh2; NULL: none) receive o * tanh(c_t).
 * LSTM backward: from the gates, tanh(c_t), c_{t-1} and dh (n, H) gives dg (n, 4H)
 * (pre-activation gradients) and turns dc (n, H) from dc_t into dc_{t-1}. */
void dl_lstm_cell_fwd_f32(size_t n, size_t H, const float *xg, const float *hg, ptrdiff_t ldhg,
                          const float *bias, float *gates, float *c, float *tc, float *h,
                          ptrdiff_t ldh, float *h2, ptrdiff_t ldh2);
void dl_lstm_cell_bwd_f32(size_t n, size_t H, const float *g, const float *tc, const float *cp,
                          const float *dh, float *dc, float *dg);
/* GRU forward: xg (n, 3H) input part (bias in) receives r, z, n; hg (n, 3H) recurrent part
 * (b_hh in); h (n, H) stride ldh holds h_{t-1}, receives h_t; hgn (n, H) receives hg's n part
 * (NULL: not kept).  GRU backward: from r, z, n, hgn, h_{t-1} (n, H) and dh gives dxg and
 * dhg (n, 3H) and dhp = dh * z (n, H); dhp may be dh itself. */
void dl_gru_cell_fwd_f32(size_t n, size_t H, float *xg, const float *hg, float *h, ptrdiff_t ldh,
                         float *hgn);
void dl_gru_cell_bwd_f32(size_t n, size_t H, const float *g, const float *hgn, const float *hp,
                         const float *dh, float *dxg, float *dhg, float *dhp);
/* Elman forward: g (n, H) pre-activation in, h out (in place), also copied to h (stride ldh).
 * Backward: dg = dh * act'(from the output g). */
void dl_rnn_cell_fwd_f32(size_t n, size_t H, int relu, float *g, float *h, ptrdiff_t ldh);
void dl_rnn_cell_bwd_f32(size_t n, size_t H, int relu, const float *g, const float *dh, float *dg);

void dl_lstm_cell_fwd_f64(size_t n, size_t H, const double *xg, const double *hg,
                          ptrdiff_t ldhg, const double *bias, double *gates, double *c,
                          double *tc, double *h, ptrdiff_t ldh, double *h2, ptrdiff_t ldh2);
void dl_lstm_cell_bwd_f64(size_t n, size_t H, const double *g, const double *tc,
                          const double *cp, const double *dh, double *dc, double *dg);
void dl_gru_cell_fwd_f64(size_t n, size_t H, double *xg, const double *hg, double *h,
                         ptrdiff_t ldh, double *hgn);
void dl_gru_cell_bwd_f64(size_t n, size_t H, const double *g, const double *hgn,
                         const double *hp, const double *dh, double *dxg, double *dhg,
                         double *dhp);
void dl_rnn_cell_fwd_f64(size_t n, size_t H, int relu, double *g, double *h, ptrdiff_t ldh);
void dl_rnn_cell_bwd_f64(size_t n, size_t H, int relu, const double *g, const double *dh,
                         double *dg);

#endif
