"""The allowlist of classes and functions a weights_only dl.load may rebuild (the state behind
dl.serialization; dl.io reads it here, so the two modules do not import each other)."""
import threading

__all__ = ["add_safe_globals", "clear_safe_globals", "get_safe_globals", "safe_globals",
           "is_safe"]

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
