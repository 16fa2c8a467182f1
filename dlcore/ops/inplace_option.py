"""`inplace=True` of the activations and dropout: the result written into the input's storage,
with PyTorch's autograd rules (dlcore.autograd.inplace): off the graph the array is updated
directly; on it the op is recorded out of place and the result written back, the version
counter catching any saved value it overwrote; a leaf that requires grad is refused."""
import numpy as np

from ..autograd import inplace as IP
from ..tensor_base import raw


def in_place(fname, x, compute):
    """compute(x) (a Tensor op) written into x's storage; x is returned (views of x see it)."""
    a = x._data
    if any(st == 0 and n > 1 for st, n in zip(a.strides, a.shape)):
        raise ValueError("%s(inplace=True): the input of shape %s is an expanded view (several "
                         "elements share one memory location); clone() it first"
                         % (fname, tuple(x.shape)))
    if IP.recording(x):
        return IP.run_recorded(x, fname, compute, keep_old=True)
    IP.check_leaf(x, fname)
    y = raw(compute(x))
    return IP.run_direct(x, fname, lambda arr: np.copyto(arr, y))
