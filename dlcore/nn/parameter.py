"""Parameter: a Tensor that a Module registers as learnable."""
import numpy as np

from ..shared_storage import shared_reduce
from ..tensor import Tensor
from ..dtypes import get_default_dtype, is_floating


class Parameter(Tensor):
    """A leaf tensor that requires grad by default and is collected by Module.parameters()."""

    def __init__(self, data=None, requires_grad=True):
        if data is None:
            data = np.empty((0,), dtype=np.float32)
        arr = data._data if isinstance(data, Tensor) else np.asarray(data)
        if not is_floating(arr.dtype) and requires_grad:
            raise TypeError("Parameter: only floating point data can require grad, got %s"
                            % arr.dtype)
        super().__init__(arr, requires_grad=requires_grad)

    def __repr__(self):
        return "Parameter containing:\n" + super().__repr__()

    def __reduce_ex__(self, proto):
        shared = shared_reduce(self, Parameter)  # a shared parameter maps the same memory
        if shared is not None:
            return shared
        return (Parameter, (self._data, self.requires_grad))


class _Uninitialized:
    """A parameter or buffer without a shape yet (lazy modules): an empty array of the
    dtype it will have until `materialize(shape)` gives it memory and makes it a plain
    Parameter / Tensor (cls_to_become), as torch's UninitializedTensorMixin."""

    cls_to_become = None
    _uninitialized = True

    def materialize(self, shape, device=None, dtype=None):
        shape = tuple(int(s) for s in (shape if isinstance(shape, (tuple, list)) else (shape,)))
        dt = np.dtype(dtype) if dtype is not None else self._data.dtype
        self._data = np.empty(shape, dtype=dt)
        self.__class__ = self.cls_to_become

    @property
    def shape(self):
        raise ValueError("can't access the shape of an uninitialized parameter or buffer; "
                         "run a forward pass (or load a state_dict) first")

    def __repr__(self):
        return "<%s>" % type(self).__name__

    def __reduce_ex__(self, proto):
        return (type(self), (self.requires_grad, None, self._data.dtype))


class UninitializedParameter(_Uninitialized, Parameter):
    """The parameter of a Lazy* module before its first call."""

    cls_to_become = Parameter

    def __init__(self, requires_grad=True, device=None, dtype=None):
        from_dtype = np.dtype(dtype) if dtype is not None else get_default_dtype()
        Parameter.__init__(self, np.empty((0,), dtype=from_dtype), requires_grad)


class UninitializedBuffer(_Uninitialized, Tensor):
    """The buffer (running statistics) of a Lazy* module before its first call."""

    cls_to_become = Tensor

    def __init__(self, requires_grad=False, device=None, dtype=None):
        from_dtype = np.dtype(dtype) if dtype is not None else get_default_dtype()
        Tensor.__init__(self, np.empty((0,), dtype=from_dtype), requires_grad=requires_grad)


def is_lazy(t):
    """Whether `t` is an uninitialized parameter or buffer."""
    return getattr(t, "_uninitialized", False)


class _BufferMeta(type):
    def __instancecheck__(cls, inst):
        return isinstance(inst, Tensor) and getattr(inst, "_is_buffer", False)


class Buffer(Tensor, metaclass=_BufferMeta):
    """torch.nn.Buffer: marks a tensor that Module.__setattr__ registers as a buffer
    (`persistent` says whether state_dict holds it).  Returns a detached tensor, flagged."""

    def __new__(cls, data=None, *, persistent=True):
        if data is None:
            data = Tensor(np.empty((0,), dtype=get_default_dtype()))
        t = data.detach() if isinstance(data, Tensor) else Tensor(np.asarray(data))
        t._is_buffer = True
        t.persistent = bool(persistent)
        return t
