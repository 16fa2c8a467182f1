"""Samplers: which sample indices a DataLoader visits, and in what order."""
import numpy as np

from ..random import rng as _rng

__all__ = ["Sampler", "SequentialSampler", "RandomSampler", "SubsetRandomSampler",
           "BatchSampler", "WeightedRandomSampler"]


class Sampler:
    """Iterates over sample indices.  Subclasses define __iter__ and (usually) __len__.

    A sampler may also define `_epoch_indices()` returning one epoch's indices as an int array;
    BatchSampler then slices that array instead of looping over Python ints.
    """

    def __init__(self, data_source=None):
        pass

    def __iter__(self):
        raise NotImplementedError


class SequentialSampler(Sampler):
    def __init__(self, data_source):
        self.data_source = data_source

    def _epoch_indices(self):
        return np.arange(len(self.data_source))

    def __iter__(self):
        return iter(range(len(self.data_source)))

    def __len__(self):
        return len(self.data_source)


class RandomSampler(Sampler):
    """A fresh random order each epoch, drawn from `generator` (or the dl.manual_seed stream)."""

    def __init__(self, data_source, replacement=False, num_samples=None, generator=None):
        self.data_source = data_source
        self.replacement = bool(replacement)
        self._num_samples = num_samples
        self.generator = generator
        if num_samples is not None and (int(num_samples) != num_samples or num_samples <= 0):
            raise ValueError("RandomSampler: num_samples should be a positive integer, got %r"
                             % (num_samples,))

    @property
    def num_samples(self):
        return len(self.data_source) if self._num_samples is None else int(self._num_samples)

    def _epoch_indices(self):
        n, k = len(self.data_source), self.num_samples
        g = _rng(self.generator)
        if self.replacement:
            return g.integers(0, n, size=k)
        reps = -(-k // n) if n else 0
        perm = np.concatenate([g.permutation(n) for _ in range(reps)]) if reps else np.arange(0)
        return perm[:k]

    def __iter__(self):
        return iter(self._epoch_indices().tolist())

    def __len__(self):
        return self.num_samples


class SubsetRandomSampler(Sampler):
    """The given indices, in a fresh random order each epoch."""

    def __init__(self, indices, generator=None):
        self.indices = np.asarray(list(indices), dtype=np.int64)
        self.generator = generator

    def _epoch_indices(self):
        return self.indices[_rng(self.generator).permutation(len(self.indices))]

    def __iter__(self):
        return iter(self._epoch_indices().tolist())

    def __len__(self):
        return len(self.indices)


class BatchSampler(Sampler):
    """Groups the indices of `sampler` into lists of `batch_size`."""

    def __init__(self, sampler, batch_size, drop_last):
        if isinstance(batch_size, bool) or int(batch_size) != batch_size or batch_size <= 0:
            raise ValueError("BatchSampler: batch_size should be a positive integer, got %r"
                             % (batch_size,))
        if not isinstance(drop_last, bool):
            raise ValueError("BatchSampler: drop_last should be a bool, got %r" % (drop_last,))
        self.sampler, self.batch_size, self.drop_last = sampler, int(batch_size), drop_last

    def __iter__(self):
        for b in self._iter_arrays():
            yield b.tolist() if isinstance(b, np.ndarray) else b

    def _iter_arrays(self):
        # the DataLoader's path: whole-epoch index arrays sliced per batch when the sampler
        # can give them, so a batch of a TensorDataset is one fancy-index per array
        bs = self.batch_size
        epoch = getattr(self.sampler, "_epoch_indices", None)
        if epoch is not None:
            idx = epoch()
            stop = len(idx) - len(idx) % bs if self.drop_last else len(idx)
            for s in range(0, stop, bs):
                yield idx[s:s + bs]
            return
        batch = []
        for i in self.sampler:
            batch.append(i)
            if len(batch) == bs:
                yield batch
                batch = []
        if batch and not self.drop_last:
            yield batch

    def __len__(self):
        n = len(self.sampler)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)


class WeightedRandomSampler(Sampler):
    """num_samples indices in [0, len(weights)), index i drawn with probability proportional to
    weights[i] (with replacement by default; without, each index at most once)."""

    def __init__(self, weights, num_samples, replacement=True, generator=None):
        if isinstance(num_samples, bool) or not isinstance(num_samples, (int, np.integer)) \
                or num_samples <= 0:
            raise ValueError("WeightedRandomSampler: num_samples should be a positive integer, "
                             "got %r" % (num_samples,))
        if not isinstance(replacement, bool):
            raise ValueError("WeightedRandomSampler: replacement should be a bool, got %r"
                             % (replacement,))
        w = np.asarray(weights._data if hasattr(weights, "_data") else weights,
                       dtype=np.float64)
        if w.ndim != 1:
            raise ValueError("WeightedRandomSampler: weights should be a 1-D sequence, got "
                             "shape %s" % (w.shape,))
        if not np.isfinite(w).all() or (w < 0).any() or w.sum() <= 0:
            raise ValueError("WeightedRandomSampler: weights must be finite, non-negative and "
                             "not all zero")
        if not replacement and num_samples > int((w > 0).sum()):
            raise ValueError("WeightedRandomSampler: cannot draw %d samples without replacement "
                             "from %d non-zero weights" % (num_samples, int((w > 0).sum())))
        self.weights, self.num_samples = w, int(num_samples)
        self.replacement, self.generator = replacement, generator

    def _epoch_indices(self):
        g = _rng(self.generator)
        return g.choice(len(self.weights), size=self.num_samples, replace=self.replacement,
                        p=self.weights / self.weights.sum())

    def __iter__(self):
        return iter(self._epoch_indices().tolist())

    def __len__(self):
        return self.num_samples
