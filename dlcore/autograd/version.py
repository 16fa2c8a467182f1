"""Version counters: how many times a tensor's storage has been changed in place.

A Function that saves arrays for backward would read changed numbers if one of them were
modified in place between forward and backward; PyTorch refuses that backward, and so do we.
The counter belongs to the storage (the NumPy array that owns the memory), so every view of it
shares one count, as PyTorch's views share theirs.  Storage that was never changed in place
has no entry (version 0); `bump` is called by every in-place op.

Recording costs one number: `clock` counts all bumps in any storage, and a recorded Function
notes its value (fn._clock).  Each storage keeps the clock of its last few bumps, so backward
can tell whether a saved array's storage changed after the Function was recorded (and from
which version) without any per-op snapshot; when the clock has not moved at all, nothing is
looked at.
"""
import weakref

import numpy as np

_HISTORY = 8    # (clock, version) of a storage's last bumps that are kept
_versions = {}  # id(storage array) -> [version, weakref to the array, [(clock, version)...]]
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
    if entry is None or entry[1]() is not root:
        entry = _versions[key] = [0, weakref.ref(root, lambda r, k=key: _forget(k, r)), []]
    entry[0] += 1
    hist = entry[2]
    hist.append((clock[0], entry[0]))
    if len(hist) > _HISTORY:
        del hist[0]


def _entry(root):
    entry = _versions.get(id(root))
    if entry is None or entry[1]() is not root:
        return None
    return entry


def version(arr):
    entry = _entry(storage_of(arr))
    return 0 if entry is None else entry[0]


def changed_since(arr, since):
    """None if the storage of `arr` was not changed after clock value `since`; else (version
    now, version it had then)."""
    entry = _entry(storage_of(arr))
    if entry is None or not entry[2] or entry[2][-1][0] <= since:
        return None
    first_after = next(v for c, v in entry[2] if c > since)
    return entry[0], first_after - 1


def saved_arrays(fn):
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
    d = fn.__dict__
    since = d.get("_clock", clock[0])
    if since == clock[0]:
        return
    later = d.get("_saved_since") or {}  # storages the Function took over later (in-place ops)
    parents = d.get("parents") or ()
    for name, arr in saved_arrays(fn):
        root = storage_of(arr)
        changed = changed_since(root, later.get(id(root), since))
        if changed is None:
            continue
        what = name
        for i, p in enumerate(parents):
            pd = getattr(p, "_data", None)
            if pd is not None and storage_of(pd) is root:
                what = "input %d" % i
                break
        raise RuntimeError(
            "one of the variables needed for gradient computation has been modified by an "
            "inplace operation: [%s tensor of shape %s], which is %s of %s, is at version %d; "
            "expected version %d instead. Hint: the in-place change happened between this op's "
            "forward and the backward; use an out-of-place op or .clone() it first."
            % (arr.dtype, tuple(arr.shape), what, type(fn).__name__, changed[0], changed[1]))
