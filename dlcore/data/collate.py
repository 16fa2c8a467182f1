"""default_collate: a list of samples -> one batch of Tensors, keeping the samples' structure."""
import collections.abc
import numbers

import numpy as np

from ..tensor import Tensor

__all__ = ["default_collate", "default_convert"]


def _tensor(arr):
    return Tensor._wrap(arr)


def default_collate(batch):
    """Stack a list of samples into a batch.

    Tensors and arrays are stacked along a new first axis and keep their dtype; Python ints
    become int64, floats float32, bools bool; dicts, tuples, lists and namedtuples are collated
    field by field; strings and bytes are returned as a list.
    """
    if len(batch) == 0:
        raise ValueError("default_collate: got an empty batch")
    elem = batch[0]
    if isinstance(elem, Tensor):
        arrs = [b._data if isinstance(b, Tensor) else np.asarray(b) for b in batch]
        return _tensor(_stack(arrs))
    if isinstance(elem, np.ndarray):
        if elem.dtype.kind in "USO":
            return list(batch)
        return _tensor(_stack([np.asarray(b) for b in batch]))
    if isinstance(elem, np.generic):
        if elem.dtype.kind in "USO":
            return list(batch)
        return _tensor(np.array(batch, dtype=elem.dtype))
    if isinstance(elem, bool):
        return _tensor(np.array(batch, dtype=np.bool_))
    if isinstance(elem, numbers.Integral):
        return _tensor(np.array(batch, dtype=np.int64))
    if isinstance(elem, numbers.Real):
        return _tensor(np.array(batch, dtype=np.float32))
    if isinstance(elem, (str, bytes)):
        return list(batch)
    if isinstance(elem, collections.abc.Mapping):
        try:
            return type(elem)({k: default_collate([d[k] for d in batch]) for k in elem})
        except TypeError:
            return {k: default_collate([d[k] for d in batch]) for k in elem}
    if isinstance(elem, tuple) and hasattr(elem, "_fields"):
        return type(elem)(*(default_collate(list(s)) for s in zip(*batch)))
    if isinstance(elem, collections.abc.Sequence):
        size = len(elem)
        if any(len(b) != size for b in batch):
            raise RuntimeError("default_collate: each element in a list batch should be of equal "
                               "size, got sizes %s" % sorted({len(b) for b in batch}))
        cols = [default_collate(list(s)) for s in zip(*batch)]
        return tuple(cols) if isinstance(elem, tuple) else cols
    raise TypeError("default_collate: batch must contain Tensors, NumPy arrays, numbers, dicts "
                    "or lists; found %s" % type(elem).__name__)


def _stack(arrs):
    shape = arrs[0].shape
    for a in arrs[1:]:
        if a.shape != shape:
            raise RuntimeError("default_collate: stack expects each sample to have the same "
                               "shape, got %s and %s" % (shape, a.shape))
    return np.stack(arrs)


def default_convert(data):
    """Without batching (batch_size=None): arrays and numbers become Tensors, structure kept."""
    if isinstance(data, Tensor):
        return data
    if isinstance(data, np.ndarray):
        return data if data.dtype.kind in "USO" else _tensor(data)
    if isinstance(data, np.generic) and data.dtype.kind not in "USO":
        return _tensor(np.asarray(data))
    if isinstance(data, collections.abc.Mapping):
        return {k: default_convert(v) for k, v in data.items()}
    if isinstance(data, tuple) and hasattr(data, "_fields"):
        return type(data)(*(default_convert(d) for d in data))
    if isinstance(data, tuple):
        return tuple(default_convert(d) for d in data)
    if isinstance(data, list):
        return [default_convert(d) for d in data]
    return data
