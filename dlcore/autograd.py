"""Reverse-mode automatic differentiation: Function, the backward pass, grad modes, gradcheck.

A `Function` subclass implements `forward(self, *arrays, **kwargs)` on NumPy arrays (returning
an array or a tuple of arrays) and `backward(self, *grads)` returning one gradient per positional
input (None where there is none).  `Cls.apply(*args)` unwraps Tensors, runs forward, and — when
grad mode is on and an input requires grad — records the call on the outputs.  Gradients that
come back with a broadcast shape are summed back to the input's shape here, in one place.

This module sits under the ops and above dlcore.tensor_base: it makes its tensors with
tensor_base.wrap, which builds the full Tensor class without importing it.  `AutogradMethods`
holds the Tensor methods of this family (backward, requires_grad_, detach, hooks).
"""
import numpy as np

from .tensor_base import TensorBase, wrap

_state = {"grad": True}

# dlcore.jit's tracer while a trace runs, else None: called as _tracer(cls, args, kwargs, result)
# after every apply (one global read per op when off)
_tracer = None


def is_grad_enabled():
    return _state["grad"]


class _GradMode:
    _mode = True

    def __enter__(self):
        self._prev = _state["grad"]
        _state["grad"] = self._mode
        return self

    def __exit__(self, *exc):
        _state["grad"] = self._prev
        return False

    def __call__(self, fn):
        mode = self._mode

        def wrapper(*args, **kwargs):
            prev = _state["grad"]
            _state["grad"] = mode
            try:
                return fn(*args, **kwargs)
            finally:
                _state["grad"] = prev

        wrapper.__name__ = getattr(fn, "__name__", "wrapper")
        wrapper.__doc__ = getattr(fn, "__doc__", None)
        return wrapper


class no_grad(_GradMode):
    """Context manager / decorator: operations inside record nothing for backward."""
    _mode = False


class enable_grad(_GradMode):
    """Context manager / decorator: turn recording back on inside a no_grad block."""
    _mode = True


class set_grad_enabled(_GradMode):
    def __init__(self, mode):
        self._mode = bool(mode)


def unbroadcast(grad, shape):
    """Sum `grad` over the axes NumPy broadcasting added or stretched to reach it from `shape`."""
    if grad.shape == shape:
        return grad
    extra = grad.ndim - len(shape)
    if extra:
        grad = grad.sum(axis=tuple(range(extra)))
    axes = tuple(i for i, n in enumerate(shape) if n == 1 and grad.shape[i] != 1)
    if axes:
        grad = grad.sum(axis=axes, keepdims=True)
    return grad.reshape(shape)


class Function:
    """One differentiable operation; an instance is one node of the recorded graph."""

    # set by apply(): the input Tensors (None for non-tensor args), freed after backward
    parents = None
    needs_input_grad = ()
    requires_grad = False  # set per call when the call is recorded
    n_outputs = 1
    _freed = False

    def forward(self, *args, **kwargs):  # pragma: no cover - interface
        raise NotImplementedError

    def backward(self, *grads):  # pragma: no cover - interface
        raise NotImplementedError

    @classmethod
    def apply(cls, *args, **kwargs):
        if _tracer is not None:  # a trace sees every op, recorded for backward or not
            return cls._apply_recorded(args, kwargs)
        if _state["grad"]:
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
            return tuple([wrap(o) for o in out])
        return wrap(out)

    @classmethod
    def _apply_recorded(cls, args, kwargs):
        fn = cls()
        grad_on = _state["grad"]
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
        out = fn.forward(*arrays, **kwargs)
        if type(out) is tuple:
            fn.n_outputs = len(out)
            res = tuple(wrap(o, record) for o in out)
            if record:
                fn.parents = args
                fn.out_shapes = tuple(o.shape for o in out)
                fn.out_dtypes = tuple(o.dtype for o in out)
                for i, t in enumerate(res):
                    t._ctx = fn
                    t._idx = i
            if _tracer is not None:
                _tracer(cls, args, kwargs, res)
            return res
        t = wrap(out, record)
        if record:
            fn.parents = args
            fn.out_shapes = (out.shape,)
            fn.out_dtypes = (out.dtype,)
            t._ctx = fn
        if _tracer is not None:
            _tracer(cls, args, kwargs, t)
        return t



def _toposort(root_fn):
    """Function nodes reachable from root_fn, each after every node that consumes its output."""
    order = []
    visited = set()
    stack = [(root_fn, False)]
    while stack:
        fn, done = stack.pop()
        if done:
            order.append(fn)
            continue
        if id(fn) in visited:
            continue
        visited.add(id(fn))
        if fn._freed:
            raise RuntimeError(
                "backward: trying to backward through the graph a second time (or directly "
                "access saved tensors after they have already been freed); pass "
                "retain_graph=True to the first backward() if you need to do this")
        stack.append((fn, True))
        for p in fn.parents:
            if p is not None and getattr(p, "_ctx", None) is not None and p.requires_grad:
                if id(p._ctx) not in visited:
                    stack.append((p._ctx, False))
    order.reverse()  # root first
    return order


def backward(tensor, grad=None, retain_graph=False):
    """Accumulate d(tensor)/d(leaf) * grad into every leaf's .grad."""
    if not tensor.requires_grad:
        raise RuntimeError("backward: element 0 of tensors does not require grad and does not "
                           "have a grad_fn")
    if grad is None:
        if tensor._data.size != 1:
            raise RuntimeError("backward: grad can be implicitly created only for scalar "
                               "outputs; got a tensor of shape %s, pass gradient=" %
                               (tensor.shape,))
        g = np.ones(tensor.shape, dtype=tensor.dtype)
    else:
        g = grad._data if isinstance(grad, TensorBase) else np.asarray(grad)
        if g.shape != tensor.shape:
            raise RuntimeError("backward: gradient has shape %s but the tensor has shape %s"
                               % (g.shape, tensor.shape))
        g = g.astype(tensor.dtype, copy=True)
    if tensor._ctx is None:
        _accumulate_leaf(tensor, g, set())
        return
    _run_backward(tensor, g, retain_graph)


def _accumulate_leaf(leaf, g, handed_out):
    if g.dtype != leaf._data.dtype:
        g = g.astype(leaf._data.dtype)
    if leaf.grad is None:
        # own the array: it may be shared with another leaf or be a view of something else
        if g.base is not None or id(g) in handed_out or not g.flags.writeable:
            g = g.copy()
        handed_out.add(id(g))
        leaf.grad = wrap(g, False)
    else:
        leaf.grad._data += g
    for hook in leaf._hooks or ():
        hook(leaf.grad)


def _run_backward(root, g, retain_graph):
    order = _toposort(root._ctx)
    pending = {id(root._ctx): [None] * root._ctx.n_outputs}
    pending[id(root._ctx)][root._idx] = g
    handed_out = set()
    for fn in order:
        slots = pending.pop(id(fn), None)
        if slots is None:
            continue
        retained = fn.__dict__.get("retained")
        if retained:
            for idx, t in retained.items():
                if slots[idx] is not None:
                    t.grad = wrap(np.array(slots[idx], copy=True), False)
        if fn.n_outputs == 1:
            grads_in = fn.backward(slots[0])
        else:
            filled = [s if s is not None else np.zeros(shp, dt)
                      for s, shp, dt in zip(slots, fn.out_shapes, fn.out_dtypes)]
            grads_in = fn.backward(*filled)
        if not isinstance(grads_in, tuple):
            grads_in = (grads_in,)
        for p, gi, need in zip(fn.parents, grads_in, fn.needs_input_grad):
            if not need or gi is None:
                continue
            if gi.shape != p._data.shape:
                gi = unbroadcast(gi, p._data.shape)
            if p._ctx is None:
                _accumulate_leaf(p, gi, handed_out)
                continue
            if gi.dtype != p._data.dtype:
                gi = gi.astype(p._data.dtype)
            key = id(p._ctx)
            slot = pending.get(key)
            if slot is None:
                slot = pending[key] = [None] * p._ctx.n_outputs
            prev = slot[p._idx]
            slot[p._idx] = gi if prev is None else prev + gi
        if not retain_graph:
            fn._freed = True
            fn._release()


def _release(self):
    """Drop what forward saved for backward (everything but the bookkeeping)."""
    keep = {"needs_input_grad", "n_outputs", "requires_grad", "out_shapes", "out_dtypes",
            "_freed"}
    for k in [k for k in self.__dict__ if k not in keep]:
        del self.__dict__[k]


Function._release = _release


def gradcheck(fn, inputs, eps=1e-6, atol=1e-5, rtol=1e-3, raise_exception=True):
    """Compare fn's analytic gradients with central finite differences, in float64.

    `inputs` is a tuple of Tensors; those with requires_grad are checked.  fn may return a
    Tensor of any shape: it is reduced against a fixed random projection so every output
    element is exercised.
    """
    if isinstance(inputs, TensorBase):
        inputs = (inputs,)
    for i, t in enumerate(inputs):
        if isinstance(t, TensorBase) and t.requires_grad and t.dtype != np.float64:
            raise TypeError("gradcheck: input %d must be float64 for finite differences, got %s"
                            % (i, t.dtype))
    rng = np.random.default_rng(0)

    def outputs_of(out):
        return out if isinstance(out, (tuple, list)) else (out,)

    outs = outputs_of(fn(*inputs))
    weights = [rng.standard_normal(o.shape) if o.requires_grad else None for o in outs]

    def scalar():
        with no_grad():
            res = outputs_of(fn(*inputs))
        return sum(float((r._data.astype(np.float64) * w).sum())
                   for r, w in zip(res, weights) if w is not None)

    for t in inputs:
        if isinstance(t, TensorBase):
            t.grad = None
    total = None
    for o, w in zip(outs, weights):
        if w is None:
            continue
        term = (o * wrap(w.astype(o.dtype, copy=False))).sum()
        total = term if total is None else total + term
    if total is None:
        raise ValueError("gradcheck: no output requires grad")
    total.backward()
    for i, t in enumerate(inputs):
        if not (isinstance(t, TensorBase) and t.requires_grad):
            continue
        analytic = np.zeros(t.shape) if t.grad is None else t.grad._data.astype(np.float64)
        numeric = np.zeros(t.shape)
        flat = t._data.reshape(-1)
        num_flat = numeric.reshape(-1)
        for j in range(flat.size):
            old = flat[j]
            flat[j] = old + eps
            fp = scalar()
            flat[j] = old - eps
            fm = scalar()
            flat[j] = old
            num_flat[j] = (fp - fm) / (2 * eps)
        if not np.allclose(analytic, numeric, atol=atol, rtol=rtol):
            if raise_exception:
                err = np.abs(analytic - numeric).max()
                raise AssertionError(
                    "gradcheck: input %d: analytic and numerical gradients differ (max abs "
                    "error %.3g)\nanalytic:\n%s\nnumerical:\n%s" % (i, err, analytic, numeric))
            return False
    return True


class AutogradMethods:
    """The Tensor methods of autograd: recording flags, backward, gradient hooks, detaching."""

    __slots__ = ()

    @property
    def is_leaf(self):
        return self._ctx is None

    @property
    def grad_fn(self):
        return self._ctx

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
        backward(self, gradient, retain_graph=retain_graph)

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

    def detach(self):
        return wrap(self._data, False)

    def _check_inplace(self, name):
        """In-place updates bypass the graph: refuse them on a leaf that records gradients."""
        if self.requires_grad and _state["grad"]:
            raise RuntimeError("%s: a leaf tensor that requires grad is being used in an "
                               "in-place operation; wrap it in dl.no_grad()" % name)
        if not self._data.flags.writeable:
            self._data = self._data.copy()

    def detach_(self):
        self._ctx = None
        self.requires_grad = False
        return self
