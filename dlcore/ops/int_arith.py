"""torch's rules for integer and bool arithmetic where NumPy's differ: `-` refuses bools,
floor division, remainder and pow are not defined for bools, an integer division by zero
raises, and integer powers with negative tensor exponents truncate instead of raising."""
import numpy as np

from ..dtypes import bool_
from ..tensor_base import raw, wrap


def check_bool_sub(a, b):
    """torch refuses `-` when either side is bool (a tensor or a Python bool)."""
    if (isinstance(a, bool) or np.result_type(raw(a)) == bool_
            or isinstance(b, bool) or np.result_type(raw(b)) == bool_):
        raise RuntimeError("Subtraction, the `-` operator, with a bool tensor is not supported; "
                           "use the `~` or `logical_not()` operator to invert a mask")


def _no_bool(dtype, fname):
    if dtype == bool_:
        raise RuntimeError("%s is not implemented for bool tensors" % fname)


def int_pow(base, exponent, scalar_exponent):
    """base ** exponent after promotion, for integer and bool results.  Integer powers follow
    torch: a negative Python-number exponent raises; negative tensor exponents give the
    truncated integer result (0 unless the base is 1 or -1), where NumPy raises for both."""
    b, e = raw(base), raw(exponent)
    dt = np.result_type(b, e)
    if dt == bool_:
        if not scalar_exponent:
            _no_bool(dt, "pow")
        return wrap(np.asarray(np.power(b, e)).astype(bool_))
    neg = np.asarray(e) < 0
    if not neg.any():
        return wrap(np.asarray(np.power(b, e)))
    if scalar_exponent:
        raise RuntimeError("pow: integers to negative integer powers are not allowed")
    b, e = np.broadcast_arrays(np.asarray(b, dt), np.asarray(e, dt))
    neg = e < 0
    out = np.power(b, np.where(neg, 0, e))
    odd = (e % 2).astype(bool_)
    out[neg] = np.where(b == 1, 1, np.where(b == -1, np.where(odd, -1, 1), 0))[neg]
    return wrap(out)


def int_divide(ufunc, a, b, fname):
    """floor_divide / remainder; an integer division by zero raises as torch's does (NumPy
    would return 0 with a warning)."""
    dt = np.result_type(a, b)
    _no_bool(dt, fname)
    if dt.kind in "iu" and not np.all(b):
        raise RuntimeError("%s: ZeroDivisionError (integer division by zero)" % fname)
    return ufunc(a, b)
