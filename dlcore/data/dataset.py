"""Datasets: anything with __getitem__ and __len__, plus PyTorch's wrappers and random_split."""
import bisect
import math
import numbers

import numpy as np

from ..random import rng as _rng
from ..tensor import Tensor

__all__ = ["Dataset", "TensorDataset", "Subset", "ConcatDataset", "StackDataset", "random_split"]


class Dataset:
    """A map-style dataset: subclasses define __getitem__(index) and __len__()."""

    def __getitem__(self, index):
        raise NotImplementedError("%s does not define __getitem__" % type(self).__name__)

    def __len__(self):
        raise NotImplementedError("%s does not define __len__" % type(self).__name__)

    def __add__(self, other):
        return ConcatDataset([self, other])


def _as_array(x, argname):
    if isinstance(x, Tensor):
        return x._data
    if isinstance(x, np.ndarray):
        return x
    arr = np.asarray(x)
    if arr.dtype.kind == "f":
        arr = arr.astype(np.float32)
    elif arr.dtype.kind in "iu":
        arr = arr.astype(np.int64)
    elif arr.dtype.kind != "b":
        raise TypeError("%s: expected a Tensor, ndarray or numeric sequence, got %s of dtype %s"
                        % (argname, type(x).__name__, arr.dtype))
    return arr


class TensorDataset(Dataset):
    """Samples are rows of the given tensors/arrays: ds[i] == (a[i], b[i], ...).

    The DataLoader recognises this class and builds whole batches by fancy-indexing each array
    once, instead of collating one row at a time.
    """

    def __init__(self, *tensors):
        if not tensors:
            raise ValueError("TensorDataset: needs at least one tensor")
        arrays = tuple(_as_array(t, "TensorDataset: tensor %d" % i) for i, t in enumerate(tensors))
        for i, a in enumerate(arrays):
            if a.ndim == 0:
                raise ValueError("TensorDataset: tensor %d is 0-d; every tensor needs a first "
                                 "(sample) dimension" % i)
        n = arrays[0].shape[0]
        for i, a in enumerate(arrays[1:], 1):
            if a.shape[0] != n:
                raise ValueError("TensorDataset: size mismatch between tensors: tensor 0 has %d "
                                 "samples, tensor %d has %d" % (n, i, a.shape[0]))
        self.arrays = arrays

    @property
    def tensors(self):
        return tuple(Tensor._wrap(a) for a in self.arrays)

    def __getitem__(self, index):
        return tuple(Tensor._wrap(a[index]) for a in self.arrays)

    def __len__(self):
        return self.arrays[0].shape[0]


class Subset(Dataset):
    """The samples of `dataset` at `indices`, in that order."""

    def __init__(self, dataset, indices):
        self.dataset = dataset
        self.indices = [int(i) for i in indices]

    def __getitem__(self, idx):
        if isinstance(idx, (list, np.ndarray)):
            return self.dataset[[self.indices[i] for i in idx]]
        return self.dataset[self.indices[idx]]

    def __len__(self):
        return len(self.indices)


class ConcatDataset(Dataset):
    """Several datasets one after the other."""

    def __init__(self, datasets):
        self.datasets = list(datasets)
        if not self.datasets:
            raise ValueError("ConcatDataset: datasets should not be an empty iterable")
        self.cumulative_sizes = []
        total = 0
        for d in self.datasets:
            total += len(d)
            self.cumulative_sizes.append(total)

    def __len__(self):
        return self.cumulative_sizes[-1] if self.cumulative_sizes else 0

    def __getitem__(self, idx):
        n = len(self)
        if idx < 0:
            if -idx > n:
                raise IndexError("ConcatDataset: index %d out of range for length %d" % (idx, n))
            idx += n
        if idx >= n:
            raise IndexError("ConcatDataset: index %d out of range for length %d" % (idx, n))
        which = bisect.bisect_right(self.cumulative_sizes, idx)
        start = self.cumulative_sizes[which - 1] if which > 0 else 0
        return self.datasets[which][idx - start]


def random_split(dataset, lengths, generator=None):
    """Split `dataset` into non-overlapping random Subsets.

    `lengths` are either sample counts summing to len(dataset) or fractions summing to 1
    (each part gets floor(fraction * n); the leftover samples go one each to the parts in
    order, as PyTorch does).  `generator` is a dl.Generator for a reproducible split.
    """
    n = len(dataset)
    lengths = list(lengths)
    if not lengths:
        raise ValueError("random_split: lengths must not be empty")
    if any(not isinstance(x, numbers.Real) or x < 0 for x in lengths):
        raise ValueError("random_split: lengths must be non-negative numbers, got %s" % (lengths,))
    all_int = all(float(x).is_integer() for x in lengths)
    is_frac = math.isclose(sum(lengths), 1.0) and sum(lengths) <= 1 and not (all_int and n == 1)
    if is_frac:
        counts = [int(math.floor(n * f)) for f in lengths]
        for i in range(n - sum(counts)):
            counts[i % len(counts)] += 1
        lengths = counts
    else:
        if not all_int:
            raise ValueError("random_split: lengths must be integers summing to len(dataset) "
                             "or fractions summing to 1, got %s" % (lengths,))
        lengths = [int(x) for x in lengths]
        if sum(lengths) != n:
            raise ValueError("random_split: sum of input lengths (%d) does not equal the length "
                             "of the input dataset (%d)" % (sum(lengths), n))
    perm = _rng(generator).permutation(n)
    out, start = [], 0
    for length in lengths:
        out.append(Subset(dataset, perm[start:start + length].tolist()))
        start += length
    return out


class StackDataset(Dataset):
    """Samples gathered from several datasets of one length: StackDataset(a, b)[i] is
    (a[i], b[i]); StackDataset(x=a, y=b)[i] is {"x": a[i], "y": b[i]} (torch's semantics)."""

    def __init__(self, *args, **kwargs):
        if args and kwargs:
            raise ValueError("StackDataset: supported either tuple-like (positional) or "
                             "dict-like (keyword) input, but both types were given")
        if not args and not kwargs:
            raise ValueError("StackDataset: at least one dataset should be passed")
        self.datasets = args if args else kwargs
        parts = args if args else tuple(kwargs.values())
        self._length = len(parts[0])
        if any(len(d) != self._length for d in parts):
            raise ValueError("StackDataset: size mismatch between datasets")

    def __getitem__(self, index):
        if isinstance(self.datasets, dict):
            return {k: d[index] for k, d in self.datasets.items()}
        return tuple(d[index] for d in self.datasets)

    def __getitems__(self, indices):
        """A batch of samples: one call per dataset where it has __getitems__."""
        def batch(d):
            if callable(getattr(d, "__getitems__", None)):
                items = d.__getitems__(indices)
                if len(items) != len(indices):
                    raise ValueError("StackDataset: nested dataset's output size mismatch. "
                                     "Expected %d, got %d" % (len(indices), len(items)))
                return items
            return [d[i] for i in indices]
        if isinstance(self.datasets, dict):
            cols = {k: batch(d) for k, d in self.datasets.items()}
            return [{k: c[j] for k, c in cols.items()} for j in range(len(indices))]
        cols = [batch(d) for d in self.datasets]
        return [tuple(c[j] for c in cols) for j in range(len(indices))]

    def __len__(self):
        return self._length
