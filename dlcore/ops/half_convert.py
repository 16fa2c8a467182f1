"""Array conversions between float32 and the 16-bit floats on the C kernels of csrc/bf16*.c.

float32 -> bfloat16 rounds to nearest even with denormals kept and NaN kept NaN, as torch's
`.to(torch.bfloat16)`; float16 uses F16C.  The kernels are 10-40x faster here than NumPy's astype
through ml_dtypes (measured on 4M elements), so every float32 <-> 16-bit cast in dlcore goes
through `convert`.  Other pairs (float64 -> bfloat16, int -> float16, ...) use NumPy's casts.
"""
import numpy as np

from .. import _C
from ..dtypes import bfloat16_dtype, float16, float32, is_bf16

_U16 = np.dtype(np.uint16)


def _contig(a):
    return a if a.flags.c_contiguous else np.ascontiguousarray(a)


def convert(a, dtype):
    """A new array: `a` cast to `dtype` (float32 <-> bfloat16/float16 by the C kernels)."""
    if type(a) is not np.ndarray:  # a NumPy scalar (what some reductions' gradients are)
        a = np.asarray(a)
    src = a.dtype
    if src == float32:
        if is_bf16(dtype):
            return _C.f32_to_bf16(_contig(a)).view(dtype)
        if dtype == float16:
            return _C.f32_to_f16(_contig(a))
    elif dtype == float32:
        if is_bf16(src):
            return _C.bf16_to_f32(_contig(a).view(_U16))
        if src == float16:
            return _C.f16_to_f32(_contig(a))
    return a.astype(dtype)


def widen(a):
    """`a` as float32 when it is a 16-bit float array, else `a` itself."""
    src = a.dtype
    if src == float16 or is_bf16(src):
        return convert(a, float32)
    return a


def bits(a):
    """The uint16 bit patterns of a C-contiguous bfloat16 array (no copy)."""
    return _contig(a).view(_U16)
