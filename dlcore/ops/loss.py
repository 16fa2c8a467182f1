"""Loss functions: each one Function over a fused C kernel (dlcore/_C/loss.pxi).

cross_entropy never materialises log_softmax: one kernel per row computes the log-sum-exp and the
loss (with class weights, ignore_index and label smoothing), and the backward writes
softmax * A - B in one pass.  Reductions follow PyTorch exactly: a weighted 'mean' divides by
the sum of the weights of the targets that are not ignored; probability targets divide by the
number of rows.  Inputs of shape (N, C, d1, d2, ...) are handled by moving the class axis last.
"""
import numbers
import warnings

import numpy as np

from .. import _C
from ..autograd import Function
from ..autograd.double_backward import default_backward_graph
from .activation import Softmax
from .half import via_float32
from ..tensor_base import TensorBase, wrap
from ..dtypes import is_floating
from .autocast import float32_policy

__all__ = ["cross_entropy", "nll_loss", "mse_loss", "l1_loss", "smooth_l1_loss", "huber_loss",
           "binary_cross_entropy", "binary_cross_entropy_with_logits", "kl_div"]

_REDUCTIONS = ("none", "mean", "sum")


def _contig(x):
    return x if x.flags.c_contiguous else np.ascontiguousarray(x)


def _reduction(reduction, size_average, reduce, fname, allowed=_REDUCTIONS):
    if size_average is not None or reduce is not None:
        # PyTorch's legacy arguments
        size_average = True if size_average is None else size_average
        reduce = True if reduce is None else reduce
        return "mean" if (size_average and reduce) else ("sum" if reduce else "none")
    if reduction not in allowed:
        raise ValueError("%s: reduction must be one of %s, got %r"
                         % (fname, ", ".join(repr(r) for r in allowed), reduction))
    return reduction


def _reduce(loss, reduction):
    """A loss composed of Tensor ops, reduced as `reduction` says (checked by _reduction)."""
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    return loss


def _float_tensor(x, fname, name="input"):
    if not isinstance(x, TensorBase):
        raise TypeError("%s: %s must be a Tensor, got %s" % (fname, name, type(x).__name__))
    if x.dtype != np.float32 and x.dtype != np.float64:
        raise TypeError("%s: %s must be float32 or float64, got %s" % (fname, name, x.dtype))


def _array(v, dtype, fname, name):
    """A float array of `dtype` from an optional Tensor / array argument (no grad tracked)."""
    if v is None:
        return None
    a = v._data if isinstance(v, TensorBase) else np.asarray(v)
    if a.dtype.kind not in "fiub" and not is_floating(a.dtype):
        raise TypeError("%s: %s must be numeric, got %s" % (fname, name, a.dtype))
    return np.asarray(a, dtype=dtype)


def _class_weight(weight, C, dtype, fname):
    w = _array(weight, dtype, fname, "weight")
    if w is not None and w.shape != (C,):
        raise ValueError("%s: weight must be a 1-D tensor of %d class weights, got shape %s"
                         % (fname, C, w.shape))
    return None if w is None else _contig(w)


def _rows(x):
    """(N, C, d1, ...) -> contiguous (N * d1 * ..., C); (C,) -> (1, C); (N, C) as is."""
    if x.ndim == 1:
        return _contig(x.reshape(1, -1))
    if x.ndim == 2:
        return _contig(x)
    return np.ascontiguousarray(np.moveaxis(x, 1, -1)).reshape(-1, x.shape[1])


def _unrows(g2, shape):
    """Inverse of _rows for a gradient."""
    if len(shape) <= 2:
        return g2.reshape(shape)
    moved = (shape[0],) + tuple(shape[2:]) + (shape[1],)
    return np.moveaxis(g2.reshape(moved), -1, 1)


# ---- cross-entropy and NLL ------------------------------------------------------------------
def _reduce_scalar(total, denom, reduction, dtype):
    if reduction == "sum":
        return np.asarray(total, dtype=dtype)
    return np.asarray(total / denom if denom != 0 else np.nan, dtype=dtype)


def _grad_scale(g, reduction, denom, dtype):
    """(per-row grad array or None, scalar scale) for the backward kernels."""
    if reduction == "none":
        return _contig(np.asarray(g, dtype=dtype).reshape(-1)), 1.0
    g = float(np.asarray(g).reshape(()))
    if reduction == "sum":
        return None, g
    return None, (g / denom if denom != 0 else 0.0)


class CrossEntropy(Function):
    """Logits (N, C[, d...]) and int64 class indices (N[, d...])."""

    def forward(self, x, target, weight=None, ignore_index=-100, reduction="mean",
                label_smoothing=0.0):
        x2 = _rows(x)
        t = _contig(np.asarray(target, dtype=np.int64).reshape(-1))
        n = x2.shape[0]
        loss = np.empty(n, x.dtype) if reduction == "none" else None
        lse = np.empty((n, 2), x.dtype) if self.requires_grad else None   # (max, log-sum)
        total, wsum = _C.ce_forward(x2, t, weight, ignore_index, label_smoothing, loss, lse)
        if self.requires_grad:
            self.saved = (x2, t, weight, lse, x.shape, ignore_index, label_smoothing,
                          reduction, wsum)
        if reduction == "none":
            return loss.reshape(np.shape(target))
        return _reduce_scalar(total, wsum, reduction, x.dtype)

    def backward(self, g):
        x2, t, weight, lse, shape, ignore_index, eps, reduction, wsum = self.saved
        rows, scale = _grad_scale(g, reduction, wsum, x2.dtype)
        gx = np.empty_like(x2)
        _C.ce_backward(x2, t, weight, lse, ignore_index, eps, rows, scale, gx)
        return _unrows(gx, shape), None

    def backward_graph(self, g):
        x2, t, weight, lse, shape, ignore_index, eps, reduction, wsum = self.saved
        valid = (t != ignore_index).astype(x2.dtype)
        C = x2.shape[1]
        w = np.ones(C, x2.dtype) if weight is None else weight
        onehot = np.zeros_like(x2)
        rows = np.nonzero(valid)[0]
        onehot[rows, t[rows]] = 1.0
        # loss_i = -sum_c a_ic log p_ic with a = (1-eps) w_t onehot + (eps/C) w on kept rows
        a = ((1.0 - eps) * onehot * w[None, :] + (eps / C) * w[None, :]) * valid[:, None]
        return _soft_target_grad(self, g, a, reduction, wsum), None


class CrossEntropyProbs(Function):
    """Logits and class probabilities of the same shape (N, C[, d...])."""

    def forward(self, x, target, weight=None, reduction="mean", label_smoothing=0.0):
        x2 = _rows(x)
        q2 = _rows(target)
        n = x2.shape[0]
        loss = np.empty(n, x.dtype) if reduction == "none" else None
        lse = np.empty((n, 2), x.dtype) if self.requires_grad else None   # (max, log-sum)
        total = _C.ce_prob_forward(x2, q2, weight, label_smoothing, loss, lse)
        if self.requires_grad:
            self.saved = (x2, q2, weight, lse, x.shape, label_smoothing, reduction, n)
        if reduction == "none":
            return loss.reshape(x.shape[:1] + x.shape[2:] if x.ndim > 1 else ())
        return _reduce_scalar(total, n, reduction, x.dtype)

    def backward(self, g):
        x2, q2, weight, lse, shape, eps, reduction, n = self.saved
        rows, scale = _grad_scale(g, reduction, n, x2.dtype)
        gx = None
        if self.needs_input_grad[0]:
            gx = np.empty_like(x2)
            _C.ce_prob_backward(x2, q2, weight, lse, eps, rows, scale, gx)
            gx = _unrows(gx, shape)
        gq = None
        if self.needs_input_grad[1]:
            # d loss_i / d q_ic = -(1 - eps) w_c log p_ic (rare: soft targets that need grad)
            logp = (x2 - lse[:, :1]) - lse[:, 1:]     # (x - max) - log-sum, as the kernel
            w = 1.0 if weight is None else weight
            s = scale if rows is None else rows[:, None] * scale
            gq = _unrows((-(1.0 - eps) * w * logp * s).astype(x2.dtype), shape)
        return gx, gq

    def backward_graph(self, g):
        if self.needs_input_grad[1]:
            return default_backward_graph(self, g)
        x2, q2, weight, lse, shape, eps, reduction, n = self.saved
        C = x2.shape[1]
        w = np.ones(C, x2.dtype) if weight is None else weight
        a = ((1.0 - eps) * q2 + eps / C) * w[None, :]
        return _soft_target_grad(self, g, a, reduction, n), None


def _as_rows(x):
    """_rows for a Tensor, with differentiable ops."""
    if x.ndim == 1:
        return x.reshape(1, -1)
    if x.ndim == 2:
        return x
    return x.permute(0, *range(2, x.ndim), 1).reshape(-1, x.shape[1])


def _from_rows(g2, shape):
    if len(shape) <= 2:
        return g2.reshape(shape)
    moved = g2.reshape((shape[0],) + tuple(shape[2:]) + (shape[1],))
    return moved.permute(0, len(shape) - 1, *range(1, len(shape) - 1))


def _reduction_scaled(grad, g, reduction, denom):
    """Per-row gradient rows (Tensor) times the loss's output gradient g: per row for
    reduction 'none', g for 'sum', g / denom for 'mean' (0 when denom is 0)."""
    if reduction == "none":
        return grad * g.reshape(-1, 1)
    if reduction == "sum":
        return grad * g
    return grad * (g / denom) if denom != 0 else grad * 0.0


def _soft_target_grad(fn, g, a, reduction, denom):
    """d/dx of sum_i s_i * (-sum_c a_ic log softmax(x)_ic) = s_i (p_i * sum_c a_ic - a_i), as
    Tensor ops (a constant), s the reduction's scale of g."""
    x = fn.parents[0]
    p = Softmax.apply(_as_rows(x), dim=1)
    grad = _reduction_scaled(p * wrap(a.sum(1, keepdims=True)) - wrap(a), g, reduction, denom)
    return _from_rows(grad, tuple(x.shape))


def _check_smoothing(label_smoothing, fname):
    if isinstance(label_smoothing, bool) or not isinstance(label_smoothing, numbers.Real) \
            or not 0.0 <= label_smoothing <= 1.0:
        raise ValueError("%s: label_smoothing must be a number in [0, 1], got %r"
                         % (fname, label_smoothing))
    return float(label_smoothing)


def _index_target(input, target, fname):
    """Checks integer class-index targets against input (N, C, d...) / (C,)."""
    expected = input.shape[:1] + input.shape[2:] if input.ndim >= 2 else ()
    if tuple(target.shape) != tuple(expected):
        raise ValueError("%s: expected target of shape %s for input of shape %s (class "
                         "indices), got %s" % (fname, tuple(expected), tuple(input.shape),
                                               tuple(target.shape)))


def _check_logits(input, fname):
    _float_tensor(input, fname)
    if input.ndim < 1:
        raise ValueError("%s: input must have a class dimension: (C,), (N, C) or "
                         "(N, C, d1, ...), got a 0-d tensor" % fname)
    C = input.shape[1] if input.ndim >= 2 else input.shape[0]
    if C < 1:
        raise ValueError("%s: input must have at least one class, got shape %s"
                         % (fname, tuple(input.shape)))
    return C


@float32_policy
@via_float32
def cross_entropy(input, target, weight=None, size_average=None, ignore_index=-100, reduce=None,
                  reduction="mean", label_smoothing=0.0):
    fname = "cross_entropy"
    C = _check_logits(input, fname)
    reduction = _reduction(reduction, size_average, reduce, fname)
    eps = _check_smoothing(label_smoothing, fname)
    w = _class_weight(weight, C, input.dtype, fname)
    if not isinstance(target, TensorBase):
        target = wrap(np.asarray(target))
    if target.dtype.kind in "iu":
        _index_target(input, target, fname)
        return CrossEntropy.apply(input, target, weight=w, ignore_index=int(ignore_index),
                                  reduction=reduction, label_smoothing=eps)
    if is_floating(target.dtype):
        if tuple(target.shape) != tuple(input.shape):
            raise ValueError("%s: class-probability target must have the input's shape %s, got "
                             "%s (for class indices use an integer dtype)"
                             % (fname, tuple(input.shape), tuple(target.shape)))
        if target.dtype != input.dtype:
            target = target.to(input.dtype)
        return CrossEntropyProbs.apply(input, target, weight=w, reduction=reduction,
                                       label_smoothing=eps)
    raise TypeError("%s: target must hold int64 class indices or float class probabilities, "
                    "got %s" % (fname, target.dtype))


class NLLLoss(Function):
    def forward(self, x, target, weight=None, ignore_index=-100, reduction="mean"):
        x2 = _rows(x)
        t = _contig(np.asarray(target, dtype=np.int64).reshape(-1))
        loss = np.empty(x2.shape[0], x.dtype) if reduction == "none" else None
        total, wsum = _C.nll_forward(x2, t, weight, ignore_index, loss)
        if self.requires_grad:
            self.saved = (t, weight, x.shape, x2.shape, ignore_index, reduction, wsum)
        if reduction == "none":
            return loss.reshape(np.shape(target))
        return _reduce_scalar(total, wsum, reduction, x.dtype)

    def backward(self, g):
        t, weight, shape, shape2, ignore_index, reduction, wsum = self.saved
        dtype = self.out_dtypes[0]
        rows, scale = _grad_scale(g, reduction, wsum, dtype)
        gx = np.empty(shape2, dtype)
        _C.nll_backward(t, weight, ignore_index, rows, scale, gx)
        return _unrows(gx, shape), None

    def backward_graph(self, g):
        t, weight, shape, shape2, ignore_index, reduction, wsum = self.saved
        dtype = self.out_dtypes[0]
        coef = np.zeros(shape2, dtype)
        rows = np.nonzero(t != ignore_index)[0]
        coef[rows, t[rows]] = -(1.0 if weight is None else weight[t[rows]])
        return _from_rows(_reduction_scaled(wrap(coef), g, reduction, wsum), shape), None


@float32_policy
@via_float32
def nll_loss(input, target, weight=None, size_average=None, ignore_index=-100, reduce=None,
             reduction="mean"):
    fname = "nll_loss"
    C = _check_logits(input, fname)
    reduction = _reduction(reduction, size_average, reduce, fname)
    w = _class_weight(weight, C, input.dtype, fname)
    if not isinstance(target, TensorBase):
        target = wrap(np.asarray(target))
    if target.dtype.kind not in "iu":
        raise TypeError("%s: target must hold integer class indices, got %s"
                        % (fname, target.dtype))
    _index_target(input, target, fname)
    return NLLLoss.apply(input, target, weight=w, ignore_index=int(ignore_index),
                         reduction=reduction)


# ---- pointwise losses -------------------------------------------------------------------------
def _softplus_np(v):
    return np.maximum(v, 0) + np.log1p(np.exp(-np.abs(v)))


class PointwiseLoss(Function):
    """Elementwise loss of input and target (broadcast to one shape) with a reduction.

    denom: 'mean' divides the total by it (numel, sum of weights, or the batch size)."""

    def forward(self, x, t, kind=0, param=0.0, weight=None, pos_weight=None, reduction="mean",
                denom=None):
        if x.shape != t.shape:
            x, t = np.broadcast_arrays(x, t)
        x, t = _contig(x), _contig(t)
        out = np.empty_like(x) if reduction == "none" else None
        total = _C.ploss_forward(kind, x, t, weight, pos_weight, param, out)
        if denom is None:
            denom = x.size
        if self.requires_grad:
            self.saved = (x, t, kind, param, weight, pos_weight, reduction, denom)
        if reduction == "none":
            return out
        return _reduce_scalar(total, denom, reduction, x.dtype)

    def backward(self, g):
        x, t, kind, param, weight, pos_weight, reduction, denom = self.saved
        if reduction == "none":
            rows, scale = _contig(np.asarray(g, dtype=x.dtype)), 1.0
        else:
            g = float(np.asarray(g).reshape(()))
            rows, scale = None, (g if reduction == "sum" else g / denom if denom else np.nan)
        gx = None
        if self.needs_input_grad[0] or self.needs_input_grad[1]:
            gx = np.empty_like(x)
            _C.ploss_backward(kind, x, t, weight, pos_weight, param, rows, scale, gx)
        gt = None
        if self.needs_input_grad[1]:
            gt = self._target_grad(x, t, kind, weight, pos_weight, gx, rows, scale)
        return (gx if self.needs_input_grad[0] else None), gt

    @staticmethod
    def _target_grad(x, t, kind, weight, pos_weight, gx, rows, scale):
        if kind in (_C.PL_MSE, _C.PL_L1, _C.PL_SMOOTH_L1, _C.PL_HUBER):
            return -gx   # symmetric in (x - t)
        s = scale if rows is None else rows * scale
        w = 1.0 if weight is None else weight
        if kind == _C.PL_BCE:
            d = -w * (np.maximum(np.log(x), -100) - np.maximum(np.log1p(-x), -100))
        elif kind == _C.PL_BCE_LOGITS:
            pw = 1.0 if pos_weight is None else pos_weight
            d = w * ((pw - 1.0) * _softplus_np(-x) - x)
        elif kind == _C.PL_KL:
            with np.errstate(divide="ignore", invalid="ignore"):
                d = np.log(t) + 1.0 - x
        else:
            d = np.exp(t) * (t - x + 1.0)
        return (d * s).astype(x.dtype)

    def backward_graph(self, g):
        x, t = self.parents[0], self.parents[1]
        kind, prm = self.kwargs.get("kind", 0), self.kwargs.get("param", 0.0)
        weight, pos_weight = self.kwargs.get("weight"), self.kwargs.get("pos_weight")
        reduction, denom = self.saved[6], self.saved[7]
        symmetric = kind in (_C.PL_MSE, _C.PL_L1, _C.PL_SMOOTH_L1, _C.PL_HUBER)
        if self.needs_input_grad[1] and not symmetric:
            return default_backward_graph(self, g)
        d = x - t
        dd = d._data
        w = 1.0 if weight is None else wrap(np.asarray(weight))
        if kind == _C.PL_MSE:
            fx = 2.0 * d
        elif kind == _C.PL_L1:
            fx = wrap(np.sign(dd))
        elif kind in (_C.PL_SMOOTH_L1, _C.PL_HUBER):
            inside = (np.abs(dd) < prm).astype(dd.dtype)
            slope = 1.0 / prm if kind == _C.PL_SMOOTH_L1 else 1.0
            cap = 1.0 if kind == _C.PL_SMOOTH_L1 else prm
            fx = d * wrap(inside * slope) + wrap((1 - inside) * np.sign(dd) * cap)
        elif kind == _C.PL_BCE:
            fx = w * d / (x * (1.0 - x)).clamp(min=1e-12)
        elif kind == _C.PL_BCE_LOGITS:
            pw = 1.0 if pos_weight is None else wrap(np.asarray(pos_weight))
            fx = w * ((1.0 + (pw - 1.0) * t) * x.sigmoid() - pw * t)
        elif kind == _C.PL_KL:
            fx = -t * wrap(np.ones(dd.shape, dd.dtype))
        else:
            fx = -(t.exp()) * wrap(np.ones(dd.shape, dd.dtype))
        if reduction in ("none", "sum"):
            gx = fx * g
        else:
            gx = fx * (g / denom) if denom else fx * float("nan")
        need = self.needs_input_grad
        return (gx if need[0] else None), (-gx if need[1] else None)


def _pair(input, target, fname, same_shape=False):
    _float_tensor(input, fname)
    if not isinstance(target, TensorBase):
        target = wrap(np.asarray(target, dtype=input.dtype))
    if target.dtype.kind not in "fiub" and not is_floating(target.dtype):
        raise TypeError("%s: target must be numeric, got %s" % (fname, target.dtype))
    if target.dtype != input.dtype:
        target = target.to(input.dtype)
    if tuple(target.shape) != tuple(input.shape):
        if same_shape:
            raise ValueError("%s: target size %s must be the same as input size %s"
                             % (fname, tuple(target.shape), tuple(input.shape)))
        try:
            np.broadcast_shapes(tuple(input.shape), tuple(target.shape))
        except ValueError:
            raise ValueError("%s: target size %s cannot be broadcast to the input size %s"
                             % (fname, tuple(target.shape), tuple(input.shape))) from None
        warnings.warn("%s: using a target size %s that is different to the input size %s; the "
                      "two are broadcast, which is likely not what you want"
                      % (fname, tuple(target.shape), tuple(input.shape)), stacklevel=3)
    return input, target


def _full_weight(weight, shape, dtype, fname, name, exact=False):
    """weight broadcast to the full input shape as a contiguous array (None stays None)."""
    w = _array(weight, dtype, fname, name)
    if w is None:
        return None
    if exact and w.shape != tuple(shape):
        raise ValueError("%s: %s must have the input's size %s, got %s"
                         % (fname, name, tuple(shape), w.shape))
    if w.shape == tuple(shape):
        return _contig(w)
    try:
        return np.ascontiguousarray(np.broadcast_to(w, shape))
    except ValueError:
        raise ValueError("%s: %s of shape %s cannot be broadcast to the input shape %s"
                         % (fname, name, w.shape, tuple(shape))) from None


def _weighted_pointwise(input, target, kind, param, weight, reduction, fname, mean_by_weight):
    shape = np.broadcast_shapes(tuple(input.shape), tuple(target.shape))
    w = _full_weight(weight, shape, input.dtype, fname, "weight", exact=True)
    if w is not None and tuple(input.shape) != shape:
        raise ValueError("%s: weight needs input and target of one size, got %s and %s"
                         % (fname, tuple(input.shape), tuple(target.shape)))
    if w is None:
        return PointwiseLoss.apply(input, target, kind=kind, param=param, reduction=reduction)
    denom = float(w.sum(dtype=np.float64)) if mean_by_weight else None
    # weight scales the loss elementwise: run unweighted per element, scale by w
    per = PointwiseLoss.apply(input, target, kind=kind, param=param, reduction="none")
    wl = per * wrap(w)
    if reduction == "none":
        return wl
    total = wl.sum()
    if reduction == "sum":
        return total
    return total / (denom if denom is not None else float(w.size))


def _distance_loss(kind, fname, input, target, size_average, reduce, reduction, weight):
    """mse_loss and l1_loss: the per-element distance `kind`; a weight's mean divides by the
    weights' sum."""
    reduction = _reduction(reduction, size_average, reduce, fname)
    input, target = _pair(input, target, fname)
    return _weighted_pointwise(input, target, kind, 0.0, weight, reduction, fname, True)


@float32_policy
@via_float32
def mse_loss(input, target, size_average=None, reduce=None, reduction="mean", weight=None):
    return _distance_loss(_C.PL_MSE, "mse_loss", input, target, size_average, reduce, reduction,
                          weight)


@float32_policy
@via_float32
def l1_loss(input, target, size_average=None, reduce=None, reduction="mean", weight=None):
    return _distance_loss(_C.PL_L1, "l1_loss", input, target, size_average, reduce, reduction,
                          weight)


@float32_policy
@via_float32
def smooth_l1_loss(input, target, size_average=None, reduce=None, reduction="mean", beta=1.0):
    fname = "smooth_l1_loss"
    reduction = _reduction(reduction, size_average, reduce, fname)
    input, target = _pair(input, target, fname)
    if isinstance(beta, bool) or not isinstance(beta, numbers.Real) or beta < 0:
        raise ValueError("%s: beta must be a non-negative number, got %r" % (fname, beta))
    if beta == 0:
        return PointwiseLoss.apply(input, target, kind=_C.PL_L1, reduction=reduction)
    return PointwiseLoss.apply(input, target, kind=_C.PL_SMOOTH_L1, param=float(beta),
                               reduction=reduction)


@float32_policy
@via_float32
def huber_loss(input, target, reduction="mean", delta=1.0, weight=None):
    fname = "huber_loss"
    reduction = _reduction(reduction, None, None, fname)
    input, target = _pair(input, target, fname)
    if isinstance(delta, bool) or not isinstance(delta, numbers.Real) or not delta > 0:
        raise ValueError("%s: delta must be a positive number, got %r" % (fname, delta))
    return _weighted_pointwise(input, target, _C.PL_HUBER, float(delta), weight, reduction,
                               fname, False)


@float32_policy
@via_float32
def binary_cross_entropy(input, target, weight=None, size_average=None, reduce=None,
                         reduction="mean"):
    fname = "binary_cross_entropy"
    reduction = _reduction(reduction, size_average, reduce, fname)
    input, target = _pair(input, target, fname, same_shape=True)
    w = _full_weight(weight, input.shape, input.dtype, fname, "weight")
    return PointwiseLoss.apply(input, target, kind=_C.PL_BCE, weight=w, reduction=reduction)


@float32_policy
@via_float32
def binary_cross_entropy_with_logits(input, target, weight=None, size_average=None, reduce=None,
                                     reduction="mean", pos_weight=None):
    fname = "binary_cross_entropy_with_logits"
    reduction = _reduction(reduction, size_average, reduce, fname)
    input, target = _pair(input, target, fname, same_shape=True)
    w = _full_weight(weight, input.shape, input.dtype, fname, "weight")
    pw = _full_weight(pos_weight, input.shape, input.dtype, fname, "pos_weight")
    return PointwiseLoss.apply(input, target, kind=_C.PL_BCE_LOGITS, weight=w, pos_weight=pw,
                               reduction=reduction)


@float32_policy
@via_float32
def kl_div(input, target, size_average=None, reduce=None, reduction="mean", log_target=False):
    fname = "kl_div"
    reduction = _reduction(reduction, size_average, reduce, fname,
                           allowed=_REDUCTIONS + ("batchmean",))
    input, target = _pair(input, target, fname)
    kind = _C.PL_KL_LOG_TARGET if log_target else _C.PL_KL
    if reduction == "batchmean":
        n = input.shape[0] if input.ndim > 0 else 1
        return PointwiseLoss.apply(input, target, kind=kind, reduction="mean", denom=n)
    return PointwiseLoss.apply(input, target, kind=kind, reduction=reduction)
