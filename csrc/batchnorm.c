/* Batch normalization, fused forward and backward (see dlcore/batchnorm.h); written once in
 * batchnorm_impl.h for float and double. */
#include <math.h>
#include "dlcore/batchnorm.h"
#include "dlcore/runtime.h"

/* elements below which a call stays on one thread */
#define BN_GRAIN ((size_t)1 << 15)
/* channels per block when L == 1 */
#define BN_CBLOCK ((int64_t)256)

#define DL_TEMPLATE "batchnorm_impl.h"
#include "each_dtype.h"
