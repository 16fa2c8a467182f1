"""dl.serialization: torch.serialization's allowlist for loading whole modules.

dl.load(f) (weights_only=True, the default) rebuilds a saved Module only when every class and
function the file names is allowlisted here: `add_safe_globals([MyNet, nn.Linear, F.relu])`
or, for one load, `with dl.serialization.safe_globals([...]):`.  Names are compared with the
import paths written in the file, so nothing is imported to decide; weights_only=False trusts
the file completely, as in torch.
"""
import threading

__all__ = ["add_safe_globals", "clear_safe_globals", "get_safe_globals", "safe_globals",
           "get_unsafe_globals_in_checkpoint"]

_GLOBAL = []
_local = threading.local()  # the safe_globals context managers' lists, per thread


def _path(obj):
    if isinstance(obj, tuple):  # torch's (obj, "module.qualname") form names obj explicitly
        if len(obj) != 2 or not isinstance(obj[1], str):
            raise TypeError("safe globals: a tuple entry must be (object, 'module.name'), got %r"
                            % (obj,))
        mod, _, qual = obj[1].rpartition(".")
        return "%s:%s" % (mod, qual)
    mod, qual = getattr(obj, "__module__", None), getattr(obj, "__qualname__", None)
    if not mod or not qual:
        raise TypeError("safe globals: %r is not a class or function (it has no __module__ "
                        "and __qualname__)" % (obj,))
    return "%s:%s" % (mod, qual)


def _check(entries):
    entries = list(entries)
    for e in entries:
        _path(e)  # refuse what can never match, when it is added rather than at load
    return entries


def add_safe_globals(safe_globals):
    """Allowlist these classes/functions for weights_only loads, for the rest of the process."""
    _GLOBAL.extend(_check(safe_globals))


def clear_safe_globals():
    del _GLOBAL[:]


def get_safe_globals():
    return list(_GLOBAL)


class safe_globals:
    """Context manager: allowlist these classes/functions for loads inside the block."""

    def __init__(self, safe_globals):
        self._entries = _check(safe_globals)

    def __enter__(self):
        stack = getattr(_local, "stack", None)
        if stack is None:
            stack = _local.stack = []
        stack.append(self._entries)
        return self

    def __exit__(self, *exc):
        _local.stack.pop()
        return False


def is_safe(path):
    """Whether the import path 'module:qualname' from a file is allowlisted now."""
    for entries in [_GLOBAL] + list(getattr(_local, "stack", None) or ()):
        if any(_path(e) == path for e in entries):
            return True
    return False


def get_unsafe_globals_in_checkpoint(f):
    """The import paths ('module.qualname') of the classes/functions a dl.save file names
    that are not allowlisted now (empty for a state_dict)."""
    import json
    from .io import _TREE, _open_meta
    meta = _open_meta(f)
    found = []

    def walk(node):
        if isinstance(node, list):
            for v in node:
                walk(v)
        elif isinstance(node, dict):
            for k in ("M", "fn"):
                if isinstance(node.get(k), str) and not is_safe(node[k]):
                    found.append(node[k].replace(":", "."))
            for v in node.values():
                walk(v)
    if _TREE in meta:
        walk(json.loads(meta[_TREE]))
    return sorted(set(found))
