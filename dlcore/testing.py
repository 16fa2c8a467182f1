"""dl.testing: torch.testing's assert_close and make_tensor, which many scripts and test suites
use to compare results.

assert_close compares tensors (and NumPy arrays, numbers, and sequences / mappings of them,
recursively) with torch's per-dtype default tolerances and torch's failure messages: the
mismatch count, the greatest absolute and relative differences with their index, and the item
path inside a container."""
import collections.abc
import numbers
import warnings

import numpy as np

from . import dtypes as D
from .random import rng as _rng
from .tensor_base import TensorBase, wrap

__all__ = ["assert_close", "assert_allclose", "make_tensor"]

# torch's defaults: (rtol, atol) per dtype; integers and bools compare exactly
_TOLERANCES = {np.dtype(np.float16): (1e-3, 1e-5), np.dtype(np.float32): (1.3e-6, 1e-5),
               np.dtype(np.float64): (1e-7, 1e-7), np.dtype(np.complex64): (1.3e-6, 1e-5),
               np.dtype(np.complex128): (1e-7, 1e-7)}
_BFLOAT16_TOL = (1.6e-2, 1e-5)


def _default_tolerance(*tensors):
    rtol = atol = 0.0
    for t in tensors:
        r, a = _BFLOAT16_TOL if D.is_bf16(t.dtype) else _TOLERANCES.get(t.dtype, (0.0, 0.0))
        rtol, atol = max(rtol, r), max(atol, a)
    return rtol, atol


def _array(t):
    a = t._data
    return a.astype(np.float32) if D.is_bf16(a.dtype) else a


def _fmt(v):
    if isinstance(v, (np.integer, int)) and not isinstance(v, bool):
        return str(int(v))
    v = complex(v) if np.iscomplexobj(v) else float(v)
    return repr(v)


class _Mismatch(AssertionError):
    pass


def _fail(message, path, msg):
    if path:
        message += "\n\nThe failure occurred for item %s" % "".join("[%r]" % p for p in path)
    if callable(msg):
        message = msg(message)
    elif msg is not None:
        message = msg
    raise _Mismatch(message)


def _compare_values(a, e, rtol, atol, equal_nan, scalar, path, msg):
    a = np.asarray(a)
    e = np.asarray(e)
    exact = rtol == 0 and atol == 0
    # differences in the pair's own precision, as torch reports them (16-bit floats and
    # integers in float32, the default float)
    common = np.result_type(a, e)
    if scalar:   # a 0-d pair is compared as Python numbers
        common = np.dtype(np.complex128 if common.kind == "c" else np.float64)
    elif common.kind in "biu" or common.itemsize < 4:
        common = np.dtype(np.float32)
    fa, fe = a.astype(common), e.astype(common)
    with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
        same = fa == fe
        diff = np.abs(fa - fe)
        finite = np.isfinite(fa) & np.isfinite(fe)
        close = same | (finite & (diff <= atol + rtol * np.abs(fe)))
        if equal_nan:
            close |= np.isnan(fa) & np.isnan(fe)
        if close.all():
            return
        rel = diff / np.abs(fe)
        if a.dtype.kind in "biu" and e.dtype.kind in "biu":
            diff = np.abs(a.astype(np.int64) - e.astype(np.int64))
    integral = a.dtype.kind in "biu" and e.dtype.kind in "biu"
    what = "Scalars" if scalar else "Tensor-likes"
    verb = "equal" if exact else "close"
    if scalar:
        got, want = a.reshape(()).item(), e.reshape(()).item()
        lines = ["%s are not %s!" % (what, verb), "",
                 "Expected %s but got %s." % (_fmt(want), _fmt(got)),
                 "Absolute difference: %s%s" % (_fmt(int(diff) if integral else diff),
                                                "" if exact else " (up to %s allowed)" % atol),
                 "Relative difference: %s%s" % (_fmt(rel),
                                                "" if exact else " (up to %s allowed)" % rtol)]
        _fail("\n".join(lines), path, msg)
    bad = int((~close).sum())
    total = close.size

    def worst(values):
        flat = values.reshape(-1)
        nan = np.flatnonzero(np.isnan(flat))
        k = int(nan[0]) if nan.size else int(np.argmax(np.where(np.isinf(flat), np.inf, flat)))
        return flat[k], tuple(int(i) for i in np.unravel_index(k, values.shape))

    dv, di = worst(diff)
    rv, ri = worst(rel)
    lines = ["%s are not %s!" % (what, verb), "",
             "Mismatched elements: %d / %d (%.1f%%)" % (bad, total, 100.0 * bad / total),
             "Greatest absolute difference: %s at index %s%s"
             % (_fmt(int(dv) if integral else dv), di,
                "" if exact else " (up to %s allowed)" % atol),
             "Greatest relative difference: %s at index %s%s"
             % (_fmt(rv), ri, "" if exact else " (up to %s allowed)" % rtol)]
    _fail("\n".join(lines), path, msg)


def _compare_tensors(actual, expected, opts, path):
    rtol, atol, equal_nan, check_dtype, msg = opts
    if tuple(actual.shape) != tuple(expected.shape):
        _fail("The values for attribute 'shape' do not match: %r != %r."
              % (actual.shape, expected.shape), path, msg)
    if check_dtype and actual.dtype != expected.dtype:
        _fail("The values for attribute 'dtype' do not match: dl.%s != dl.%s."
              % (actual.dtype.name, expected.dtype.name), path, msg)
    if rtol is None:
        rtol, atol = _default_tolerance(actual, expected)
    _compare_values(_array(actual), _array(expected), rtol, atol, equal_nan,
                    actual.ndim == 0, path, msg)


def _compare(actual, expected, opts, path):
    rtol, atol, equal_nan, check_dtype, msg = opts
    if isinstance(actual, TensorBase) and isinstance(expected, TensorBase):
        return _compare_tensors(actual, expected, opts, path)
    if isinstance(actual, np.ndarray) and isinstance(expected, np.ndarray):
        return _compare_tensors(wrap(actual), wrap(expected), opts, path)
    if isinstance(actual, numbers.Number) and isinstance(expected, numbers.Number):
        if check_dtype and type(actual) is not type(expected):
            _fail("The (d)types do not match: %s != %s." % (type(actual), type(expected)),
                  path, msg)
        if rtol is None:
            kind = complex if isinstance(actual, complex) or isinstance(expected, complex) \
                else float
            rtol, atol = _TOLERANCES[np.dtype(np.complex128 if kind is complex else np.float64)]
            if isinstance(actual, (bool, int)) and isinstance(expected, (bool, int)):
                rtol, atol = 0.0, 0.0
        return _compare_values(actual, expected, rtol, atol, equal_nan, True, path, msg)
    if isinstance(actual, collections.abc.Mapping) and isinstance(
            expected, collections.abc.Mapping):
        missing = [k for k in expected if k not in actual]
        extra = [k for k in actual if k not in expected]
        if missing or extra:
            _fail("The keys of the mappings do not match:\nMissing keys in the actual mapping: "
                  "%s\nAdditional keys in the actual mapping: %s" % (missing, extra), path, msg)
        for k in expected:
            _compare(actual[k], expected[k], opts, path + (k,))
        return None
    if _is_sequence(actual) and _is_sequence(expected):
        if len(actual) != len(expected):
            _fail("The length of the sequences mismatch: %d != %d"
                  % (len(actual), len(expected)), path, msg)
        for i, (a, e) in enumerate(zip(actual, expected)):
            _compare(a, e, opts, path + (i,))
        return None
    raise TypeError("No comparison pair was able to handle inputs of type %s and %s."
                    % (_type_name(actual), _type_name(expected)))


def _type_name(x):
    return "<class 'dl.Tensor'>" if isinstance(x, TensorBase) else str(type(x))


def _is_sequence(x):
    return isinstance(x, collections.abc.Sequence) and not isinstance(x, (str, bytes))


def assert_close(actual, expected, *, allow_subclasses=True, rtol=None, atol=None,
                 equal_nan=False, check_device=True, check_dtype=True, check_layout=True,
                 check_stride=False, msg=None):
    """Raise AssertionError unless actual and expected are close: |a - e| <= atol + rtol * |e|
    elementwise (inf must match, NaN only with equal_nan), same shape and (check_dtype) dtype.
    rtol and atol default by dtype as torch's; give both or neither."""
    if (rtol is None) != (atol is None):
        raise ValueError("Both 'rtol' and 'atol' must be either specified or omitted, but got no "
                         "%s." % ("atol" if atol is None else "rtol"))
    opts = (None if rtol is None else float(rtol), None if atol is None else float(atol),
            bool(equal_nan), bool(check_dtype), msg)
    try:
        _compare(actual, expected, opts, ())
    except _Mismatch as e:
        raise AssertionError(str(e)) from None


def assert_allclose(actual, expected, rtol=None, atol=None, equal_nan=True, msg=""):
    """torch.testing.assert_allclose (deprecated there too): assert_close without the dtype
    check, NaNs equal by default, numbers and arrays converted to tensors first."""
    warnings.warn("dl.testing.assert_allclose() is deprecated; use dl.testing.assert_close()",
                  FutureWarning, stacklevel=2)
    if not isinstance(actual, TensorBase):
        actual = wrap(np.asarray(actual))
    if not isinstance(expected, TensorBase):
        expected = wrap(np.asarray(expected, dtype=actual._data.dtype))
    assert_close(actual, expected, rtol=rtol, atol=atol, equal_nan=equal_nan,
                 check_dtype=False, msg=msg or None)


def make_tensor(*shape, dtype, device=None, low=None, high=None, requires_grad=False,
                noncontiguous=False, exclude_zero=False, memory_format=None):
    """A random tensor as torch.testing.make_tensor makes it: floats uniform in [low, high)
    (default [-9, 9)), integers in [low, high) (default [-9, 10), unsigned from 0), bools
    either way; exclude_zero replaces zeros by the smallest positive step."""
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = tuple(shape[0])
    shape = tuple(int(s) for s in shape)
    npdt = D.as_dtype(dtype, fname="make_tensor")
    g = _rng(None)
    if npdt == np.bool_:
        arr = g.random(shape) < 0.5
    elif npdt.kind in "iu":
        lo = (0 if npdt.kind == "u" else -9) if low is None else int(np.ceil(low))
        hi = 10 if high is None else int(np.ceil(high))
        if hi <= lo:
            raise ValueError("make_tensor: low (%r) must be less than high (%r)" % (low, high))
        arr = g.integers(lo, hi, shape).astype(npdt)
        if exclude_zero:
            arr[arr == 0] = 1
    else:
        lo = -9.0 if low is None else float(low)
        hi = 9.0 if high is None else float(high)
        if hi < lo:
            raise ValueError("make_tensor: low (%r) must be at most high (%r)" % (low, high))
        arr = (g.random(shape) * (hi - lo) + lo).astype(npdt)
        if exclude_zero:
            arr[arr == 0] = np.asarray(np.finfo(np.float16).eps, npdt)
    t = wrap(np.ascontiguousarray(arr))
    if requires_grad:
        t.requires_grad_(True)
    return t
