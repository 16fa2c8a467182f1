"""User-defined autograd functions in PyTorch's shape.

    class Cube(dl.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x ** 3

        @staticmethod
        def backward(ctx, g):
            x, = ctx.saved_tensors
            return 3 * x ** 2 * g

    y = Cube.apply(x)

forward runs under no_grad on Tensors; backward gets and returns Tensors (with grad mode on
when the backward is itself being differentiated, create_graph=True).  The node of the graph is
an instance of the class, which is also the `ctx` both methods receive.  A class is made
ctx-style when its forward is a staticmethod (Function.__init_subclass__); dlcore's own ops
keep their array-level instance methods.
"""
import numpy as np

from ..tensor_base import TensorBase, wrap
from . import version
from .grad_mode import enable_grad, no_grad, state
from ..dtypes import is_floating


class FunctionCtx:
    """What forward can tell backward (mixed into Function; PyTorch's ctx methods)."""

    _ctx_style = False
    materialize_grads = True

    def save_for_backward(self, *tensors):
        for i, t in enumerate(tensors):
            if t is not None and not isinstance(t, TensorBase):
                raise TypeError("save_for_backward can only save variables, but argument %d is "
                                "of type %s" % (i, type(t).__name__))
        self._saved = tuple((t, None if t is None else version.version(t._data))
                            for t in tensors)

    @property
    def saved_tensors(self):
        saved = self.__dict__.get("_saved")
        if saved is None:
            if self._freed:
                raise RuntimeError("saved_tensors: " + _freed_message())
            return ()
        out = []
        for i, (t, v) in enumerate(saved):
            if t is not None and version.version(t._data) != v:
                raise RuntimeError(
                    "one of the variables needed for gradient computation has been modified by "
                    "an inplace operation: saved tensor %d of %s (shape %s) is at version %d; "
                    "expected version %d instead." % (i, type(self).__name__, tuple(t.shape),
                                                      version.version(t._data), v))
            out.append(t)
        return tuple(out)

    def mark_dirty(self, *tensors):
        self._dirty = tuple(tensors)

    def mark_non_differentiable(self, *tensors):
        self._non_diff = tuple(tensors)

    def set_materialize_grads(self, value):
        self.materialize_grads = bool(value)


# dlcore.autograd.inplace (view_base, rebase_dirty_view), which imports this module's users:
# wired in by dlcore.autograd's __init__ instead of imported here (no import cycle)
inplace_graph = None


def _freed_message():
    return ("trying to backward through the graph a second time (or directly access saved "
            "tensors after they have already been freed); pass retain_graph=True to the first "
            "backward if you need to do this")


def make_ctx_style(cls):
    """Give a user-defined class (static forward/backward) its apply."""
    cls._ctx_style = True
    cls.apply = classmethod(_apply)


def _apply(cls, *args, **kwargs):
    ctx = cls()
    grad_on = bool(state.grad)
    needs = tuple(grad_on and isinstance(a, TensorBase) and a.requires_grad for a in args)
    ctx.needs_input_grad = needs
    with no_grad():
        if getattr(cls, "setup_context", None) is not None:
            out = cls.forward(*args, **kwargs)
            cls.setup_context(ctx, args, out)
        else:
            out = cls.forward(ctx, *args, **kwargs)
    single = not isinstance(out, tuple)
    outs = (out,) if single else out
    if not any(needs):
        return out
    ctx.parents = args
    ctx.requires_grad = True
    ctx.n_outputs = len(outs)
    ctx.out_shapes = tuple(tuple(o.shape) if isinstance(o, TensorBase) else () for o in outs)
    ctx.out_dtypes = tuple(o.dtype if isinstance(o, TensorBase) else np.dtype(np.float32)
                           for o in outs)
    dirty = ctx.__dict__.get("_dirty", ())
    non_diff = ctx.__dict__.get("_non_diff", ())
    if dirty:
        # an input changed in place becomes this node's output: the node's parent is a
        # stand-in for its old value (its old place in the graph)
        parents = []
        for a in args:
            if isinstance(a, TensorBase) and any(a is d for d in dirty):
                old = wrap(a._data, a.requires_grad)
                old._ctx, old._idx = a._ctx, a._idx
                parents.append(old)
            else:
                parents.append(a)
        ctx.parents = tuple(parents)
    res = []
    dirty_views = []
    for i, o in enumerate(outs):
        if not isinstance(o, TensorBase):
            res.append(o)
            continue
        if any(o is d for d in dirty):
            if o._ctx is None and o.requires_grad:
                raise RuntimeError("a leaf Variable that requires grad is being used in an "
                                   "in-place operation.")
            t = o  # changed in place: the input now comes from this node (counted once more,
            base = inplace_graph.view_base(o)  # as PyTorch does; for a view, by the rebase)
            if base is not None:
                dirty_views.append((o, base, o._ctx, o._idx))
            else:
                version.bump(t._data)
        elif any(o is a for a in args):
            t = wrap(o._data)  # an input returned as it is: a new tensor on the same storage
        else:
            t = o
        if any(o is n for n in non_diff) or not is_floating(o._data.dtype):
            t.requires_grad = False
            t._ctx = None
        else:
            t.requires_grad = True
            t._ctx = ctx
            t._idx = i
        res.append(t)
    for o, base, node, idx in dirty_views:
        # a view changed in place: its base's graph takes the new values (torch's CopySlices)
        inplace_graph.rebase_dirty_view(o, base, cls.__name__, (node, idx))
    if "_saved" in ctx.__dict__ and dirty:
        # tensors saved and then marked dirty are saved at their new version
        ctx._saved = tuple((t, None if t is None else version.version(t._data))
                           for t, _ in ctx._saved)
    return res[0] if single else tuple(res)


def run_backward(ctx, slots, create_graph):
    """Call the user's backward on Tensors; return arrays (or Tensors with create_graph)."""
    grads = []
    for s, shp, dt in zip(slots, ctx.out_shapes, ctx.out_dtypes):
        if s is None:
            grads.append(wrap(np.zeros(shp, dt)) if ctx.materialize_grads else None)
        else:
            grads.append(s if isinstance(s, TensorBase) else wrap(s))
    with (enable_grad() if create_graph else no_grad()):
        res = type(ctx).backward(ctx, *grads)
    if not isinstance(res, tuple):
        res = (res,)
    n = len(ctx.parents)
    if len(res) < n or any(r is not None for r in res[n:]):
        raise RuntimeError("function %sBackward returned an incorrect number of gradients "
                           "(expected %d, got %d)" % (type(ctx).__name__, n, len(res)))
    out = []
    for i, (r, p, need) in enumerate(zip(res[:n], ctx.parents, ctx.needs_input_grad)):
        if r is None or not need:
            out.append(None)
            continue
        if not isinstance(r, TensorBase):
            raise TypeError("function %sBackward returned a %s as gradient %d, expected a Tensor "
                            "or None" % (type(ctx).__name__, type(r).__name__, i))
        if tuple(r.shape) != tuple(p.shape):
            try:
                np.broadcast_shapes(tuple(p.shape), tuple(r.shape))
            except ValueError:
                raise RuntimeError("function %sBackward returned an invalid gradient at index %d"
                                   " - got %s but expected shape compatible with %s"
                                   % (type(ctx).__name__, i, list(r.shape), list(p.shape))
                                   ) from None
        out.append(r if create_graph else r._data)
    return tuple(out)


def refuse_inference_input(fn, args):
    """An inference tensor may take part in a recorded op only if the op does not save it."""
    roots = {id(version.storage_of(t._data)) for t in args
             if isinstance(t, TensorBase) and t._inference}
    if not roots:
        return
    for _, v in version.saved_arrays(fn):
        if id(version.storage_of(v)) in roots:
            raise RuntimeError("Inference tensors cannot be saved for backward. To work around "
                               "you can make a clone to get a normal tensor and use it in "
                               "autograd.")
