"""TensorBase: the storage every Tensor has (a NumPy array and the autograd fields), `wrap`,
and the helpers that turn op arguments (Tensors, numbers, arrays, indices) into what kernels take.

The layers run leaf (dtypes, shapes) -> this module -> autograd -> ops -> tensor.  Autograd and
the ops make tensors, but the full `Tensor` class is composed on top of the ops' method mixins
(dlcore.tensor), so it cannot be imported here.  Instead `dlcore.tensor` declares
`class Tensor(TensorBase, ..., concrete=True)` and `wrap` builds instances of that class: every
tensor an op returns is exactly a `dlcore.tensor.Tensor`.
"""
import numbers

import numpy as np

from .dtypes import is_floating
from .shapes import Size

_Tensor = None  # the concrete Tensor class (set when dlcore.tensor defines it)


def wrap(arr, requires_grad=False):
    """A Tensor around the array `arr` (no copy), outside any graph."""
    t = object.__new__(_Tensor)
    if type(arr) is not np.ndarray:
        arr = np.asarray(arr)
    t._data = arr
    t.requires_grad = requires_grad
    t.grad = None
    t._ctx = None
    t._idx = 0
    t._hooks = None
    return t


class TensorBase:
    """A NumPy array (`_data`) plus what reverse-mode autograd records on it.

    _ctx is the Function that produced the tensor (None for a leaf) and _idx which of its
    outputs it is; _hooks are called with a leaf's gradient after each backward.
    """

    __slots__ = ("_data", "requires_grad", "grad", "_ctx", "_idx", "_hooks", "__weakref__",
                 "__dict__")
    __array_priority__ = 1000  # numpy scalars/arrays on the left defer to our operators
    # set (in the instance dict) on what ops make under inference_mode: such a tensor can not be
    # saved for backward later (dlcore.autograd.function)
    _inference = False

    _wrap = staticmethod(wrap)

    def __init_subclass__(cls, concrete=False, **kwargs):
        super().__init_subclass__(**kwargs)
        if concrete:
            global _Tensor
            if _Tensor is not None:
                raise TypeError("TensorBase: %s.%s is a second concrete Tensor class (%s.%s is "
                                "the first)" % (cls.__module__, cls.__qualname__,
                                                _Tensor.__module__, _Tensor.__qualname__))
            _Tensor = cls


# ---- argument helpers shared by the ops -------------------------------------------------------
def raw(x):
    """The array of a Tensor; anything else as it is."""
    return x._data if isinstance(x, TensorBase) else x


def operand(o, like):
    """Python numbers stay scalars (NumPy keeps the tensor's dtype); arrays become Tensors."""
    if isinstance(o, TensorBase):
        return o
    if isinstance(o, (numbers.Number, np.generic)):
        if is_floating(like._data.dtype) and isinstance(o, (numbers.Real, np.floating)):
            return like._data.dtype.type(o)
        return o
    if isinstance(o, (np.ndarray, list, tuple)):
        arr = np.asarray(o)
        if is_floating(arr.dtype) and is_floating(like._data.dtype):
            arr = arr.astype(like._data.dtype, copy=False)
        return wrap(arr)
    raise TypeError("unsupported operand type: %s" % type(o).__name__)


def scalar_of(v, fname="value"):
    """A Python scalar from a number or a one-element Tensor."""
    if isinstance(v, TensorBase):
        if v._data.size != 1:
            raise ValueError("%s: expected a one-element tensor as a value, got shape %s"
                             % (fname, v.shape))
        return v.item()
    return v


def scalar_or_none(v, fname="value"):
    return None if v is None else scalar_of(v, fname)


def index_of(idx):
    """An indexing key with its Tensors replaced by their arrays."""
    if isinstance(idx, TensorBase):
        return idx._data
    if isinstance(idx, tuple):
        return tuple(i._data if isinstance(i, TensorBase) else i for i in idx)
    if isinstance(idx, list):
        return np.asarray(idx)
    return idx


def shape_args(shape, fname="shape"):
    """Sizes given as ints (or one-element Tensors) or as one sequence, as a tuple of ints."""
    if len(shape) == 1 and isinstance(shape[0], (tuple, list, Size)):
        shape = tuple(shape[0])
    out = []
    for s in shape:
        if isinstance(s, TensorBase):
            s = s.item()
        if not isinstance(s, (numbers.Integral, np.integer)):
            raise TypeError("%s: shape entries must be ints, got %r" % (fname, s))
        out.append(int(s))
    return tuple(out)
