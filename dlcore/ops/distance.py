"""Vector norms along one dim, and what is built on them: normalize, cosine_similarity,
pairwise_distance and the distance losses (triplet margin, margin ranking, cosine embedding).

`VectorNorm` is the one Function here (NumPy forward and backward); the rest compose it with
the differentiable Tensor operators, so their gradients come from autograd.  The gradient of
a norm at a zero vector is 0 (the subgradient PyTorch picks), never NaN.
"""
import math
import numbers

import numpy as np

from ..autograd import Function
from ..shapes import norm_dim
from ..tensor_base import TensorBase, wrap
from .arith import Where
from .loss import _float_tensor, _reduce, _reduction
from .half import via_float32
from .autocast import float32_policy

__all__ = ["vector_norm", "normalize", "cosine_similarity", "pairwise_distance",
           "triplet_margin_loss", "triplet_margin_with_distance_loss", "margin_ranking_loss",
           "cosine_embedding_loss"]


def _check_p(p, fname):
    """A real p (negative ones too, as torch: p = -1 is a harmonic-type norm, -inf the
    smallest magnitude)."""
    if isinstance(p, bool) or not isinstance(p, numbers.Real) or math.isnan(p):
        raise ValueError("%s: p must be a real number, got %r" % (fname, p))
    return float(p)


class VectorNorm(Function):
    """||x||_p along `axis` (p in [-inf, inf]; for p < 0, (sum |x|^p)^(1/p), 0 when an element
    is 0); 0 where the vector is zero gets a 0 gradient."""

    def forward(self, x, p=2.0, axis=-1, keepdim=False):
        a = np.abs(x)
        if p == math.inf:
            n = a.max(axis=axis, keepdims=True)
        elif p == -math.inf:
            n = a.min(axis=axis, keepdims=True)
        elif p == 2:
            n = np.sqrt((x * x).sum(axis=axis, keepdims=True))
        elif p == 1:
            n = a.sum(axis=axis, keepdims=True)
        elif p == 0:
            n = (x != 0).sum(axis=axis, keepdims=True).astype(x.dtype)
        else:
            with np.errstate(divide="ignore"):  # (p < 0: 0 ** p is inf, the norm 0)
                n = (a ** p).sum(axis=axis, keepdims=True) ** (1.0 / p)
        if self.requires_grad:
            self.x, self.n, self.p, self.axis, self.keepdim = x, n, p, axis, keepdim
        return n if keepdim else np.squeeze(n, axis=axis)

    def backward(self, g):
        x, n, p = self.x, self.n, self.p
        if not self.keepdim:
            g = np.expand_dims(g, self.axis)
        zero = np.zeros((), dtype=x.dtype)
        safe = np.where(n == 0, 1, n)
        if p == 0:
            return np.zeros_like(x)
        if p == math.inf or p == -math.inf:
            hit = (np.abs(x) == n) & (n != 0)
            share = hit / np.maximum(hit.sum(axis=self.axis, keepdims=True), 1)
            return g * np.sign(x) * share
        if p == 2:
            return np.where(n == 0, zero, g * x / safe)
        if p == 1:
            return g * np.sign(x)
        a = np.abs(x)
        with np.errstate(divide="ignore", invalid="ignore"):
            gx = g * np.sign(x) * np.where(a == 0, 1, a) ** (p - 1) / safe ** (p - 1)
        # an element at 0 gets 0 (PyTorch's choice, also for p < 1 where |x|^(p-1) blows up)
        return np.where((n == 0) | (x == 0), zero, gx)


def vector_norm(x, ord=2, dim=-1, keepdim=False):
    """The p-norm of `x` along one dim (the single-dim case of torch.linalg.vector_norm)."""
    _float_tensor(x, "vector_norm")
    p = _check_p(ord, "vector_norm")
    if x.ndim == 0:
        x = x.reshape(1)
        dim = 0
    return VectorNorm.apply(x, p=p, axis=norm_dim(dim, x.ndim, "vector_norm"),
                            keepdim=keepdim)


@via_float32
def normalize(input, p=2.0, dim=1, eps=1e-12, out=None):
    """input / max(||input||_p along dim, eps)."""
    _float_tensor(input, "normalize")
    if out is not None:
        raise ValueError("normalize: out= is not supported")
    p = _check_p(p, "normalize")
    dim = norm_dim(dim, max(input.ndim, 1), "normalize")
    n = vector_norm(input, p, dim, keepdim=True)
    if input.ndim == 0:
        n = n.reshape(())
    return input / n.clamp(min=eps)


def _broadcast_pair(x1, x2, fname):
    _float_tensor(x1, fname, "x1")
    _float_tensor(x2, fname, "x2")
    if x1.dtype != x2.dtype:
        raise TypeError("%s: x1 and x2 must have the same dtype, got %s and %s"
                        % (fname, x1.dtype, x2.dtype))
    try:
        shape = np.broadcast_shapes(x1.shape, x2.shape)
    except ValueError:
        raise ValueError("%s: x1 of shape %s and x2 of shape %s do not broadcast"
                         % (fname, tuple(x1.shape), tuple(x2.shape))) from None
    return x1.expand(*shape), x2.expand(*shape)


@via_float32
def cosine_similarity(x1, x2, dim=1, eps=1e-8):
    """sum(x1 * x2) / (max(||x1||, eps) * max(||x2||, eps)) along dim (broadcasting x1, x2)."""
    x1, x2 = _broadcast_pair(x1, x2, "cosine_similarity")
    dim = norm_dim(dim, x1.ndim, "cosine_similarity")
    n1 = _floor_value(vector_norm(x1, 2, dim, keepdim=True), eps)
    n2 = _floor_value(vector_norm(x2, 2, dim, keepdim=True), eps)
    return ((x1 / n1) * (x2 / n2)).sum(dim)


def _floor_value(n, eps):
    """max(n, eps) in value with n's gradient: PyTorch clamps the norms in place outside
    autograd, so the gradient is that of the unclamped norm (matched here, tiny vectors too)."""
    return n + wrap(np.maximum(n._data, eps) - n._data)


@via_float32
def pairwise_distance(x1, x2, p=2.0, eps=1e-6, keepdim=False):
    """||x1 - x2 + eps||_p over the last dim."""
    _float_tensor(x1, "pairwise_distance", "x1")
    _float_tensor(x2, "pairwise_distance", "x2")
    p = _check_p(p, "pairwise_distance")
    diff = x1 - x2 + eps
    if diff.ndim == 0:
        raise ValueError("pairwise_distance: x1 and x2 must have at least one dim")
    return VectorNorm.apply(diff, p=p, axis=diff.ndim - 1, keepdim=keepdim)


@float32_policy
def triplet_margin_loss(anchor, positive, negative, margin=1.0, p=2, eps=1e-6, swap=False,
                        size_average=None, reduce=None, reduction="mean"):
    """mean(max(d(a, p) - d(a, n) + margin, 0)) with d the pairwise p-norm distance."""
    reduction = _reduction(reduction, size_average, reduce, "triplet_margin_loss")
    nd = anchor.ndim if isinstance(anchor, TensorBase) else None
    for name, t in (("anchor", anchor), ("positive", positive), ("negative", negative)):
        _float_tensor(t, "triplet_margin_loss", name)
        if t.ndim != nd or t.ndim not in (1, 2):
            raise ValueError("triplet_margin_loss: anchor, positive and negative must all be "
                             "1-D or all 2-D, got shapes %s, %s, %s"
                             % (tuple(anchor.shape), tuple(positive.shape),
                                tuple(negative.shape)))
    _check_margin(margin, "triplet_margin_loss")
    return _triplet(lambda a, b: pairwise_distance(a, b, p, eps), anchor, positive, negative,
                    margin, swap, reduction)


def triplet_margin_with_distance_loss(anchor, positive, negative, *, distance_function=None,
                                      margin=1.0, swap=False, reduction="mean"):
    reduction = _reduction(reduction, None, None, "triplet_margin_with_distance_loss")
    _check_margin(margin, "triplet_margin_with_distance_loss")
    dist = distance_function if distance_function is not None else pairwise_distance
    return _triplet(dist, anchor, positive, negative, margin, swap, reduction)


def _triplet(dist, anchor, positive, negative, margin, swap, reduction):
    """max(d(a, p) - d(a, n) + margin, 0), d(a, n) replaced by d(p, n) where that is smaller
    when swap (the distance swap of Balntas et al.), reduced."""
    d_pos = dist(anchor, positive)
    d_neg = dist(anchor, negative)
    if swap:
        d_neg = d_neg.minimum(dist(positive, negative))
    return _reduce((d_pos - d_neg + margin).clamp(min=0.0), reduction)


def _check_margin(margin, fname):
    if not margin > 0:
        raise ValueError("%s: margin must be greater than 0, got %r" % (fname, margin))


def _pair_loss_args(fname, input1, input2, reduction, size_average, reduce):
    """The checked reduction of a loss on two float inputs, once both are checked."""
    reduction = _reduction(reduction, size_average, reduce, fname)
    _float_tensor(input1, fname, "input1")
    _float_tensor(input2, fname, "input2")
    return reduction


def _target(target, like, fname):
    if not isinstance(target, TensorBase):
        raise TypeError("%s: target must be a Tensor, got %s" % (fname, type(target).__name__))
    return target.to(like.dtype) if target.dtype != like.dtype else target


@float32_policy
def margin_ranking_loss(input1, input2, target, margin=0.0, size_average=None, reduce=None,
                        reduction="mean"):
    """max(0, -target * (input1 - input2) + margin), target in {1, -1}."""
    reduction = _pair_loss_args("margin_ranking_loss", input1, input2, reduction, size_average,
                                reduce)
    y = _target(target, input1, "margin_ranking_loss")
    if not (input1.ndim == input2.ndim == y.ndim):
        raise ValueError("margin_ranking_loss: input1, input2 and target must have the same "
                         "number of dims, got shapes %s, %s, %s"
                         % (tuple(input1.shape), tuple(input2.shape), tuple(y.shape)))
    return _reduce((-y * (input1 - input2) + margin).clamp(min=0.0), reduction)


@float32_policy
def cosine_embedding_loss(input1, input2, target, margin=0.0, size_average=None, reduce=None,
                          reduction="mean"):
    """1 - cos(x1, x2) where target is 1, max(0, cos(x1, x2) - margin) where it is -1."""
    reduction = _pair_loss_args("cosine_embedding_loss", input1, input2, reduction,
                                size_average, reduce)
    if input1.shape != input2.shape or input1.ndim not in (1, 2):
        raise ValueError("cosine_embedding_loss: input1 and input2 must have the same 1-D or "
                         "2-D shape, got %s and %s" % (tuple(input1.shape), tuple(input2.shape)))
    y = _target(target, input1, "cosine_embedding_loss")
    if y.ndim != input1.ndim - 1:
        raise ValueError("cosine_embedding_loss: target must have %d dims for inputs of shape "
                         "%s, got shape %s" % (input1.ndim - 1, tuple(input1.shape),
                                               tuple(y.shape)))
    tiny = 1e-12  # keeps the denominator positive for zero vectors, as PyTorch does
    dot = (input1 * input2).sum(-1)
    m1 = (input1 * input1).sum(-1) + tiny
    m2 = (input2 * input2).sum(-1) + tiny
    cos = dot / (m1 * m2).sqrt()
    zero = cos * 0.0
    pos = Where.apply((y == 1)._data, 1.0 - cos, zero)
    neg = Where.apply((y == -1)._data, (cos - margin).clamp(min=0.0), zero)
    return _reduce(pos + neg, reduction)
