"""Work: the handle of a collective or point-to-point message that is under way.

Waiting polls MPI (each test also drives the transfer forward) instead of blocking inside
MPI_Wait: a blocked MPI_Wait spins a core at 100% and cannot be interrupted, while polling lets
the wait give up after the group's timeout with an error that says what it was waiting for,
and sleeps between polls once the other side is clearly not there yet.
"""
import time

from ._mpi import mpi

__all__ = ["Work", "DistributedTimeoutError"]

_SPIN_S = 2e-4        # poll without sleeping this long: most collectives finish within it
_MAX_SLEEP_S = 1e-3   # then sleep, doubling from 20 µs up to this between polls


class DistributedTimeoutError(RuntimeError):
    """A collective or message did not complete within the process group's timeout."""


class Work:
    """Returned by a collective called with async_op=True; `wait()` blocks until it is done."""

    def __init__(self, requests, what, rank, timeout, on_complete=None, status=None):
        self._requests = list(requests)
        self._what = what
        self._rank = rank
        self._timeout = timeout
        self._on_complete = on_complete
        self._status = status
        self._done = not self._requests
        if self._done:
            self._finish()

    def _finish(self):
        self._done = True
        self._requests = []
        cb, self._on_complete = self._on_complete, None
        if cb is not None:
            cb()

    def _test(self):
        reqs = self._requests
        if len(reqs) == 1:
            done = reqs[0].Test(self._status) if self._status is not None else reqs[0].Test()
        else:
            done = mpi().Request.Testall(reqs)
        if done:
            self._finish()
        return done

    def is_completed(self):
        """True once the operation has finished (this also drives it forward)."""
        return self._done or self._test()

    def is_success(self):
        return self._done

    def wait(self, timeout=None):
        """Block until done; raise DistributedTimeoutError after `timeout` seconds (default: the
        process group's timeout).  Returns True, as torch's Work.wait does."""
        if self._done:
            return True
        limit = self._timeout if timeout is None else float(timeout)
        start = time.monotonic()
        sleep = 2e-5
        while not self._test():
            waited = time.monotonic() - start
            if waited > limit:
                raise DistributedTimeoutError(
                    "dlcore.distributed: %s on rank %d did not complete within %.0f s; another "
                    "rank has failed, stopped calling collectives, or is running a different "
                    "one (every rank must issue the same collectives in the same order)"
                    % (self._what, self._rank, limit))
            if waited > _SPIN_S:
                time.sleep(sleep)
                sleep = min(sleep * 2, _MAX_SLEEP_S)
        return True

    def source(self):
        """The sender's rank, for a finished irecv."""
        if self._status is None:
            raise RuntimeError("Work.source: only a receive has a source")
        self.wait()
        return self._status.Get_source()

    def __repr__(self):
        return "Work(%s, %s)" % (self._what, "completed" if self._done else "pending")
