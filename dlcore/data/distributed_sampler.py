"""DistributedSampler: each rank of a data-parallel job reads its own equal share of a dataset.

Every rank builds the same order (a permutation seeded by seed + epoch, so call set_epoch(e)
at the start of each epoch for a fresh shuffle), pads it by wrapping around to a multiple of
the number of ranks (or drops the tail with drop_last=True), and keeps every
num_replicas-th index from its rank on.  Equal shares matter: a rank with one batch more
would wait in an allreduce that no other rank joins.
"""
import math

import numpy as np

from .. import distributed as dist
from .sampler import Sampler

__all__ = ["DistributedSampler"]


def _int_arg(value, name):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError("DistributedSampler: %s must be an int, got %r" % (name, value))
    return int(value)


class DistributedSampler(Sampler):
    """torch.utils.data.DistributedSampler: num_replicas and rank default to the process
    group's world size and rank (dlcore.distributed.init_process_group first)."""

    def __init__(self, dataset, num_replicas=None, rank=None, shuffle=True, seed=0,
                 drop_last=False):
        if num_replicas is None or rank is None:
            if not dist.is_initialized():
                raise RuntimeError("DistributedSampler: num_replicas and rank default to the "
                                   "process group's; call dlcore.distributed."
                                   "init_process_group() first or pass both")
            num_replicas = dist.get_world_size() if num_replicas is None else num_replicas
            rank = dist.get_rank() if rank is None else rank
        num_replicas, rank = _int_arg(num_replicas, "num_replicas"), _int_arg(rank, "rank")
        if num_replicas < 1:
            raise ValueError("DistributedSampler: num_replicas must be >= 1, got %d"
                             % num_replicas)
        if not 0 <= rank < num_replicas:
            raise ValueError("DistributedSampler: invalid rank %d, rank should be in the "
                             "interval [0, %d]" % (rank, num_replicas - 1))
        self.dataset = dataset
        self.num_replicas, self.rank = num_replicas, rank
        self.shuffle, self.seed, self.drop_last = bool(shuffle), _int_arg(seed, "seed"), \
            bool(drop_last)
        self.epoch = 0
        n = len(dataset)
        if self.drop_last and n % num_replicas:
            self.num_samples = math.ceil((n - num_replicas) / num_replicas)
        else:
            self.num_samples = math.ceil(n / num_replicas)
        self.total_size = self.num_samples * num_replicas

    def set_epoch(self, epoch):
        """The shuffle of epoch `epoch` (the same on every rank, different per epoch)."""
        self.epoch = _int_arg(epoch, "epoch")

    def _epoch_indices(self):
        n = len(self.dataset)
        if self.shuffle:
            order = np.random.default_rng(self.seed + self.epoch).permutation(n)
        else:
            order = np.arange(n)
        if self.drop_last:
            order = order[:self.total_size]
        elif self.total_size > n:
            reps = math.ceil(self.total_size / max(n, 1))
            order = np.tile(order, reps)[:self.total_size]
        return order[self.rank:self.total_size:self.num_replicas]

    def __iter__(self):
        return iter(self._epoch_indices().tolist())

    def __len__(self):
        return self.num_samples
