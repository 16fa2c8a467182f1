"""ctc_loss: connectionist temporal classification (torch's F.ctc_loss arguments, reductions
and zero_infinity), as the forward (alpha) recursion in log space over time, batched over the
samples, made of differentiable ops so autograd gives the gradient.

Per sample, the target l is extended with blanks, l' = (b, l1, b, l2, ..., b); alpha_t(s)
= logsumexp(alpha_{t-1}(s), alpha_{t-1}(s-1), alpha_{t-1}(s-2) where l'_s is not blank and
differs from l'_{s-2}) + log_probs[t, l'_s]; the loss is -logsumexp of the last two states at
the sample's last input step.  "Impossible" stands for a large negative number (-1e30) rather
than -inf, so no gradient is NaN; a loss that stays that large is an impossible alignment and
reported as inf (or 0 with zero_infinity), as torch.

torch's backward returns the loss's gradient plus exp(log_probs) at each sample's time steps
(the gradient as if log_probs were logits of a softmax); a term of value 0 with that gradient
is added so gradients match torch's for any log_probs.  After a log_softmax (the usual graph)
the extra term cancels, and both are the true gradient.
"""
import numpy as np

from ..tensor_base import TensorBase, wrap
from .arith import Where
from .join import cat

__all__ = ["ctc_loss"]

_NEG = -1e30


def _ints(fname, name, v):
    arr = np.asarray(v._data if isinstance(v, TensorBase) else v)
    if arr.dtype.kind not in "iu":
        raise TypeError("%s: %s must hold integers, got %s" % (fname, name, arr.dtype))
    return arr.astype(np.int64).reshape(-1) if arr.ndim <= 1 else arr.astype(np.int64)


def _lse3(a, b, c):
    m = a.maximum(b).maximum(c).detach()
    return m + ((a - m).exp() + (b - m).exp() + (c - m).exp()).log()


def ctc_loss(log_probs, targets, input_lengths, target_lengths, blank=0, reduction="mean",
             zero_infinity=False):
    fname = "ctc_loss"
    if reduction not in ("none", "mean", "sum"):
        raise ValueError("%s: reduction must be 'none', 'mean' or 'sum', got %r"
                         % (fname, reduction))
    if not isinstance(log_probs, TensorBase) or log_probs.dtype.kind != "f":
        raise TypeError("%s: log_probs must be a floating Tensor" % fname)
    unbatched = log_probs.ndim == 2
    lp = log_probs.unsqueeze(1) if unbatched else log_probs
    if lp.ndim != 3:
        raise ValueError("%s: log_probs must be (T, N, C) or (T, C), got shape %s"
                         % (fname, tuple(log_probs.shape)))
    T, N, C = lp.shape
    if not 0 <= blank < C:
        raise ValueError("%s: blank must be in label range [0, %d), got %d" % (fname, C, blank))
    il = _ints(fname, "input_lengths", input_lengths).reshape(-1)
    tl = _ints(fname, "target_lengths", target_lengths).reshape(-1)
    tg = _ints(fname, "targets", targets)
    if il.size != N or tl.size != N:
        raise ValueError("%s: input_lengths and target_lengths must have %d entries, got %d and "
                         "%d" % (fname, N, il.size, tl.size))
    if np.any(il < 0) or np.any(il > T):
        raise ValueError("%s: input_lengths must be in [0, %d], got %s" % (fname, T, il))
    if np.any(tl < 0):
        raise ValueError("%s: target_lengths must be non-negative, got %s" % (fname, tl))
    if unbatched:
        tg = tg.reshape(1, -1)
    rows = []
    if tg.ndim == 1:                      # all targets concatenated
        if tg.size < tl.sum():
            raise ValueError("%s: targets has %d entries, target_lengths sum to %d"
                             % (fname, tg.size, int(tl.sum())))
        starts = np.concatenate([[0], np.cumsum(tl)[:-1]])
        rows = [tg[s:s + n] for s, n in zip(starts, tl)]
    else:
        if tg.shape[0] != N or np.any(tl > tg.shape[1]):
            raise ValueError("%s: targets of shape %s do not fit target_lengths %s"
                             % (fname, tg.shape, tl))
        rows = [tg[n, :tl[n]] for n in range(N)]
    for r in rows:
        if r.size and (r.min() < 0 or r.max() >= C or np.any(r == blank)):
            raise ValueError("%s: targets must be class indices in [0, %d) other than the "
                             "blank (%d)" % (fname, C, blank))
    L = 2 * int(tl.max(initial=0)) + 1
    ext = np.full((N, L), blank, dtype=np.int64)
    valid = np.zeros((N, L), dtype=bool)
    skip = np.zeros((N, L), dtype=bool)   # the s-2 transition is allowed
    for n, r in enumerate(rows):
        ext[n, 1:2 * r.size:2] = r
        valid[n, :2 * r.size + 1] = True
        for s in range(3, 2 * r.size, 2):
            skip[n, s] = ext[n, s] != ext[n, s - 2]
    dt = lp.dtype
    neg = wrap(np.full((N, 1), _NEG, dtype=dt))
    neg2 = wrap(np.full((N, 2), _NEG, dtype=dt))
    none = np.full((), _NEG, dtype=dt)
    gather = wrap(ext)
    start = np.zeros((N, L), dtype=bool)
    start[:, :2] = True
    start &= valid
    alpha = Where.apply(start, lp[0].gather(1, gather), none)
    for t in range(1, T):
        new = _lse3(alpha, _shift(alpha, neg, 1), Where.apply(skip, _shift(alpha, neg2, 2), none))
        new = Where.apply(valid, new + lp[t].gather(1, gather), none)
        alpha = Where.apply((t < il)[:, None], new, alpha)
    last = np.clip(2 * tl, 0, L - 1)
    a_last = alpha.gather(1, wrap(last[:, None]))
    a_prev = alpha.gather(1, wrap(np.maximum(last - 1, 0)[:, None]))
    a_prev = Where.apply((tl > 0)[:, None], a_prev, none)
    m = a_last.maximum(a_prev).detach()
    loss = -(m + ((a_last - m).exp() + (a_prev - m).exp()).log()).reshape(N)
    # torch's gradient: + exp(log_probs) at each sample's steps (a term whose value is 0)
    steps = (np.arange(T)[:, None] < il[None, :]).astype(dt)[:, :, None]
    e = lp.exp()
    loss = loss + ((e - e.detach()) * wrap(steps)).sum((0, 2))
    impossible = (loss.detach()._data > -_NEG / 2) | (il == 0) & (tl > 0)
    if impossible.any():
        fill = np.zeros((), dt) if zero_infinity else np.full((), np.inf, dt)
        loss = Where.apply(~impossible, loss, fill)
    if reduction == "none":
        return loss.squeeze(0) if unbatched else loss
    if reduction == "sum":
        return loss.sum()
    return (loss / wrap(np.maximum(tl, 1).astype(dt))).mean()


def _shift(alpha, pad, k):
    """alpha moved k states right along dim 1, `pad` (N, k) filling the first k."""
    L = alpha.shape[1]
    if L <= k:
        return pad[:, :L]
    return cat([pad, alpha[:, :L - k]], 1)
