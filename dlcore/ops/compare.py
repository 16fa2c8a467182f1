"""Tensor comparisons and logic (`CompareMethods`): elementwise NumPy ufuncs, no gradient,
bool results (bitwise for integer tensors)."""
import numpy as np

from ..dtypes import bool_
from ..tensor_base import raw, wrap
from .promote import array_operands


class CompareMethods:
    """Tensor comparisons and logic: elementwise, no gradient, bool results."""

    __slots__ = ()

    def __eq__(self, o):
        if o is None:
            return False
        return wrap(np.equal(*array_operands(self, o)))

    def __ne__(self, o):
        if o is None:
            return True
        return wrap(np.not_equal(*array_operands(self, o)))

    def __lt__(self, o):
        return wrap(np.less(*array_operands(self, o)))

    def __le__(self, o):
        return wrap(np.less_equal(*array_operands(self, o)))

    def __gt__(self, o):
        return wrap(np.greater(*array_operands(self, o)))

    def __ge__(self, o):
        return wrap(np.greater_equal(*array_operands(self, o)))

    def __hash__(self):  # defining __eq__ would otherwise make tensors unhashable
        return id(self)

    def __and__(self, o):
        return wrap(np.logical_and(self._data, raw(o)) if self._data.dtype == bool_
                    else np.bitwise_and(self._data, raw(o)))

    def __or__(self, o):
        return wrap(np.logical_or(self._data, raw(o)) if self._data.dtype == bool_
                    else np.bitwise_or(self._data, raw(o)))

    def __xor__(self, o):
        return wrap(np.logical_xor(self._data, raw(o)))

    def __invert__(self):
        return wrap(np.logical_not(self._data) if self._data.dtype == bool_
                    else np.invert(self._data))

    eq, ne, lt, le, gt, ge = __eq__, __ne__, __lt__, __le__, __gt__, __ge__

    def logical_not(self):
        return wrap(np.logical_not(self._data))

    def isnan(self):
        return wrap(np.isnan(self._data))

    def isinf(self):
        return wrap(np.isinf(self._data))

    def isfinite(self):
        return wrap(np.isfinite(self._data))

    def equal(self, other):
        return self.shape == other.shape and bool(np.array_equal(self._data, other._data))

    def allclose(self, other, rtol=1e-5, atol=1e-8):
        return bool(np.allclose(self._data, raw(other), rtol=rtol, atol=atol))
