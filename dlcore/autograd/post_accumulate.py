"""Tensor.register_post_accumulate_grad_hook: a hook on a leaf that runs once per backward,
after the last of that backward's gradient contributions has been added to its .grad.

(register_hook on a leaf runs after each contribution: a weight used twice in forward calls it
twice.)  The engine counts, before it starts, how many contributions each hooked leaf will
receive from the recorded graph, and calls the hooks when the count runs out.  The hooks live
here, keyed by the leaf's id and held by a weak reference, so tensors pay nothing for them and
a backward with no hooked leaf anywhere does no counting.
"""
import weakref

# id(leaf) -> (weak reference to the leaf, [hooks])
_registry = {}


class _Handle:
    def __init__(self, key, hook):
        self._key, self._hook = key, hook

    def remove(self):
        entry = _registry.get(self._key)
        if entry is not None and self._hook in entry[1]:
            entry[1].remove(self._hook)
            if not entry[1]:
                del _registry[self._key]


def register(t, hook):
    if t._ctx is not None:
        raise RuntimeError("register_post_accumulate_grad_hook: post accumulate grad hooks "
                           "cannot be registered on non-leaf tensors")
    if not t.requires_grad:
        raise RuntimeError("register_post_accumulate_grad_hook: cannot register a hook on a "
                           "tensor that doesn't require gradient")
    if not callable(hook):
        raise TypeError("register_post_accumulate_grad_hook: hook must be callable, got %s"
                        % type(hook).__name__)
    key = id(t)
    entry = _registry.get(key)
    if entry is None or entry[0]() is not t:
        def forget(_ref, key=key):
            cur = _registry.get(key)
            if cur is not None and cur[0] is _ref:
                del _registry[key]
        entry = _registry[key] = (weakref.ref(t, forget), [])
    entry[1].append(hook)
    return _Handle(key, hook)


def hooks_of(t):
    entry = _registry.get(id(t))
    if entry is None or entry[0]() is not t:
        return None
    return entry[1] or None


def plan(order):
    """{id(leaf): contributions still to come} for the hooked leaves the nodes in `order`
    will send gradients to (None when no leaf anywhere has such a hook)."""
    if not _registry:
        return None
    remaining = {}
    for fn in order:
        for p, need in zip(fn.parents, fn.needs_input_grad):
            if need and p._ctx is None and hooks_of(p) is not None:
                remaining[id(p)] = remaining.get(id(p), 0) + 1
    return remaining


def node_done(fn, remaining, accumulated):
    """After node fn has sent its gradients (or was skipped: it received none): count its edges
    to hooked leaves down, and run a leaf's hooks once its last contribution is in."""
    for p, need in zip(fn.parents, fn.needs_input_grad):
        if not need or p._ctx is not None:
            continue
        left = remaining.get(id(p))
        if left is None:
            continue
        if left > 1:
            remaining[id(p)] = left - 1
            continue
        del remaining[id(p)]
        if id(p) in accumulated:
            run_hooks(p)


def run_hooks(leaf):
    for hook in list(hooks_of(leaf) or ()):
        hook(leaf)
