"""multi_margin_loss and multilabel_margin_loss (torch's F names, arguments, reductions),
composed from differentiable Tensor ops: the gradients come from the ops they are made of.
The targets are integer class indices, read here as NumPy to build constant masks."""
import numpy as np

from ..tensor_base import TensorBase, wrap
from .loss import _float_tensor, _reduce, _reduction

__all__ = ["multi_margin_loss", "multilabel_margin_loss"]


def _rows(fname, input, target, target_rank_offset):
    """(input as (N, C), target as an int array, whether the input was 1-D)."""
    _float_tensor(input, fname)
    if not isinstance(target, TensorBase):
        raise TypeError("%s: target must be a Tensor, got %s" % (fname, type(target).__name__))
    if target.dtype.kind not in "iu":
        raise TypeError("%s: target must hold integer class indices, got %s"
                        % (fname, target.dtype))
    if input.ndim == 0:       # torch: a 0-d input is one sample of one class
        input = input.reshape(1)
    if input.ndim not in (1, 2) or input.shape[-1] == 0:
        raise ValueError("%s: expected a non-empty 1-D or 2-D input, got shape %s"
                         % (fname, tuple(input.shape)))
    vector = input.ndim == 1
    x = input.unsqueeze(0) if vector else input
    y = np.asarray(target._data).astype(np.int64)
    want = (x.shape[0],) if target_rank_offset == 0 else tuple(x.shape)
    if y.size != int(np.prod(want)) or (y.ndim > 0 and y.shape[-1] != want[-1]
                                        and target_rank_offset):
        raise ValueError("%s: target of shape %s does not fit input of shape %s"
                         % (fname, tuple(target.shape), tuple(input.shape)))
    return x, y.reshape(want), vector


def multi_margin_loss(input, target, p=1, margin=1.0, weight=None, size_average=None,
                      reduce=None, reduction="mean"):
    """sum over i != y of w[y] * max(0, margin - x[y] + x[i])^p, divided by C (p 1 or 2)."""
    fname = "multi_margin_loss"
    reduction = _reduction(reduction, size_average, reduce, fname)
    if p not in (1, 2):
        raise ValueError("%s: only p == 1 and p == 2 supported, got %r" % (fname, p))
    x, y, vector = _rows(fname, input, target, 0)
    N, C = x.shape
    if y.size and (y.min() < 0 or y.max() >= C):
        raise IndexError("%s: target %d is out of bounds for %d classes"
                         % (fname, int(y.min() if y.min() < 0 else y.max()), C))
    onehot = np.zeros((N, C), dtype=bool)
    onehot[np.arange(N), y] = True
    xy = x.gather(1, wrap(y.reshape(N, 1)))
    z = (float(margin) - xy + x).clamp(min=0.0)
    if p == 2:
        z = z * z
    scale = np.where(onehot, 0.0, 1.0 / C).astype(x.dtype)
    if weight is not None:
        if not isinstance(weight, TensorBase) or tuple(weight.shape) != (C,):
            raise ValueError("%s: weight must be a Tensor of shape (%d,)" % (fname, C))
        z = z * weight.to(x.dtype)[wrap(y)].unsqueeze(1)
    loss = (z * wrap(scale)).sum(1)
    if vector and reduction == "none":
        loss = loss.squeeze(0)
    return _reduce(loss, reduction)


def multilabel_margin_loss(input, target, size_average=None, reduce=None, reduction="mean"):
    """For each sample: the target classes are target's entries before the first -1; the loss
    sums max(0, 1 - (x[j] - x[i])) over target classes j and non-target classes i, over C."""
    fname = "multilabel_margin_loss"
    reduction = _reduction(reduction, size_average, reduce, fname)
    x, y, vector = _rows(fname, input, target, 1)
    N, C = x.shape
    if y.size and (y.min() < -1 or y.max() >= C):
        raise IndexError("%s: target values must be class indices in [-1, %d), got %d"
                         % (fname, C, int(y.min() if y.min() < -1 else y.max())))
    count = np.zeros((N, C), dtype=np.float64)   # how often class j is listed (torch: each)
    for n in range(N):
        stop = np.flatnonzero(y[n] < 0)
        listed = y[n, :stop[0]] if stop.size else y[n]
        np.add.at(count[n], listed, 1.0)
    other = (count == 0).astype(x.dtype)
    pair = (count[:, :, None] * other[:, None, :] / C).astype(x.dtype)   # (N, j, i)
    z = (1.0 - x.unsqueeze(2) + x.unsqueeze(1)).clamp(min=0.0)
    loss = (z * wrap(pair)).sum((1, 2))
    if vector and reduction == "none":
        loss = loss.squeeze(0)
    return _reduce(loss, reduction)
