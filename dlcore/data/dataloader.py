"""DataLoader: batches of a dataset, in order or shuffled, in this process or in worker processes.

Workers start as torch's do: by fork() where the platform has it (Linux), so a script needs no
`if __name__ == "__main__":` guard and the dataset need not be picklable; elsewhere by spawn.
A fork()ed child of a process that has run an OpenMP region of gcc's libgomp would hang in its
first multi-threaded region, so dlcore.runtime registers an at-fork handler that puts the
child's kernels on one thread (workers load and collate data; they need no kernel threads).
`multiprocessing_context="spawn"` or `"forkserver"` (or a context object) picks another start
method; those pickle the dataset, collate_fn and worker_init_fn to the workers.
"""
import copy
import numbers

import numpy as np

from ..random import rng as _rng
from ..tensor import Tensor
from .collate import default_collate, default_convert
from .dataset import Subset, TensorDataset
from . import iterable as _iterable, iterable_workers
from .worker_pool import (EpochIter, WorkerInfo, _WorkerError, _WorkerPool, _worker_send,  # noqa: F401
                          _worker_start, _worker_tasks, get_worker_info)
from .sampler import BatchSampler, RandomSampler, SequentialSampler

__all__ = ["DataLoader", "get_worker_info", "WorkerInfo"]


# ---- fetching one batch ----------------------------------------------------------------------
def _resolve_arrays(dataset):
    """(arrays, index_map) when `dataset` is a TensorDataset or a chain of Subsets of one."""
    index_map = None
    while isinstance(dataset, Subset):
        idx = np.asarray(dataset.indices, dtype=np.intp)
        index_map = idx if index_map is None else idx[index_map]
        dataset = dataset.dataset
    if type(dataset) is TensorDataset:
        return dataset.arrays, index_map
    return None


class _Fetcher:
    """indices -> batch (auto-collation) or index -> converted sample (batch_size=None)."""

    def __init__(self, dataset, collate_fn, auto_collation, default_collate_fn):
        self.dataset, self.collate_fn, self.auto_collation = dataset, collate_fn, auto_collation
        self.fast = _resolve_arrays(dataset) if (auto_collation and default_collate_fn) else None

    def __call__(self, indices):
        if not self.auto_collation:
            return self.collate_fn(self.dataset[indices])
        if self.fast is not None:
            arrays, index_map = self.fast
            idx = np.asarray(indices, dtype=np.intp)
            limit = len(arrays[0]) if index_map is None else len(index_map)
            if idx.size and (idx.min() < 0 or idx.max() >= limit):
                raise IndexError("DataLoader: sampler produced an index out of range for a "
                                 "dataset of %d samples" % limit)
            if index_map is not None:
                idx = index_map[idx]
            return tuple(Tensor._wrap(a[idx]) for a in arrays)
        if isinstance(indices, np.ndarray):
            indices = indices.tolist()
        return self.collate_fn([self.dataset[i] for i in indices])


# ---- workers: map-style batches ------------------------------------------------------------
def _worker_loop(dataset, index_queue, result_queue, collate_fn, auto_collation, default_fn,
                 worker_id, num_workers, seed, init_fn):
    try:
        _worker_start(dataset, worker_id, num_workers, seed, init_fn)
        fetch = _Fetcher(dataset, collate_fn, auto_collation, default_fn)
    except Exception:
        result_queue.put((-1, -1, _WorkerError(worker_id, "in worker_init_fn / setup")))
        return
    for epoch, task_id, indices in _worker_tasks(index_queue):
        try:
            data = fetch(indices)
        except Exception:
            data = _WorkerError(worker_id, "while fetching a batch")
        _worker_send(result_queue, worker_id, epoch, task_id, data)


class _MultiProcessIter(EpochIter):
    """One epoch over worker processes; batches come back in sampler order."""

    def __init__(self, loader, pool, epoch):
        self.loader, self.pool, self.epoch = loader, pool, epoch
        self.batches = iter(loader._index_batches())
        self.sent = self.received = 0
        self.pending = {}
        self.exhausted = False
        for _ in range(loader.prefetch_factor * pool.n):
            self._put_next()

    def _put_next(self):
        if self.exhausted:
            return
        try:
            indices = next(self.batches)
        except StopIteration:
            self.exhausted = True
            return
        self.pool.put(self.sent % self.pool.n, (self.epoch, self.sent, indices))
        self.sent += 1

    def __next__(self):
        if self.received >= self.sent:
            self._finish()
            raise StopIteration
        while self.received not in self.pending:
            epoch, task_id, data = self.pool.get(self.loader.timeout)
            if isinstance(data, _WorkerError) and epoch == -1:
                self.pool.shutdown()
                data.reraise()
            if epoch == self.epoch:
                self.pending[task_id] = data
        data = self.pending.pop(self.received)
        self.received += 1
        self._put_next()
        if isinstance(data, _WorkerError):
            self._fail(data)
        return data


# ---- the loader ------------------------------------------------------------------------------
class DataLoader:
    """Iterate over `dataset` in batches (PyTorch's DataLoader arguments and behaviour).

    batch_size   samples per batch (None: no batching, samples are yielded one by one)
    shuffle      a new random order each epoch, drawn from `generator` (a dl.Generator) or from
                 the global stream that dl.manual_seed seeds
    drop_last    drop the last incomplete batch
    sampler / batch_sampler   custom index order / custom batches
    collate_fn   list of samples -> batch (default: default_collate, which stacks arrays,
                 Tensors and numbers into Tensors and keeps tuples/dicts/lists)
    num_workers  worker processes (0: load in this process), started with fork on Linux and
                 spawn elsewhere, as torch's (or the given `multiprocessing_context`: 'fork',
                 'spawn' or 'forkserver', see above); batches come back in the same
                 order and with the same content as with num_workers=0
    pin_memory   accepted for compatibility; no effect on the CPU

    A TensorDataset (or a Subset of one) with the default collate is batched by indexing each
    array once per batch, not sample by sample.
    """

    def __init__(self, dataset, batch_size=1, shuffle=False, sampler=None, batch_sampler=None,
                 num_workers=0, collate_fn=None, pin_memory=False, drop_last=False, timeout=0,
                 worker_init_fn=None, multiprocessing_context=None, generator=None, *,
                 prefetch_factor=None, persistent_workers=False):
        self._iterable = isinstance(dataset, _iterable.IterableDataset)
        if self._iterable:  # a stream: no sampler; batches of the samples in stream order
            _iterable.check_loader_args(shuffle, sampler, batch_sampler)
        elif not hasattr(dataset, "__getitem__") or not hasattr(dataset, "__len__"):
            raise TypeError("DataLoader: dataset must define __getitem__ and __len__ (a map-style "
                            "dataset), got %s" % type(dataset).__name__)
        if isinstance(num_workers, bool) or not isinstance(num_workers, numbers.Integral) \
                or num_workers < 0:
            raise ValueError("DataLoader: num_workers must be a non-negative integer, got %r"
                             % (num_workers,))
        if timeout < 0:
            raise ValueError("DataLoader: timeout must be non-negative, got %r" % (timeout,))
        if num_workers == 0 and prefetch_factor is not None:
            raise ValueError("DataLoader: prefetch_factor needs num_workers > 0")
        if persistent_workers and num_workers == 0:
            raise ValueError("DataLoader: persistent_workers needs num_workers > 0")
        if sampler is not None and shuffle:
            raise ValueError("DataLoader: sampler option is mutually exclusive with shuffle")
        if batch_sampler is not None:
            if batch_size != 1 or shuffle or sampler is not None or drop_last:
                raise ValueError("DataLoader: batch_sampler option is mutually exclusive with "
                                 "batch_size, shuffle, sampler, and drop_last")
            batch_size, drop_last = None, False
        elif batch_size is None and drop_last:
            raise ValueError("DataLoader: batch_size=None (no batching) is incompatible with "
                             "drop_last")
        if sampler is None and not self._iterable:
            sampler = (RandomSampler(dataset, generator=generator) if shuffle
                       else SequentialSampler(dataset))
        if batch_size is not None and batch_sampler is None and not self._iterable:
            batch_sampler = BatchSampler(sampler, batch_size, bool(drop_last))
        self.dataset = dataset
        self.batch_size, self.drop_last = batch_size, bool(drop_last)
        self.sampler, self.batch_sampler = sampler, batch_sampler
        self.num_workers = int(num_workers)
        self.prefetch_factor = 2 if prefetch_factor is None else int(prefetch_factor)
        if self.prefetch_factor < 1:
            raise ValueError("DataLoader: prefetch_factor must be >= 1, got %r"
                             % (prefetch_factor,))
        self._auto_collation = batch_sampler is not None or (self._iterable and
                                                             batch_size is not None)
        self._default_collate = collate_fn is None
        if collate_fn is None:
            collate_fn = default_collate if self._auto_collation else default_convert
        self.collate_fn = collate_fn
        self.pin_memory = pin_memory
        self.timeout = timeout
        self.worker_init_fn = worker_init_fn
        self.multiprocessing_context = multiprocessing_context
        self.generator = generator
        self.persistent_workers = bool(persistent_workers)
        self._pool = None
        self._epoch = 0

    def _index_batches(self):
        if self._auto_collation:
            it = getattr(self.batch_sampler, "_iter_arrays", None)
            return it() if it is not None else iter(self.batch_sampler)
        return iter(self.sampler)

    def _worker_seed(self):
        # derived from the shuffle generator's state without drawing from it, so that the
        # batch order is the same whether or not workers are used
        peek = copy.deepcopy(_rng(self.generator))
        return int(peek.integers(0, 2 ** 62)) + self._epoch * 1000003

    def __iter__(self):
        self._epoch += 1
        if self._iterable and self.num_workers == 0:
            return _iterable.iterable_batches(self.dataset, self.batch_size, self.drop_last,
                                              self.collate_fn)
        if self._iterable:
            if self._pool is None or self._pool.closed:
                self._pool = iterable_workers.start_pool(self, self._worker_seed())
            return iterable_workers.StreamIter(self, self._pool, self._epoch)
        if self.num_workers == 0:
            return self._single_process_iter()
        if self._pool is None or self._pool.closed:
            self._pool = _WorkerPool(self, self._worker_seed(), _worker_loop)
        return _MultiProcessIter(self, self._pool, self._epoch)

    def _single_process_iter(self):
        fetch = _Fetcher(self.dataset, self.collate_fn, self._auto_collation,
                         self._default_collate)
        for indices in self._index_batches():
            yield fetch(indices)

    def __len__(self):
        if self._iterable:
            return _iterable.iterable_len(self.dataset, self.batch_size, self.drop_last)
        if self._auto_collation:
            return len(self.batch_sampler)
        return len(self.sampler)

    def __del__(self):
        pool = self.__dict__.get("_pool")
        if pool is not None:
            pool.shutdown()

    def __getstate__(self):
        state = self.__dict__.copy()
        state["_pool"] = None
        return state

