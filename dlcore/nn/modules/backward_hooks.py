"""Module.register_full_backward_hook / register_full_backward_pre_hook.

A call of a hooked module puts an identity op on its inputs and one on its outputs.  In
backward the output one runs first: it hands grad_output to the pre-hooks (which may replace
it); the input one then has grad_input and calls hook(module, grad_input, grad_output), whose
return value (if not None) replaces grad_input.  When no input requires grad the hooks are
called from the output side with grad_input all None, as PyTorch does.
"""
from ...autograd import Function, is_grad_enabled
from ...tensor import Tensor
from ...tensor_base import wrap


class _HookBoundary(Function):
    """Identity on n tensors; its backward passes the n gradients through `on_grads`."""

    def forward(self, *arrays, on_grads=None):
        self.on_grads = on_grads
        return arrays if len(arrays) != 1 else arrays[0]

    def backward(self, *grads):
        gs = self.on_grads(tuple(None if g is None else wrap(g) for g in grads))
        return tuple(None if g is None else g._data for g in gs)

    def backward_graph(self, *grads):
        return tuple(self.on_grads(tuple(grads)))


def _replace(gs, new, what):
    new = new if isinstance(new, tuple) else (new,)
    if len(new) != len(gs):
        raise RuntimeError("backward hook returned %d %s gradients, expected %d"
                           % (len(new), what, len(gs)))
    return new


def call_with_backward_hooks(module, args, call):
    """call(args) with the module's full backward (pre-)hooks wired around it."""
    hooks = module.__dict__.get("_backward_hooks") or {}
    pre_hooks = module.__dict__.get("_backward_pre_hooks") or {}
    if not is_grad_enabled() or not (hooks or pre_hooks):
        return call(args)
    tensor_pos = [i for i, a in enumerate(args) if isinstance(a, Tensor)]
    live_pos = [i for i in tensor_pos if args[i].requires_grad]
    seen = {}

    def on_inputs(grads):
        by_pos = dict(zip(live_pos, grads))
        grad_input = tuple(by_pos.get(i) for i in tensor_pos)
        for h in list(hooks.values()):
            r = h(module, grad_input, seen["grad_output"])
            if r is not None:
                grad_input = _replace(grad_input, r, "input")
        by_pos = dict(zip(tensor_pos, grad_input))
        return tuple(by_pos[i] for i in live_pos)

    def on_outputs(grads):
        for h in list(pre_hooks.values()):
            r = h(module, grads)
            if r is not None:
                grads = _replace(grads, r, "output")
        seen["grad_output"] = grads
        if not live_pos:
            for h in list(hooks.values()):
                h(module, (None,) * len(tensor_pos), grads)
        return grads

    if live_pos:
        wrapped = _HookBoundary.apply(*[args[i] for i in live_pos], on_grads=on_inputs)
        wrapped = wrapped if isinstance(wrapped, tuple) else (wrapped,)
        args = list(args)
        for i, t in zip(live_pos, wrapped):
            args[i] = t
        args = tuple(args)
    out = call(args)
    outs = out if isinstance(out, tuple) else (out,)
    out_pos = [i for i, o in enumerate(outs) if isinstance(o, Tensor) and o.requires_grad]
    if not out_pos:
        return out
    wrapped = _HookBoundary.apply(*[outs[i] for i in out_pos], on_grads=on_outputs)
    wrapped = wrapped if isinstance(wrapped, tuple) else (wrapped,)
    outs = list(outs)
    for i, t in zip(out_pos, wrapped):
        outs[i] = t
    return tuple(outs) if isinstance(out, tuple) else outs[0]
