"""Parameter: a Tensor that a Module registers as learnable."""
import numpy as np

from ..shared_storage import shared_reduce
from ..tensor import Tensor
from ..dtypes import is_floating


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
