"""Samplers: which sample indices a DataLoader visits, and in what order."""
import numpy as np

from ..random import rng as _rng

_CHUNK = 1 << 16   # indices drawn at once by the samplers whose epoch length is unbounded


def _chunked_draws(total, draw):
    """draw(k) for k summing to total, at most _CHUNK at a time."""
    left = total
    while left > 0:
        k = min(left, _CHUNK)
        yield draw(k)
        left -= k


def _iter_chunks(chunks):
    for c in chunks:
        yield from c.tolist()

__all__ = ["Sampler", "SequentialSampler", "RandomSampler", "SubsetRandomSampler",
           "BatchSampler", "WeightedRandomSampler"]


class Sampler:
    """Iterates over sample indices.  Subclasses define __iter__ and (usually) __len__.

    A sampler may also define `_epoch_chunks()` yielding one epoch's indices as int arrays
    (or `_epoch_indices()` returning them as one array); BatchSampler then slices those arrays
    instead of looping over Python ints.  Chunks keep memory bounded where an epoch is drawn
    with replacement: num_samples may be far larger than the data (minGPT asks for 1e10).
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

    def _epoch_chunks(self):
        n, k = len(self.data_source), self.num_samples
        g = _rng(self.generator)
        if self.replacement:
            yield from _chunked_draws(k, lambda m: g.integers(0, n, size=m))
            return
        while k > 0 and n:
            perm = g.permutation(n)
            yield perm[:k]
            k -= n

    def __iter__(self):
        return _iter_chunks(self._epoch_chunks())

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
        chunks = getattr(self.sampler, "_epoch_chunks", None)
        if chunks is None and hasattr(self.sampler, "_epoch_indices"):
            def chunks():
                yield self.sampler._epoch_indices()
        if chunks is not None:
            rest = None
            for idx in chunks():
                if rest is not None and len(rest):
                    idx = np.concatenate([rest, idx])
                whole = len(idx) - len(idx) % bs
                for s in range(0, whole, bs):
                    yield idx[s:s + bs]
                rest = idx[whole:]
            if rest is not None and len(rest) and not self.drop_last:
                yield rest
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

    def _epoch_chunks(self):
        g = _rng(self.generator)
        p = self.weights / self.weights.sum()
        if not self.replacement:   # at most len(weights) indices: one draw
            yield g.choice(len(self.weights), size=self.num_samples, replace=False, p=p)
            return
        yield from _chunked_draws(self.num_samples,
                                  lambda m: g.choice(len(self.weights), size=m, p=p))

    def __iter__(self):
        return _iter_chunks(self._epoch_chunks())

    def __len__(self):
        return self.num_samples
