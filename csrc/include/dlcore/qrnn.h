/* The time loop of a dynamically quantized LSTM or GRU layer (one direction), inference only.
 *
 * The input projection of all steps is done beforehand (one int8 GEMM, dlcore/qgemm.h); this
 * loop runs the recurrence: per step, h (B x H, quantized to u8 per row) times the packed int8
 * recurrent weight (G x H, G = 4H for LSTM in PyTorch's gate order i, f, g, o; 3H for GRU
 * r, z, n), dequantized, then the float32 cell (dlcore/rnn.h's cell kernels).
 *
 * One OpenMP region holds the whole loop: threads split the product by 64-column blocks and
 * the cell by rows, with two barriers per step, so that two threads do not pay a fork/join and
 * a return to Python every step.
 *
 *   xg      (T*B, G) float32: step t's rows at t*B; LSTM: x W_ih^T + b_ih + b_hh;
 *           GRU: x W_ih^T + b_ih (overwritten: used as scratch)
 *   packed, colsum, w_scale: W_hh packed by dl_u8s8_pack, its column sums, its per-row scales
 *   b_hh    GRU only (G,) or NULL
 *   h       (B, H) the initial state in, the final one out; c likewise (LSTM only)
 *   out     (T, B, H): h_t at row block t
 * Returns 0, -1 bad arguments, -2 out of memory. */
#ifndef DLCORE_QRNN_H
#define DLCORE_QRNN_H

#include <stddef.h>
#include <stdint.h>

enum { DL_QRNN_LSTM = 0, DL_QRNN_GRU = 1 };

int dl_qrnn_fwd(int mode, size_t T, size_t B, size_t H, float *xg, const int8_t *packed,
                const int32_t *colsum, const float *w_scale, const float *b_hh, float *h,
                float *c, float *out, int reverse);

#endif
