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
        g5 = np.empty(self.shape5, self.dtype)
        view = g5.transpose(self.order)
        for i, g in enumerate(grads):
            if g is None:
                view[i] = 0
            else:
                view[i] = g
        a, b = self.shape5[:2]
        return g5.reshape(a, b, -1)

    def backward_graph(self, *grads):
        perm = [0] * 5
        for i, o in enumerate(self.order):
            perm[o] = i
        g = stack(list(grads), 0).permute(*perm)
        a, b = self.shape5[:2]
        return g.reshape(a, b, -1)


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
