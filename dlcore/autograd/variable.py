"""torch.autograd.Variable, kept because old scripts still write `Variable(x, requires_grad=True)`.

Since PyTorch 0.4 a Variable is a Tensor: calling Variable(t) gives a new leaf sharing t's
storage (t detached) with requires_grad as asked, and isinstance(x, Variable) is true for every
tensor.  `volatile` is accepted and ignored with a warning, as torch does."""
import warnings

import numpy as np

from ..tensor_base import TensorBase, wrap


class _VariableMeta(type):
    def __instancecheck__(cls, other):
        return isinstance(other, TensorBase)


class Variable(metaclass=_VariableMeta):
    def __new__(cls, data=None, requires_grad=False, volatile=False):
        if volatile:
            warnings.warn("volatile was removed and now has no effect; use `with dl.no_grad():` "
                          "instead", UserWarning, stacklevel=2)
        if data is None:
            return wrap(np.zeros((0,), np.float32))
        if not isinstance(data, TensorBase):
            raise TypeError("Variable data has to be a tensor, but got %s" % type(data).__name__)
        out = data.detach()
        if requires_grad:
            out.requires_grad_(True)
        return out
