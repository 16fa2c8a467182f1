"""In-place ops on a view of a tensor in the graph (torch's CopySlices).

`y[1:3].mul_(2)` changes y's storage, so y's value is now "y with that region replaced" and
the view's value is "that region of the new y". dlcore keeps no view objects: a view is an
op's output that shares memory with an input, so the region is found from the two arrays'
element addresses (`region`), and the update is recorded as two linear ops:
WriteRegion(old base, new values) becomes the base's node and ReadRegion(new base) the view's.
A view of a view updates every tensor up the chain (the base's update is itself an in-place
op on a view).
"""
import numpy as np

from .function import Function


def _addresses(a):
    """Byte address of every element of array a, in a's shape."""
    addr = np.full(a.shape, a.__array_interface__["data"][0], dtype=np.int64)
    for axis, (n, stride) in enumerate(zip(a.shape, a.strides)):
        shape = [1] * a.ndim
        shape[axis] = n
        addr = addr + (np.arange(n, dtype=np.int64) * stride).reshape(shape)
    return addr


def region(base, view, repeats=False):
    """Flat (C-order) positions in `base` of each element of `view` (an int64 array of view's
    shape), or a reason string when view is not a selection of base elements (of distinct
    ones unless `repeats`: an expanded view can be read, not written)."""
    if base.dtype != view.dtype:
        return "the view reinterprets the base's dtype (%s as %s)" % (base.dtype, view.dtype)
    base_addr = _addresses(base).ravel()
    order = np.argsort(base_addr, kind="stable")
    sorted_addr = base_addr[order]
    if sorted_addr.size > 1 and (np.diff(sorted_addr) == 0).any():
        return "the base is an expanded tensor (several elements share one memory location)"
    view_addr = _addresses(view).ravel()
    at = np.searchsorted(sorted_addr, view_addr)
    at = np.minimum(at, max(sorted_addr.size - 1, 0))
    if sorted_addr.size == 0 or (sorted_addr[at] != view_addr).any():
        return "the view's elements are not elements of the base"
    pos = order[at]
    if not repeats and pos.size > 1 and np.unique(pos).size != pos.size:
        return ("the view is expanded (several of its elements share one memory location); "
                "clone() it first")
    return pos.reshape(view.shape)


class WriteRegion(Function):
    """base with base.flat[pos] = value (a copy): the base after an in-place op on its view."""
    LINEAR = True

    def forward(self, base, value, pos=None):
        out = np.array(base, copy=True, order="C")
        out.reshape(-1)[pos.ravel()] = np.broadcast_to(value, pos.shape).ravel()
        return out

    def backward(self, g):
        pos = self.kwargs["pos"].ravel()
        g = np.ascontiguousarray(g)
        gb = gv = None
        if self.needs_input_grad[0]:
            gb = g.copy()
            gb.reshape(-1)[pos] = 0
        if self.needs_input_grad[1]:
            gv = g.reshape(-1)[pos].reshape(self.kwargs["pos"].shape)
        return gb, gv


class ReadRegion(Function):
    """base.flat[pos]: the view as read from the updated base."""
    LINEAR = True

    def forward(self, base, pos=None):
        self.base_shape, self.base_dtype = base.shape, base.dtype
        return np.ascontiguousarray(base).reshape(-1)[pos]

    def backward(self, g):
        gb = np.zeros(self.base_shape, self.base_dtype)
        np.add.at(gb.reshape(-1), self.kwargs["pos"].ravel(), np.ravel(g))
        return gb
