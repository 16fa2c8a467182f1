# cython: language_level=3
"""dlcore's compiled core: one extension module, one .pxi per kernel family.

Every wrapper checks dtype, contiguity and shapes before calling C and releases the GIL
around the kernel; the Python layer (dlcore.ops) validates user-facing arguments first.
"""
cimport numpy as cnp
import numpy as np

cnp.import_array()

include "common.pxi"
include "runtime.pxi"
include "gemm.pxi"
include "gemm_prepacked.pxi"
include "alloc.pxi"
include "attention.pxi"
include "layernorm.pxi"
include "optim.pxi"
include "cnn.pxi"
include "rnn.pxi"
include "act.pxi"
include "small.pxi"
include "loss.pxi"
include "qgemv.pxi"
include "kvcache.pxi"
include "qgemm.pxi"
include "qconv.pxi"
include "bf16.pxi"
include "plan.pxi"
