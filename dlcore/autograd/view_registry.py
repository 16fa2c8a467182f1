"""Which tensors in the graph are views of which storage (weakly held, in creation order).

dlcore keeps no view objects; a recorded op whose output shares memory with an input
registers that output here, so that after an in-place change of the storage every view of
it still alive can be rebound to read the new value (torch regenerates a view's grad_fn the
same way).  Entries vanish with their tensors, and a storage's list with the storage.
"""
import weakref

from .version import storage_of

_views = {}  # id(storage) -> (weakref to it, [weakref to a view tensor, ...], [prune limit])


def _forget(key, ref):
    entry = _views.get(key)
    if entry is not None and entry[0] is ref:
        del _views[key]


def register(tensors):
    for t in tensors:
        a = t._data
        if a.base is None:
            continue
        root = storage_of(a)
        key = id(root)
        entry = _views.get(key)
        if entry is None or entry[0]() is not root:
            entry = _views[key] = (weakref.ref(root, lambda r, k=key: _forget(k, r)), [], [64])
        refs, limit = entry[1], entry[2]
        if len(refs) > limit[0]:  # drop the dead ones now and then (amortised: the limit grows)
            refs[:] = [r for r in refs if r() is not None]
            limit[0] = max(64, 2 * len(refs))
        refs.append(weakref.ref(t))


def views_of(arr):
    """The live registered view tensors over the storage of array `arr`, oldest first."""
    root = storage_of(arr)
    entry = _views.get(id(root))
    if entry is None or entry[0]() is not root:
        return []
    return [t for t in (r() for r in entry[1]) if t is not None]
