"""Gradients of gradients: what a Function's backward is when create_graph=True.

Three ways a Function gets a differentiable backward (Function.backward_graph):
- its own backward_graph, written with Tensor ops on self.parents (most nonlinear ops);
- LINEAR = True: the backward is the adjoint of a linear map, run as an `Adjoint` node whose
  own backward is the op's forward again (shape ops, sums, average pooling ...);
- `composite_backward`: the op gives the same value built from differentiable Tensor ops
  (losses), and its gradient is taken through that.
Everything else falls back to `default_backward_graph`: first-order gradients stay right and
a second backward through them raises (NoDoubleBackward), never a silent zero.
"""
import numpy as np

from ..tensor_base import TensorBase, wrap
from . import engine
from .function import Function
from .grad_mode import enable_grad
from ..dtypes import is_floating


def _by_position(fn, values):
    """Input gradients (None where not needed) from the values of the needed ones."""
    it = iter(values)
    return tuple(next(it) if need else None for need in fn.needs_input_grad)


class NoDoubleBackward(Function):
    """Holds first-order gradients an op could only give as arrays; differentiating them
    raises."""

    def forward(self, *inputs, name="", values=()):
        self.op = name
        return values if len(values) != 1 else values[0]

    def backward(self, *grads):
        raise RuntimeError("double backward (a gradient of a gradient, create_graph=True) is not "
                           "supported for %s" % self.op)


def default_backward_graph(self, *grads):
    if self.LINEAR:
        return _adjoint(self, grads)
    arrays = self.backward(*[g._data for g in grads])
    if not isinstance(arrays, tuple):
        arrays = (arrays,)
    needed = [a for a, need in zip(arrays, self.needs_input_grad) if need and a is not None]
    if not needed:
        return (None,) * len(self.needs_input_grad)
    deps = list(grads) + [p for p, need in zip(self.parents, self.needs_input_grad) if need]
    out = NoDoubleBackward.apply(*deps, name=type(self).__name__, values=tuple(needed))
    out = out if isinstance(out, tuple) else (out,)
    it = iter(out)
    return tuple(next(it) if (need and a is not None) else None
                 for a, need in zip(arrays, self.needs_input_grad))


def _zero_or_keep(p):
    if isinstance(p, TensorBase):
        return np.zeros_like(p._data) if is_floating(p._data.dtype) else p._data
    if isinstance(p, (bool, np.bool_)):
        return p
    if isinstance(p, (int, float, np.number)):
        return type(p)(0)
    if isinstance(p, np.ndarray) and is_floating(p.dtype):
        return np.zeros_like(p)
    return p


class Adjoint(Function):
    """The backward of a LINEAR node as an op: in, the node's output gradients; out, its input
    gradients.  Linear in its inputs, so its backward is the node's forward on the cotangents."""

    def forward(self, *grads, node=None):
        res = node.backward(*grads)
        if not isinstance(res, tuple):
            res = (res,)
        self.positions = [i for i, need in enumerate(node.needs_input_grad) if need]
        self.node_cls = type(node)
        self.node_kwargs = node.kwargs or {}
        # the inputs the linear map acts on: float Tensors, and numbers or float arrays (the
        # constant of an affine op such as x + 1, zeroed); others (a condition, indices) stay
        self.node_args = [_zero_or_keep(p) for p in node.parents]
        self.node_float = [isinstance(p, TensorBase) and is_floating(p._data.dtype)
                           for p in node.parents]
        out = tuple(np.zeros(node.parents[i]._data.shape, node.parents[i]._data.dtype)
                    if res[i] is None else np.asarray(res[i]) for i in self.positions)
        return out if len(out) != 1 else out[0]

    def _args(self, ggs, zero=False):
        args = list(self.node_args)
        if not zero:
            for pos, gg in zip(self.positions, ggs):
                args[pos] = gg
        return args

    def _linear_part(self, args_of):
        fresh = self.node_cls()
        fresh.needs_input_grad = (False,) * len(self.node_args)
        out = fresh.forward(*args_of(False), **self.node_kwargs)
        if self.node_cls.AFFINE:
            fresh0 = self.node_cls()
            fresh0.needs_input_grad = fresh.needs_input_grad
            zero = fresh0.forward(*args_of(True), **self.node_kwargs)
            out = tuple(a - b for a, b in zip(out, zero)) if isinstance(out, tuple) else out - zero
        return out

    def backward(self, *ggs):
        return self._linear_part(lambda zero: self._args(ggs, zero))

    def backward_graph(self, *ggs):
        def tensor_args(zero):
            args = [wrap(a) if f else a for a, f in zip(self._args([], True), self.node_float)]
            if not zero:
                for pos, gg in zip(self.positions, ggs):
                    args[pos] = gg
            return args
        out = self.node_cls.apply(*tensor_args(False), **self.node_kwargs)
        if self.node_cls.AFFINE:
            zero = self.node_cls.apply(*tensor_args(True), **self.node_kwargs)
            out = tuple(a - b for a, b in zip(out, zero)) if isinstance(out, tuple) else out - zero
        return out


def _adjoint(fn, grads):
    if not any(fn.needs_input_grad):
        return (None,) * len(fn.needs_input_grad)
    out = Adjoint.apply(*grads, node=fn)
    return _by_position(fn, out if isinstance(out, tuple) else (out,))


def composite_backward(fn, grads, build):
    """fn's input gradients as the gradient of build() (the same value as fn's output, made of
    differentiable Tensor ops on fn.parents), kept differentiable."""
    wanted = [p for p, need in zip(fn.parents, fn.needs_input_grad) if need]
    with enable_grad():
        out = build()
    outs = out if isinstance(out, tuple) else (out,)
    res = engine.run(list(outs), list(grads[:len(outs)]), True, True, inputs=wanted,
                     allow_unused=True)
    return _by_position(fn, res)


Function.backward_graph = default_backward_graph
