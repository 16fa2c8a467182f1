"""F.pad and F.one_hot."""
import numpy as np

from ..tensor_base import TensorBase, wrap
from .pad_modes import pad_mode
from .shape import Pad


def pad(input, pad, mode="constant", value=0.0):
    """PyTorch's F.pad: `pad` lists (left, right) pairs starting from the LAST dimension."""
    if len(pad) % 2 or len(pad) // 2 > input.ndim:
        raise ValueError("pad: expected an even number of values covering at most %d dims, got %s"
                         % (input.ndim, tuple(pad)))
    pairs = [(0, 0)] * input.ndim
    for i in range(len(pad) // 2):
        pairs[input.ndim - 1 - i] = (int(pad[2 * i]), int(pad[2 * i + 1]))
    for ax, (b, e) in enumerate(pairs):
        if input.shape[ax] + b + e < 0:
            raise ValueError("pad: padding %s makes dim %d negative" % ((b, e), ax))
    if mode != "constant":
        return pad_mode(input, pairs, mode)
    return Pad.apply(input, pads=tuple(pairs), value=value)


def one_hot(tensor, num_classes=-1):
    idx = tensor._data if isinstance(tensor, TensorBase) else np.asarray(tensor)
    if idx.dtype.kind not in "iu":
        raise TypeError("one_hot: expected an integer tensor, got %s" % idx.dtype)
    if num_classes < 0:
        num_classes = int(idx.max()) + 1 if idx.size else 0
    if idx.size and (idx.min() < 0 or idx.max() >= num_classes):
        raise ValueError("one_hot: class values must be in [0, %d), got range [%d, %d]"
                         % (num_classes, idx.min(), idx.max()))
    out = np.zeros(idx.shape + (num_classes,), dtype=np.int64)
    np.put_along_axis(out, idx[..., None], 1, axis=-1)
    return wrap(out)
