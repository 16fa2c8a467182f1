"""DataLoader worker processes for an IterableDataset, as torch runs them.

Each worker iterates its own copy of the dataset (so, unless the dataset splits its stream
with get_worker_info(), every sample comes once per worker -- torch's behaviour too) and
batches it itself. The loader asks the workers for batches in turn, 0, 1, ..., 0, 1, ...,
and yields them in the order asked; a worker whose stream has ended answers so, drops out of
the turn, and its request is passed to the next worker still running.
"""
from . import iterable as _iterable
from . import worker_pool as _dl


class _StreamEnded:
    """A worker's answer once its stream is exhausted."""


def _stream_worker_loop(dataset, index_queue, result_queue, collate_fn, auto_collation,
                        default_fn, worker_id, num_workers, seed, init_fn, batch_size, drop_last):
    try:
        _dl._worker_start(dataset, worker_id, num_workers, seed, init_fn)
    except Exception:
        result_queue.put((-1, -1, _dl._WorkerError(worker_id, "in worker_init_fn / setup")))
        return
    epoch_now, batches = None, iter(())
    for epoch, task_id, _ in _dl._worker_tasks(index_queue):
        if epoch != epoch_now:  # a new epoch (persistent workers): the stream starts again
            epoch_now = epoch
            batches = _iterable.iterable_batches(dataset, batch_size, drop_last, collate_fn)
        try:
            data = next(batches)
        except StopIteration:
            data = _StreamEnded()
        except Exception:
            data = _dl._WorkerError(worker_id, "while reading the stream")
        _dl._worker_send(result_queue, worker_id, epoch, task_id, data)


def start_pool(loader, seed):
    return _dl._WorkerPool(loader, seed, target=_stream_worker_loop,
                           extra_args=(loader.batch_size, loader.drop_last))


class StreamIter(_dl.EpochIter):
    """One epoch of batches from the workers' streams."""

    def __init__(self, loader, pool, epoch):
        self.loader, self.pool, self.epoch = loader, pool, epoch
        self.running = [True] * pool.n
        self.next_worker = 0
        self.sent = self.received = 0
        self.asked = {}    # task id -> worker
        self.pending = {}  # task id -> answer not yet yielded
        for _ in range(loader.prefetch_factor * pool.n):
            self._ask_next()

    def _ask_next(self):
        for _ in range(self.pool.n):
            w = self.next_worker
            self.next_worker = (w + 1) % self.pool.n
            if self.running[w]:
                self.pool.put(w, (self.epoch, self.sent, None))
                self.asked[self.sent] = w
                self.sent += 1
                return

    def __next__(self):
        while True:
            if self.received >= self.sent:
                self._finish()
                raise StopIteration
            while self.received not in self.pending:
                epoch, task_id, data = self.pool.get(self.loader.timeout)
                if isinstance(data, _dl._WorkerError) and epoch == -1:
                    self._fail(data)
                if epoch == self.epoch:
                    self.pending[task_id] = data
            data = self.pending.pop(self.received)
            worker = self.asked.pop(self.received)
            self.received += 1
            if isinstance(data, _StreamEnded):
                self.running[worker] = False
                self._ask_next()
                continue
            if isinstance(data, _dl._WorkerError):
                self._fail(data)
            self._ask_next()
            return data

