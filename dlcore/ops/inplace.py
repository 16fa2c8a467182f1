"""In-place Tensor methods (add_ sub_ mul_ div_ clamp_ relu_ masked_fill_ copy_ zero_ fill_,
index assignment, += and friends) with PyTorch's autograd semantics.

Off the graph they update the array directly; on it they are recorded as the out-of-place op
(see dlcore.autograd.inplace), so gradients flow through them and saved tensors changed by
them are caught by the version counter.
"""
import numpy as np

from ..autograd import Function, inplace as IP
from ..dtypes import bool_
from ..tensor_base import TensorBase, index_of, operand, raw, scalar_of, scalar_or_none, wrap
from .activation import ReLU, _check_input
from .arith import Add, Clamp, Div, Mul, Sub, Where
from .int_arith import check_bool_sub
from .promote import check_inplace_result
from .shape import MaskedFill

_ALWAYS = np.True_


class SetItem(Function):
    """a with a[index] = v (a copy): index assignment as an op of the graph."""
    LINEAR = True

    def forward(self, a, v, index=None):
        out = np.array(a, copy=True)
        try:
            out[index] = v
        except (IndexError, ValueError) as e:
            raise type(e)("__setitem__: cannot assign a value of shape %s to index %r of a "
                          "tensor of shape %s: %s" % (np.shape(v), index, a.shape, e)) from None
        if self.requires_grad:
            self.index, self.vshape = index, np.shape(v)
        return out

    def backward(self, g):
        ga = gv = None
        if self.needs_input_grad[0]:
            ga = np.array(g, copy=True)
            ga[self.index] = 0
        if self.needs_input_grad[1]:
            gv = np.asarray(g[self.index])
        return ga, gv


def _value_tensor(t, value, fname):
    """value as a Tensor of t's dtype (a Tensor operand keeps its graph)."""
    if isinstance(value, TensorBase):
        return value if value.dtype == t.dtype else value.to(t.dtype)
    return wrap(np.asarray(value, dtype=t._data.dtype))


def _binary_(t, other, name, op, ufunc, alpha=1, keep_old=False):
    """t = t <op> alpha * other in place: recorded as `op` while autograd records (keep_old: its
    backward reads t's old value), else `ufunc` writing into t's storage."""
    if IP.recording(t, (other,)):
        o = operand(other, t)
        if alpha != 1:
            o = o * alpha
        return IP.run_recorded(t, name, lambda old: op.apply(old, o), keep_old=keep_old)
    o = raw(other)
    if alpha != 1:
        o = o * alpha
    return IP.run_direct(t, name, lambda a: ufunc(a, o, out=a, casting="unsafe"))


class InplaceMethods:
    """The Tensor's in-place methods."""

    __slots__ = ()

    def add_(self, other, alpha=1):
        check_inplace_result(self, other, "add_")
        return _binary_(self, other, "add_", Add, np.add, alpha)

    def sub_(self, other, alpha=1):
        check_bool_sub(self, other)
        check_inplace_result(self, other, "sub_")
        # np.subtract, not add of -o: -o of an unsigned operand would wrap around
        return _binary_(self, other, "sub_", Sub, np.subtract, alpha)

    def mul_(self, other):
        check_inplace_result(self, other, "mul_")
        return _binary_(self, other, "mul_", Mul, np.multiply, keep_old=True)

    def div_(self, other):
        check_inplace_result(self, other, "div_", true_div=True)
        return _binary_(self, other, "div_", Div, np.divide)

    def clamp_(self, min=None, max=None):
        lo, hi = scalar_or_none(min, "clamp_"), scalar_or_none(max, "clamp_")
        if lo is None and hi is None:
            raise ValueError("clamp_: at least one of min and max must be given")
        if IP.recording(self):
            return IP.run_recorded(self, "clamp_", lambda old: Clamp.apply(old, min=lo, max=hi),
                                   keep_old=True)
        return IP.run_direct(self, "clamp_", lambda a: np.clip(a, lo, hi, out=a))

    clip_ = clamp_

    def relu_(self):
        _check_input(self, "relu_")
        if IP.recording(self):
            return IP.run_recorded(self, "relu_", lambda old: ReLU.apply(old))
        return IP.run_direct(self, "relu_", lambda a: np.maximum(a, 0, out=a,
                                                                   where=~np.isnan(a)))

    def masked_fill_(self, mask, value):
        m = raw(mask)
        if not isinstance(m, np.ndarray) or m.dtype != bool_:
            raise TypeError("masked_fill_: mask must be a bool tensor, got %s"
                            % getattr(m, "dtype", type(m).__name__))
        try:
            if np.broadcast_shapes(m.shape, self._data.shape) != self._data.shape:
                raise ValueError
        except ValueError:
            raise ValueError("masked_fill_: mask of shape %s does not broadcast to %s"
                             % (m.shape, tuple(self.shape))) from None
        v = scalar_of(value, "masked_fill_")
        if IP.recording(self):
            return IP.run_recorded(self, "masked_fill_",
                                   lambda old: MaskedFill.apply(old, mask=m, value=v))
        return IP.run_direct(self, "masked_fill_", lambda a: np.copyto(a, v, where=m,
                                                                        casting="unsafe"))

    def copy_(self, src, non_blocking=False):
        arr = raw(src) if isinstance(src, TensorBase) else np.asarray(src)
        try:
            np.broadcast_to(arr, self._data.shape)
        except ValueError:
            raise ValueError("copy_: source of shape %s does not broadcast to %s"
                             % (np.shape(arr), tuple(self.shape))) from None
        if IP.recording(self, (src,)):
            v = _value_tensor(self, src, "copy_")
            return IP.run_recorded(self, "copy_", lambda old: Where.apply(_ALWAYS, v, old))
        return IP.run_direct(self, "copy_", lambda a: np.copyto(
            a, np.broadcast_to(arr, a.shape), casting="unsafe"))

    def fill_(self, value):
        v = scalar_of(value, "fill_") if not isinstance(value, TensorBase) else value
        if IP.recording(self, (value,)):
            vt = _value_tensor(self, v, "fill_")
            return IP.run_recorded(self, "fill_", lambda old: Where.apply(_ALWAYS, vt, old))
        v = raw(v)
        return IP.run_direct(self, "fill_", lambda a: a.__setitem__(Ellipsis, v))

    def zero_(self):
        return self.fill_(0)

    def __setitem__(self, idx, value):
        key = index_of(idx)
        if IP.recording(self, (value,)):
            v = _value_tensor(self, value, "__setitem__")
            return IP.run_recorded(self, "__setitem__",
                                   lambda old: SetItem.apply(old, v, index=key))
        v = raw(value)
        IP.run_direct(self, "__setitem__", lambda a: a.__setitem__(key, v))

    def __iadd__(self, o):
        return self.add_(o)

    def __isub__(self, o):
        return self.sub_(o)

    def __imul__(self, o):
        return self.mul_(o)

    def __itruediv__(self, o):
        return self.div_(o)
