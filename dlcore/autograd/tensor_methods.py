"""AutogradMethods: the Tensor methods of autograd (recording flags, backward, gradient hooks,
detaching, the version counter)."""
from ..tensor_base import wrap
from . import engine, inplace, post_accumulate, version
from ..dtypes import is_floating


class _RemovableHook:
    def __init__(self, hooks, hook):
        self._hooks, self._hook = hooks, hook

    def remove(self):
        if self._hook in self._hooks:
            self._hooks.remove(self._hook)


def _watch(t, kind):
    """The node's per-output store of `kind` ('retained' tensors or 'hooks')."""
    return t._ctx.__dict__.setdefault("watch", {}).setdefault(kind, {})


class AutogradMethods:
    """The Tensor methods of autograd."""

    __slots__ = ()

    @property
    def is_leaf(self):
        return self._ctx is None

    @property
    def grad_fn(self):
        return self._ctx

    @property
    def _version(self):
        return version.version(self._data)

    def is_inference(self):
        return bool(self._inference)

    def requires_grad_(self, requires_grad=True):
        if requires_grad and not is_floating(self._data.dtype):
            raise RuntimeError("requires_grad_: only floating point tensors can require "
                               "gradients, got dtype %s" % self._data.dtype)
        if not requires_grad and self._ctx is not None:
            raise RuntimeError("requires_grad_: you can only change requires_grad flags of "
                               "leaf tensors")
        if requires_grad and self._inference:
            raise RuntimeError("Setting requires_grad=True on inference tensor outside "
                               "InferenceMode is not allowed.")
        self.requires_grad = bool(requires_grad)
        return self

    def backward(self, gradient=None, retain_graph=None, create_graph=False, inputs=None):
        if retain_graph is None:
            retain_graph = create_graph
        if inputs is not None:
            engine.backward_into([self], [gradient], retain_graph, create_graph, inputs)
            return
        engine.run([self], [gradient], retain_graph, create_graph)

    def retain_grad(self):
        if self._ctx is None:
            return
        _watch(self, "retained")[self._idx] = self

    @property
    def retains_grad(self):
        return self._ctx is not None and \
            self in self._ctx.__dict__.get("watch", {}).get("retained", {}).values()

    def register_hook(self, hook):
        """On a leaf, hook(grad) is called with the accumulated gradient after each backward;
        on a non-leaf, with the gradient flowing into it, and what it returns (if not None)
        replaces that gradient."""
        if self._ctx is None:
            if self._hooks is None:
                self._hooks = []
            self._hooks.append(hook)
            return _RemovableHook(self._hooks, hook)
        if not self.requires_grad:
            raise RuntimeError("cannot register a hook on a tensor that doesn't require gradient")
        hooks = _watch(self, "hooks").setdefault(self._idx, [])
        hooks.append(hook)
        return _RemovableHook(hooks, hook)

    def register_post_accumulate_grad_hook(self, hook):
        """On a leaf: hook(tensor) is called once per backward, after every gradient
        contribution of that backward has been added to .grad (register_hook runs after each
        one).  Returns a handle whose remove() unregisters it."""
        return post_accumulate.register(self, hook)

    def detach(self):
        return wrap(self._data, False)

    def _check_inplace(self, name):
        """For in-place updates done directly on the storage (no recording): refuse a leaf that
        requires grad while grad mode is on, and count the change."""
        inplace.check_leaf(self, name)
        if self.requires_grad and self._ctx is not None and inplace.state.grad:
            raise RuntimeError("%s: this in-place operation is not recorded by autograd and the "
                               "tensor is part of a graph; run it under dl.no_grad() or use an "
                               "out-of-place op" % name)
        inplace.own_storage(self)
        version.bump(self._data)

    def detach_(self):
        self._ctx = None
        self.requires_grad = False
        return self
