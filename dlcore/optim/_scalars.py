"""Helpers the NumPy-written optimizers share: option checks and torch's scalar state.

torch keeps per-parameter scalars such as NAdam's mu_product or ASGD's eta in 0-d tensors of
its "scalar dtype" (float32 unless the default dtype is float64), so they are rounded to that
dtype after each update; `scalar_round` does the same so trajectories match step for step.
"""
import numpy as np

from ..dtypes import get_default_dtype
from ..tensor import Tensor
from .optimizer import _check_number

__all__ = ["scalar_round", "scalar_mul", "zeros_state", "check_betas", "signed_grad"]


def scalar_round(x):
    """x as torch's scalar-dtype state holds it (a Python float)."""
    if get_default_dtype() == np.float64:
        return float(x)
    return float(np.float32(x))


def scalar_mul(a, b):
    """a *= b on a scalar-dtype state: torch multiplies in that dtype (b rounded first)."""
    if get_default_dtype() == np.float64:
        return float(a) * float(b)
    return float(np.float32(a) * np.float32(b))


def zeros_state(shape, dtype):
    return Tensor._wrap(np.zeros(shape, dtype=dtype))


def check_betas(who, betas):
    if not isinstance(betas, (tuple, list)) or len(betas) != 2:
        raise ValueError("%s: betas must be a pair (beta1, beta2), got %r" % (who, betas))
    return (_check_number(who, "beta parameter at index 0", betas[0], high=1.0),
            _check_number(who, "beta parameter at index 1", betas[1], high=1.0))


def signed_grad(grad, maximize, param, weight_decay, decoupled_lr=None):
    """The gradient an update uses: negated if maximizing, plus weight_decay * param (a new
    array: the parameter's .grad is never written).  With decoupled_lr (AdamW-style decay, as
    NAdam's and RAdam's decoupled_weight_decay), the decay shrinks param by lr * weight_decay
    instead and the gradient is left alone."""
    g = -grad if maximize else grad
    if weight_decay != 0:
        if decoupled_lr is not None:
            param *= 1 - decoupled_lr * weight_decay
        else:
            g = g + weight_decay * param
    return g
