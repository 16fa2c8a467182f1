"""group_norm and instance_norm: statistics per sample over groups of channels (group_norm) or
per sample and channel (instance_norm), composed from the differentiable reductions and
operators, so autograd supplies the gradients."""
import numbers

import numpy as np

from ..tensor_base import TensorBase
from .half import via_float32

__all__ = ["group_norm", "instance_norm"]


def _check_input(input, fname, min_dim=2):
    if not isinstance(input, TensorBase):
        raise TypeError("%s: input must be a Tensor, got %s" % (fname, type(input).__name__))
    if input.dtype != np.float32 and input.dtype != np.float64:
        raise TypeError("%s: input must be float32 or float64, got %s" % (fname, input.dtype))
    if input.ndim < min_dim:
        raise ValueError("%s: input must have at least %d dims (N, C, ...), got shape %s"
                         % (fname, min_dim, tuple(input.shape)))


def _check_affine(v, C, name, fname):
    if v is None:
        return None
    if not isinstance(v, TensorBase):
        raise TypeError("%s: %s must be a Tensor or None, got %s" % (fname, name, type(v).__name__))
    if tuple(v.shape) != (C,):
        raise ValueError("%s: %s must have shape (%d,) (one per channel), got %s"
                         % (fname, name, C, tuple(v.shape)))
    return v


def _affine(y, weight, bias, ndim):
    shape = (1, -1) + (1,) * (ndim - 2)
    if weight is not None:
        y = y * weight.reshape(shape)
    if bias is not None:
        y = y + bias.reshape(shape)
    return y


def _standardize(xr, eps):
    """(xr - mean) / sqrt(var + eps) over the last dim (biased variance)."""
    mu = xr.mean(-1, keepdim=True)
    var = xr.var(-1, unbiased=False, keepdim=True)
    return (xr - mu) / (var + eps).sqrt(), mu, var


@via_float32
def group_norm(input, num_groups, weight=None, bias=None, eps=1e-5):
    _check_input(input, "group_norm")
    if isinstance(num_groups, bool) or not isinstance(num_groups, numbers.Integral) \
            or num_groups <= 0:
        raise ValueError("group_norm: num_groups must be a positive int, got %r" % (num_groups,))
    N, C = input.shape[0], input.shape[1]
    if C % num_groups:
        raise ValueError("group_norm: the number of channels (%d) must be divisible by "
                         "num_groups (%d)" % (C, num_groups))
    weight = _check_affine(weight, C, "weight", "group_norm")
    bias = _check_affine(bias, C, "bias", "group_norm")
    per_group = int(np.prod(input.shape[1:])) // num_groups  # (-1 cannot be solved for N = 0)
    y, _, _ = _standardize(input.reshape(N, num_groups, per_group), eps)
    return _affine(y.reshape(input.shape), weight, bias, input.ndim)


@via_float32
def instance_norm(input, running_mean=None, running_var=None, weight=None, bias=None,
                  use_input_stats=True, momentum=0.1, eps=1e-5):
    """Normalises each (sample, channel) over its spatial dims.  With running buffers and
    use_input_stats, the buffers are updated in place with the batch mean of the per-instance
    statistics (unbiased variance), as PyTorch does; without use_input_stats they are used."""
    _check_input(input, "instance_norm", min_dim=3)
    N, C = input.shape[0], input.shape[1]
    weight = _check_affine(weight, C, "weight", "instance_norm")
    bias = _check_affine(bias, C, "bias", "instance_norm")
    for name, buf in (("running_mean", running_mean), ("running_var", running_var)):
        _check_affine(buf, C, name, "instance_norm")
    if (running_mean is None) != (running_var is None):
        raise ValueError("instance_norm: give both running_mean and running_var, or neither")
    if not use_input_stats:
        if running_mean is None:
            raise ValueError("instance_norm: use_input_stats=False needs running_mean and "
                             "running_var")
        shape = (1, C) + (1,) * (input.ndim - 2)
        rm = running_mean.detach().reshape(shape)
        rv = running_var.detach().reshape(shape)
        return _affine((input - rm) / (rv + eps).sqrt(), weight, bias, input.ndim)
    spatial = int(np.prod(input.shape[2:]))
    if spatial <= 1:
        raise ValueError("instance_norm: expected more than 1 spatial element per channel when "
                         "training, got input of shape %s" % (tuple(input.shape),))
    y, mu, var = _standardize(input.reshape(N, C, -1), eps)
    if running_mean is not None:
        m = float(momentum)
        batch_mean = mu._data.reshape(N, C).mean(axis=0)
        batch_var = var._data.reshape(N, C).mean(axis=0) * spatial / (spatial - 1)
        running_mean._data[...] = (1 - m) * running_mean._data + m * batch_mean
        running_var._data[...] = (1 - m) * running_var._data + m * batch_var
    return _affine(y.reshape(input.shape), weight, bias, input.ndim)
