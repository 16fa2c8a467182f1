"""LayerNorm and RMSNorm layers over trailing dims, PyTorch's parameter names."""
import numpy as np

from ...tensor import _check_device, get_default_dtype
from ...ops.layernorm import layer_norm, rms_norm
from ...ops.groupnorm import group_norm
from .module import Module
from .norm_params import register_affine, reset_affine

__all__ = ["LayerNorm", "RMSNorm", "GroupNorm"]


def _shape(name, normalized_shape):
    if isinstance(normalized_shape, (int, np.integer)):
        normalized_shape = (normalized_shape,)
    shape = tuple(int(s) for s in normalized_shape)
    if not shape or any(s <= 0 for s in shape):
        raise ValueError("%s: normalized_shape must be positive ints, got %r"
                         % (name, normalized_shape))
    return shape


class LayerNorm(Module):
    """y = (x - mean) / sqrt(var + eps) * weight + bias over the trailing normalized_shape."""

    def __init__(self, normalized_shape, eps=1e-5, elementwise_affine=True, bias=True,
                 device=None, dtype=None):
        super().__init__()
        _check_device(device)
        self.normalized_shape = _shape("LayerNorm", normalized_shape)
        self.eps, self.elementwise_affine = eps, elementwise_affine
        dt = np.dtype(dtype) if dtype is not None else get_default_dtype()
        register_affine(self, self.normalized_shape, dt, elementwise_affine,
                        elementwise_affine and bias)

    def reset_parameters(self):
        reset_affine(self)

    def forward(self, x):
        return layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self):
        return "%s, eps=%s, elementwise_affine=%s" % (self.normalized_shape, self.eps,
                                                     self.elementwise_affine)


class RMSNorm(Module):
    """y = x / sqrt(mean(x^2) + eps) * weight; eps=None uses the dtype's machine epsilon."""

    def __init__(self, normalized_shape, eps=None, elementwise_affine=True, device=None,
                 dtype=None):
        super().__init__()
        _check_device(device)
        self.normalized_shape = _shape("RMSNorm", normalized_shape)
        self.eps, self.elementwise_affine = eps, elementwise_affine
        dt = np.dtype(dtype) if dtype is not None else get_default_dtype()
        register_affine(self, self.normalized_shape, dt, elementwise_affine)

    def reset_parameters(self):
        reset_affine(self)

    def forward(self, x):
        return rms_norm(x, self.normalized_shape, self.weight, self.eps)

    def extra_repr(self):
        return "%s, eps=%s, elementwise_affine=%s" % (self.normalized_shape, self.eps,
                                                     self.elementwise_affine)


class GroupNorm(Module):
    """Normalises each sample over groups of num_channels // num_groups channels."""

    def __init__(self, num_groups, num_channels, eps=1e-5, affine=True, device=None, dtype=None,
                 *, bias=True):
        super().__init__()
        _check_device(device)
        for arg, v in (("num_groups", num_groups), ("num_channels", num_channels)):
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v <= 0:
                raise ValueError("GroupNorm: %s must be a positive int, got %r" % (arg, v))
        if num_channels % num_groups:
            raise ValueError("GroupNorm: num_channels (%d) must be divisible by num_groups (%d)"
                             % (num_channels, num_groups))
        self.num_groups, self.num_channels = int(num_groups), int(num_channels)
        self.eps, self.affine = eps, affine
        dt = np.dtype(dtype) if dtype is not None else get_default_dtype()
        # (bias=False: an affine scale without a shift, as torch)
        register_affine(self, num_channels, dt, affine, affine and bias)

    def reset_parameters(self):
        reset_affine(self)

    def forward(self, x):
        return group_norm(x, self.num_groups, self.weight, self.bias, self.eps)

    def extra_repr(self):
        return "%d, %d, eps=%s, affine=%s" % (self.num_groups, self.num_channels, self.eps,
                                             self.affine)
