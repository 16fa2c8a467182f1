"""torch.func.functional_call: run a module with some of its parameters and buffers replaced
by the given tensors (e.g. a function of the weights for grad/vmap), restoring them after."""
import contextlib

from ..tensor_base import TensorBase


def _owner(module, path):
    *parents, leaf = path.split(".")
    for p in parents:
        module = getattr(module, p)
    return module, leaf


_ABSENT = object()


@contextlib.contextmanager
def _swapped(module, tensors):
    undo = []   # (dict, name, previous value or _ABSENT)
    try:
        for path, value in tensors.items():
            owner, name = _owner(module, path)
            for store_name in ("_parameters", "_buffers"):
                store = owner.__dict__.get(store_name)
                if store is not None and name in store:
                    undo.append((store, name, store[name]))
                    store[name] = value
                    break
            else:  # not a parameter or buffer: a plain attribute for the call, as torch does
                undo.append((owner.__dict__, name, owner.__dict__.get(name, _ABSENT)))
                owner.__dict__[name] = value
        yield
    finally:
        for store, name, old in reversed(undo):
            if old is _ABSENT:
                store.pop(name, None)
            else:
                store[name] = old


def functional_call(module, parameter_and_buffer_dicts, args=None, kwargs=None, *,
                    tie_weights=True, strict=False):
    """module(*args, **kwargs) with the named parameters / buffers (dotted names, as in
    state_dict) replaced; a sequence of dicts is merged (a name may appear only once)."""
    dicts = parameter_and_buffer_dicts
    if isinstance(dicts, dict):
        dicts = (dicts,)
    merged = {}
    for d in dicts:
        for k, v in d.items():
            if k in merged:
                raise ValueError("functional_call got multiple values for keys ['%s'], which "
                                 "are used in parameter_and_buffer_dicts" % k)
            merged[k] = v
    for k, v in merged.items():
        if not isinstance(v, TensorBase):
            raise TypeError("functional_call: the value for %r must be a Tensor, got %s"
                            % (k, type(v).__name__))
    if strict:
        expected = [k for k, _ in module.named_parameters()] + \
            [k for k, _ in module.named_buffers()]
        missing = [k for k in expected if k not in merged]
        unexpected = [k for k in merged if k not in expected]
        if missing or unexpected:
            parts = []
            if unexpected:
                parts.append("Unexpected key(s): %s." % ", ".join("'%s'" % k for k in unexpected))
            if missing:
                parts.append("Missing key(s): %s." % ", ".join("'%s'" % k for k in missing))
            raise RuntimeError("Error(s) in reparametrizing for %s:\n\t%s"
                               % (type(module).__name__, "\n\t".join(parts)))
    if args is None:
        args = ()
    elif not isinstance(args, tuple):
        args = (args,)
    with _swapped(module, merged):
        return module(*args, **(kwargs or {}))
