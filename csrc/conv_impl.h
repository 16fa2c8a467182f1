/* The convolution algorithms, written once for both element types.  conv.c instantiates this
 * file through each_dtype.h (T, SUF, GEMM) after declaring SUF(im2col) / SUF(col2im) and
 * SUF(dw_rows) / SUF(dw_wgrad) (float32: the ISA's SIMD copies; float64: the portable loops)
 * and the left-operand type SUF(lhs) with SUF(lhs_init), SUF(lhs_gemm) and SUF(lhs_free).
 * One file per part: */
#include "conv_im2col_impl.h"   /* im2col / col2im, portable loops */
#include "conv_dw_impl.h"       /* depthwise: direct kernel over padded bands */
#include "conv_tiles_impl.h"    /* im2col + GEMM: tile sizes, packed weights, packed-tile driver */
#include "conv_panels_impl.h"    /* packed tiles, columns gathered into GEMM panels */
#include "conv_fwd_impl.h"      /* forward and input gradient */
#include "conv_wgrad_impl.h"    /* weight and bias gradients */
