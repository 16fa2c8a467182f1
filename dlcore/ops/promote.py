"""torch's type promotion applied to op operands: the helpers binary ops call before their
kernel, so that `int64 + float32`, `int / 2` and `float32 * 0-d float64` give torch's dtypes.

The rules themselves (categories, the dimensioned-vs-0-d rule) live in dlcore.dtypes; this module
casts Tensors through the differentiable Cast, so a gradient reaches an operand of another dtype.
The same-dtype case returns at once: it is the hot path of every elementwise op.
"""
import numbers

import numpy as np

from ..dtypes import (is_floating, _default_dtype, category, result_dtype, scalar_result_dtype)
from ..tensor_base import TensorBase, wrap
from .shape import Cast

_NUMBER = (numbers.Number, np.generic)
# torch's scalar-type names, which its promotion errors print
TYPE_NAME = {np.dtype(k): v for k, v in (
    (np.float32, "Float"), (np.float64, "Double"), (np.float16, "Half"), (np.int64, "Long"),
    (np.int32, "Int"), (np.int16, "Short"), (np.int8, "Char"), (np.uint8, "Byte"),
    (np.bool_, "Bool"))}


def _cast(t, dt):
    return t if t._data.dtype == dt else Cast.apply(t, dtype=dt)


def _other_tensor(o):
    """A non-tensor, non-number operand (an ndarray, a list) as a Tensor."""
    if isinstance(o, (np.ndarray, list, tuple)):
        arr = np.asarray(o)
        if arr.dtype.kind not in "biuf" and not is_floating(arr.dtype):
            raise TypeError("unsupported operand: array of dtype %s" % arr.dtype)
        return wrap(arr)
    if getattr(o, "is_sparse", False) and hasattr(o, "to_dense"):
        return o.to_dense()  # dense (op) sparse is dense, as torch's dense + sparse is
    raise TypeError("unsupported operand type: %s" % type(o).__name__)


def binary_operands(t, o):
    """(t, o) cast to torch's result dtype of `t (op) o`: Tensors come back as Tensors, a Python
    number as a NumPy scalar of the result dtype."""
    da = t._data.dtype
    if isinstance(o, TensorBase):
        db = o._data.dtype
        if da is db or da == db:
            return t, o
        rt = result_dtype(da, t._data.ndim != 0, db, o._data.ndim != 0)
        return _cast(t, rt), _cast(o, rt)
    if type(o) is float and is_floating(da):  # the common case: float tensor and a Python float
        return t, da.type(o)
    if isinstance(o, _NUMBER):
        rt = scalar_result_dtype(da, o)
        return _cast(t, rt), rt.type(o)
    return binary_operands(t, _other_tensor(o))


def true_div_operands(t, o):
    """Operands of `t / o`: promoted as any binary op, then integers and bools to the default
    float dtype (torch's true division: int / int is float32)."""
    a, b = binary_operands(t, o)
    if is_floating(a._data.dtype):
        return a, b
    dt = _default_dtype["dtype"]
    return _cast(a, dt), (_cast(b, dt) if isinstance(b, TensorBase) else dt.type(b))


def array_operands(t, o):
    """The two NumPy arrays/scalars of `t (op) o` in torch's result dtype, for ops without a
    gradient (comparisons, floor division, remainder)."""
    a = t._data
    if isinstance(o, TensorBase):
        b = o._data
        if a.dtype != b.dtype:
            rt = result_dtype(a.dtype, a.ndim != 0, b.dtype, b.ndim != 0)
            return a.astype(rt, copy=False), b.astype(rt, copy=False)
        return a, b
    if isinstance(o, _NUMBER):
        rt = scalar_result_dtype(a.dtype, o)
        return a.astype(rt, copy=False), rt.type(o)
    return array_operands(t, _other_tensor(o))


def type_name(dt):
    return TYPE_NAME.get(dt, str(dt))


def check_inplace_result(t, o, fname, true_div=False):
    """Raise as torch does when `t.fname(o)` would have to store a result of a higher category
    than t's dtype (an int tensor += 0.5, an int tensor /= 2)."""
    da = t._data.dtype
    if isinstance(o, TensorBase):
        db = o._data.dtype
        if db == da:
            rt = da
        else:
            rt = result_dtype(da, t._data.ndim != 0, db, o._data.ndim != 0)
    elif isinstance(o, _NUMBER):
        rt = scalar_result_dtype(da, o)
    else:
        rt = np.asarray(o).dtype
        rt = result_dtype(da, t._data.ndim != 0, rt, rt.kind != "O")
    if true_div and not is_floating(rt):
        rt = _default_dtype["dtype"]
    if category(rt) > category(da):
        raise RuntimeError("%s: result type %s can't be cast to the desired output type %s"
                           % (fname, type_name(rt), type_name(da)))
