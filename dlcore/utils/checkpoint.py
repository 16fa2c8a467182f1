"""Gradient checkpointing (torch.utils.checkpoint): keep a segment's outputs, not its
intermediate activations, and run the segment again in backward to get its gradients.

The segment becomes one node of the graph whose inputs are its Tensor arguments and the
leaves it uses (parameters, found by recording the first run once and dropping that graph at
once, so one segment's activations live at a time).  Its backward runs the segment again with
grad on, from the same random state (dropout draws the same masks), and takes the gradients
of that run.  The gradients equal those without checkpointing, for backward() and for
autograd.grad(); with create_graph=True the re-run is on the original inputs, so the result can
be differentiated again.
"""
from .. import random as R
from ..autograd import Function, engine
from ..autograd.grad_mode import enable_grad, is_grad_enabled
from ..tensor import Tensor

__all__ = ["checkpoint", "checkpoint_sequential"]


def _leaves(outputs, inputs):
    """The leaves that require grad reachable from outputs, other than the inputs."""
    skip = {id(t) for t in inputs}
    found, seen = [], set()
    stack = [o._ctx for o in outputs if o._ctx is not None]
    while stack:
        fn = stack.pop()
        if id(fn) in seen:
            continue
        seen.add(id(fn))
        for p in fn.parents or ():
            if not isinstance(p, Tensor) or not p.requires_grad:
                continue
            if p._ctx is None:
                if id(p) not in skip and id(p) not in {id(f) for f in found}:
                    found.append(p)
            else:
                stack.append(p._ctx)
    return found


class _Checkpoint(Function):
    """A segment as one op: forward hands over outputs already computed; backward re-runs."""

    def forward(self, *arrays, run=None, outputs=None):
        self.run = run
        return outputs if len(outputs) != 1 else outputs[0]

    def backward(self, *grads):
        return self.run(grads, False)

    def backward_graph(self, *grads):
        return self.run(grads, True)


def checkpoint(function, *args, use_reentrant=None, preserve_rng_state=True, context_fn=None,
               determinism_check="default", debug=False, **kwargs):
    """function(*args, **kwargs) without keeping its activations for backward."""
    if not is_grad_enabled():
        return function(*args, **kwargs)
    rng = R.get_rng_state() if preserve_rng_state else None
    tensor_args = [a for a in args if isinstance(a, Tensor)]
    with enable_grad():
        out = function(*args, **kwargs)
    outs = out if isinstance(out, tuple) else (out,)
    live = [o for o in outs if isinstance(o, Tensor) and o.requires_grad]
    if not live:
        return out
    parents = [t for t in tensor_args] + _leaves(live, tensor_args)
    n_args = len(tensor_args)

    def rerun(grads, create_graph):
        saved = R.get_rng_state()
        if rng is not None:
            R.set_rng_state(rng)
        try:
            with enable_grad():
                if create_graph:
                    new_args = args
                    ins = parents
                else:
                    fresh = {id(t): Tensor._wrap(t._data, t.requires_grad) for t in tensor_args}
                    new_args = tuple(fresh.get(id(a), a) if isinstance(a, Tensor) else a
                                     for a in args)
                    ins = [fresh[id(t)] for t in tensor_args] + parents[n_args:]
                res = function(*new_args, **kwargs)
        finally:
            R.set_rng_state(saved)
        res = res if isinstance(res, tuple) else (res,)
        pairs = [(r, g) for r, g in zip([r for r in res if isinstance(r, Tensor)
                                         and r.requires_grad], grads) if g is not None]
        wanted = [t for t in ins if t.requires_grad]
        got = engine.run([r for r, _ in pairs], [g for _, g in pairs], create_graph, create_graph,
                         inputs=wanted, allow_unused=True) if pairs else (None,) * len(wanted)
        by_id = {id(t): g for t, g in zip(wanted, got)}
        return tuple(None if id(t) not in by_id or by_id[id(t)] is None else
                     (by_id[id(t)] if create_graph else by_id[id(t)]._data) for t in ins)

    node_out = _Checkpoint.apply(*parents, run=rerun, outputs=tuple(o._data for o in live))
    node_out = node_out if isinstance(node_out, tuple) else (node_out,)
    it = iter(node_out)
    res = tuple(next(it) if (isinstance(o, Tensor) and o.requires_grad) else o for o in outs)
    return res if isinstance(out, tuple) else res[0]


def checkpoint_sequential(functions, segments, input, use_reentrant=None, **kwargs):
    """Run a Sequential (or list of modules) in `segments` checkpointed chunks."""
    fns = list(functions.children()) if hasattr(functions, "children") else list(functions)
    if segments < 1:
        raise ValueError("checkpoint_sequential: segments must be >= 1, got %r" % (segments,))
    size = max(1, (len(fns) + segments - 1) // segments)
    x = input
    for start in range(0, len(fns), size):
        chunk = fns[start:start + size]

        def run(inp, chunk=chunk):
            for f in chunk:
                inp = f(inp)
            return inp
        x = checkpoint(run, x, **kwargs)
    return x
