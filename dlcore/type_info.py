"""torch's dtype and type queries: finfo/iinfo, torch.dtype (the type of every dtype here,
NumPy's dtype), torch.int (int32), is_signed/is_complex/is_nonzero/is_same_size, and the
scalar_tensor/asarray constructors."""
from builtins import int as builtin_int

import numpy as np

from .dtypes import get_default_dtype, int32
from .tensor import Tensor, as_tensor, tensor
from .tensor_base import TensorBase

__all__ = ["finfo", "iinfo", "dtype", "int", "is_signed", "is_complex", "is_nonzero",
           "is_same_size", "scalar_tensor", "asarray"]

dtype = np.dtype        # every dtype object here is a NumPy dtype: isinstance(x, dl.dtype)
int = int32             # noqa: A001  (torch.int is int32)


class finfo:
    """Machine limits of a float dtype (the default float dtype when none is given), with
    torch's attribute names: bits eps max min tiny smallest_normal resolution dtype."""

    def __init__(self, type=None):
        dt = np.dtype(type) if type is not None else get_default_dtype()
        if dt.kind != "f" and dt.name != "bfloat16":
            raise TypeError("finfo: expected a floating point dtype, got %s" % dt)
        info = np.finfo(dt) if dt.kind == "f" else _bf16_finfo()
        self.bits, self.eps = info.bits, float(info.eps)
        self.max, self.min = float(info.max), float(info.min)
        self.tiny = self.smallest_normal = float(info.smallest_normal)
        self.resolution = 10.0 ** -info.precision
        self.dtype = dt.name

    def __repr__(self):
        return ("finfo(resolution=%g, min=%g, max=%g, eps=%g, smallest_normal=%g, tiny=%g, "
                "dtype=%s)" % (self.resolution, self.min, self.max, self.eps,
                               self.smallest_normal, self.tiny, self.dtype))


def _bf16_finfo():
    import ml_dtypes
    return ml_dtypes.finfo(ml_dtypes.bfloat16)


class iinfo:
    """Limits of an integer dtype: bits max min dtype."""

    def __init__(self, type):
        dt = np.dtype(type)
        if dt.kind not in "iub":
            raise TypeError("iinfo: expected an integer dtype, got %s" % dt)
        if dt.kind == "b":
            self.bits, self.min, self.max = 8, 0, 1
        else:
            info = np.iinfo(dt)
            self.bits, self.min, self.max = info.bits, builtin_int(info.min), \
                builtin_int(info.max)
        self.dtype = dt.name

    def __repr__(self):
        return "iinfo(min=%d, max=%d, dtype=%s)" % (self.min, self.max, self.dtype)




def is_signed(input):
    return input.is_signed()


def is_complex(input):
    if not isinstance(input, TensorBase):
        raise TypeError("is_complex: expected a Tensor, got %s" % type(input).__name__)
    return input.is_complex()


def is_nonzero(input):
    return input.is_nonzero()


def is_same_size(input, other):
    return input.is_same_size(other)


def scalar_tensor(s, *, dtype=None, device=None, requires_grad=False):
    return tensor(s, dtype=dtype or get_default_dtype(), requires_grad=requires_grad)


def asarray(obj, *, dtype=None, device=None, copy=None, requires_grad=False):
    """A tensor sharing obj's memory where it can (copy=None), always copying (True) or never
    (False: raises where a copy is needed), as torch.asarray."""
    if copy:
        t = tensor(obj.detach() if isinstance(obj, Tensor) else obj, dtype=dtype)
    else:
        t = as_tensor(obj, dtype=dtype)
        if copy is False and isinstance(obj, (Tensor, np.ndarray)) and \
                np.shares_memory(t._data, obj._data if isinstance(obj, Tensor) else obj) is False:
            raise ValueError("asarray: copy=False but a copy is needed (dtype %s from %s)"
                             % (t.dtype, getattr(obj, "dtype", type(obj).__name__)))
    if requires_grad:
        t.requires_grad_(True)
    return t
