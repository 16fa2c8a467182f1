"""SyncBatchNorm: batch normalization whose batch is every rank's samples together.

Under DistributedDataParallel each rank sees B samples; plain BatchNorm would normalise with
the statistics of those B, so 2 ranks x B would train a different model from 1 process x 2B
(and small per-rank batches give noisy statistics).  Here forward all-reduces per-channel sums
(first the sum, then the sum of squared deviations from the global mean: two passes, so a large
mean does not cancel away the variance), and backward all-reduces the two per-channel sums that
the input gradient needs.  The weight and bias gradients stay local: DDP averages them.

The arithmetic is NumPy (float64 statistics), not the fused C kernel of BatchNorm2d: the
channel sums must leave the process between the passes.  Outside training, or with one rank,
it is exactly BatchNorm.
"""
import numpy as np

from ...autograd import Function
from ...distributed import process_group as _pgmod
from ...distributed._mpi import mpi
from ...distributed.work import Work
from ...ops.batchnorm import check_batch_norm_input
from ..modules.batchnorm import _BatchNorm
from ...dtypes import is_floating

__all__ = ["SyncBatchNorm"]


def _allreduce_sum(pg, arr, what):
    MPI = mpi()
    req = pg.comm.Iallreduce(MPI.IN_PLACE, arr, op=MPI.SUM)
    Work([req], what, pg.rank(), pg.timeout).wait()
    return arr


def _channel_sum(a):
    """Per-channel sum of (N, C, L) in float64 (float32 partial sums along contiguous L)."""
    return a.sum(axis=2).sum(axis=0, dtype=np.float64)


def _channel_dot(a, b):
    return np.einsum("ncl,ncl->nc", a, b).sum(axis=0, dtype=np.float64)


class SyncBatchNormFn(Function):
    """x (N, C, L); w, b (C,) or None.  Statistics over every rank's (N, L) samples."""

    def forward(self, x, w=None, b=None, running_mean=None, running_var=None, momentum=0.1,
                eps=1e-5, pg=None):
        shape = x.shape
        x3 = x.reshape(shape[0], shape[1], -1)
        C = shape[1]
        sums = np.empty(C + 1, dtype=np.float64)
        sums[:C] = _channel_sum(x3)
        sums[C] = x3.shape[0] * x3.shape[2]
        _allreduce_sum(pg, sums, "SyncBatchNorm forward (sum)")
        count = sums[C]
        if count <= 1:
            raise ValueError("SyncBatchNorm: expected more than 1 value per channel over all "
                             "ranks when training, got %d" % count)
        mean = sums[:C] / count
        centred = x3 - mean.astype(x.dtype)[None, :, None]
        sq = _channel_dot(centred, centred)
        _allreduce_sum(pg, sq, "SyncBatchNorm forward (variance)")
        var = sq / count
        invstd = 1.0 / np.sqrt(var + eps)
        # y = (x - mean) * invstd * w + b, as one scale and one shift per channel
        scale = invstd if w is None else invstd * w
        y = centred
        y *= scale.astype(x.dtype)[None, :, None]
        if b is not None:
            y += b[None, :, None]
        if running_mean is not None:
            running_mean *= 1.0 - momentum
            running_mean += (momentum * mean).astype(running_mean.dtype)
            running_var *= 1.0 - momentum
            running_var += (momentum * var * count / (count - 1)).astype(running_var.dtype)
        if self.requires_grad:
            self.x3, self.mean, self.invstd, self.scale = x3, mean, invstd, scale
            self.count, self.pg, self.shape = count, pg, shape
        return y.reshape(shape)

    def backward(self, g):
        x3 = self.x3
        g3 = g.reshape(x3.shape)
        C = x3.shape[1]
        centred = x3 - self.mean.astype(x3.dtype)[None, :, None]
        local = np.empty(2 * C, dtype=np.float64)
        local[:C] = _channel_sum(g3)                              # sum g
        local[C:] = _channel_dot(g3, centred) * self.invstd       # sum g * xhat
        need = self.needs_input_grad
        gb = local[:C].astype(g.dtype) if len(need) > 2 and need[2] else None
        gw = local[C:].astype(g.dtype) if len(need) > 1 and need[1] else None
        gx = None
        if need[0]:
            total = _allreduce_sum(self.pg, local.copy(), "SyncBatchNorm backward")
            mean_g, mean_gxhat = total[:C] / self.count, total[C:] / self.count
            # gx = scale * (g - mean(g) - xhat * mean(g * xhat)), xhat = centred * invstd
            gx = g3 * self.scale.astype(g.dtype)[None, :, None]
            centred *= (self.scale * self.invstd * mean_gxhat).astype(g.dtype)[None, :, None]
            gx -= centred
            gx -= (self.scale * mean_g).astype(g.dtype)[None, :, None]
            gx = gx.reshape(self.shape)
        return gx, gw, gb


class SyncBatchNorm(_BatchNorm):
    """BatchNorm over (N, C, ...) inputs with statistics shared across the process group
    (torch.nn.SyncBatchNorm).  Same parameters, buffers and state_dict keys as BatchNorm."""

    _dims = (2, 3, 4, 5)

    def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=True,
                 track_running_stats=True, process_group=None, device=None, dtype=None):
        super().__init__(num_features, eps, momentum, affine, track_running_stats, device, dtype)
        self.process_group = process_group

    def _sync_group(self):
        if not self.training or not _pgmod.is_initialized():
            return None
        pg = _pgmod._group(self.process_group, "SyncBatchNorm")
        return pg if pg.size() > 1 else None

    def forward(self, x):
        pg = self._sync_group()
        if pg is None:
            return super().forward(x)
        check_batch_norm_input(type(self).__name__, x, self._dims, self.num_features)
        if not is_floating(x.dtype):
            raise TypeError("SyncBatchNorm: expected a floating-point input, got %s" % x.dtype)
        factor = 0.0 if self.momentum is None else self.momentum
        if self.track_running_stats and self.num_batches_tracked is not None:
            self.num_batches_tracked._data[...] += 1
            if self.momentum is None:
                factor = 1.0 / float(self.num_batches_tracked._data)
        track = self.track_running_stats and self.running_mean is not None
        args = [x, self.weight, self.bias]
        while args and args[-1] is None:
            args.pop()
        return SyncBatchNormFn.apply(
            *args, running_mean=self.running_mean._data if track else None,
            running_var=self.running_var._data if track else None, momentum=float(factor),
            eps=self.eps, pg=pg)

    @classmethod
    def convert_sync_batchnorm(cls, module, process_group=None):
        """Replace every BatchNorm1d/2d in `module` by a SyncBatchNorm holding the same
        parameters and buffers (so an optimizer built before still updates them)."""
        if isinstance(module, _BatchNorm) and not isinstance(module, SyncBatchNorm):
            sync = cls(module.num_features, module.eps, module.momentum, module.affine,
                       module.track_running_stats, process_group)
            for name in ("weight", "bias"):
                sync._parameters[name] = module._parameters[name]
            for name in ("running_mean", "running_var", "num_batches_tracked"):
                sync._buffers[name] = module._buffers[name]
            object.__setattr__(sync, "training", module.training)
            return sync
        for name, child in list(module._modules.items()):
            if child is not None:
                module._modules[name] = cls.convert_sync_batchnorm(child, process_group)
        return module
