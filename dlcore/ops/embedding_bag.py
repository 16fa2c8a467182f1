"""embedding_bag: sums, means or maxima of bags of embedding rows without materializing the
per-bag lists (torch's F.embedding_bag arguments and edge cases).

The rows are looked up once (F.embedding, so max_norm renorming and scale_grad_by_freq behave
as there), optionally scaled by per_sample_weights, then reduced per bag: sum and mean as one
product with a constant (bags x rows) matrix (padding_idx entries weigh 0 and are not
counted), max as a max over a (bags, longest bag, dim) gather padded with -inf.  Empty bags
give zeros.  All differentiable ops, so gradients come from autograd.
"""
import numpy as np

from ..tensor_base import TensorBase, wrap
from .arith import Where
from .join import cat
from .sparse import embedding

__all__ = ["embedding_bag"]


def _bags(fname, input, offsets, include_last_offset):
    """(flat int64 indices, bag start offsets (B + 1, the last = len))."""
    if not isinstance(input, TensorBase):
        raise TypeError("%s: input must be a Tensor, got %s" % (fname, type(input).__name__))
    idx = np.asarray(input._data)
    if idx.dtype.kind not in "iu":
        raise TypeError("%s: input must hold integer indices, got %s" % (fname, idx.dtype))
    if idx.ndim == 2:
        if offsets is not None:
            raise ValueError("%s: if input is 2D, then offsets has to be None, as input is "
                             "treated is a mini-batch of fixed length sequences." % fname)
        B, n = idx.shape
        return idx.reshape(-1).astype(np.int64), np.arange(B + 1, dtype=np.int64) * n
    if idx.ndim != 1:
        raise ValueError("%s: input has to be 1D or 2D Tensor, but got Tensor of dimension %d"
                         % (fname, idx.ndim))
    if offsets is None:
        raise ValueError("%s: offsets has to be a 1D Tensor but got None" % fname)
    off = np.asarray(offsets._data if isinstance(offsets, TensorBase) else offsets)
    if off.ndim != 1 or off.dtype.kind not in "iu":
        raise ValueError("%s: offsets has to be a 1D integer Tensor" % fname)
    off = off.astype(np.int64)
    if off.size == 0 or off[0] != 0:
        raise ValueError("%s: offsets[0] has to be 0, i.e., the first sequence in the "
                         "mini-batch has to start from position 0." % fname)
    if np.any(np.diff(off) < 0) or off[-1] > idx.size:
        raise ValueError("%s: offsets must be non-decreasing and at most len(input) = %d"
                         % (fname, idx.size))
    if include_last_offset:
        off = off.copy()
        off[-1] = min(off[-1], idx.size)
        ends = off
    else:
        ends = np.append(off, idx.size)
    return idx.astype(np.int64), ends


def embedding_bag(input, weight, offsets=None, max_norm=None, norm_type=2,
                  scale_grad_by_freq=False, mode="mean", sparse=False, per_sample_weights=None,
                  include_last_offset=False, padding_idx=None):
    fname = "embedding_bag"
    if mode not in ("sum", "mean", "max"):
        raise ValueError("%s: mode has to be one of sum, mean or max, got %r" % (fname, mode))
    if not isinstance(weight, TensorBase) or weight.ndim != 2:
        raise ValueError("%s: weight has to be a 2D Tensor" % fname)
    idx, ends = _bags(fname, input, offsets, include_last_offset)
    if per_sample_weights is not None:
        if mode != "sum":
            raise NotImplementedError("%s: per_sample_weights was not None. per_sample_weights "
                                      "is only supported for mode='sum' (got mode='%s'). Please "
                                      "open a feature request on GitHub." % (fname, mode))
        if tuple(per_sample_weights.shape) != tuple(input.shape):
            raise ValueError("%s: embedding_bag: If per_sample_weights (%s) is not None, then "
                             "it must have the same shape as the input (%s)"
                             % (fname, tuple(per_sample_weights.shape), tuple(input.shape)))
    n = weight.shape[0]
    if padding_idx is not None:
        if not -n <= padding_idx < n:
            raise ValueError("%s: padding_idx must be within num_embeddings" % fname)
        padding_idx %= n
    rows = embedding(wrap(idx), weight, None, max_norm, norm_type, scale_grad_by_freq, sparse)
    if per_sample_weights is not None:
        rows = rows * per_sample_weights.reshape(-1, 1).to(rows.dtype)
    B = len(ends) - 1
    keep = idx != padding_idx if padding_idx is not None else np.ones(idx.size, bool)
    if mode in ("sum", "mean"):
        M = np.zeros((B, idx.size), dtype=weight.dtype)
        for b in range(B):
            s, e = ends[b], ends[b + 1]
            k = keep[s:e]
            count = int(k.sum())
            if count:
                M[b, s:e] = k / count if mode == "mean" else k
        return wrap(M) @ rows
    longest = max(1, int(np.max(np.diff(ends), initial=0)))
    gather = np.full((B, longest), idx.size, dtype=np.int64)   # idx.size: the -inf row
    for b in range(B):
        s, e = ends[b], ends[b + 1]
        pos = np.arange(s, e)[keep[s:e]]
        gather[b, :pos.size] = pos
    neg = wrap(np.full((1, weight.shape[1]), -np.inf, dtype=weight.dtype))
    out = cat([rows, neg], 0)[wrap(gather)].max(dim=1)[0]
    empty = (gather == idx.size).all(axis=1)
    if empty.any():
        out = Where.apply(~empty[:, None], out, np.zeros((), weight.dtype))
    return out
