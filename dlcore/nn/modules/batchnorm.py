"""BatchNorm1d / BatchNorm2d with PyTorch's parameters, buffers and state_dict keys."""
import numbers

import numpy as np

from ...tensor import _check_device, get_default_dtype
from ...ops.batchnorm import batch_norm, check_batch_norm_input
from .module import Module
from .norm_params import register_affine, register_running_stats, reset_affine

__all__ = ["BatchNorm1d", "BatchNorm2d", "BatchNorm3d"]


class _BatchNorm(Module):
    _dims = ()
    _lazy = False    # LazyBatchNorm*: num_features 0 until the first call

    def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=True,
                 track_running_stats=True, device=None, dtype=None, *, bias=True):
        super().__init__()
        name = type(self).__name__
        if not isinstance(num_features, numbers.Integral) or num_features < 1 - self._lazy:
            raise ValueError("%s: num_features must be a positive int, got %r"
                             % (name, num_features))
        _check_device(device)
        dt = np.dtype(dtype) if dtype is not None else get_default_dtype()
        self.num_features, self.eps, self.momentum = int(num_features), float(eps), momentum
        self.affine, self.track_running_stats = bool(affine), bool(track_running_stats)
        # torch's keyword-only bias=False keeps the weight, drops the bias
        register_affine(self, num_features, dt, self.affine, self.affine and bias)
        register_running_stats(self, num_features, dt, self.track_running_stats)

    def reset_running_stats(self):
        if self.track_running_stats:
            self.running_mean._data[...] = 0
            self.running_var._data[...] = 1
            self.num_batches_tracked._data[...] = 0

    def reset_parameters(self):
        self.reset_running_stats()
        reset_affine(self)

    def forward(self, x):
        check_batch_norm_input(type(self).__name__, x, self._dims, self.num_features)
        factor = 0.0 if self.momentum is None else self.momentum
        if self.training and self.track_running_stats and self.num_batches_tracked is not None:
            self.num_batches_tracked._data[...] += 1
            if self.momentum is None:  # cumulative moving average
                factor = 1.0 / float(self.num_batches_tracked._data)
        use_batch = self.training or (self.running_mean is None and self.running_var is None)
        track = not self.training or self.track_running_stats
        return batch_norm(x, self.running_mean if track else None,
                          self.running_var if track else None, self.weight, self.bias,
                          use_batch, factor, self.eps)

    def extra_repr(self):
        return "%d, eps=%s, momentum=%s, affine=%s, bias=%s, track_running_stats=%s" % (
            self.num_features, self.eps, self.momentum, self.affine, self.bias is not None,
            self.track_running_stats)


class BatchNorm1d(_BatchNorm):
    """Over (N, C) or (N, C, L) inputs."""
    _dims = (2, 3)


class BatchNorm2d(_BatchNorm):
    """Over (N, C, H, W) inputs."""
    _dims = (4,)


class BatchNorm3d(_BatchNorm):
    """Over (N, C, D, H, W) inputs."""
    _dims = (5,)
