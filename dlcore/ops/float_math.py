"""The dtype torch computes float math in (exp, log, sqrt, sin, tanh, sigmoid, logsumexp...):
an integer or bool tensor is cast to the default float dtype first, where NumPy's ufuncs would
pick float64 (float16 for 8-bit inputs).  The same for an integer tensor clamped by a float
bound (NumPy's clip would give float64)."""
from ..dtypes import get_default_dtype, is_floating
from .shape import Cast


def float_math(t):
    if is_floating(t._data.dtype):
        return t
    return Cast.apply(t, dtype=get_default_dtype())
