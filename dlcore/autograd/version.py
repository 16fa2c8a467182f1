"""Version counters: how many times a tensor's storage has been changed in place.

A Function that saves arrays for backward would read changed numbers if one of them were
modified in place between forward and backward; PyTorch refuses that backward, and so do we.
The counter belongs to the storage (the NumPy array that owns the memory), so every view of it
shares one count, as PyTorch's views share theirs.  Storage that was never changed in place
has no entry (version 0); `bump` is called by every in-place op.

Checking is cheap when nothing changed: `clock` counts all bumps, a recorded Function notes it,
and backward checks its saved arrays only if the clock moved since.
"""
import weakref

import numpy as np

_versions = {}  # id(storage array) -> [version, weakref to the array]
clock = [0]     # bumps so far, in any storage


def storage_of(arr):
    """The array that owns `arr`'s memory (NumPy collapses chains of views to it)."""
    base = arr.base
    return base if type(base) is np.ndarray else arr


def _forget(key, ref):
    entry = _versions.get(key)
    if entry is not None and entry[1] is ref:
        del _versions[key]


def bump(arr):
    """Count one in-place change of the storage under array `arr`."""
    root = storage_of(arr)
    key = id(root)
    clock[0] += 1
    entry = _versions.get(key)
    if entry is not None and entry[1]() is root:
        entry[0] += 1
        return
    ref = weakref.ref(root, lambda r, k=key: _forget(k, r))
    _versions[key] = [1, ref]


def version(arr):
    root = storage_of(arr)
    entry = _versions.get(id(root))
    if entry is None or entry[1]() is not root:
        return 0
    return entry[0]


def snapshot(arrays):
    """{id(storage): version} of the given arrays' storages that have been changed before."""
    if not _versions:
        return None
    snap = None
    for a in arrays:
        root = storage_of(a)
        entry = _versions.get(id(root))
        if entry is not None and entry[1]() is root:
            if snap is None:
                snap = {}
            snap[id(root)] = entry[0]
    return snap


def _saved_arrays(fn):
    """(label, array) for every array a Function holds for backward (one level into tuples)."""
    for name, v in fn.__dict__.items():
        if type(v) is np.ndarray:
            yield name, v
        elif type(v) in (tuple, list):
            for i, e in enumerate(v):
                if type(e) is np.ndarray:
                    yield "%s[%d]" % (name, i), e


def check_saved(fn):
    """Raise if an array `fn` saved in forward was changed in place since (PyTorch's error)."""
    if fn.__dict__.get("_clock", clock[0]) == clock[0]:
        return
    snap = fn.__dict__.get("_vsnap") or {}
    parents = fn.__dict__.get("parents") or ()
    for name, arr in _saved_arrays(fn):
        root = storage_of(arr)
        now = version(root)
        then = snap.get(id(root), 0)
        if now != then:
            what = name
            for i, p in enumerate(parents):
                d = getattr(p, "_data", None)
                if d is not None and storage_of(d) is root:
                    what = "input %d" % i
                    break
            raise RuntimeError(
                "one of the variables needed for gradient computation has been modified by an "
                "inplace operation: [%s tensor of shape %s], which is %s of %s, is at version "
                "%d; expected version %d instead. Hint: the in-place change happened between "
                "this op's forward and the backward; use an out-of-place op or .clone() it "
                "first." % (arr.dtype, tuple(arr.shape), what, type(fn).__name__, now, then))
