"""Packed q|k|v projections split into attention heads without copies.

A self-attention layer projects its input once with the stacked (3E, E) weight, giving rows of
[q | k | v] (E each).  `split_heads` hands out q, k and v as (batch, heads, seq, head_dim)
views of that one array (the attention kernel reads strided operands), and its backward writes
the three head gradients back into one (rows, 3E) array in a single pass, which is what the
projection's backward reads.  Composing reshape / permute / chunk instead costs a copy per
tensor in each direction and three zero-filled gradients of the packed array.
"""
import numpy as np

from ..autograd import Function
from ..tensor_base import TensorBase
from .join import stack

__all__ = ["split_heads"]


class SplitHeads(Function):
    """(N, L, P*E) (batch_first) or (L, N, P*E) -> P views (N, H, L, E/H)."""
    LINEAR = True

    def forward(self, x, parts=3, heads=1, batch_first=True):
        a, b, width = x.shape
        hd = width // (parts * heads)
        # (A, B, P, H, hd) -> (P, N, H, L, hd): N and L are A, B in batch_first order
        x5 = x.reshape(a, b, parts, heads, hd)
        order = (2, 0, 3, 1, 4) if batch_first else (2, 1, 3, 0, 4)
        v = x5.transpose(order)
        if self.requires_grad:
            self.shape5, self.order, self.dtype = x5.shape, order, x.dtype
        return tuple(v[i] for i in range(parts))

    def backward(self, *grads):
        a, b = self.shape5[:2]
        buf = grads[0].base
        if buf is not None and buf.dtype == self.dtype and buf.flags.c_contiguous \
                and buf.size == int(np.prod(self.shape5)):
            # the attention backward wrote the head gradients straight into one packed
            # buffer (gradient_views): it already is this op's input gradient
            view = buf.reshape(self.shape5).transpose(self.order)
            if all(g.base is buf and _same_view(g, view[i]) for i, g in enumerate(grads)):
                return buf.reshape(a, b, -1)
        g5 = np.empty(self.shape5, self.dtype)
        view = g5.transpose(self.order)
        for i, g in enumerate(grads):
            if g is None:
                view[i] = 0
            else:
                view[i] = g
        return g5.reshape(a, b, -1)

    def backward_graph(self, *grads):
        perm = [0] * 5
        for i, o in enumerate(self.order):
            perm[o] = i
        g = stack(list(grads), 0).permute(*perm)
        a, b = self.shape5[:2]
        return g.reshape(a, b, -1)


def _same_view(x, y):
    """x and y look at the same elements (data pointer, shape and strides)."""
    return (x.shape == y.shape and x.strides == y.strides
            and x.__array_interface__["data"][0] == y.__array_interface__["data"][0])


def gradient_views(q, k, v, dtype):
    """When arrays q, k, v are the three (N, H, L, hd) views SplitHeads cut from one packed
    array: the same three views of a new buffer of that array's shape (their gradients, so
    that the attention kernel writes the packed q|k|v gradient directly); else None."""
    base = q.base
    if base is None or k.base is not base or v.base is not base \
            or not base.flags.c_contiguous or q.ndim != 4 or k.shape != q.shape \
            or v.shape != q.shape:
        return None
    N, H, L, hd = q.shape
    if base.size != 3 * N * H * L * hd:
        return None
    for order, (a, b) in (((2, 0, 3, 1, 4), (N, L)), ((2, 1, 3, 0, 4), (L, N))):
        v5 = base.reshape(a, b, 3, H, hd).transpose(order)
        if all(_same_view(t, v5[i]) for i, t in enumerate((q, k, v))):
            g5 = np.empty(base.shape, dtype).reshape(a, b, 3, H, hd).transpose(order)
            return g5[0], g5[1], g5[2]
    return None


def split_heads(packed, parts, heads, batch_first):
    """The `parts` slices of width E of a packed (N, L, parts*E) projection ((L, N, ...) when
    not batch_first), each as (N, heads, L, E // heads) views sharing its memory."""
    if not isinstance(packed, TensorBase) or packed.ndim != 3:
        raise ValueError("split_heads: packed must be a 3-D Tensor, got %s"
                         % (tuple(packed.shape) if isinstance(packed, TensorBase)
                            else type(packed).__name__,))
    width = packed.shape[-1]
    if parts < 1 or heads < 1 or width % (parts * heads):
        raise ValueError("split_heads: last dim %d does not split into %d parts of %d heads"
                         % (width, parts, heads))
    return SplitHeads.apply(packed, parts=int(parts), heads=int(heads),
                            batch_first=bool(batch_first))
