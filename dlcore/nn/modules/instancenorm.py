"""InstanceNorm1d/2d/3d: per-sample, per-channel normalisation (dlcore.ops.groupnorm), with
PyTorch's defaults (affine=False, track_running_stats=False) and parameter/buffer names."""
import numpy as np

from ...tensor import _check_device, get_default_dtype
from ...ops.groupnorm import instance_norm
from .module import Module
from .norm_params import register_affine, register_running_stats, reset_affine

__all__ = ["InstanceNorm1d", "InstanceNorm2d", "InstanceNorm3d"]


class _InstanceNorm(Module):
    _n = 2
    _lazy = False    # LazyInstanceNorm*: num_features 0 until the first call

    def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=False,
                 track_running_stats=False, device=None, dtype=None, *, bias=True):
        super().__init__()
        name = type(self).__name__
        if isinstance(num_features, bool) or not isinstance(num_features, (int, np.integer)) \
                or num_features < 1 - self._lazy:
            raise ValueError("%s: num_features must be a positive int, got %r"
                             % (name, num_features))
        _check_device(device)
        dt = np.dtype(dtype) if dtype is not None else get_default_dtype()
        self.num_features, self.eps, self.momentum = int(num_features), eps, momentum
        self.affine, self.track_running_stats = affine, track_running_stats
        # (bias=False: an affine scale without a shift, as torch)
        register_affine(self, num_features, dt, affine, affine and bias)
        register_running_stats(self, num_features, dt, track_running_stats)

    def reset_parameters(self):
        reset_affine(self)

    def forward(self, input):
        name = type(self).__name__
        n = self._n
        if input.ndim not in (n + 1, n + 2):
            raise ValueError("%s: expected %d-D or %d-D input, got shape %s"
                             % (name, n + 1, n + 2, tuple(input.shape)))
        unbatched = input.ndim == n + 1
        x = input.unsqueeze(0) if unbatched else input
        if x.shape[1] != self.num_features and self.affine:
            raise ValueError("%s: expected %d channels (dim %d), got input of shape %s"
                             % (name, self.num_features, 0 if unbatched else 1,
                                tuple(input.shape)))
        use_input_stats = self.training or not self.track_running_stats
        y = instance_norm(x, self.running_mean, self.running_var, self.weight, self.bias,
                          use_input_stats, self.momentum, self.eps)
        return y.squeeze(0) if unbatched else y

    def extra_repr(self):
        return "%d, eps=%s, momentum=%s, affine=%s, bias=%s, track_running_stats=%s" % (
            self.num_features, self.eps, self.momentum, self.affine, self.bias is not None,
            self.track_running_stats)


class InstanceNorm1d(_InstanceNorm):
    _n = 1


class InstanceNorm2d(_InstanceNorm):
    _n = 2


class InstanceNorm3d(_InstanceNorm):
    _n = 3
