"""Tensor: a NumPy array plus what reverse-mode autograd needs.

Storage is always a NumPy ndarray (`t.numpy()` hands it out without a copy).  Every
differentiable method is one `Function` from dlcore.ops; this file holds only the class,
its operators and the creation functions.
"""
import numbers

import numpy as np

from . import autograd
from .ops import arith as _arith

float32 = np.dtype(np.float32)
float64 = np.dtype(np.float64)
float16 = np.dtype(np.float16)
int64 = np.dtype(np.int64)
int32 = np.dtype(np.int32)
int8 = np.dtype(np.int8)
uint8 = np.dtype(np.uint8)
bool_ = np.dtype(np.bool_)
float = float32  # noqa: A001  (PyTorch's dl.float alias)
double = float64
long = int64

_default_dtype = {"dtype": float32}


def get_default_dtype():
    return _default_dtype["dtype"]


def set_default_dtype(dtype):
    dtype = np.dtype(dtype)
    if dtype not in (float32, float64):
        raise TypeError("set_default_dtype: dtype must be float32 or float64, got %s" % dtype)
    _default_dtype["dtype"] = dtype


def _as_dtype(dtype, argname="dtype"):
    if dtype is None:
        return None
    try:
        return np.dtype(dtype)
    except TypeError:
        raise TypeError("%s must be a dtype such as dl.float32, got %r" % (argname, dtype)) from None


def _check_device(device):
    if device is not None and str(device) != "cpu":
        raise ValueError("device: dlcore runs on the CPU only; expected 'cpu', got %r" % (device,))


def _to_array(data, dtype=None):
    """NumPy array for `data` with PyTorch's dtype inference (Python floats -> float32)."""
    if isinstance(data, Tensor):
        arr = data._data
    elif isinstance(data, np.ndarray):
        arr = data
    else:
        arr = np.asarray(data)
        if dtype is None and arr.dtype.kind == "f":
            arr = arr.astype(_default_dtype["dtype"])
        elif dtype is None and arr.dtype.kind in "iu":
            arr = arr.astype(np.int64)
        elif arr.dtype.kind not in "fiub":
            raise TypeError("tensor: cannot build a tensor from %r (dtype %s)"
                            % (type(data).__name__, arr.dtype))
    if dtype is not None:
        arr = arr.astype(dtype, copy=False)
    return arr


class Tensor:
    """An n-dimensional array with optional gradient tracking."""

    __slots__ = ("_data", "requires_grad", "grad", "_ctx", "_idx", "_hooks", "__weakref__",
                 "__dict__")
    __array_priority__ = 1000  # numpy scalars/arrays on the left defer to our operators

    def __init__(self, data, dtype=None, requires_grad=False):
        arr = _to_array(data, _as_dtype(dtype))
        if not isinstance(arr, np.ndarray):
            arr = np.asarray(arr)
        self._data = arr
        self.grad = None
        self._ctx = None
        self._idx = 0
        self._hooks = None
        self.requires_grad = False
        if requires_grad:
            self.requires_grad_(True)

    @classmethod
    def _wrap(cls, arr, requires_grad=False):
        t = object.__new__(Tensor)
        if type(arr) is not np.ndarray:
            arr = np.asarray(arr)
        t._data = arr
        t.requires_grad = requires_grad
        t.grad = None
        t._ctx = None
        t._idx = 0
        t._hooks = None
        return t

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
    def device(self):
        return "cpu"

    @property
    def is_leaf(self):
        return self._ctx is None

    @property
    def grad_fn(self):
        return self._ctx

    @property
    def data(self):
        """A tensor sharing this one's storage, outside the graph (PyTorch's .data)."""
        return Tensor._wrap(self._data, False)

    @data.setter
    def data(self, value):
        arr = value._data if isinstance(value, Tensor) else np.asarray(value)
        self._data = arr

    @property
    def T(self):
        return self.permute(*reversed(range(self.ndim)))

    @property
    def mT(self):
        return self.transpose(-2, -1)

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
        return self._data.dtype.kind == "f"

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
        body = np.array2string(self._data, separator=", ", precision=4, prefix="tensor(")
        extra = ""
        if self._data.dtype not in (float32, int64, bool_):
            extra += ", dtype=dl.%s" % self._data.dtype
        if self._ctx is not None:
            extra += ", grad_fn=<%s>" % type(self._ctx).__name__
        elif self.requires_grad:
            extra += ", requires_grad=True"
        return "tensor(%s%s)" % (body, extra)

    def __array__(self, dtype=None, copy=None):
        if dtype is not None:
            return self._data.astype(dtype, copy=False)
        return self._data

    def __bool__(self):
        if self._data.size != 1:
            raise RuntimeError("Boolean value of a Tensor with more than one value is ambiguous")
        return bool(self._data)

    def __float__(self):
        return builtins_float(self.item())

    def __int__(self):
        return int(self.item())

    def __index__(self):
        if self._data.dtype.kind not in "iu" or self._data.size != 1:
            raise TypeError("only integer tensors of a single element can be used as an index")
        return int(self._data.reshape(-1)[0])

    def __hash__(self):
        return id(self)

    # ---- conversion ----------------------------------------------------------------------
    def numpy(self):
        return self._data

    def item(self):
        if self._data.size != 1:
            raise ValueError("item: only one-element tensors can be converted to Python scalars, "
                             "got shape %s" % (self.shape,))
        return self._data.reshape(-1)[0].item()

    def tolist(self):
        return self._data.tolist()

    def detach(self):
        return Tensor._wrap(self._data, False)

    def detach_(self):
        self._ctx = None
        self.requires_grad = False
        return self

    def clone(self):
        from .ops import shape as S
        return S.Clone.apply(self)

    def contiguous(self):
        if self._data.flags.c_contiguous:
            return self
        return self.clone()

    def to(self, *args, **kwargs):
        dtype = kwargs.get("dtype")
        for a in args:
            if isinstance(a, str) and a in ("cpu",):
                continue
            if isinstance(a, Tensor):
                dtype = a.dtype
            elif a is not None and not isinstance(a, str):
                dtype = a
            elif isinstance(a, str):
                _check_device(a)
        _check_device(kwargs.get("device"))
        if dtype is None or np.dtype(dtype) == self._data.dtype:
            return self
        from .ops import shape as S
        return S.Cast.apply(self, dtype=np.dtype(dtype))

    def cpu(self):
        return self

    def type(self, dtype=None):
        if dtype is None:
            return "dl." + str(self._data.dtype)
        return self.to(dtype)

    def type_as(self, other):
        return self.to(other.dtype)

    def float(self):
        return self.to(float32)

    def double(self):
        return self.to(float64)

    def long(self):
        return self.to(int64)

    def int(self):
        return self.to(int32)

    def bool(self):
        return self.to(bool_)

    # ---- autograd ------------------------------------------------------------------------
    def requires_grad_(self, requires_grad=True):
        if requires_grad and self._data.dtype.kind not in "fc":
            raise RuntimeError("requires_grad_: only floating point tensors can require "
                               "gradients, got dtype %s" % self._data.dtype)
        if not requires_grad and self._ctx is not None:
            raise RuntimeError("requires_grad_: you can only change requires_grad flags of "
                               "leaf tensors")
        self.requires_grad = bool(requires_grad)
        return self

    def backward(self, gradient=None, retain_graph=False):
        autograd.backward(self, gradient, retain_graph=retain_graph)

    def retain_grad(self):
        if self._ctx is None:
            return
        self._ctx.__dict__.setdefault("retained", {})[self._idx] = self

    @property
    def retains_grad(self):
        return self._ctx is not None and self in self._ctx.__dict__.get("retained", {}).values()

    def register_hook(self, hook):
        """hook(grad) is called with the accumulated gradient of a leaf after each backward."""
        if self._hooks is None:
            self._hooks = []
        self._hooks.append(hook)
        return hook

    # ---- in-place updates (outside autograd) -----------------------------------------------
    def _check_inplace(self, name):
        if self.requires_grad and autograd.is_grad_enabled():
            raise RuntimeError("%s: a leaf tensor that requires grad is being used in an "
                               "in-place operation; wrap it in dl.no_grad()" % name)
        if not self._data.flags.writeable:
            self._data = self._data.copy()

    def zero_(self):
        self._check_inplace("zero_")
        self._data[...] = 0
        return self

    def fill_(self, value):
        self._check_inplace("fill_")
        self._data[...] = _scalar_of(value)
        return self

    def copy_(self, src):
        self._check_inplace("copy_")
        arr = src._data if isinstance(src, Tensor) else np.asarray(src)
        try:
            np.copyto(self._data, np.broadcast_to(arr, self._data.shape), casting="unsafe")
        except ValueError:
            raise ValueError("copy_: source of shape %s does not broadcast to %s"
                             % (arr.shape, self.shape)) from None
        return self

    def add_(self, other, alpha=1):
        self._check_inplace("add_")
        o = other._data if isinstance(other, Tensor) else other
        if alpha != 1:
            o = o * alpha
        np.add(self._data, o, out=self._data, casting="unsafe")
        return self

    def sub_(self, other, alpha=1):
        return self.add_(other, alpha=-alpha)

    def mul_(self, other):
        self._check_inplace("mul_")
        o = other._data if isinstance(other, Tensor) else other
        np.multiply(self._data, o, out=self._data, casting="unsafe")
        return self

    def div_(self, other):
        self._check_inplace("div_")
        o = other._data if isinstance(other, Tensor) else other
        np.divide(self._data, o, out=self._data, casting="unsafe")
        return self

    def clamp_(self, min=None, max=None):
        self._check_inplace("clamp_")
        np.clip(self._data, min, max, out=self._data)
        return self

    def uniform_(self, a=0.0, b=1.0, generator=None):
        self._check_inplace("uniform_")
        from . import random as R
        self._data[...] = R.rng(generator).uniform(a, b, self._data.shape)
        return self

    def normal_(self, mean=0.0, std=1.0, generator=None):
        self._check_inplace("normal_")
        from . import random as R
        self._data[...] = R.rng(generator).normal(mean, std, self._data.shape)
        return self

    def __setitem__(self, idx, value):
        self._check_inplace("__setitem__")
        if self._ctx is not None and autograd.is_grad_enabled():
            raise RuntimeError("__setitem__: in-place assignment into a tensor that is part of "
                               "a graph is not supported; use dl.where or masked_fill")
        v = value._data if isinstance(value, Tensor) else value
        self._data[_index_of(idx)] = v

    # ---- operators -----------------------------------------------------------------------
    def __add__(self, o):
        return _arith.Add.apply(self, _operand(o, self))

    def __radd__(self, o):
        return _arith.Add.apply(_operand(o, self), self)

    def __sub__(self, o):
        return _arith.Sub.apply(self, _operand(o, self))

    def __rsub__(self, o):
        return _arith.Sub.apply(_operand(o, self), self)

    def __mul__(self, o):
        return _arith.Mul.apply(self, _operand(o, self))

    def __rmul__(self, o):
        return _arith.Mul.apply(_operand(o, self), self)

    def __truediv__(self, o):
        return _arith.Div.apply(self, _operand(o, self))

    def __rtruediv__(self, o):
        return _arith.Div.apply(_operand(o, self), self)

    def __floordiv__(self, o):
        return Tensor._wrap(np.floor_divide(self._data, _raw(o)))

    def __mod__(self, o):
        return Tensor._wrap(np.mod(self._data, _raw(o)))

    def __pow__(self, o):
        return _arith.Pow.apply(self, _operand(o, self))

    def __rpow__(self, o):
        return _arith.Pow.apply(_operand(o, self), self)

    def __neg__(self):
        return _arith.Neg.apply(self)

    def __pos__(self):
        return self

    def __abs__(self):
        return self.abs()

    def __matmul__(self, o):
        from .ops import matmul as M
        return M.matmul(self, o)

    def __rmatmul__(self, o):
        from .ops import matmul as M
        return M.matmul(_operand(o, self), self)

    def __iadd__(self, o):
        if self.requires_grad and autograd.is_grad_enabled():
            return self + o
        return self.add_(o)

    def __isub__(self, o):
        if self.requires_grad and autograd.is_grad_enabled():
            return self - o
        return self.sub_(o)

    def __imul__(self, o):
        if self.requires_grad and autograd.is_grad_enabled():
            return self * o
        return self.mul_(o)

    def __itruediv__(self, o):
        if self.requires_grad and autograd.is_grad_enabled():
            return self / o
        return self.div_(o)

    # comparisons and logic: no gradient, boolean results
    def __eq__(self, o):
        return Tensor._wrap(np.equal(self._data, _raw(o)))

    def __ne__(self, o):
        return Tensor._wrap(np.not_equal(self._data, _raw(o)))

    def __lt__(self, o):
        return Tensor._wrap(np.less(self._data, _raw(o)))

    def __le__(self, o):
        return Tensor._wrap(np.less_equal(self._data, _raw(o)))

    def __gt__(self, o):
        return Tensor._wrap(np.greater(self._data, _raw(o)))

    def __ge__(self, o):
        return Tensor._wrap(np.greater_equal(self._data, _raw(o)))

    def __and__(self, o):
        return Tensor._wrap(np.logical_and(self._data, _raw(o)) if self._data.dtype == bool_
                            else np.bitwise_and(self._data, _raw(o)))

    def __or__(self, o):
        return Tensor._wrap(np.logical_or(self._data, _raw(o)) if self._data.dtype == bool_
                            else np.bitwise_or(self._data, _raw(o)))

    def __xor__(self, o):
        return Tensor._wrap(np.logical_xor(self._data, _raw(o)))

    def __invert__(self):
        return Tensor._wrap(np.logical_not(self._data) if self._data.dtype == bool_
                            else np.invert(self._data))

    eq, ne, lt, le, gt, ge = __eq__, __ne__, __lt__, __le__, __gt__, __ge__

    def logical_not(self):
        return Tensor._wrap(np.logical_not(self._data))

    def isnan(self):
        return Tensor._wrap(np.isnan(self._data))

    def isinf(self):
        return Tensor._wrap(np.isinf(self._data))

    def isfinite(self):
        return Tensor._wrap(np.isfinite(self._data))

    def all(self, dim=None, keepdim=False):
        return Tensor._wrap(np.asarray(np.all(self._data, axis=dim, keepdims=keepdim)))

    def any(self, dim=None, keepdim=False):
        return Tensor._wrap(np.asarray(np.any(self._data, axis=dim, keepdims=keepdim)))

    def equal(self, other):
        return self.shape == other.shape and bool(np.array_equal(self._data, other._data))

    def allclose(self, other, rtol=1e-5, atol=1e-8):
        return bool(np.allclose(self._data, _raw(other), rtol=rtol, atol=atol))

    # ---- elementwise math ---------------------------------------------------------------
    def add(self, o, alpha=1):
        return self + (o * alpha if alpha != 1 else o)

    def sub(self, o, alpha=1):
        return self - (o * alpha if alpha != 1 else o)

    def mul(self, o):
        return self * o

    def div(self, o):
        return self / o

    def pow(self, o):
        return self ** o

    def neg(self):
        return -self

    def exp(self):
        return _arith.Exp.apply(self)

    def log(self):
        return _arith.Log.apply(self)

    def log1p(self):
        return _arith.Log1p.apply(self)

    def sqrt(self):
        return _arith.Sqrt.apply(self)

    def rsqrt(self):
        return 1.0 / self.sqrt()

    def abs(self):
        return _arith.Abs.apply(self)

    def sign(self):
        return Tensor._wrap(np.sign(self._data))

    def sin(self):
        return _arith.Sin.apply(self)

    def cos(self):
        return _arith.Cos.apply(self)

    def square(self):
        return self * self

    def reciprocal(self):
        return 1.0 / self

    def clamp(self, min=None, max=None):
        if min is None and max is None:
            raise ValueError("clamp: at least one of min and max must be given")
        return _arith.Clamp.apply(self, min=_scalar_or_none(min), max=_scalar_or_none(max))

    clip = clamp

    def maximum(self, other):
        return _arith.Maximum.apply(self, _operand(other, self))

    def minimum(self, other):
        return _arith.Minimum.apply(self, _operand(other, self))

    def floor(self):
        return Tensor._wrap(np.floor(self._data))

    def ceil(self):
        return Tensor._wrap(np.ceil(self._data))

    def round(self):
        return Tensor._wrap(np.round(self._data))

    # activations most code calls as methods; the kernels live in ops.activation
    def relu(self):
        from .ops import activation as A
        return A.relu(self)

    def sigmoid(self):
        from .ops import activation as A
        return A.sigmoid(self)

    def tanh(self):
        from .ops import activation as A
        return A.tanh(self)

    def softmax(self, dim=-1):
        from .ops import activation as A
        return A.softmax(self, dim)

    def log_softmax(self, dim=-1):
        from .ops import activation as A
        return A.log_softmax(self, dim)

    # ---- reductions ------------------------------------------------------------------------
    def sum(self, dim=None, keepdim=False, dtype=None):
        from .ops import reduce as R
        out = R.Sum.apply(self, axis=_axes(dim, self.ndim, "sum"), keepdim=keepdim)
        return out if dtype is None else out.to(dtype)

    def mean(self, dim=None, keepdim=False):
        from .ops import reduce as R
        return R.Mean.apply(self, axis=_axes(dim, self.ndim, "mean"), keepdim=keepdim)

    def var(self, dim=None, unbiased=None, keepdim=False, correction=None):
        from .ops import reduce as R
        corr = _correction(unbiased, correction)
        return R.Var.apply(self, axis=_axes(dim, self.ndim, "var"), keepdim=keepdim,
                           correction=corr)

    def std(self, dim=None, unbiased=None, keepdim=False, correction=None):
        return self.var(dim, unbiased, keepdim, correction).sqrt()

    def prod(self, dim=None, keepdim=False):
        from .ops import reduce as R
        return R.Prod.apply(self, axis=_axes(dim, self.ndim, "prod"), keepdim=keepdim)

    def max(self, dim=None, keepdim=False):
        from .ops import reduce as R
        if isinstance(dim, Tensor):
            return self.maximum(dim)
        return R.max_min(self, dim, keepdim, "max")

    def min(self, dim=None, keepdim=False):
        from .ops import reduce as R
        if isinstance(dim, Tensor):
            return self.minimum(dim)
        return R.max_min(self, dim, keepdim, "min")

    def amax(self, dim=None, keepdim=False):
        from .ops import reduce as R
        return R.Amax.apply(self, axis=_axes(dim, self.ndim, "amax"), keepdim=keepdim, op="max")

    def amin(self, dim=None, keepdim=False):
        from .ops import reduce as R
        return R.Amax.apply(self, axis=_axes(dim, self.ndim, "amin"), keepdim=keepdim, op="min")

    def argmax(self, dim=None, keepdim=False):
        return _arg_reduce(self, dim, keepdim, np.argmax, "argmax")

    def argmin(self, dim=None, keepdim=False):
        return _arg_reduce(self, dim, keepdim, np.argmin, "argmin")

    def logsumexp(self, dim, keepdim=False):
        from .ops import reduce as R
        return R.LogSumExp.apply(self, axis=_axes(dim, self.ndim, "logsumexp"), keepdim=keepdim)

    def norm(self, p=2, dim=None, keepdim=False):
        if p == 2:
            return (self * self).sum(dim, keepdim).sqrt()
        if p == 1:
            return self.abs().sum(dim, keepdim)
        return (self.abs() ** p).sum(dim, keepdim) ** (1.0 / p)

    def cumsum(self, dim):
        from .ops import reduce as R
        return R.Cumsum.apply(self, axis=_norm_dim(dim, self.ndim, "cumsum"))

    # ---- shape -----------------------------------------------------------------------------
    def reshape(self, *shape):
        from .ops import shape as S
        shape = _shape_args(shape)
        return S.Reshape.apply(self, shape=_resolve_shape(shape, self._data.size, "reshape"))

    def view(self, *shape):
        if len(shape) == 1 and not isinstance(shape[0], (tuple, list, Size, numbers.Integral)):
            return self.to(shape[0])
        return self.reshape(*shape)

    def view_as(self, other):
        return self.reshape(other.shape)

    def reshape_as(self, other):
        return self.reshape(other.shape)

    def flatten(self, start_dim=0, end_dim=-1):
        nd = self.ndim
        if nd == 0:
            return self.reshape(1)
        s = _norm_dim(start_dim, nd, "flatten")
        e = _norm_dim(end_dim, nd, "flatten")
        if s > e:
            raise ValueError("flatten: start_dim %d comes after end_dim %d" % (start_dim, end_dim))
        shp = self._data.shape
        return self.reshape(shp[:s] + (int(np.prod(shp[s:e + 1])),) + shp[e + 1:])

    def unflatten(self, dim, sizes):
        d = _norm_dim(dim, self.ndim, "unflatten")
        shp = self._data.shape
        sizes = _resolve_shape(tuple(sizes), shp[d], "unflatten")
        return self.reshape(shp[:d] + tuple(sizes) + shp[d + 1:])

    def squeeze(self, dim=None):
        shp = self._data.shape
        if dim is None:
            new = tuple(n for n in shp if n != 1)
        else:
            dims = dim if isinstance(dim, (tuple, list)) else (dim,)
            dims = {_norm_dim(d, self.ndim, "squeeze") for d in dims} if self.ndim else set()
            new = tuple(n for i, n in enumerate(shp) if not (i in dims and n == 1))
        return self.reshape(new) if new != shp else self

    def unsqueeze(self, dim):
        d = _norm_dim(dim, self.ndim + 1, "unsqueeze")
        shp = self._data.shape
        return self.reshape(shp[:d] + (1,) + shp[d:])

    def permute(self, *dims):
        from .ops import shape as S
        dims = _shape_args(dims)
        if len(dims) != self.ndim:
            raise ValueError("permute: expected %d dims, got %s" % (self.ndim, dims))
        dims = tuple(_norm_dim(d, self.ndim, "permute") for d in dims)
        if sorted(dims) != list(range(self.ndim)):
            raise ValueError("permute: dims %s are not a permutation of 0..%d"
                             % (dims, self.ndim - 1))
        return S.Permute.apply(self, dims=dims)

    def transpose(self, dim0, dim1):
        nd = self.ndim
        if nd < 2 and dim0 in (0, -1) and dim1 in (0, -1):
            return self
        a, b = _norm_dim(dim0, nd, "transpose"), _norm_dim(dim1, nd, "transpose")
        dims = list(range(nd))
        dims[a], dims[b] = dims[b], dims[a]
        return self.permute(*dims)

    swapaxes = transpose

    def t(self):
        if self.ndim > 2:
            raise ValueError("t: expects a tensor with <= 2 dims, got %d" % self.ndim)
        return self.transpose(0, 1) if self.ndim == 2 else self

    def expand(self, *sizes):
        from .ops import shape as S
        sizes = _shape_args(sizes)
        shp = self._data.shape
        if len(sizes) < len(shp):
            raise ValueError("expand: the number of sizes (%d) must be >= the number of dims (%d)"
                             % (len(sizes), len(shp)))
        lead = len(sizes) - len(shp)
        target = []
        for i, n in enumerate(sizes):
            if n == -1:
                if i < lead:
                    raise ValueError("expand: -1 is not allowed in a new leading dimension")
                n = shp[i - lead]
            elif i >= lead and shp[i - lead] not in (1, n):
                raise ValueError("expand: size %d of dim %d does not match %d"
                                 % (n, i, shp[i - lead]))
            target.append(n)
        return S.Expand.apply(self, shape=tuple(target))

    def expand_as(self, other):
        return self.expand(*other.shape)

    def repeat(self, *sizes):
        from .ops import shape as S
        sizes = _shape_args(sizes)
        if len(sizes) < self.ndim:
            raise ValueError("repeat: number of repeats (%d) must be >= the number of dims (%d)"
                             % (len(sizes), self.ndim))
        return S.Repeat.apply(self, reps=tuple(sizes))

    def split(self, split_size_or_sections, dim=0):
        d = _norm_dim(dim, self.ndim, "split")
        n = self._data.shape[d]
        if isinstance(split_size_or_sections, numbers.Integral):
            step = int(split_size_or_sections)
            if step <= 0:
                raise ValueError("split: split_size must be positive, got %d" % step)
            sizes = [min(step, n - i) for i in range(0, n, step)] or [0]
        else:
            sizes = [int(s) for s in split_size_or_sections]
            if sum(sizes) != n:
                raise ValueError("split: sections %s do not sum to the dim size %d" % (sizes, n))
        out, start = [], 0
        for s in sizes:
            idx = (slice(None),) * d + (slice(start, start + s),)
            out.append(self[idx])
            start += s
        return tuple(out)

    def chunk(self, chunks, dim=0):
        d = _norm_dim(dim, self.ndim, "chunk")
        n = self._data.shape[d]
        if chunks <= 0:
            raise ValueError("chunk: chunks must be positive, got %d" % chunks)
        step = -(-n // chunks)
        return self.split(max(step, 1), d)

    def unbind(self, dim=0):
        d = _norm_dim(dim, self.ndim, "unbind")
        return tuple(self[(slice(None),) * d + (i,)] for i in range(self._data.shape[d]))

    def gather(self, dim, index):
        from .ops import shape as S
        d = _norm_dim(dim, self.ndim, "gather")
        idx = _raw(index)
        if idx.dtype.kind not in "iu":
            raise TypeError("gather: index must be an integer tensor, got %s" % idx.dtype)
        if idx.ndim != self.ndim:
            raise ValueError("gather: index must have %d dims, got %d" % (self.ndim, idx.ndim))
        return S.Gather.apply(self, dim=d, index=idx)

    def scatter_add(self, dim, index, src):
        from .ops import shape as S
        d = _norm_dim(dim, self.ndim, "scatter_add")
        return S.ScatterAdd.apply(self, src, dim=d, index=_raw(index))

    def index_select(self, dim, index):
        d = _norm_dim(dim, self.ndim, "index_select")
        return self[(slice(None),) * d + (_raw(index),)]

    def masked_fill(self, mask, value):
        from .ops import shape as S
        m = _raw(mask)
        if m.dtype != bool_:
            raise TypeError("masked_fill: mask must be a bool tensor, got %s" % m.dtype)
        try:
            np.broadcast_shapes(m.shape, self._data.shape)
        except ValueError:
            raise ValueError("masked_fill: mask of shape %s does not broadcast to %s"
                             % (m.shape, self.shape)) from None
        return S.MaskedFill.apply(self, mask=m, value=_scalar_of(value))

    def tril(self, diagonal=0):
        from .ops import shape as S
        return S.Tri.apply(self, k=diagonal, upper=False)

    def triu(self, diagonal=0):
        from .ops import shape as S
        return S.Tri.apply(self, k=diagonal, upper=True)

    def flip(self, dims):
        from .ops import shape as S
        dims = (dims,) if isinstance(dims, numbers.Integral) else tuple(dims)
        return S.Flip.apply(self, dims=tuple(_norm_dim(d, self.ndim, "flip") for d in dims))

    def __getitem__(self, idx):
        from .ops import shape as S
        return S.GetItem.apply(self, index=_index_of(idx))

    def masked_select(self, mask):
        return self[_raw(mask)]

    def sort(self, dim=-1, descending=False):
        d = _norm_dim(dim, self.ndim, "sort")
        order = np.argsort(-self._data if descending else self._data, axis=d, kind="stable")
        return SortResult(self.gather(d, order), Tensor._wrap(order.astype(np.int64)))

    def argsort(self, dim=-1, descending=False):
        return self.sort(dim, descending).indices

    def topk(self, k, dim=-1, largest=True, sorted=True):
        d = _norm_dim(dim, self.ndim, "topk")
        if not 0 <= k <= self._data.shape[d]:
            raise ValueError("topk: k=%d out of range for a dim of size %d"
                             % (k, self._data.shape[d]))
        vals, idx = self.sort(d, descending=largest)
        sl = (slice(None),) * d + (slice(0, k),)
        return SortResult(vals[sl], idx[sl])


autograd._tensor_cls[0] = Tensor

builtins_float = __builtins__["float"] if isinstance(__builtins__, dict) else __builtins__.float


class Size(tuple):
    """A shape, as PyTorch's torch.Size (a tuple that prints as one)."""

    def numel(self):
        n = 1
        for s in self:
            n *= s
        return n

    def __repr__(self):
        return "dl.Size(%s)" % list(self)


class SortResult(tuple):
    """(values, indices) with named fields, like torch.return_types."""

    def __new__(cls, values, indices):
        return super().__new__(cls, (values, indices))

    @property
    def values(self):
        return self[0]

    @property
    def indices(self):
        return self[1]


# ---- helpers shared with ops --------------------------------------------------------------
def _raw(x):
    return x._data if isinstance(x, Tensor) else x


def _operand(o, like):
    """Python numbers stay scalars (NumPy keeps the tensor's dtype); arrays become Tensors."""
    if isinstance(o, Tensor):
        return o
    if isinstance(o, (numbers.Number, np.generic)):
        if like._data.dtype.kind == "f" and isinstance(o, (numbers.Real, np.floating)):
            return like._data.dtype.type(o)
        return o
    if isinstance(o, (np.ndarray, list, tuple)):
        arr = np.asarray(o)
        if arr.dtype.kind == "f" and like._data.dtype.kind == "f":
            arr = arr.astype(like._data.dtype, copy=False)
        return Tensor._wrap(arr)
    raise TypeError("unsupported operand type: %s" % type(o).__name__)


def _scalar_of(v):
    if isinstance(v, Tensor):
        if v._data.size != 1:
            raise ValueError("expected a one-element tensor as a value, got shape %s" % (v.shape,))
        return v.item()
    return v


def _scalar_or_none(v):
    return None if v is None else _scalar_of(v)


def _index_of(idx):
    if isinstance(idx, Tensor):
        return idx._data
    if isinstance(idx, tuple):
        return tuple(i._data if isinstance(i, Tensor) else i for i in idx)
    if isinstance(idx, list):
        return np.asarray(idx)
    return idx


def _norm_dim(dim, ndim, fname):
    if not isinstance(dim, (numbers.Integral, np.integer)):
        raise TypeError("%s: dim must be an int, got %r" % (fname, dim))
    lo = -max(ndim, 1)
    hi = max(ndim, 1) - 1
    if not lo <= dim <= hi:
        raise IndexError("%s: dim %d is out of range for a tensor with %d dims (expected "
                         "[%d, %d])" % (fname, dim, ndim, lo, hi))
    return int(dim) % max(ndim, 1)


def _axes(dim, ndim, fname):
    if dim is None:
        return None
    if isinstance(dim, (tuple, list)):
        ax = tuple(_norm_dim(d, ndim, fname) for d in dim)
        if len(set(ax)) != len(ax):
            raise ValueError("%s: dim %s repeats an axis" % (fname, tuple(dim)))
        return ax
    if ndim == 0:
        _norm_dim(dim, ndim, fname)
        return None
    return (_norm_dim(dim, ndim, fname),)


def _correction(unbiased, correction):
    if correction is not None:
        return correction
    if unbiased is None:
        return 1
    return 1 if unbiased else 0


def _shape_args(shape):
    if len(shape) == 1 and isinstance(shape[0], (tuple, list, Size)):
        shape = tuple(shape[0])
    out = []
    for s in shape:
        if isinstance(s, Tensor):
            s = s.item()
        if not isinstance(s, (numbers.Integral, np.integer)):
            raise TypeError("shape entries must be ints, got %r" % (s,))
        out.append(int(s))
    return tuple(out)


def _resolve_shape(shape, size, fname):
    if shape.count(-1) > 1:
        raise ValueError("%s: only one dimension can be -1, got %s" % (fname, shape))
    if any(s < -1 for s in shape):
        raise ValueError("%s: invalid shape %s" % (fname, shape))
    known = 1
    for s in shape:
        if s != -1:
            known *= s
    if -1 in shape:
        if known == 0 or size % known:
            raise ValueError("%s: shape %s is invalid for input of size %d" % (fname, shape, size))
        shape = tuple(size // known if s == -1 else s for s in shape)
    elif known != size:
        raise ValueError("%s: shape %s is invalid for input of size %d" % (fname, shape, size))
    return shape


def _arg_reduce(t, dim, keepdim, fn, name):
    if dim is None:
        return Tensor._wrap(np.asarray(fn(t._data.reshape(-1)), dtype=np.int64))
    d = _norm_dim(dim, t.ndim, name)
    r = fn(t._data, axis=d)
    if keepdim:
        r = np.expand_dims(r, d)
    return Tensor._wrap(np.asarray(r, dtype=np.int64))


# ---- creation functions ---------------------------------------------------------------------
def tensor(data, dtype=None, device=None, requires_grad=False):
    """A new tensor holding a copy of `data` (floats default to float32, ints to int64)."""
    _check_device(device)
    arr = _to_array(data, _as_dtype(dtype))
    arr = np.array(arr, copy=True, order="C")
    return Tensor(arr, requires_grad=requires_grad)


def as_tensor(data, dtype=None, device=None):
    _check_device(device)
    if isinstance(data, Tensor) and (dtype is None or data.dtype == np.dtype(dtype)):
        return data
    return Tensor(_to_array(data, _as_dtype(dtype)))


def from_numpy(arr):
    """A tensor sharing memory with the NumPy array `arr` (no copy)."""
    if not isinstance(arr, np.ndarray):
        raise TypeError("from_numpy: expected a numpy.ndarray, got %s" % type(arr).__name__)
    return Tensor._wrap(arr)


def _size_args(size, fname):
    if len(size) == 1 and isinstance(size[0], (tuple, list, Size)):
        size = tuple(size[0])
    for s in size:
        if not isinstance(s, (numbers.Integral, np.integer)) or s < 0:
            raise ValueError("%s: sizes must be non-negative ints, got %s" % (fname, size))
    return tuple(int(s) for s in size)


def _make(fn, size, dtype, requires_grad, fname, device=None):
    _check_device(device)
    dt = _as_dtype(dtype) or _default_dtype["dtype"]
    arr = fn(_size_args(size, fname), dt)
    return Tensor(arr, requires_grad=requires_grad)


def zeros(*size, dtype=None, device=None, requires_grad=False):
    return _make(np.zeros, size, dtype, requires_grad, "zeros", device)


def ones(*size, dtype=None, device=None, requires_grad=False):
    return _make(np.ones, size, dtype, requires_grad, "ones", device)


def empty(*size, dtype=None, device=None, requires_grad=False):
    return _make(np.empty, size, dtype, requires_grad, "empty", device)


def full(size, fill_value, dtype=None, device=None, requires_grad=False):
    _check_device(device)
    if dtype is None:
        if isinstance(fill_value, bool):
            dtype = bool_
        elif isinstance(fill_value, numbers.Integral):
            dtype = int64
    dt = _as_dtype(dtype) or _default_dtype["dtype"]
    sz = tuple(size) if isinstance(size, (tuple, list, Size)) else (size,)
    arr = np.full(_size_args(sz, "full"), _scalar_of(fill_value), dtype=dt)
    return Tensor(arr, requires_grad=requires_grad)


def zeros_like(t, dtype=None, requires_grad=False):
    return zeros(*t.shape, dtype=dtype or t.dtype, requires_grad=requires_grad)


def ones_like(t, dtype=None, requires_grad=False):
    return ones(*t.shape, dtype=dtype or t.dtype, requires_grad=requires_grad)


def full_like(t, fill_value, dtype=None, requires_grad=False):
    return full(tuple(t.shape), fill_value, dtype=dtype or t.dtype, requires_grad=requires_grad)


def empty_like(t, dtype=None, requires_grad=False):
    return empty(*t.shape, dtype=dtype or t.dtype, requires_grad=requires_grad)


def eye(n, m=None, dtype=None, device=None, requires_grad=False):
    _check_device(device)
    dt = _as_dtype(dtype) or _default_dtype["dtype"]
    return Tensor(np.eye(n, m, dtype=dt), requires_grad=requires_grad)


def arange(start, end=None, step=1, dtype=None, device=None, requires_grad=False):
    _check_device(device)
    if end is None:
        start, end = 0, start
    if step == 0:
        raise ValueError("arange: step must be nonzero")
    if dtype is None:
        ints = all(isinstance(v, numbers.Integral) for v in (start, end, step))
        dtype = int64 if ints else _default_dtype["dtype"]
    return Tensor(np.arange(start, end, step, dtype=_as_dtype(dtype)),
                  requires_grad=requires_grad)


def linspace(start, end, steps, dtype=None, device=None, requires_grad=False):
    _check_device(device)
    dt = _as_dtype(dtype) or _default_dtype["dtype"]
    return Tensor(np.linspace(start, end, steps, dtype=dt), requires_grad=requires_grad)


def rand(*size, dtype=None, generator=None, requires_grad=False, device=None):
    from . import random as R
    _check_device(device)
    dt = _as_dtype(dtype) or _default_dtype["dtype"]
    arr = R.rng(generator).random(_size_args(size, "rand")).astype(dt)
    return Tensor(arr, requires_grad=requires_grad)


def randn(*size, dtype=None, generator=None, requires_grad=False, device=None):
    from . import random as R
    _check_device(device)
    dt = _as_dtype(dtype) or _default_dtype["dtype"]
    arr = R.rng(generator).standard_normal(_size_args(size, "randn")).astype(dt)
    return Tensor(arr, requires_grad=requires_grad)


def randint(low, high=None, size=None, dtype=None, generator=None, device=None):
    from . import random as R
    _check_device(device)
    if high is None:
        low, high = 0, low
    if size is None:
        raise TypeError("randint: size is required")
    arr = R.rng(generator).integers(low, high, _size_args(tuple(size), "randint"))
    return Tensor(arr.astype(_as_dtype(dtype) or int64))


def randperm(n, generator=None, dtype=None, device=None):
    from . import random as R
    _check_device(device)
    return Tensor(R.rng(generator).permutation(n).astype(_as_dtype(dtype) or int64))


def rand_like(t, dtype=None):
    return rand(*t.shape, dtype=dtype or t.dtype)


def randn_like(t, dtype=None):
    return randn(*t.shape, dtype=dtype or t.dtype)


def is_tensor(x):
    return isinstance(x, Tensor)


def numel(t):
    return t.numel()
