"""DistributedDataParallel: one model replica per rank, gradients averaged during backward.

    dist.init_process_group("mpi")
    model = DistributedDataParallel(model)          # rank 0's weights everywhere
    loss_fn(model(x_shard), y_shard).backward()     # .grad = mean over every rank's batch
    optimizer.step()                                # same step on every rank

Each rank sees its own batch of B samples (DistributedSampler); after backward every rank holds
the gradient of the mean loss over all world_size x B samples, so the replicas stay identical
without ever sending weights again.
"""
import contextlib
import hashlib
import weakref

import numpy as np

from ...autograd import is_grad_enabled, sealed
from ...distributed.process_group import _group
from ...distributed._mpi import mpi
from ...distributed.work import Work
from ..modules.module import Module
from .join import Join
from .reducer import Reducer

__all__ = ["DistributedDataParallel"]


class DistributedDataParallel(Module):
    """Wrap `module` for data-parallel training over the default process group.

    bucket_cap_mb: gradients are all-reduced in buckets of about this size (MiB), the first
    bucket as soon as backward has produced all of its gradients.  find_unused_parameters:
    allow parameters that a forward pass does not use (their gradient counts as zero on this
    rank; one unused on every rank keeps its .grad unchanged).  Off by default: an unused
    parameter is then reported as an error at forward, naming it.  broadcast_buffers: copy rank
    0's buffers (e.g. BatchNorm running statistics) to every rank before each training-mode
    forward.  device_ids/output_device exist for torch's signature; dlcore runs on the CPU.
    """

    def __init__(self, module, device_ids=None, output_device=None, dim=0,
                 broadcast_buffers=True, process_group=None, bucket_cap_mb=25.0,
                 find_unused_parameters=False, check_reduction=False,
                 gradient_as_bucket_view=False, static_graph=False):
        super().__init__()
        if not isinstance(module, Module):
            raise TypeError("DistributedDataParallel: module must be a dlcore.nn.Module, got %s"
                            % type(module).__name__)
        if isinstance(module, DistributedDataParallel):
            raise TypeError("DistributedDataParallel: module is already wrapped")
        if device_ids not in (None, [], ["cpu"]) or output_device not in (None, "cpu"):
            raise ValueError("DistributedDataParallel: dlcore runs on the CPU; leave device_ids "
                             "and output_device unset, got %r and %r"
                             % (device_ids, output_device))
        if dim != 0:
            raise ValueError("DistributedDataParallel: the batch is split along dim 0, got "
                             "dim=%r" % (dim,))
        if isinstance(bucket_cap_mb, bool) or not isinstance(bucket_cap_mb, (int, float)) \
                or not bucket_cap_mb > 0:
            raise ValueError("DistributedDataParallel: bucket_cap_mb must be a positive number, "
                             "got %r" % (bucket_cap_mb,))
        pg = _group(process_group, "DistributedDataParallel")
        self.module = module
        self.broadcast_buffers = bool(broadcast_buffers)
        self.find_unused_parameters = bool(find_unused_parameters)
        self.bucket_cap_mb = float(bucket_cap_mb)
        self.require_backward_grad_sync = True
        named = [(n, p) for n, p in module.named_parameters() if p.requires_grad]
        if not named:
            raise RuntimeError("DistributedDataParallel: the module has no parameter that "
                               "requires grad; there is nothing to synchronise")
        for n, p in named:
            owner = p.__dict__.get("_ddp_reducer")
            if owner is not None and owner() is not None:
                raise RuntimeError("DistributedDataParallel: parameter %s already belongs to "
                                   "another live DistributedDataParallel; its gradients would "
                                   "be all-reduced twice" % n)
        # the reducer talks on its own communicator: its buckets can be in flight while user
        # code or SyncBatchNorm run collectives on the group itself
        self._pg = pg
        self._comm_pg = pg.dup()
        self._join = None      # the active join() block, if any
        self._join_pg = None   # join's own communicator, made at the first join()
        self._buffers_cache = None
        self._check_same_model(named)
        self._broadcast_state()
        params = [p for _, p in named]
        self.reducer = Reducer(params, [n for n, _ in named], self._comm_pg,
                               int(self.bucket_cap_mb * 2 ** 20), self.find_unused_parameters)
        for p in params:
            p.__dict__["_ddp_reducer"] = weakref.ref(self.reducer)

    # ---- setup --------------------------------------------------------------------------------
    def _check_same_model(self, named):
        """Every rank must wrap the same architecture: compare a digest of names and shapes."""
        desc = ";".join("%s:%s:%s" % (n, tuple(p.shape), p.dtype) for n, p in named)
        digest = int.from_bytes(hashlib.sha256(desc.encode()).digest()[:7], "little")
        lo_hi = np.array([digest, -digest], dtype=np.int64)
        MPI = mpi()
        req = self._comm_pg.comm.Iallreduce(MPI.IN_PLACE, lo_hi, op=MPI.MAX)
        Work([req], "DistributedDataParallel model check", self._pg.rank(),
             self._pg.timeout).wait()
        if lo_hi[0] != digest or -lo_hi[1] != digest:
            raise RuntimeError("DistributedDataParallel: the ranks wrap different models "
                               "(parameter names, shapes or dtypes differ between ranks); "
                               "this rank has %d parameters: %s"
                               % (len(named), desc[:300]))

    def _state_tensors(self, buffers_only=False):
        if buffers_only:  # read every training step: the list is taken once, at wrapping
            if self._buffers_cache is None:
                self._buffers_cache = list(self.module.buffers())
            return self._buffers_cache
        return list(self.module.parameters()) + list(self.module.buffers())

    def _broadcast_state(self, buffers_only=False, root=0):
        """Rank `root`'s values into every rank's parameters (and buffers), in place: one
        broadcast per dtype of everything packed together."""
        tensors = self._state_tensors(buffers_only)
        if not tensors or self._pg.size() == 1:
            return
        by_dtype = {}
        for t in tensors:
            by_dtype.setdefault(t._data.dtype, []).append(t)
        MPI = mpi()
        packed, reqs = [], []
        for dtype, group in by_dtype.items():
            flat = np.concatenate([t._data.reshape(-1) for t in group])
            packed.append((group, flat))
            reqs.append(self._comm_pg.comm.Ibcast(flat, root=root))
        Work(reqs, "DistributedDataParallel broadcast of rank %d's %s"
             % (root, "buffers" if buffers_only else "parameters and buffers"),
             self._pg.rank(), self._pg.timeout).wait()
        if self._pg.rank() == root:
            return
        for group, flat in packed:
            off = 0
            for t in group:
                n = t._data.size
                src = flat[off:off + n].reshape(t._data.shape)
                if sealed.writable(t._data):
                    t._data[...] = src
                else:
                    t._data = src.copy()
                off += n

    # ---- running --------------------------------------------------------------------------------
    def forward(self, *inputs, **kwargs):
        sync = is_grad_enabled() and self.require_backward_grad_sync
        bcast = self.training and self.broadcast_buffers and self._pg.size() > 1
        root = 0
        if self._join is not None:
            root = self._join.before_forward(sync, bcast)
        if bcast:
            self._broadcast_state(buffers_only=True, root=root)
        out = self.module(*inputs, **kwargs)
        if sync:
            self.reducer.prepare_for_backward(out, joined=self._join is not None)
        else:
            self.reducer.skip()
        return out

    def join(self, divide_by_initial_world_size=True, enable=True,
             throw_on_early_termination=False):
        """A context manager for ranks with different numbers of batches (see
        dlcore.nn.parallel.join): a rank that runs out takes part in the others' remaining
        iterations with zero gradients, and at the end every rank holds the same model.
        divide_by_initial_world_size: average over all ranks (a joined rank counts as zero) or,
        False, over the ranks that still had a batch.  throw_on_early_termination: raise on
        every rank as soon as one runs out instead."""
        return Join(self, divide_by_initial_world_size, enable, throw_on_early_termination)

    @contextlib.contextmanager
    def no_sync(self):
        """Backward passes inside accumulate gradients locally; the first synchronised backward
        after the block all-reduces the accumulated sum."""
        prev = self.require_backward_grad_sync
        self.require_backward_grad_sync = False
        try:
            yield
        finally:
            self.require_backward_grad_sync = prev

    def extra_repr(self):
        return "world_size=%d, bucket_cap_mb=%g, find_unused_parameters=%s" % (
            self._pg.size(), self.bucket_cap_mb, self.find_unused_parameters)
