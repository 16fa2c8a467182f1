"""DDP's gradient reducer: buckets of gradients all-reduced while backward is still running.

Parameters are packed, in reverse registration order (roughly the order backward finishes
them), into flat buckets of at most `bucket_cap_mb`.  A hook on each parameter fires every time
autograd adds a gradient contribution to it; a parameter is *ready* once all the contributions
this backward will bring have arrived.  That number is counted per iteration by walking the
graph recorded between the module's inputs and outputs: a weight used twice in forward (shared
embeddings, a cell applied per time step) gets two contributions, and copying it after the
first would send half a gradient.  When every parameter of a bucket is ready its gradients are
copied into the bucket and a non-blocking allreduce starts on it, while autograd goes on with
earlier layers.  Buckets start strictly in index order, so every rank issues the same
collectives in the same order even if readiness differs.  When the last bucket has started,
the reducer waits for all of them, averages, and writes the result back into each .grad.

What autograd gives us is a hook per leaf contribution; it has no "backward finished"
callback.  So the reduction completes inside the hook of the last contribution, and an
iteration whose backward never delivered every expected contribution is reported at the next
forward (the optimizer would otherwise step on unsynchronised gradients unnoticed).
"""
import time
import weakref

import numpy as np

from ...distributed._mpi import mpi
from ...distributed.work import Work
from ...tensor import Tensor


class _Bucket:
    __slots__ = ("index", "members", "offsets", "buffer", "pending", "work")

    def __init__(self, index, members, offsets, buffer):
        self.index, self.members, self.offsets, self.buffer = index, members, offsets, buffer
        self.pending = len(members)
        self.work = None


def _tensors_in(obj, out):
    if isinstance(obj, Tensor):
        out.append(obj)
    elif isinstance(obj, (list, tuple)):
        for o in obj:
            _tensors_in(o, out)
    elif isinstance(obj, dict):
        for o in obj.values():
            _tensors_in(o, out)
    return out


def count_contributions(outputs, index):
    """How many gradient contributions backward from `outputs` brings to each parameter: one
    per recorded use (index maps id(param) -> position)."""
    counts = [0] * len(index)
    stack, seen = [], set()
    for t in _tensors_in(outputs, []):
        if not t.requires_grad:
            continue
        if t._ctx is None:
            i = index.get(id(t))
            if i is not None:  # the module returned a parameter itself
                counts[i] += 1
        else:
            stack.append(t._ctx)
    while stack:
        fn = stack.pop()
        if id(fn) in seen:
            continue
        seen.add(id(fn))
        for p, need in zip(fn.parents, fn.needs_input_grad):
            if not need:
                continue
            ctx = p._ctx
            if ctx is None:
                i = index.get(id(p))
                if i is not None:
                    counts[i] += 1
            elif id(ctx) not in seen:
                stack.append(ctx)
    return counts


def assign_buckets(params, cap_bytes):
    """Buckets as lists of parameter positions: reverse registration order, one dtype per
    bucket, each at most cap_bytes (a larger parameter gets a bucket of its own)."""
    open_by_dtype, closed = {}, []
    for i in reversed(range(len(params))):
        p = params[i]
        key = p._data.dtype
        cur = open_by_dtype.get(key)
        nbytes = p._data.nbytes
        if cur is not None and cur[1] + nbytes > cap_bytes:
            closed.append(cur[0])
            cur = None
        if cur is None:
            cur = open_by_dtype[key] = [[], 0]
        cur[0].append(i)
        cur[1] += nbytes
    closed.extend(c[0] for c in open_by_dtype.values() if c[0])
    # the bucket holding the last-registered parameter first: the order backward readies them
    closed.sort(key=lambda members: -members[0])
    return closed


class Reducer:
    def __init__(self, params, names, pg, bucket_cap_bytes, find_unused_parameters):
        self.params, self.names, self.pg = params, names, pg
        self.world = pg.size()
        self.find_unused = bool(find_unused_parameters)
        self.index = {id(p): i for i, p in enumerate(params)}
        self.buckets = []
        self.where = [None] * len(params)
        for b, members in enumerate(assign_buckets(params, bucket_cap_bytes)):
            offsets, total = [], 0
            for i in members:
                offsets.append(total)
                self.where[i] = (b, total)
                total += params[i]._data.size
            buf = np.zeros(total, dtype=params[members[0]]._data.dtype)
            self.buckets.append(_Bucket(b, members, offsets, buf))
        self.active = False
        # gradients may accumulate locally: the last forward through DDP was under no_sync()
        # or no_grad.  Otherwise a gradient outside a prepared backward (the wrapped module
        # called directly, a second backward after the reduction) would differ between ranks
        self.local_ok = False
        self.expected = None
        self.seen = [0] * len(params)
        self.launch_log = []
        # reduced iterations and seconds spent waiting for buckets at the end of backward (the
        # part of communication that backward did not hide), for profiling
        self.stats = {"iterations": 0, "wait_seconds": 0.0}
        # what the reduced sum is divided by (None: the world size); join() sets it
        self.divisor = None
        me = weakref.ref(self)
        for i, p in enumerate(params):
            p.register_hook(_make_hook(me, i))

    # ---- per iteration ---------------------------------------------------------------------
    def prepare_for_backward(self, outputs, joined=False):
        """Called after each forward that will be followed by a synchronised backward
        (joined: inside DistributedDataParallel.join(), where ranks without inputs wait for it)."""
        self._check_previous_iteration()
        self.local_ok = False
        counts = count_contributions(outputs, self.index)
        unused = [i for i, c in enumerate(counts) if c == 0]
        if len(unused) == len(counts) and joined:
            raise RuntimeError(
                "DistributedDataParallel.join: a synchronised forward used no parameter, so no "
                "backward would all-reduce the gradients the joined ranks are waiting for; run "
                "such forwards under dl.no_grad() or no_sync()")
        if len(unused) == len(counts):  # nothing to differentiate: not a training forward
            self.active = False
            self.local_ok = True
            return
        if unused and not self.find_unused:
            raise RuntimeError(
                "DistributedDataParallel: parameters %s were not used to compute the module's "
                "outputs, so no rank would send their gradients and the reduction could never "
                "finish; pass find_unused_parameters=True to DistributedDataParallel (their "
                "gradient then counts as zero on this rank), or remove them from the module"
                % self._list_names(unused))
        self.expected = counts
        self.unused = unused
        self.seen = [0] * len(counts)
        self.first = True
        self.next_bucket = 0
        self.in_flight = []
        self.used_work = None
        self.used = None
        # (bucket index, gradient contributions seen when it started): this iteration's
        # overlap, for tests and docs
        self.launch_log = []
        for b in self.buckets:
            b.pending = len(b.members)
            b.work = None
        self.active = True

    def skip(self):
        """A forward not followed by a synchronised backward (no_sync, no_grad)."""
        self._check_previous_iteration()
        self.active = False
        self.local_ok = True

    def _check_previous_iteration(self):
        if not self.active or not any(self.seen):
            return  # no backward ran since the last forward: nothing was started
        missing = [i for i, (s, e) in enumerate(zip(self.seen, self.expected)) if s < e]
        self.active = False
        raise RuntimeError(
            "DistributedDataParallel: the previous backward did not deliver every gradient the "
            "forward pass promised (parameters %s got fewer contributions than uses), so their "
            "buckets were never all-reduced and those gradients differ between ranks.  Every output of the module must take part in the loss; otherwise "
            "pass find_unused_parameters=True and return only the outputs you use"
            % self._list_names(missing))

    def _list_names(self, positions, limit=8):
        names = [self.names[i] for i in positions[:limit]]
        more = len(positions) - len(names)
        return ", ".join(names) + (" and %d more" % more if more > 0 else "")

    # ---- called from the autograd hooks ------------------------------------------------------
    def on_contribution(self, i):
        if not self.active:
            if not self.local_ok:
                raise RuntimeError(
                    "DistributedDataParallel: parameter %s received a gradient outside a "
                    "synchronised backward (after this iteration's all-reduce, or from a "
                    "forward that did not go through the DistributedDataParallel module), so it "
                    "would differ between ranks.  Call the DDP module, not .module, and use "
                    "parameters only inside its forward (a loss term on model parameters "
                    "belongs in forward's outputs); one backward per forward; no_sync() for "
                    "local accumulation" % self.names[i])
            return
        if self.first:
            self.first = False
            self._start_iteration()
        seen = self.seen[i] + 1
        self.seen[i] = seen
        expected = self.expected[i]
        if seen > expected:
            raise RuntimeError(
                "DistributedDataParallel: parameter %s received gradient contribution %d but the "
                "module's forward used it only %d time(s); its bucket has already been "
                "all-reduced.  Use parameters only inside the wrapped module's forward (a loss "
                "term on model parameters belongs in forward's outputs)"
                % (self.names[i], seen, expected))
        if seen == expected:
            self._mark_ready(i)
        elif self.in_flight:
            self._progress()

    def _start_iteration(self):
        # which parameters this rank uses, so one used by no rank keeps a grad of None
        if self.find_unused:
            used = np.ones(len(self.params), dtype=np.uint8)
            used[self.unused] = 0
            comm = self.pg.comm
            req = comm.Iallreduce(mpi().IN_PLACE, used, op=mpi().MAX)
            self.used = used
            self.used_work = Work([req], "DistributedDataParallel unused-parameter map",
                                  self.pg.rank(), self.pg.timeout)
            for i in self.unused:
                self._mark_ready(i)

    def _mark_ready(self, i):
        b, off = self.where[i]
        bucket = self.buckets[b]
        p = self.params[i]
        dst = bucket.buffer[off:off + p._data.size]
        if p.grad is None:
            dst[...] = 0
        else:
            np.copyto(dst, p.grad._data.reshape(-1))
        bucket.pending -= 1
        if bucket.pending == 0:
            self._launch_ready()

    def _launch_ready(self):
        MPI = mpi()
        while self.next_bucket < len(self.buckets):
            bucket = self.buckets[self.next_bucket]
            if bucket.pending:
                break
            req = self.pg.comm.Iallreduce(MPI.IN_PLACE, bucket.buffer, op=MPI.SUM)
            bucket.work = Work([req], "DistributedDataParallel gradient bucket %d" % bucket.index,
                               self.pg.rank(), self.pg.timeout)
            self.in_flight.append(bucket.work)
            self.launch_log.append((bucket.index, sum(self.seen)))
            self.next_bucket += 1
        if self.next_bucket == len(self.buckets):
            self._finish()
        else:
            self._progress()

    def shadow(self):
        """A joined rank's part in an iteration it has no batch for: the collectives the ranks
        still training issue (the used-parameter map, then every bucket in index order), with
        zero gradients."""
        MPI = mpi()
        comm, reqs = self.pg.comm, []
        if self.find_unused:
            reqs.append(comm.Iallreduce(MPI.IN_PLACE, np.zeros(len(self.params), np.uint8),
                                        op=MPI.MAX))
        for bucket in self.buckets:
            bucket.buffer[...] = 0
            reqs.append(comm.Iallreduce(MPI.IN_PLACE, bucket.buffer, op=MPI.SUM))
        Work(reqs, "DistributedDataParallel.join: a joined rank's share of the gradient "
             "all-reduce", self.pg.rank(), self.pg.timeout).wait()

    def _progress(self):
        # MPI moves a non-blocking collective forward only inside MPI calls: poke the oldest
        while self.in_flight and self.in_flight[0].is_completed():
            self.in_flight.pop(0)

    def _finish(self):
        t0 = time.perf_counter()
        for bucket in self.buckets:
            bucket.work.wait()
        if self.used_work is not None:
            self.used_work.wait()
        self.stats["wait_seconds"] += time.perf_counter() - t0
        self.stats["iterations"] += 1
        scale = 1.0 / (self.divisor or self.world)
        for bucket in self.buckets:
            bucket.buffer *= scale
            for i, off in zip(bucket.members, bucket.offsets):
                p = self.params[i]
                if self.used is not None and not self.used[i]:
                    continue  # no rank used it: its gradient stays as it was (None)
                avg = bucket.buffer[off:off + p._data.size].reshape(p._data.shape)
                if p.grad is None:  # unused here, used elsewhere
                    p.grad = Tensor._wrap(avg.copy(), False)
                else:
                    p.grad._data[...] = avg
        self.active = False
        self.in_flight = []


def _make_hook(reducer_ref, i):
    def ddp_gradient_ready(grad):
        r = reducer_ref()
        if r is not None:
            r.on_contribution(i)
    return ddp_gradient_ready
