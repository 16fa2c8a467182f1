"""DistributedDataParallel.join(): training on inputs of different lengths per rank.

    with model.join():
        for x, y in loader:            # this rank's batches: their number may differ per rank
            loss_fn(model(x), y).backward()
            opt.step()

Every synchronised iteration is a set of collectives all ranks must issue in the same order.
A rank that runs out of batches leaves its loop and enters join's exit, where it *shadows* the
ranks still training: each training forward inside the block first exchanges one small
message saying which ranks still have a batch and whether this iteration broadcasts buffers
and all-reduces gradients; a rank that has joined answers "not active" and takes its part in
those collectives with zero gradients, until no rank is active.  Then the parameters and
buffers of the highest rank that trained last are broadcast to all (a joined rank skipped the
optimizer steps of the iterations it shadowed).

Gradients are divided by the initial world size by default (a joined rank counts as a zero
gradient, as in torch); divide_by_initial_world_size=False divides by the number of ranks that
still had a batch.  Optimizer state (momentum, Adam's moments) of a joined rank is not
synchronised, as in torch.  Inside the block every training forward through the DDP module
must be followed by its backward (the joined ranks wait for that backward's all-reduce).
"""
import numpy as np

from ...distributed._mpi import mpi
from ...distributed.work import Work


class Join:
    """The context manager returned by DistributedDataParallel.join()."""

    def __init__(self, ddp, divide_by_initial_world_size=True, enable=True,
                 throw_on_early_termination=False):
        self.ddp = ddp
        self.divide_by_initial_world_size = bool(divide_by_initial_world_size)
        self.enable = bool(enable)
        self.throw_on_early_termination = bool(throw_on_early_termination)
        self.last_active = None
        self.iterations = 0   # iterations this rank trained inside the block
        self.shadowed = 0     # iterations it took part in after it had joined

    # ---- entering and leaving --------------------------------------------------------------
    def __enter__(self):
        if not self.enable:
            return self
        ddp = self.ddp
        if ddp._join is not None:
            raise RuntimeError("DistributedDataParallel.join: already inside a join() block")
        for name, m in ddp.module.named_modules():
            if type(m).__name__ == "SyncBatchNorm":
                raise RuntimeError(
                    "DistributedDataParallel.join: the module contains SyncBatchNorm (%s), whose "
                    "collectives a rank without inputs cannot take part in; use BatchNorm "
                    "inside join(), or give every rank the same number of batches"
                    % (name or "the module itself"))
        if ddp._join_pg is None:
            # its own communicator: a forward whose backward never came makes the ranks time
            # out with a message instead of matching unrelated collectives
            ddp._join_pg = ddp._pg.dup()
        ddp._join = self
        return self

    def __exit__(self, exc_type, exc, tb):
        if not self.enable:
            return False
        ddp = self.ddp
        ddp._join = None
        ddp.reducer.divisor = None
        if exc_type is not None:
            return False  # the failure handlers end the job; shadowing now could only hang
        world = ddp._pg.size()
        while True:
            flags = self._exchange(active=False, sync=False, bcast=False)
            active = flags[:world]
            if not active.any():
                break
            if self.throw_on_early_termination:
                self._raise_early(active)
            self.last_active = active
            self.shadowed += 1
            root = int(np.flatnonzero(active)[0])
            if flags[world + 1]:
                ddp._broadcast_state(buffers_only=True, root=root)
            if flags[world]:
                ddp.reducer.shadow()
        if self.last_active is not None:
            # the highest rank that trained in the last iteration holds the trained model (and
            # its buffers, which each rank updated from its own last batch)
            ddp._broadcast_state(root=int(np.flatnonzero(self.last_active)[-1]))
        return False

    # ---- every forward inside the block -------------------------------------------------------
    def before_forward(self, sync, bcast):
        """Called by the DDP forward of a rank that still has a batch; returns the rank whose
        buffers this iteration broadcasts (the lowest active one)."""
        world = self.ddp._pg.size()
        flags = self._exchange(active=True, sync=sync, bcast=bcast)
        active = flags[:world]
        n_active = int(active.sum())
        if self.throw_on_early_termination and n_active < world:
            self._raise_early(active)
        self.last_active = active
        self.iterations += 1
        self.ddp.reducer.divisor = world if self.divide_by_initial_world_size else n_active
        return int(np.flatnonzero(active)[0])

    def _exchange(self, active, sync, bcast):
        """[1 per rank with a batch..., any rank synchronising, any rank broadcasting buffers],
        summed over the ranks."""
        pg = self.ddp._join_pg
        world = pg.size()
        flags = np.zeros(world + 2, dtype=np.int64)
        if active:
            flags[pg.rank()] = 1
            flags[world] = int(bool(sync))
            flags[world + 1] = int(bool(bcast))
        MPI = mpi()
        req = pg.comm.Iallreduce(MPI.IN_PLACE, flags, op=MPI.SUM)
        Work([req], "DistributedDataParallel.join's exchange of which ranks still have inputs",
             pg.rank(), pg.timeout).wait()
        return flags

    def _raise_early(self, active):
        gone = [r for r, a in enumerate(active) if not a]
        raise RuntimeError(
            "DistributedDataParallel.join: rank(s) %s ran out of inputs before the others "
            "(throw_on_early_termination=True); every rank stops here"
            % ", ".join(str(r) for r in gone))
