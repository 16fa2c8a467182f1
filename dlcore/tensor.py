"""Tensor: a NumPy array plus what reverse-mode autograd needs, and the creation functions.

Storage is always a NumPy ndarray (`t.numpy()` hands it out without a copy).  The class is
composed here from its storage (dlcore.tensor_base) and the method mixins of each op family,
which live beside their Functions: autograd (backward, hooks), ops.arith (operators, math,
comparisons), ops.reduce, ops.shape (shape and indexing), ops.activation and ops.matmul.
This file holds what is left: construction, properties, conversion and in-place storage updates.
"""
import builtins
import numbers

import numpy as np

from . import random as R
from .autograd import AutogradMethods
from .autograd.grad_mode import state as _grad_state
from .autograd.sealed import writable as _writable
from .tensor_repr import array_body, with_suffixes
from .dtypes import (float32, float64, float16, int64, int32, int16, int8, uint8,  # noqa: F401
                     bool_, float, double, long, get_default_dtype, set_default_dtype,
                     _default_dtype, bfloat16_dtype, is_bf16, is_floating as _is_floating,
                     as_dtype as _as_dtype, check_device as _check_device)
from .ops.activation import ActivationMethods
from .ops.arith import ArithMethods
from .ops.compare import CompareMethods
from .ops.inplace import InplaceMethods
from .ops.inplace_math import InplaceMathMethods
from .ops.math_extra import MathExtraMethods
from .ops.tensor_compat import CompatMethods
from .ops.shape_extra import ShapeExtraMethods
from .ops.convert import ConvertMethods
from .ops.elementwise import ElementwiseMethods
from .ops.random_fill import RandomMethods
from .ops.select import SelectMethods
from .ops.matmul import MatmulMethods
from .ops.reduce import ReduceMethods, _arg_reduce  # noqa: F401
from .ops.shape import Cast, IndexMethods, ShapeMethods
from .ops.sparse_coo import SparseMethods
from .ops.special import SpecialMethods
from .ops.linalg_methods import LinalgMethods
from .ops.math_torch import MathTorchMethods
from .shared_storage import SharedMemoryMethods
from .shapes import (Size, SortResult, norm_dim as _norm_dim, norm_axes as _axes,  # noqa: F401
                     var_correction as _correction, resolve_shape as _resolve_shape,
                     size_args as _size_args, steps_count as _steps_count)
from .tensor_base import (TensorBase, wrap, raw as _raw, operand as _operand,  # noqa: F401
                          scalar_of as _scalar_of, scalar_or_none as _scalar_or_none,
                          index_of as _index_of, shape_args as _shape_args)


def _to_array(data, dtype=None):
    """NumPy array for `data` with PyTorch's dtype inference (Python floats -> float32)."""
    if isinstance(data, TensorBase):
        arr = data._data
    elif isinstance(data, (np.ndarray, np.generic)):  # NumPy data keeps its dtype, as in torch
        arr = np.asarray(data)
    else:
        arr = np.asarray(data)
        if dtype is None and arr.dtype.kind == "f":
            arr = arr.astype(_default_dtype["dtype"])
        elif dtype is None and arr.dtype.kind in "iu":
            arr = arr.astype(np.int64)
        elif arr.dtype.kind not in "fiub" and not is_bf16(arr.dtype):
            raise TypeError("tensor: cannot build a tensor from %r (dtype %s)"
                            % (type(data).__name__, arr.dtype))
    if dtype is not None:
        arr = arr.astype(dtype, copy=False)
    return arr


def _legacy_array(args, dtype):
    """The storage for Tensor(*args): sizes, data, or nothing."""
    if not args:
        return np.empty((0,), dtype or _default_dtype["dtype"])
    if len(args) == 1 and isinstance(args[0], (TensorBase, np.ndarray)):
        return _to_array(args[0], dtype)
    if all(isinstance(a, numbers.Integral) and not isinstance(a, builtins.bool) for a in args):
        if any(a < 0 for a in args):
            raise RuntimeError("Tensor: negative dimension in size %s" % (tuple(args),))
        return np.zeros(tuple(int(a) for a in args), dtype or _default_dtype["dtype"])
    if len(args) != 1:
        raise TypeError("Tensor: expected sizes (ints) or one sequence of data, got %r"
                        % (args,))
    data = args[0]
    if not isinstance(data, (list, tuple)):
        raise TypeError("Tensor: data must be a sequence (got %s); use dl.tensor(%r) for a "
                        "0-d tensor" % (type(data).__name__, data))
    return np.array(_to_array(data, None), dtype=dtype or _default_dtype["dtype"])


class Tensor(TensorBase, AutogradMethods, InplaceMethods, ArithMethods, CompareMethods,
             ReduceMethods, ShapeMethods, IndexMethods, ActivationMethods, MatmulMethods,
             SharedMemoryMethods, SparseMethods, ConvertMethods, SelectMethods,
             ElementwiseMethods, RandomMethods, InplaceMathMethods, ShapeExtraMethods,
             MathExtraMethods, CompatMethods, SpecialMethods, LinalgMethods,
             MathTorchMethods, concrete=True):
    """An n-dimensional array with optional gradient tracking.

    Constructed as torch.Tensor is: Tensor(2, 3) is a new zero-filled tensor of that shape,
    Tensor([1, 2]) a copy of the data in the default float dtype, Tensor() an empty one.  A
    NumPy array or Tensor is wrapped without a copy, keeping its dtype (dlcore's own use; torch
    would convert it to float32)."""

    __slots__ = ()

    def __init__(self, *args, dtype=None, requires_grad=False, device=None):
        _check_device(device)
        arr = _legacy_array(args, _as_dtype(dtype, fname="Tensor"))
        self._data = arr
        self.grad = None
        self._ctx = None
        self._idx = 0
        self._hooks = None
        self.requires_grad = False
        if _grad_state.grad is None:  # made under inference_mode
            self._inference = True
        if requires_grad:
            self.requires_grad_(True)

    # ---- basic properties -------------------------------------------------------------
    @property
    def shape(self):
        return Size(self._data.shape)

    @property
    def dtype(self):
        return self._data.dtype

    @property
    def ndim(self):
        return self._data.ndim

    @property
    def data(self):
        """A tensor sharing this one's storage, outside the graph (PyTorch's .data)."""
        return wrap(self._data, False)

    @data.setter
    def data(self, value):
        arr = value._data if isinstance(value, TensorBase) else np.asarray(value)
        self._data = arr

    def size(self, dim=None):
        if dim is None:
            return self.shape
        return self._data.shape[_norm_dim(dim, self.ndim, "size")]

    def dim(self):
        return self._data.ndim

    def numel(self):
        return int(self._data.size)

    def element_size(self):
        return self._data.itemsize

    def is_floating_point(self):
        return _is_floating(self._data.dtype)

    def is_contiguous(self):
        return bool(self._data.flags.c_contiguous)

    def __len__(self):
        if self._data.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self._data.shape[0]

    def __iter__(self):
        for i in range(len(self)):
            yield self[i]

    def __repr__(self):
        a = self._data
        if a.dtype == float16 or is_bf16(a.dtype):
            a = a.astype(float32)  # print the values as torch does (4 decimals, "1000.")
        body, suffixes = array_body(a)
        if self._data.dtype not in (float32, int64, bool_):
            suffixes.append("dtype=dl.%s" % self._data.dtype)
        if self._ctx is not None:
            suffixes.append("grad_fn=<%s>" % self._ctx.name())
        elif self.requires_grad:
            suffixes.append("requires_grad=True")
        return with_suffixes("tensor(" + body, suffixes)

    def __array__(self, dtype=None, copy=None):
        # NumPy 2's protocol: copy=True must never share memory (a weight snapshot would follow
        # the optimizer), copy=False must never copy (raise where a conversion is needed)
        a = self._data
        if dtype is not None and np.dtype(dtype) != a.dtype:
            if copy is False:
                raise ValueError("__array__: converting %s to %s needs a copy, but copy=False"
                                 % (a.dtype, np.dtype(dtype)))
            return a.astype(dtype)
        if copy:
            return a.copy()
        _writable(a)    # handed out writeable, as torch's: a sealed array is unsealed
        return a

    def __bool__(self):
        if self._data.size != 1:
            raise RuntimeError("Boolean value of a Tensor with more than one value is ambiguous")
        return bool(self._data)

    def __float__(self):
        return builtins.float(self.item())

    def __int__(self):
        return int(self.item())

    def __index__(self):
        if self._data.dtype.kind not in "iu" or self._data.size != 1:
            raise TypeError("only integer tensors of a single element can be used as an index")
        return int(self._data.reshape(-1)[0])

    # ---- conversion ----------------------------------------------------------------------
    def numpy(self):
        # the caller may write it (it shares this tensor's memory, as torch's does): a sealed
        # array is unsealed (dlcore.autograd.sealed)
        _writable(self._data)
        return self._data

    def item(self):
        if self._data.size != 1:
            raise ValueError("item: only one-element tensors can be converted to Python scalars, "
                             "got shape %s" % (self.shape,))
        return self._data.reshape(-1)[0].item()

    def tolist(self):
        return self._data.tolist()

    def type(self, dtype=None):
        if dtype is None:
            return "dl." + str(self._data.dtype)
        if isinstance(dtype, type) and isinstance(getattr(dtype, "dtype", None), np.dtype):
            dtype = dtype.dtype  # t.type(dl.FloatTensor), torch's legacy spelling
        return self.to(dtype)

    def type_as(self, other):
        return self.to(other.dtype)

    def float(self):
        return self.to(float32)

    def double(self):
        return self.to(float64)

    def half(self):
        return self.to(float16)

    def bfloat16(self):
        return self.to(bfloat16_dtype())

    def long(self):
        return self.to(int64)

    def int(self):
        return self.to(int32)

    def short(self):
        return self.to(int16)

    def bool(self):
        return self.to(bool_)

    # ---- random in-place fills (outside autograd; the other in-place ops: ops.inplace) -----
    def uniform_(self, a=0.0, b=1.0, generator=None):
        self._check_inplace("uniform_")
        self._data[...] = R.rng(generator).uniform(a, b, self._data.shape)
        return self

    def normal_(self, mean=0.0, std=1.0, generator=None):
        self._check_inplace("normal_")
        self._data[...] = R.rng(generator).normal(mean, std, self._data.shape)
        return self


# ---- creation functions ---------------------------------------------------------------------
def tensor(data, dtype=None, device=None, requires_grad=False):
    """A new tensor holding a copy of `data` (floats default to float32, ints to int64)."""
    _check_device(device)
    arr = _to_array(data, _as_dtype(dtype, fname="tensor"))
    arr = np.array(arr, copy=True, order="C")
    return Tensor(arr, requires_grad=requires_grad)


def as_tensor(data, dtype=None, device=None):
    _check_device(device)
    if isinstance(data, TensorBase) and (dtype is None or data.dtype == np.dtype(dtype)):
        return data
    return Tensor(_to_array(data, _as_dtype(dtype, fname="as_tensor")))


def from_numpy(arr):
    """A tensor sharing memory with the NumPy array `arr` (no copy)."""
    if not isinstance(arr, np.ndarray):
        raise TypeError("from_numpy: expected a numpy.ndarray, got %s" % type(arr).__name__)
    return wrap(arr)


def _sizes(sizes, size, fname):
    """The sizes given positionally or, as torch also takes them, by the keyword size=."""
    if size is None:
        return sizes
    if sizes:
        raise TypeError("%s() got multiple values for argument 'size'" % fname)
    return (size,)


def _make(fn, size, dtype, requires_grad, fname, device=None):
    _check_device(device)
    dt = _as_dtype(dtype, fname=fname) or _default_dtype["dtype"]
    arr = fn(_size_args(size, fname), dt)
    return Tensor(arr, requires_grad=requires_grad)


def zeros(*sizes, size=None, dtype=None, device=None, requires_grad=False):
    return _make(np.zeros, _sizes(sizes, size, "zeros"), dtype, requires_grad, "zeros", device)


def ones(*sizes, size=None, dtype=None, device=None, requires_grad=False):
    return _make(np.ones, _sizes(sizes, size, "ones"), dtype, requires_grad, "ones", device)


def empty(*sizes, size=None, dtype=None, device=None, requires_grad=False):
    return _make(np.empty, _sizes(sizes, size, "empty"), dtype, requires_grad, "empty", device)


def full(size, fill_value, dtype=None, device=None, requires_grad=False):
    _check_device(device)
    if dtype is None:
        if isinstance(fill_value, bool):
            dtype = bool_
        elif isinstance(fill_value, numbers.Integral):
            dtype = int64
    dt = _as_dtype(dtype, fname="full") or _default_dtype["dtype"]
    sz = tuple(size) if isinstance(size, (tuple, list, Size)) else (size,)
    arr = np.full(_size_args(sz, "full"), _scalar_of(fill_value, "full"), dtype=dt)
    return Tensor(arr, requires_grad=requires_grad)


def zeros_like(t, dtype=None, device=None, requires_grad=False):
    return zeros(*t.shape, dtype=dtype or t.dtype, device=device, requires_grad=requires_grad)


def ones_like(t, dtype=None, device=None, requires_grad=False):
    return ones(*t.shape, dtype=dtype or t.dtype, device=device, requires_grad=requires_grad)


def full_like(t, fill_value, dtype=None, device=None, requires_grad=False):
    return full(tuple(t.shape), fill_value, dtype=dtype or t.dtype, device=device,
                requires_grad=requires_grad)


def empty_like(t, dtype=None, device=None, requires_grad=False):
    return empty(*t.shape, dtype=dtype or t.dtype, device=device, requires_grad=requires_grad)


def eye(n, m=None, dtype=None, device=None, requires_grad=False):
    _check_device(device)
    dt = _as_dtype(dtype, fname="eye") or _default_dtype["dtype"]
    return Tensor(np.eye(n, m, dtype=dt), requires_grad=requires_grad)


def arange(start, end=None, step=1, dtype=None, device=None, requires_grad=False):
    _check_device(device)
    if end is None:
        start, end = 0, start
    if step == 0:
        raise ValueError("arange: step must be nonzero")
    if (end - start) * step < 0:
        raise ValueError("arange: upper bound and lower bound inconsistent with step sign "
                         "(start=%r, end=%r, step=%r)" % (start, end, step))
    if dtype is None:
        ints = all(isinstance(v, numbers.Integral) for v in (start, end, step))
        dtype = int64 if ints else _default_dtype["dtype"]
    return Tensor(np.arange(start, end, step, dtype=_as_dtype(dtype, fname="arange")),
                  requires_grad=requires_grad)


def linspace(start, end, steps, dtype=None, device=None, requires_grad=False):
    _check_device(device)
    dt = _as_dtype(dtype, fname="linspace") or _default_dtype["dtype"]
    # tensor bounds (0-d only, as torch) count as their values, computed in the output dtype
    start, end = (_linspace_bound(v, name) for v, name in ((start, "start"), (end, "end")))
    steps = _steps_count(steps, "linspace")
    return Tensor(np.linspace(start, end, steps, dtype=dt), requires_grad=requires_grad)


def _linspace_bound(v, name):
    if isinstance(v, TensorBase):
        if v.ndim != 0:
            raise ValueError("linspace: only supports 0-dimensional start and end tensors, "
                             "but %s has shape %s" % (name, tuple(v.shape)))
        return v._data.item()
    return v


def _random_float_dtype(dtype, fname):
    """rand/randn draw floats: an integer or bool dtype is refused, as torch refuses it, where
    casting the draws would silently give zeros."""
    dt = _as_dtype(dtype, fname=fname) or _default_dtype["dtype"]
    if not _is_floating(dt):
        # torch's type: NotImplementedError (a RuntimeError)
        raise NotImplementedError("%s: dtype must be a floating point dtype, got %s"
                                  % (fname, dt))
    return dt


def rand(*sizes, size=None, dtype=None, generator=None, requires_grad=False, device=None):
    size = _sizes(sizes, size, "rand")
    _check_device(device)
    dt = _random_float_dtype(dtype, "rand")
    arr = R.rng(generator).random(_size_args(size, "rand")).astype(dt)
    return Tensor(arr, requires_grad=requires_grad)


def randn(*sizes, size=None, dtype=None, generator=None, requires_grad=False, device=None):
    size = _sizes(sizes, size, "randn")
    _check_device(device)
    dt = _random_float_dtype(dtype, "randn")
    arr = R.rng(generator).standard_normal(_size_args(size, "randn")).astype(dt)
    return Tensor(arr, requires_grad=requires_grad)


def randint(low, high=None, size=None, dtype=None, generator=None, device=None):
    _check_device(device)
    if size is None and isinstance(high, (tuple, list, Size)):
        low, high, size = 0, low, high  # randint(high, size), torch's short form
    if high is None:
        low, high = 0, low
    if size is None:
        raise TypeError("randint: size is required")
    arr = R.rng(generator).integers(low, high, _size_args(tuple(size), "randint"))
    return Tensor(arr.astype(_as_dtype(dtype, fname="randint") or int64))


def randperm(n, generator=None, dtype=None, device=None):
    _check_device(device)
    return Tensor(R.rng(generator).permutation(n).astype(_as_dtype(dtype, fname="randperm") or int64))


def rand_like(t, dtype=None, device=None, requires_grad=False, generator=None):
    return rand(*t.shape, dtype=dtype or t.dtype, device=device, requires_grad=requires_grad,
                generator=generator)


def randn_like(t, dtype=None, device=None, requires_grad=False, generator=None):
    return randn(*t.shape, dtype=dtype or t.dtype, device=device, requires_grad=requires_grad,
                 generator=generator)


def is_tensor(x):
    return isinstance(x, Tensor)


def numel(t):
    return t.numel()
