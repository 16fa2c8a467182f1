"""Work: the handle of a collective or point-to-point message that is under way.

Waiting polls MPI instead of blocking inside MPI_Wait, so that the wait can give up after the
group's timeout with an error that says what it was waiting for (MPI_Wait cannot be
interrupted).  Each test also drives the transfer forward: MPI moves a non-blocking collective
on only inside MPI calls, one stage per call, so polls must come often (sleeping between
polls starved the transfers: a 1 MB allreduce took 10x longer).  The waiter polls back to back
for 0.2 ms, then yields the core between polls: on an idle machine a yield returns at once, so
this is a spin; on a busy one it lets the rank we are waiting for run (measured on 2 shared
cores: a 20 ms spin burnt 3-4 ms of CPU per DDP step and lowered 2-rank throughput).  After a
second without completion (another rank is evaluating or writing a checkpoint) it sleeps
between polls.
"""
import os
import time

from ._mpi import mpi

__all__ = ["Work", "DistributedTimeoutError"]

_SPIN_S = 2e-4        # poll back to back this long,
_YIELD_S = 1.0        # then yield the core between polls until this,
_MAX_SLEEP_S = 1e-3   # then sleep between polls, doubling from 50 µs up to this
_yield = getattr(os, "sched_yield", lambda: time.sleep(0))


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
        sleep = 5e-5
        test, polls, pause = self._test, 0, None
        while not test():
            if pause is not None:
                pause()
            polls += 1
            if polls & 63:  # read the clock every 64 polls: a poll is a microsecond
                continue
            waited = time.monotonic() - start
            if waited > limit:
                raise DistributedTimeoutError(
                    "dlcore.distributed: %s on rank %d did not complete within %.0f s; another "
                    "rank has failed, stopped calling collectives, or is running a different "
                    "one (every rank must issue the same collectives in the same order)"
                    % (self._what, self._rank, limit))
            if waited > _YIELD_S:
                time.sleep(sleep)
                sleep = min(sleep * 2, _MAX_SLEEP_S)
                polls = -1  # read the clock after every sleep
            elif waited > _SPIN_S:
                pause = _yield
        return True

    def source(self):
        """The sender's rank, for a finished irecv."""
        if self._status is None:
            raise RuntimeError("Work.source: only a receive has a source")
        self.wait()
        return self._status.Get_source()

    def __repr__(self):
        return "Work(%s, %s)" % (self._what, "completed" if self._done else "pending")
