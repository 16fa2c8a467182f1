"""Layers and losses the autoencoder/GAN models need, taken from dl.nn when it has them.

LeakyReLU and the binary cross-entropy losses arrive with the activation/loss kernels; until
they are present these composites of existing differentiable tensor ops stand in (same maths,
same reductions), so the models work on either side of that merge.
"""
from .. import nn
from ..nn import functional as F


class _LeakyReLU(nn.Module):
    """max(x, 0) + negative_slope * min(x, 0), built from relu (composite fallback)."""

    def __init__(self, negative_slope=0.01, inplace=False):
        super().__init__()
        self.negative_slope = negative_slope

    def forward(self, x):
        return x.relu() - (-x).relu() * self.negative_slope

    def extra_repr(self):
        return "negative_slope=%g" % self.negative_slope


LeakyReLU = getattr(nn, "LeakyReLU", _LeakyReLU)


def _reduce(v, reduction, fname):
    if reduction == "mean":
        return v.mean()
    if reduction == "sum":
        return v.sum()
    if reduction == "none":
        return v
    raise ValueError("%s: reduction must be 'mean', 'sum' or 'none', got %r" % (fname, reduction))


def _bce_with_logits_composite(logits, target, reduction="mean"):
    # softplus(x) - x*t, written as max(x, 0) + log(1 + exp(-|x|)) - x*t so exp never overflows
    v = logits.relu() + ((-logits.abs()).exp() + 1.0).log() - logits * target
    return _reduce(v, reduction, "binary_cross_entropy_with_logits")


def _bce_composite(prob, target, reduction="mean"):
    # p is kept in [1e-7, 1 - 1e-7] so both logs and their gradients stay finite at p = 0 or 1
    # (torch instead caps each log at -100; the two agree away from the ends)
    p = prob.clamp(1e-7, 1.0 - 1e-7)
    v = -(target * p.log() + (1.0 - target) * (1.0 - p).log())
    return _reduce(v, reduction, "binary_cross_entropy")


def bce_with_logits(logits, target, reduction="mean"):
    fn = getattr(F, "binary_cross_entropy_with_logits", None)
    if fn is None:
        return _bce_with_logits_composite(logits, target, reduction)
    return fn(logits, target, reduction=reduction)


def bce(prob, target, reduction="mean"):
    fn = getattr(F, "binary_cross_entropy", None)
    if fn is None:
        return _bce_composite(prob, target, reduction)
    return fn(prob, target, reduction=reduction)
