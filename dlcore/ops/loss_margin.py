"""Losses composed from differentiable Tensor ops (PyTorch's F names, arguments and
reductions): soft_margin_loss, hinge_embedding_loss, multilabel_soft_margin_loss,
poisson_nll_loss and gaussian_nll_loss.  Their gradients come from the ops they are made of.
"""
import math

import numpy as np

from ..tensor_base import TensorBase, wrap
from .activation import logsigmoid
from .arith import Where
from .loss import _float_tensor, _reduce, _reduction

__all__ = ["soft_margin_loss", "hinge_embedding_loss", "multilabel_soft_margin_loss",
           "poisson_nll_loss", "gaussian_nll_loss"]


def _target(target, like, fname):
    if not isinstance(target, TensorBase):
        raise TypeError("%s: target must be a Tensor, got %s" % (fname, type(target).__name__))
    try:
        np.broadcast_shapes(tuple(like.shape), tuple(target.shape))
    except ValueError:
        raise ValueError("%s: target of shape %s does not broadcast with input of shape %s"
                         % (fname, tuple(target.shape), tuple(like.shape))) from None
    return target if target.dtype == like.dtype else target.to(like.dtype)


def soft_margin_loss(input, target, size_average=None, reduce=None, reduction="mean"):
    """log(1 + exp(-y x)), y in {1, -1}."""
    reduction = _reduction(reduction, size_average, reduce, "soft_margin_loss")
    _float_tensor(input, "soft_margin_loss")
    y = _target(target, input, "soft_margin_loss")
    return _reduce(-logsigmoid(y * input), reduction)


def hinge_embedding_loss(input, target, margin=1.0, size_average=None, reduce=None,
                         reduction="mean"):
    """x where y == 1, max(0, margin - x) where y == -1 (torch's sum of both terms for other
    target values)."""
    reduction = _reduction(reduction, size_average, reduce, "hinge_embedding_loss")
    _float_tensor(input, "hinge_embedding_loss")
    y = _target(target, input, "hinge_embedding_loss")._data
    zero = np.zeros((), input.dtype)
    clamped = (float(margin) - input).clamp(min=0.0)
    loss = Where.apply(y != 1, clamped, zero) + Where.apply(y != -1, input, zero)
    return _reduce(loss, reduction)


def multilabel_soft_margin_loss(input, target, weight=None, size_average=None, reduce=None,
                                reduction="mean"):
    """-(y log sigmoid(x) + (1 - y) log sigmoid(-x)), weighted, averaged over the classes
    (the last dim), then reduced over the batch."""
    reduction = _reduction(reduction, size_average, reduce, "multilabel_soft_margin_loss")
    _float_tensor(input, "multilabel_soft_margin_loss")
    y = _target(target, input, "multilabel_soft_margin_loss")
    loss = -(y * logsigmoid(input) + (1 - y) * logsigmoid(-input))
    if weight is not None:
        loss = loss * (weight if isinstance(weight, TensorBase) else wrap(np.asarray(weight)))
    if input.ndim == 0:
        return _reduce(loss, reduction)
    loss = loss.sum(dim=input.ndim - 1) / input.shape[-1]
    return _reduce(loss, reduction)


def poisson_nll_loss(input, target, log_input=True, full=False, size_average=None, eps=1e-8,
                     reduce=None, reduction="mean"):
    """exp(x) - y x (log_input) or x - y log(x + eps); full adds Stirling's term for y > 1."""
    reduction = _reduction(reduction, size_average, reduce, "poisson_nll_loss")
    _float_tensor(input, "poisson_nll_loss")
    y = _target(target, input, "poisson_nll_loss")
    if log_input:
        loss = input.exp() - y * input
    else:
        loss = input - y * (input + eps).log()
    if full:  # Stirling's term, differentiable in the target as torch's
        big = y._data > 1
        one, zero = np.ones((), input.dtype), np.zeros((), input.dtype)
        t = Where.apply(big, y, one)
        stirling = t * t.log() - t + 0.5 * (2 * math.pi * t).log()
        loss = loss + Where.apply(big, stirling, zero)
    return _reduce(loss, reduction)


def _gaussian_var(var, input):
    """var brought to input's shape as torch's rules allow: one dim short of input, or
    input's dims with a single mismatched dim, of size 1 (broadcast)."""
    vs, xs = tuple(var.shape), tuple(input.shape)
    if vs == xs:
        return var
    if xs[:-1] == vs:
        return var.unsqueeze(-1)
    if len(vs) == len(xs) and sum(v for x, v in zip(xs, vs) if x != v) == 1:
        return var
    raise ValueError("gaussian_nll_loss: var of shape %s does not fit input of shape %s"
                     % (tuple(var.shape), tuple(input.shape)))


def gaussian_nll_loss(input, target, var, full=False, eps=1e-6, reduction="mean"):
    """0.5 (log max(var, eps) + (x - y)^2 / max(var, eps)) (+ 0.5 log(2 pi) with full).  The
    clamp to eps is outside autograd, as torch's (var's gradient is that of the clamped value
    taken as var itself)."""
    reduction = _reduction(reduction, None, None, "gaussian_nll_loss")
    _float_tensor(input, "gaussian_nll_loss")
    if isinstance(var, (int, float)) and not isinstance(var, bool):
        var = wrap(np.full(tuple(input.shape), float(var), dtype=input.dtype))
    if not isinstance(var, TensorBase):
        raise TypeError("gaussian_nll_loss: var must be a Tensor or a number, got %s"
                        % type(var).__name__)
    y = _target(target, input, "gaussian_nll_loss")
    var = _gaussian_var(var, input)
    if (var._data < 0).any():
        raise ValueError("gaussian_nll_loss: var has negative entry/entries")
    v = var + wrap(np.maximum(var._data, eps) - var._data)  # max(var, eps), var's gradient
    loss = 0.5 * (v.log() + (input - y) ** 2 / v)
    if full:
        loss = loss + 0.5 * math.log(2 * math.pi)
    return _reduce(loss, reduction)
