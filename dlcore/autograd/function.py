"""Function: one differentiable operation of dlcore's ops, and how a call is recorded.

A subclass implements `forward(self, *arrays, **kwargs)` on NumPy arrays (returning an array or
a tuple of arrays) and `backward(self, *grads)` returning one gradient array per positional
input (None where there is none).  `Cls.apply(*args)` unwraps Tensors, runs forward, and — when
grad mode is on and an input requires grad — records the call on the outputs.  Gradients that
come back with a broadcast shape are summed back to the input's shape by the engine.

For gradients of gradients (backward with create_graph=True) a Function also gives
`backward_graph(self, *grads)`: the same gradients computed from Tensors with differentiable
ops (self.parents holds the input Tensors, self.kwargs the keyword arguments).  Ops whose
backward is linear in the incoming gradient and independent of the inputs (shape ops, sums,
pooling by average...) set LINEAR = True and get it for free (dlcore.autograd.double_backward).
A Function with neither raises when a second backward reaches it, never a silent zero.

User-defined functions in PyTorch's shape (static forward(ctx, ...)) are told apart when the
class is made and get their own apply (dlcore.autograd.ctx_function).
"""
import numpy as np

from .. import tensor_base
from ..tensor_base import TensorBase, wrap
from . import anomaly, ctx_function, version, view_registry
from . import grad_mode
from .grad_mode import state
from .node_api import NodeApi

_bumps = version.clock
_new_object = object.__new__
_open_blocks = grad_mode.open_blocks
_inference_used = grad_mode.inference_used

# dlcore.jit's tracer while a trace runs, else None: called as _tracer(cls, args, kwargs, result)
# after every apply (one global read per op when off); set through dlcore.autograd._tracer
_tracer = None

_KEEP_AFTER_BACKWARD = frozenset(("needs_input_grad", "n_outputs", "requires_grad", "out_shapes",
                                  "out_dtypes", "_freed", "_replaced", "_view", "_clock"))


class Function(ctx_function.FunctionCtx, NodeApi):
    """One differentiable operation; an instance is one node of the recorded graph."""

    # set by apply(): the input Tensors (None for non-tensor args), freed after backward
    parents = None
    kwargs = None
    needs_input_grad = ()
    requires_grad = False  # set per call when the call is recorded
    n_outputs = 1
    _freed = False
    # the op is linear in its float Tensor inputs (affine if AFFINE): its second derivative is
    # zero and its backward's adjoint is the op itself
    LINEAR = False
    AFFINE = False
    # (node, output index, clock) this node's output tensor was bound to before an in-place op
    # rebound it here; nodes recorded before that clock still read the older one (engine)
    _replaced = None
    # an output may share memory with an input (a slice, reshape...): the output tensors are
    # registered as views of that storage, to be rebound after an in-place change of it
    _view = False

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if isinstance(cls.__dict__.get("forward"), staticmethod):
            ctx_function.make_ctx_style(cls)

    def forward(self, *args, **kwargs):  # pragma: no cover - interface
        raise NotImplementedError

    def backward(self, *grads):  # pragma: no cover - interface
        raise NotImplementedError

    backward_graph = None  # set below (dlcore.autograd.double_backward fills the default)

    @classmethod
    def apply(cls, *args, **kwargs):
        if _tracer is not None:  # a trace sees every op, recorded for backward or not
            return cls._apply_recorded(args, kwargs)
        mode = state.grad if _open_blocks[0] else True
        if mode:
            for a in args:
                if isinstance(a, TensorBase) and a.requires_grad:
                    return cls._apply_recorded(args, kwargs)
        # nothing to record (grad mode off, or no input requires grad): the same forward on
        # the same arrays, without the per-input bookkeeping only backward reads.  One and two
        # inputs are spelled out: a comprehension is a function call of its own in Python 3.11
        fn = cls()
        n = len(args)
        fn.needs_input_grad = (False,) * n
        if n == 1:
            a = args[0]
            out = fn.forward(a._data if isinstance(a, TensorBase) else a, **kwargs)
        elif n == 2:
            a, b = args
            out = fn.forward(a._data if isinstance(a, TensorBase) else a,
                             b._data if isinstance(b, TensorBase) else b, **kwargs)
        else:
            out = fn.forward(*[a._data if isinstance(a, TensorBase) else a for a in args],
                             **kwargs)
        if type(out) is tuple:
            fn.n_outputs = len(out)
            res = tuple([wrap(o) for o in out])
            if mode is None:  # inference mode: the results may never join a graph
                for t in res:
                    t._inference = True
            return res
        t = wrap(out)
        if mode is None:
            t._inference = True
        return t

    @classmethod
    def _apply_recorded(cls, args, kwargs):
        fn = cls()
        grad_on = bool(state.grad) if _open_blocks[0] else True
        n = len(args)
        if n == 1:  # one and two inputs spelled out, as in apply (no lists, no loop)
            a = args[0]
            if isinstance(a, TensorBase):
                record = grad_on and a.requires_grad
                x = a._data
            else:
                record, x = False, a
            fn.needs_input_grad = [record]
            fn.requires_grad = record
            if record:
                fn._clock = _bumps[0]
            # a call with **{} costs more than a plain one
            out = fn.forward(x, **kwargs) if kwargs else fn.forward(x)
        elif n == 2:
            a, b = args
            if isinstance(a, TensorBase):
                ra = grad_on and a.requires_grad
                x = a._data
            else:
                ra, x = False, a
            if isinstance(b, TensorBase):
                rb = grad_on and b.requires_grad
                y = b._data
            else:
                rb, y = False, b
            record = ra or rb
            fn.needs_input_grad = [ra, rb]
            fn.requires_grad = record
            if record:
                fn._clock = _bumps[0]
            out = fn.forward(x, y, **kwargs) if kwargs else fn.forward(x, y)
        else:
            arrays = []
            needs = []
            record = False
            for a in args:
                if isinstance(a, TensorBase):
                    arrays.append(a._data)
                    r = grad_on and a.requires_grad
                    needs.append(r)
                    record = record or r
                else:
                    arrays.append(a)
                    needs.append(False)
            fn.needs_input_grad = needs
            fn.requires_grad = record
            if record:
                fn._clock = _bumps[0]  # what backward's version check compares against
            out = fn.forward(*arrays, **kwargs)
        if record:
            if type(out) is tuple:
                fn._view = any(type(o) is np.ndarray and o.base is not None for o in out)
            elif type(out) is np.ndarray and out.base is not None:
                fn._view = True
            fn.parents = args
            fn.kwargs = kwargs
            if anomaly.enabled[0]:  # where this op was called, for backward's NaN report
                fn._forward_stack = anomaly.forward_stack()
            if _inference_used[0]:  # (only once inference_mode has been entered)
                ctx_function.refuse_inference_input(fn, args)
        if type(out) is tuple:
            fn.n_outputs = len(out)
            res = tuple(wrap(o, record) for o in out)
            if record:
                fn.out_shapes = tuple(o.shape for o in out)
                fn.out_dtypes = tuple(o.dtype for o in out)
                for i, t in enumerate(res):
                    t._ctx = fn
                    t._idx = i
                if fn._view:
                    view_registry.register(res)
            elif state.grad is None:
                for t in res:
                    t._inference = True
            if _tracer is not None:
                _tracer(cls, args, kwargs, res)
            return res
        # wrap(out, record), inlined: the one output of most recorded calls
        if type(out) is not np.ndarray:
            out = np.asarray(out)
        t = _new_object(tensor_base._Tensor)
        t._data = out
        t.requires_grad = record
        t.grad = None
        t._idx = 0
        t._hooks = None
        if record:
            fn.out_shapes = (out.shape,)
            fn.out_dtypes = (out.dtype,)
            t._ctx = fn
            if fn._view:
                view_registry.register((t,))
        else:
            t._ctx = None
            if state.grad is None:
                t._inference = True
        if _tracer is not None:
            _tracer(cls, args, kwargs, t)
        return t

    def _release(self):
        """Drop what forward saved for backward (everything but the bookkeeping)."""
        d = self.__dict__
        for k in [k for k in d if k not in _KEEP_AFTER_BACKWARD]:
            del d[k]

