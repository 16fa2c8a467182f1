"""`inplace=True` of the activations and dropout: the result written into the input's storage."""
import numpy as np

from ..autograd import is_grad_enabled


def in_place(fname, x, compute):
    """`compute(x)` written into x's storage, x returned: PyTorch's `inplace=True` (views of x
    see the new values).  While autograd records x the write is refused: a leaf that requires
    grad may not change (as in PyTorch), and a value inside the graph may be one that backward
    still reads, which dlcore has no version counters to detect.  Rather than compute out of
    place in silence, it raises and says to pass inplace=False."""
    if x.requires_grad and is_grad_enabled():
        what = ("a leaf tensor that requires grad" if x._ctx is None else
                "a tensor inside the autograd graph (backward may read its old values)")
        raise RuntimeError("%s(inplace=True): the input is %s and cannot be modified in place; "
                           "use inplace=False, or run under dl.no_grad()" % (fname, what))
    a = x._data
    if any(st == 0 and n > 1 for st, n in zip(a.strides, a.shape)):
        raise ValueError("%s(inplace=True): the input of shape %s is an expanded view (several "
                         "elements share one memory location); clone() it first"
                         % (fname, tuple(x.shape)))
    y = compute(x)
    x._check_inplace(fname)  # a read-only array (e.g. from a NumPy buffer) is copied first
    np.copyto(x._data, y._data)
    return x
