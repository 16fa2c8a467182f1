"""DataLoader worker processes: what a worker knows about itself (get_worker_info), its setup,
its task queue, and the pool of processes the loader talks to.

Workers start as torch's do: by fork() where the platform has it (Linux), so a script needs no
`if __name__ == "__main__":` guard and the dataset need not be picklable; elsewhere by spawn.
The loop a worker runs is the caller's (`target`): map-style batches (dlcore.data.dataloader)
or stream batches (dlcore.data.iterable_workers).
"""
import multiprocessing
import queue
import random as _pyrandom
import traceback

import numpy as np

class WorkerInfo:
    """What get_worker_info() returns inside a worker process."""

    def __init__(self, id, num_workers, seed, dataset):
        self.id, self.num_workers, self.seed, self.dataset = id, num_workers, seed, dataset

    def __repr__(self):
        return "WorkerInfo(id=%d, num_workers=%d, seed=%d)" % (self.id, self.num_workers,
                                                                self.seed)


_worker_info = None


def get_worker_info():
    """In a DataLoader worker: its WorkerInfo (id, num_workers, seed, dataset); else None."""
    return _worker_info


class _WorkerError:
    """An exception raised in a worker, carried back to the main process as text."""

    def __init__(self, worker_id, where):
        self.worker_id = worker_id
        self.text = traceback.format_exc()
        self.where = where

    def reraise(self):
        raise RuntimeError("DataLoader worker %d raised an exception %s:\n%s"
                           % (self.worker_id, self.where, self.text))


def _worker_start(dataset, worker_id, num_workers, seed, init_fn):
    """A worker's setup: one kernel thread, its seeds, its WorkerInfo, the user's init."""
    global _worker_info
    from ..random import manual_seed
    from ..runtime import set_num_threads
    # workers run side by side: one kernel thread each keeps them from oversubscribing the cores
    set_num_threads(1)
    manual_seed(seed)
    np.random.seed(seed % (2 ** 32))
    _pyrandom.seed(seed)
    _worker_info = WorkerInfo(worker_id, num_workers, seed, dataset)
    if init_fn is not None:
        init_fn(worker_id)


def _worker_tasks(index_queue):
    """The tasks sent to this worker until it is told to stop (or its parent is gone)."""
    parent = multiprocessing.parent_process()
    while True:
        try:
            task = index_queue.get(timeout=1.0)
        except queue.Empty:
            if parent is not None and not parent.is_alive():
                return
            continue
        except (EOFError, OSError):
            return
        if task is None:
            return
        yield task


def _worker_send(result_queue, worker_id, epoch, task_id, data):
    try:
        result_queue.put((epoch, task_id, data))
    except Exception:
        result_queue.put((epoch, task_id, _WorkerError(worker_id, "sending a batch back "
                                                                  "(is it picklable?)")))



_PRELOAD = "dlcore.data.dataloader"


def _default_context():
    """fork where the platform has it (torch's default on Linux), else spawn."""
    if "fork" in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("fork")
    return multiprocessing.get_context("spawn")


def _forkserver_context():
    ctx = multiprocessing.get_context("forkserver")
    # the server imports dlcore once, so forked workers start warm; keep any user preloads
    try:
        import multiprocessing.forkserver as fs
        current = list(getattr(getattr(fs, "_forkserver", None), "_preload_modules", None) or [])
    except ImportError:
        current = []
    if _PRELOAD not in current:
        ctx.set_forkserver_preload(current + [_PRELOAD])
    return ctx


class _WorkerPool:
    """num_workers processes, one index queue each, one shared result queue."""

    def __init__(self, loader, seed, target, extra_args=()):
        ctx_arg = loader.multiprocessing_context
        if ctx_arg is None:
            ctx = _default_context()
        elif ctx_arg == "forkserver":
            ctx = _forkserver_context()
        elif isinstance(ctx_arg, str):
            if ctx_arg not in multiprocessing.get_all_start_methods():
                raise ValueError("DataLoader: multiprocessing_context must be one of %s, got %r"
                                 % (multiprocessing.get_all_start_methods(), ctx_arg))
            ctx = multiprocessing.get_context(ctx_arg)
        else:
            ctx = ctx_arg
        self.result_queue = ctx.Queue()
        self.index_queues, self.workers = [], []
        self.n = loader.num_workers
        self.closed = False
        try:
            for wid in range(self.n):
                iq = ctx.Queue()
                w = ctx.Process(target=target, daemon=True,
                                args=(loader.dataset, iq, self.result_queue, loader.collate_fn,
                                      loader._auto_collation, loader._default_collate, wid,
                                      self.n, seed + wid, loader.worker_init_fn) + extra_args)
                w.start()
                self.index_queues.append(iq)
                self.workers.append(w)
        except Exception as e:
            self.shutdown()
            if isinstance(e, (AttributeError, TypeError)) or "pickl" in str(e).lower():
                raise RuntimeError("DataLoader: could not start worker processes (%s: %s). With "
                                   "num_workers > 0 the dataset, collate_fn and worker_init_fn "
                                   "are sent to spawned processes and must be picklable "
                                   "(module-level functions and classes, no lambdas)"
                                   % (type(e).__name__, e)) from e
            raise

    def put(self, worker, task):
        self.index_queues[worker].put(task)

    def get(self, timeout):
        """One result; raises if a worker died or `timeout` (0 = none) passed."""
        import time
        deadline = None if not timeout else time.monotonic() + timeout
        while True:
            wait = 1.0 if deadline is None else max(0.0, min(1.0, deadline - time.monotonic()))
            try:
                return self.result_queue.get(timeout=wait)
            except queue.Empty:
                pass
            for w in self.workers:
                if w.exitcode is not None:
                    pid, code = w.pid, w.exitcode
                    self.shutdown()
                    raise RuntimeError("DataLoader worker (pid %s) exited unexpectedly with exit "
                                       "code %s" % (pid, code))
            if deadline is not None and time.monotonic() >= deadline:
                self.shutdown()
                raise RuntimeError("DataLoader timed out after %s seconds waiting for a batch"
                                   % timeout)

    def shutdown(self):
        if self.closed:
            return
        self.closed = True
        for iq in self.index_queues:
            try:
                iq.put(None)
            except Exception:
                pass
        for w in self.workers:
            w.join(timeout=5.0)
            if w.is_alive():
                w.terminate()
                w.join(timeout=1.0)
        for q in self.index_queues + [self.result_queue]:
            try:
                q.cancel_join_thread()
                q.close()
            except Exception:
                pass

    def __del__(self):
        try:
            self.shutdown()
        except Exception:
            pass


class EpochIter:
    """What both multi-process epoch iterators (map-style and stream) share: a worker error
    shuts the pool down and re-raises in the parent; the end of the epoch (or the iterator's
    collection) shuts it down unless the loader keeps persistent workers."""

    def __iter__(self):
        return self

    def _fail(self, error):
        self.pool.shutdown()
        self.loader._pool = None
        error.reraise()

    def __del__(self):
        try:
            if not self.loader.persistent_workers:
                self._finish()
        except Exception:
            pass

    def _finish(self):
        if not self.loader.persistent_workers:
            self.pool.shutdown()
            if self.loader._pool is self.pool:
                self.loader._pool = None
