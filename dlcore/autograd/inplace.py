"""In-place ops inside the graph (PyTorch's semantics).

`x.add_(y)` on a tensor that takes part in a graph is recorded as the out-of-place op on x's
old value, whose result is written back into x's storage; x then becomes that op's output
(its grad_fn moves on), and its storage's version counter is bumped so that Functions which
saved the old values refuse to run backward.  Off the graph (nothing requires grad, or grad
mode off) the update is done directly on the array.

Refused as PyTorch refuses: an in-place op on a leaf that requires grad while grad mode is on
(or on a view of one).  An in-place op on a view of a tensor in the graph (a slice, reshape...)
updates the base's graph as torch's CopySlices does (dlcore.autograd.view_inplace).  Nodes
recorded before an in-place op keep reading the old value (the engine follows `_replaced`),
except views, which read the storage as it is now.
"""
import numpy as np

from ..tensor_base import TensorBase, wrap
from . import function, sealed, version, view_inplace, view_registry
from .grad_mode import state


def check_leaf(t, name):
    if t.requires_grad and t._ctx is None and state.grad:
        raise RuntimeError("%s: a leaf Variable that requires grad is being used in an in-place "
                           "operation." % name)


def _is_view_in_graph(t):
    """t is an op's output that shares storage with one of that op's inputs."""
    if t._ctx is None or t._data.base is None:
        return None
    root = version.storage_of(t._data)
    for p in t._ctx.parents or ():
        if isinstance(p, TensorBase) and version.storage_of(p._data) is root:
            return p
    return None


def recording(t, others=()):
    """Will an in-place op on t with these other operands be recorded?  (Always while
    dlcore.jit traces: the trace must see the op.)"""
    if function._tracer is not None:
        return True
    if not state.grad:
        return False
    if t.requires_grad:
        return True
    return any(isinstance(o, TensorBase) and o.requires_grad for o in others)


def own_storage(t):
    """Make t's array writeable: a sealed one is unsealed (dlcore.autograd.sealed), another
    read-only array (e.g. from a file) is copied first."""
    if not t._data.flags.writeable:
        sealed.writable_data(t)


def run_direct(t, name, update):
    """The unrecorded in-place update: update(array) writes into t's storage."""
    check_leaf(t, name)
    own_storage(t)
    version.bump(t._data)
    update(t._data)
    return t


def run_recorded(t, name, compute, keep_old=False):
    """Record the in-place op: compute(old) is the out-of-place result for a Tensor `old`
    holding t's value before the update.  keep_old: the op's backward reads the old value, so
    it gets a copy (the storage is about to change)."""
    check_leaf(t, name)
    base = _is_view_in_graph(t)
    if base is not None:
        return _run_on_view(t, base, name, compute, keep_old)
    own_storage(t)
    tracing = function._tracer is not None  # (then t is rebound, its storage not written)
    # nodes recorded until now read t's old value: the rebinding below is stamped with a clock
    # value above theirs (dlcore.autograd.engine.source)
    version.clock[0] += 1
    stamp = version.clock[0]
    before = (t._ctx, t._idx, stamp)
    old = wrap(t._data.copy() if keep_old and not tracing else t._data, t.requires_grad)
    old._ctx, old._idx = t._ctx, t._idx
    res = compute(old)
    if tracing:
        # the trace knows values by array: t must now be the array the traced op made
        t._data = res._data
    elif res._data is not t._data:
        if res._data.shape != t._data.shape:
            raise RuntimeError("%s: output with shape %s doesn't match the broadcast shape %s"
                               % (name, tuple(t.shape), tuple(res.shape)))
        np.copyto(t._data, res._data, casting="unsafe")
    version.bump(t._data)
    t._ctx, t._idx = res._ctx, res._idx
    t.requires_grad = res.requires_grad
    if res._ctx is not None and before[0] is not None:
        res._ctx._replaced = before
    if res._ctx is not None and not tracing:
        _rebind_views(t, stamp)
    if res._ctx is not None and res._data.dtype == t._data.dtype:
        _retarget_saved_output(res._ctx, res._data, t._data)
    return t


def _retarget_saved_output(fn, old_arr, new_arr):
    """A node that saved its own output (relu, exp...) reads it from t's storage from now on,
    so a later in-place change of t is caught by the version check as in PyTorch."""
    if old_arr is new_arr:
        return
    d = fn.__dict__
    for k, v in d.items():
        if v is old_arr:
            d[k] = new_arr
    later = d.get("_saved_since") or {}
    later[id(version.storage_of(new_arr))] = version.clock[0]  # (bumped already)
    d["_saved_since"] = later


def _run_on_view(t, base, name, compute, keep_old):
    """The in-place op on t, a view of `base` in the graph (torch's CopySlices): base becomes
    WriteRegion(old base, new values) -- itself an in-place op, so a view of a view updates the
    whole chain -- and t becomes ReadRegion(new base)."""
    pos = view_inplace.region(base._data, t._data)
    if isinstance(pos, str) or function._tracer is not None or not sealed.writable(t._data):
        why = pos if isinstance(pos, str) else (
            "dlcore.jit cannot trace it" if function._tracer is not None else "it is read-only")
        raise RuntimeError("%s: in-place operation on a view of a tensor in the graph is not "
                           "supported here: %s; use an out-of-place op or index assignment on "
                           "the base (base[idx] = value)" % (name, why))
    old = wrap(t._data.copy() if keep_old else t._data, t.requires_grad)
    old._ctx, old._idx = t._ctx, t._idx
    res = compute(old)
    if tuple(res.shape) != tuple(t.shape):
        raise RuntimeError("%s: output with shape %s doesn't match the broadcast shape %s"
                           % (name, tuple(t.shape), tuple(res.shape)))
    _write_back(t, base, name, res, pos)
    return t


def _write_back(t, base, name, res, pos):
    """base becomes WriteRegion(old base, res) at pos, and the view t reads the new base."""
    before = t._ctx
    run_recorded(base, name, lambda old_base: view_inplace.WriteRegion.apply(old_base, res,
                                                                             pos=pos))
    if t._ctx is before:  # (not among the registered views run_recorded rebound)
        now = view_inplace.ReadRegion.apply(base, pos=pos)
        t._ctx, t._idx = now._ctx, now._idx
        t.requires_grad = now.requires_grad


def view_base(t):
    """The graph tensor t is a view of (see _is_view_in_graph), or None."""
    return _is_view_in_graph(t)


def rebase_dirty_view(t, base, name, before):
    """A user Function changed t, a view of graph tensor `base`, in place (ctx.mark_dirty) and
    t is now bound to that Function's node: base's graph takes the new values as torch's
    CopySlices does, and t reads them from the new base.  before: t's (node, index) before the
    Function, which the ops recorded until now keep reading."""
    if base.requires_grad and base._ctx is None and state.grad:
        raise RuntimeError("%s: a view of a leaf Variable that requires grad is being used in an "
                           "in-place operation." % name)
    pos = view_inplace.region(base._data, t._data)
    if isinstance(pos, str) or function._tracer is not None:
        why = pos if isinstance(pos, str) else "dlcore.jit cannot trace it"
        raise RuntimeError("%s: mark_dirty on a view of a tensor in the graph is not supported "
                           "here: %s" % (name, why))
    version.clock[0] += 1
    stamp = version.clock[0]
    res = wrap(t._data, True)
    res._ctx, res._idx = t._ctx, t._idx
    run_recorded(base, name, lambda old_base: view_inplace.WriteRegion.apply(old_base, res,
                                                                             pos=pos))
    # (always rebound here: the view rebinding above would take the Function's stand-in for
    # t's old value, which shares t's storage, for t's base)
    now = view_inplace.ReadRegion.apply(base, pos=pos)
    if before[0] is not None:
        now._ctx._replaced = before + (stamp,)
    t._ctx, t._idx = now._ctx, now._idx
    t.requires_grad = now.requires_grad


def _rebind_views(t, stamp):
    """After an in-place change of t's storage, every other live view of it in the graph reads
    the new value: it becomes ReadRegion(its base), the node before kept for the ops recorded
    earlier (as torch regenerates a view's grad_fn when its base's version moved)."""
    for v in view_registry.views_of(t._data):
        if v is t or v._ctx is None:
            continue
        base = _is_view_in_graph(v)
        if base is None:
            continue
        pos = view_inplace.region(base._data, v._data, repeats=True)
        if isinstance(pos, str):
            continue
        before = (v._ctx, v._idx, stamp)
        now = view_inplace.ReadRegion.apply(base, pos=pos)
        if now._ctx is None:
            continue
        now._ctx._replaced = before
        v._ctx, v._idx = now._ctx, now._idx
        v.requires_grad = True
