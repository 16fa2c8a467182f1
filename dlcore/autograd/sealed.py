"""Sealed storage: a proof, cheap to check, that an array's values have not changed.

Eager inference keeps derived data of a weight (the Winograd filter transform, csrc/
winograd_cache.c) from one call to the next.  Reusing it is only right while the weight is
unchanged, and the storage is a NumPy array that anything may write: the engine's in-place
ops, optimizer kernels, nn.init, load_state_dict, and a user through `t.numpy()`,
`np.asarray(t)` or `t._data`.  Counting writes cannot see the last kind, so instead a weight
is *sealed*:

- only an array that owns its memory and that nothing but its one Tensor references (no
  other view, no other holder: a reference count taken against a calibrated baseline) is
  sealed; then it is made read-only.  NumPy refuses every write through it and through any
  view made of it later, and the C kernels' output checks (common.pxi OP_WRITE) refuse it as
  an output;
- a seal has a token, unique for the process's life; the C cache trusts an entry without
  comparing the weights only while it is handed that same token (`token` below returns it
  only while the array is still read-only and still sealed);
- the engine's writers call `writable` first (`dlcore.autograd.inplace.own_storage` covers
  the in-place ops; the optimizers, nn.init, load_state_dict and the others call it
  directly): that breaks the seal (token gone) and makes the array writeable again, so the
  write lands in the same memory as before the seal; `Tensor.numpy()` and `__array__` break
  it too, because they hand out a writeable array.

A write the seal cannot see would have to flip NumPy's WRITEABLE flag by hand (or write
through a raw pointer); anything else either breaks the seal or raises NumPy's "assignment
destination is read-only".  A storage that cannot be sealed (a view, shared, handed out and
still held) gets token 0, and the cache compares the weights byte for byte (correct, slower).
"""
import itertools
import sys
import weakref

import numpy as np

from ..tensor_base import wrap

_tokens = itertools.count(1)
# id(root) -> [weakref to root, token (0: the seal was broken)]: an entry stays after the seal
# is broken, so that views made while it was sealed (read-only for that reason) can be made
# writeable again; it goes with the array
_sealed = {}
_baseline = None


def _forget(key, ref):
    e = _sealed.get(key)
    if e is not None and e[0] is ref:
        del _sealed[key]


def _entry(root):
    e = _sealed.get(id(root))
    return e if e is not None and e[0]() is root else None


def _refs(t):
    """References to t's array beyond those every call of `token` itself holds: t._data, the
    local below and getrefcount's argument.  (Calibrated once: `_baseline`.)"""
    a = t._data
    return sys.getrefcount(a)


def _calibrate():
    global _baseline
    _baseline = _refs(wrap(np.empty(1, np.float32)))


def token(t):
    """The seal token of Tensor t's array, sealing it first when it may be; 0 when it cannot
    be sealed (then its consumers must check its values)."""
    a = t._data
    if a.flags.writeable:
        if a.base is not None or not a.flags.owndata or not a.flags.c_contiguous:
            return 0
        del a
        if _baseline is None:
            _calibrate()
        if _refs(t) != _baseline:
            return 0                 # another view or holder could write it
        a = t._data
        e = _entry(a)
        if e is None:
            key = id(a)
            e = _sealed[key] = [weakref.ref(a, lambda r, k=key: _forget(k, r)), 0]
        a.flags.writeable = False
        e[1] = next(_tokens)
        return e[1]
    e = _entry(a)
    return e[1] if e is not None else 0


def writable(a):
    """Makes array `a` writeable when it is read-only only because of a seal (breaking the
    seal: its token is never valid again); returns whether `a` is writeable now."""
    if a.flags.writeable:
        return True
    base = a.base
    root = base if type(base) is np.ndarray else a
    e = _entry(root)
    if e is None:
        return False
    e[1] = 0
    root.flags.writeable = True
    if a is not root:
        # a view made while its storage was sealed; not one that overlaps itself
        # (np.broadcast_to's are read-only for a reason of their own)
        if any(s == 0 and n > 1 for s, n in zip(a.strides, a.shape)):
            return False
        try:
            a.flags.writeable = True
        except ValueError:
            return False
    return True


def writable_data(t):
    """Tensor t's array, writeable: unsealed where sealed, else copied (a read-only array
    from a file or a broadcast) and rebound to t."""
    if not writable(t._data):
        t._data = t._data.copy()
    return t._data
