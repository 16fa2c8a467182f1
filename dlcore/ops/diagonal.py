"""diagonal(input, offset, dim1, dim2): the diagonal of the (dim1, dim2) planes as the last dim
(a copy; torch's is a view).  The gradient scatters back onto that diagonal."""
import numpy as np

from ..autograd import Function
from ..shapes import norm_dim


class Diagonal(Function):
    LINEAR = True

    def forward(self, a, offset=0, dim1=-2, dim2=-1):
        self.shape, self.args = a.shape, (offset, dim1, dim2)
        return np.diagonal(a, offset, dim1, dim2).copy()

    def backward(self, g):
        out = np.zeros(self.shape, g.dtype)
        # np.diagonal of a writeable array is read-only: write through the same index
        offset, dim1, dim2 = self.args
        view = np.moveaxis(out, (dim1, dim2), (-2, -1))
        n = g.shape[-1]
        rows = np.arange(n) + max(-offset, 0)
        cols = np.arange(n) + max(offset, 0)
        view[..., rows, cols] = g
        return out


def diagonal(input, offset=0, dim1=0, dim2=1):
    d1 = norm_dim(dim1, input.ndim, "diagonal")
    d2 = norm_dim(dim2, input.ndim, "diagonal")
    if d1 == d2:
        raise RuntimeError("diagonal dimensions cannot be identical %d, %d" % (dim1, dim2))
    return Diagonal.apply(input, offset=int(offset), dim1=d1, dim2=d2)
