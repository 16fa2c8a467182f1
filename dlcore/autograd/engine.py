"""The backward pass: walk the recorded graph from the outputs, call each Function's backward,
and either accumulate into the leaves' .grad (backward) or hand back the gradients of chosen
inputs (grad).

Without create_graph the gradients are NumPy arrays and nothing is recorded.  With it, every
gradient is a Tensor computed by differentiable ops (Function.backward_graph) with grad mode
on, so the results can be differentiated again.  Each Function is checked before its backward
for saved arrays changed in place since forward (dlcore.autograd.version).
"""
import numpy as np

from ..tensor_base import TensorBase, wrap
from . import anomaly, ctx_function, post_accumulate, version
from .grad_mode import state

_SECOND_TIME = ("trying to backward through the graph a second time (or directly access saved "
                "tensors after they have already been freed). Saved intermediate values of the "
                "graph are freed when you call .backward() or autograd.grad(). Specify "
                "retain_graph=True if you need to backward through the graph a second time or "
                "if you need to access saved tensors after calling backward.")


# dlcore.autograd.profiler sets [0] while a profiler is open: it times each node's backward
profile_hook = [None]

def _broadcast_axes(grad_shape, shape):
    """(the leading axes broadcasting added, the axes of `shape` it stretched from 1): what a
    gradient of grad_shape is summed over to get back to shape."""
    extra = len(grad_shape) - len(shape)
    stretched = tuple(i for i, n in enumerate(shape) if n == 1 and grad_shape[extra + i] != 1)
    return tuple(range(extra)), stretched


def unbroadcast(grad, shape):
    """Sum `grad` over the axes NumPy broadcasting added or stretched to reach it from `shape`."""
    if grad.shape == shape:
        return grad
    lead, stretched = _broadcast_axes(grad.shape, shape)
    if lead:
        grad = grad.sum(axis=lead)
    if stretched:
        grad = grad.sum(axis=stretched, keepdims=True)
    return grad.reshape(shape)


def unbroadcast_tensor(grad, shape):
    """unbroadcast with differentiable Tensor ops (for create_graph)."""
    if tuple(grad.shape) == tuple(shape):
        return grad
    lead, stretched = _broadcast_axes(tuple(grad.shape), tuple(shape))
    if lead:
        grad = grad.sum(dim=lead)
    if stretched:
        grad = grad.sum(dim=stretched, keepdim=True)
    return grad.reshape(tuple(shape))


def source(fn, p):
    """(node, output index) that made parent p's value as node fn read it.  An in-place op
    rebinds a tensor to a new node (which keeps the one before in `_replaced`); fn, recorded
    before that, still reads the older value, as torch's edges point to the grad_fn of their
    time (views of the changed storage are rebound too: dlcore.autograd.view_inplace)."""
    node, idx = p._ctx, p._idx
    if node is None or node._replaced is None:
        return node, idx
    since = fn.__dict__.get("_clock")
    if since is None:
        return node, idx
    while node is not None and node._replaced is not None and node._replaced[2] > since:
        node, idx = node._replaced[0], node._replaced[1]
    return node, idx


def _toposort(roots):
    """Function nodes reachable from the root nodes, each after every node that consumes it."""
    order = []
    visited = set()
    stack = [(r, False) for r in reversed(roots)]
    while stack:
        fn, done = stack.pop()
        if done:
            order.append(fn)
            continue
        if id(fn) in visited:
            continue
        visited.add(id(fn))
        if fn._freed:
            raise RuntimeError(_SECOND_TIME)
        stack.append((fn, True))
        for p in fn.parents:
            if isinstance(p, TensorBase) and p._ctx is not None and p.requires_grad:
                node = p._ctx
                if node._replaced is not None:
                    node = source(fn, p)[0]
                if node is not None and id(node) not in visited:
                    stack.append((node, False))
    order.reverse()  # roots first
    return order


def _accumulate_leaf(leaf, g, handed_out, create_graph):
    if create_graph:
        if g.dtype != leaf._data.dtype:
            g = g.to(leaf._data.dtype)
        leaf.grad = g if leaf.grad is None else leaf.grad + g
    else:
        if g.dtype != leaf._data.dtype:
            g = g.astype(leaf._data.dtype)
        if leaf.grad is None:
            # own the array: it may be shared with another leaf or be a view of something else
            if g.base is not None or id(g) in handed_out or not g.flags.writeable:
                g = g.copy()
            handed_out.add(id(g))
            leaf.grad = wrap(g, False)
        elif leaf.grad._ctx is not None or leaf.grad.requires_grad \
                or id(leaf.grad._data) in handed_out:
            # (an array stored uncopied in this pass may still be another node's pending
            # gradient, e.g. both of an add's input gradients: never written in place)
            leaf.grad = wrap(leaf.grad._data + g, False)
        else:
            leaf.grad._data += g
    for hook in leaf._hooks or ():
        hook(leaf.grad)


def _root_grad(t, g, i, create_graph):
    """The starting gradient of output `t` (ones for a one-element output)."""
    if g is None:
        if t._data.size != 1:
            raise RuntimeError("grad can be implicitly created only for scalar outputs (output "
                               "%d has shape %s; pass its gradient)" % (i, tuple(t.shape)))
        arr = np.ones(t._data.shape, dtype=t._data.dtype)
        return wrap(arr) if create_graph else arr
    if isinstance(g, TensorBase):
        if tuple(g.shape) != tuple(t.shape):
            raise RuntimeError("Mismatch in shape: grad_output[%d] has a shape of %s and output[%d]"
                               " has a shape of %s." % (i, tuple(g.shape), i, tuple(t.shape)))
        if create_graph:
            return g if g.dtype == t.dtype else g.to(t.dtype)
        if g._data.dtype != t._data.dtype:
            return g._data.astype(t._data.dtype)
        # the caller's array, uncopied (a copy was a third of a 4M-element relu step), behind a
        # read-only view: whatever would keep or change it (a leaf's .grad, an accumulation, a
        # backward writing in place) copies it first or raises, never writes the caller's data
        view = g._data.view()
        view.flags.writeable = False
        return view
    arr = np.array(g, dtype=t._data.dtype)
    if arr.shape != t._data.shape:
        raise RuntimeError("Mismatch in shape: grad_output[%d] has a shape of %s and output[%d] "
                           "has a shape of %s." % (i, arr.shape, i, tuple(t.shape)))
    return wrap(arr) if create_graph else arr


def run(outputs, grad_outputs, retain_graph, create_graph, inputs=None, allow_unused=False):
    """The engine behind backward (inputs None: accumulate into leaves) and grad (return the
    gradients of `inputs`, touching no .grad)."""
    for i, t in enumerate(outputs):
        if not isinstance(t, TensorBase):
            raise TypeError("output %d is a %s, expected a Tensor" % (i, type(t).__name__))
        if not t.requires_grad:
            raise RuntimeError("element %d of tensors does not require grad and does not have a "
                               "grad_fn" % i)
    grads = [_root_grad(t, g, i, create_graph)
             for i, (t, g) in enumerate(zip(outputs, grad_outputs))]
    if not create_graph:
        # the Functions' backward works on arrays: nothing can record, no mode to switch
        return _run(outputs, grads, retain_graph, False, inputs, allow_unused)
    prev_mode = state.grad
    state.grad = True
    try:
        return _run(outputs, grads, retain_graph, True, inputs, allow_unused)
    finally:
        state.grad = prev_mode


def backward_into(outputs, grad_outputs, retain_graph, create_graph, inputs):
    """backward(inputs=...): accumulate into the .grad of the given tensors only."""
    ins = list(inputs) if isinstance(inputs, (list, tuple)) else [inputs]
    if not ins:
        raise RuntimeError("backward: inputs= must be a non-empty sequence of Tensors")
    got = run(outputs, grad_outputs, retain_graph, create_graph, inputs=ins, allow_unused=True)
    for t, g in zip(ins, got):
        if g is None:
            continue
        if create_graph:
            t.grad = g if t.grad is None else t.grad + g
        elif t.grad is None:
            t.grad = g
        else:
            t.grad = wrap(t.grad._data + g._data)
        if t._ctx is None:
            post_accumulate.run_hooks(t)


def _useful_nodes(order, leaf_ids, node_keys):
    """ids of the nodes whose backward leads to one of the wanted inputs (grad's pruning)."""
    wanted_nodes = {k[0] for k in node_keys}
    useful = set()
    for fn in reversed(order):  # parents before their consumers
        for p, need in zip(fn.parents, fn.needs_input_grad):
            if not need:
                continue
            node = source(fn, p)[0]
            if node is None:
                if id(p) in leaf_ids:
                    useful.add(id(fn))
                    break
            elif id(node) in useful or id(node) in wanted_nodes:
                useful.add(id(fn))
                break
    return useful


def _run(outputs, grads, retain_graph, create_graph, inputs, allow_unused):
    want_all = inputs is None
    captured = {}
    leaf_ids = set()
    node_keys = {}
    if not want_all:
        for j, t in enumerate(inputs):
            if t._ctx is None:
                leaf_ids.add(id(t))
            else:
                node_keys.setdefault((id(t._ctx), t._idx), []).append(j)
    handed_out = set()
    pending = {}
    roots = []
    root_leaves = []
    for t, g in zip(outputs, grads):
        if t._ctx is None:  # a leaf given as an output: its gradient is the given one
            if want_all:
                _accumulate_leaf(t, g, handed_out, create_graph)
                root_leaves.append(t)
            elif id(t) in leaf_ids:
                _capture(captured, id(t), g, create_graph)
            continue
        slot = pending.get(id(t._ctx))
        if slot is None:
            slot = pending[id(t._ctx)] = [None] * t._ctx.n_outputs
            roots.append(t._ctx)
        slot[t._idx] = g if slot[t._idx] is None else slot[t._idx] + g
    order = _toposort(roots) if roots else []
    # leaves with post-accumulate hooks: contributions still to come (None: no such hook)
    post = post_accumulate.plan(order) if want_all else None
    accumulated = set() if post is not None else None
    if post is not None:
        for t in root_leaves:
            accumulated.add(id(t))
            if id(t) not in post and post_accumulate.hooks_of(t):
                post_accumulate.run_hooks(t)
    useful = None
    if want_all:
        wanted = None
    else:
        useful = _useful_nodes(order, leaf_ids, node_keys)
        wanted_nodes = {k[0] for k in node_keys}

        def wanted(p, fn):
            node = source(fn, p)[0]
            if node is None:
                return id(p) in leaf_ids
            return id(node) in useful or id(node) in wanted_nodes
    plain = not create_graph and wanted is None
    clock = version.clock
    for fn in order:
        slots = pending.pop(id(fn), None)
        if slots is None:
            if post:
                post_accumulate.node_done(fn, post, accumulated)
            continue
        d = fn.__dict__
        watch = d.get("watch")  # retain_grad / register_hook on this node's outputs
        if watch:
            _run_watchers(watch, slots, create_graph)
        if node_keys:
            for idx, g in enumerate(slots):
                for j in node_keys.get((id(fn), idx), ()):
                    if g is not None:
                        captured[j] = g
        if useful is not None and id(fn) not in useful:
            if not retain_graph:
                fn._freed = True
                fn._release()
            continue
        if d.get("_clock", clock[0]) != clock[0]:  # something changed in place since forward
            version.check_saved(fn)
        prof = profile_hook[0]
        if prof is not None:
            prof_ev = prof.enter(fn)
        if plain and not fn._ctx_style:
            if fn.n_outputs == 1:
                grads_in = fn.backward(slots[0])
            else:
                grads_in = fn.backward(*[s if s is not None else np.zeros(shp, dt) for s, shp, dt
                                         in zip(slots, fn.out_shapes, fn.out_dtypes)])
            if type(grads_in) is not tuple:
                grads_in = (grads_in,)
        else:
            grads_in = _call_backward(fn, slots, create_graph, wanted)
        if prof is not None:
            prof.exit(prof_ev)
        if anomaly.enabled[0]:
            anomaly.check(fn, grads_in)
        for p, gi, need in zip(fn.parents, grads_in, fn.needs_input_grad):
            if not need or gi is None:
                continue
            if gi.shape != p._data.shape:
                gi = (unbroadcast_tensor if create_graph else unbroadcast)(gi, p._data.shape)
            node, idx = p._ctx, p._idx
            if node is not None and node._replaced is not None:
                node, idx = source(fn, p)
            if node is None:
                if want_all:
                    _accumulate_leaf(p, gi, handed_out, create_graph)
                    if accumulated is not None:
                        accumulated.add(id(p))
                elif id(p) in leaf_ids:
                    _capture(captured, id(p), gi, create_graph)
                continue
            if gi.dtype != p._data.dtype:
                gi = gi.to(p._data.dtype) if create_graph else gi.astype(p._data.dtype)
            key = id(node)
            slot = pending.get(key)
            if slot is None:
                slot = pending[key] = [None] * node.n_outputs
            prev = slot[idx]
            slot[idx] = gi if prev is None else prev + gi
        if post:
            post_accumulate.node_done(fn, post, accumulated)
        if not retain_graph:
            fn._freed = True
            fn._release()
    if want_all:
        return None
    result = []
    for j, t in enumerate(inputs):
        g = captured.get(id(t)) if t._ctx is None else captured.get(j)
        if g is None:
            if not allow_unused:
                raise RuntimeError("One of the differentiated Tensors (input %d) appears to not "
                                   "have been used in the graph. Set allow_unused=True if this "
                                   "is the desired behavior." % j)
            result.append(None)
            continue
        if create_graph:
            result.append(g)
        else:
            result.append(wrap(g if g.base is None and g.flags.writeable else g.copy()))
    return tuple(result)


def _capture(captured, key, g, create_graph):
    prev = captured.get(key)
    captured[key] = g if prev is None else prev + g


def _run_watchers(watch, slots, create_graph):
    """Hooks registered on non-leaf tensors (each sees its tensor's gradient and may replace
    it), then retain_grad's copies."""
    _run_tensor_hooks(watch.get("hooks") or {}, slots, create_graph)
    for idx, t in (watch.get("retained") or {}).items():
        if slots[idx] is not None:
            t.grad = slots[idx] if create_graph else wrap(np.array(slots[idx], copy=True))


def _run_tensor_hooks(hooks, slots, create_graph):
    for idx, fns in hooks.items():
        g = slots[idx]
        if g is None:
            continue
        for h in fns:
            gt = g if create_graph else wrap(g)
            r = h(gt)
            if r is not None:
                gt = r
            g = gt if create_graph else gt._data
        slots[idx] = g


def _call_backward(fn, slots, create_graph, wanted):
    """fn's input gradients for the output gradients in slots (a tuple, None where none).
    wanted(parent, fn) says which inputs grad() needs (None: all)."""
    if fn._ctx_style:
        return ctx_function.run_backward(fn, slots, create_graph)
    if wanted is not None:
        # grad(): inputs that lead to no wanted gradient need no backward work
        saved_needs = fn.needs_input_grad
        fn.needs_input_grad = [n and wanted(p, fn) for p, n in zip(fn.parents, saved_needs)]
    if create_graph:
        filled = [s if s is not None else wrap(np.zeros(shp, dt))
                  for s, shp, dt in zip(slots, fn.out_shapes, fn.out_dtypes)]
        grads_in = fn.backward_graph(*filled)
    elif fn.n_outputs == 1:
        g = slots[0]
        grads_in = fn.backward(g)
    else:
        filled = [s if s is not None else np.zeros(shp, dt)
                  for s, shp, dt in zip(slots, fn.out_shapes, fn.out_dtypes)]
        grads_in = fn.backward(*filled)
    if wanted is not None:
        fn.needs_input_grad = saved_needs
    if not isinstance(grads_in, tuple):
        grads_in = (grads_in,)
    return grads_in
