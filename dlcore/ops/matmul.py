"""Matrix products on the engine's GEMM: matmul with NumPy/PyTorch broadcasting, and linear.

Operands are handed to the kernel without copies when their rows are contiguous: a transposed
view is passed as the original matrix with the transpose flag set.  `MatmulMethods` holds the
Tensor's @ operator.
"""
import numpy as np

from .. import _C
from ..autograd import Function
from ..dtypes import float16, is_bf16
from ..tensor_base import TensorBase, operand as _as_operand
from . import bf16_matmul
from .half import via_float32
from .half_convert import widen
from .autocast import lower_precision

_FLOAT = (np.dtype(np.float32), np.dtype(np.float64))


def _operand(x):
    """(array the kernel reads, transposed?) for a 2-D array, copying only when unavoidable."""
    item = x.itemsize
    if x.strides[1] == item or x.shape[1] <= 1:
        if x.strides[0] >= 0 and x.strides[0] % item == 0:
            return x, False
    xt = x.T
    if xt.strides[1] == item and xt.strides[0] >= 0 and xt.strides[0] % item == 0:
        return xt, True
    return np.ascontiguousarray(x), False


def mm(a, b, transa=False, transb=False, out=None, bias=None, act=0, alpha=1.0, beta=0.0):
    """out = act(op(a) @ op(b) + bias) for 2-D float arrays of one dtype, by the C GEMM."""
    if transa:
        a = a.T
    if transb:
        b = b.T
    if is_bf16(a.dtype):  # the bf16 GEMM: float32 sums, one rounding (out/act unused here)
        return bf16_matmul.mm(a, b, bias)
    A, ta = _operand(a)
    B, tb = _operand(b)
    if out is None:
        out = np.empty((a.shape[0], b.shape[1]), dtype=a.dtype)
        beta = 0.0
    if a.shape[0] == 0 or b.shape[1] == 0:
        return out
    if a.shape[1] == 0:
        # an empty inner dimension: the product is zero (then bias and activation)
        if beta == 0.0:
            out[...] = 0
        else:
            out *= beta
        if bias is not None:
            out += bias
        if act == 1:
            np.maximum(out, 0, out=out)
        return out
    _C.gemm(A, B, out, ta, tb, alpha, beta, bias, 1 if bias is not None else 0, act)
    return out


_ONES = {}  # dtype -> a (1, n) row of ones, grown as needed; column_sums reads a prefix


def column_sums(g):
    """g.sum(axis=0) of a 2-D float array (a bias gradient): a ones-row times g on the GEMM,
    whose vector path runs 2-4x faster than NumPy's row-by-row reduction; an owned array."""
    rows, n = g.shape
    if g.dtype not in _FLOAT or rows < 8 or n == 0:
        return g.sum(axis=0)
    ones = _ONES.get(g.dtype)
    if ones is None or ones.shape[1] < rows:
        ones = _ONES[g.dtype] = np.ones((1, max(rows, 256)), g.dtype)
    out = np.empty(n, g.dtype)
    mm(ones[:, :rows], g, out=out.reshape(1, n))
    return out


def _rows(x):
    """x as a 2-D (rows, last dim) array; explicit sizes, as -1 is ambiguous when empty."""
    return x.reshape(int(np.prod(x.shape[:-1])), x.shape[-1])


def _batched(a, b):
    """a @ b for (..., M, K) @ (..., K, N) float arrays with broadcast batch dims."""
    if b.ndim == 2:
        lead = a.shape[:-1]
        return mm(_rows(a), b).reshape(lead + (b.shape[1],))
    batch = np.broadcast_shapes(a.shape[:-2], b.shape[:-2])
    nb = int(np.prod(batch))
    A = np.ascontiguousarray(np.broadcast_to(a, batch + a.shape[-2:])).reshape((nb,) + a.shape[-2:])
    B = np.ascontiguousarray(np.broadcast_to(b, batch + b.shape[-2:])).reshape((nb,) + b.shape[-2:])
    out = np.empty((A.shape[0], a.shape[-2], b.shape[-1]), dtype=a.dtype)
    if out.size and a.shape[-1] == 0:
        out[...] = 0
    elif out.size:
        _C.gemm_batched(A, B, out)
    return out.reshape(batch + out.shape[1:])


def _matmul_arrays(a, b):
    if is_bf16(a.dtype) and is_bf16(b.dtype):
        return bf16_matmul.batched(a, b)
    if a.dtype not in _FLOAT or a.dtype != b.dtype:
        return np.matmul(a, b)
    if a.ndim == 2 and b.ndim == 2:
        return mm(a, b)
    return _batched(a, b)


class MatMul(Function):
    def forward(self, a, b):
        if self.requires_grad:
            self.a, self.b = a, b
        return _matmul_arrays(a, b)

    def backward(self, g):
        a, b = self.a, self.b
        ga = gb = None
        if self.needs_input_grad[0]:
            ga = _matmul_arrays(g, np.swapaxes(b, -1, -2))
        if self.needs_input_grad[1]:
            if b.ndim == 2 and a.ndim > 2:
                gb = mm(_rows(a), _rows(g), transa=True)
            else:
                gb = _matmul_arrays(np.swapaxes(a, -1, -2), g)
        return ga, gb

    def backward_graph(self, g):
        a, b = self.parents
        need = self.needs_input_grad
        ga = gb = None
        if need[0]:
            ga = MatMul.apply(g, b.transpose(-1, -2))
        if need[1]:
            if b.ndim == 2 and a.ndim > 2:
                a2 = a.reshape(-1, a.shape[-1])
                gb = MatMul.apply(a2.transpose(0, 1), g.reshape(-1, g.shape[-1]))
            else:
                gb = MatMul.apply(a.transpose(-1, -2), g)
        return ga, gb


@lower_precision
@via_float32(only=float16)  # float16: float32 GEMM on widened values, rounded back
def matmul(a, b):
    """Matrix product with PyTorch's rules for 1-D operands and broadcast batch dims."""
    if not isinstance(a, TensorBase):
        a = _as_operand(a, b)
    if not isinstance(b, TensorBase):
        b = _as_operand(b, a)
    if a.ndim == 0 or b.ndim == 0:
        raise ValueError("matmul: both arguments need at least 1 dim, got shapes %s and %s"
                         % (tuple(a.shape), tuple(b.shape)))
    if a.dtype != b.dtype:
        raise TypeError("matmul: expected both operands to have the same dtype, got %s and %s"
                        % (a.dtype, b.dtype))
    ka = a.shape[-1]
    kb = b.shape[0] if b.ndim == 1 else b.shape[-2]
    if ka != kb:
        raise ValueError("matmul: shapes %s and %s cannot be multiplied (%d != %d)"
                         % (tuple(a.shape), tuple(b.shape), ka, kb))
    if a.ndim > 2 and b.ndim > 2:
        try:
            np.broadcast_shapes(tuple(a.shape[:-2]), tuple(b.shape[:-2]))
        except ValueError:
            raise ValueError("matmul: batch dims %s and %s do not broadcast"
                             % (tuple(a.shape[:-2]), tuple(b.shape[:-2]))) from None
    squeeze_a = a.ndim == 1
    squeeze_b = b.ndim == 1
    if squeeze_a:
        a = a.unsqueeze(0)
    if squeeze_b:
        b = b.unsqueeze(1)
    out = MatMul.apply(a, b)
    if squeeze_a:
        out = out.squeeze(-2)
    if squeeze_b:
        out = out.squeeze(-1)
    return out


class Linear(Function):
    """y = x @ W.T + b: one GEMM with the bias fused into its epilogue."""

    def forward(self, x, w, b=None):
        if b is not None and not b.flags.c_contiguous:
            b = np.ascontiguousarray(b)  # the fused epilogue reads the bias as one run
        if x.ndim == 2 and not self.requires_grad and x.shape[0] and x.shape[1] and w.shape[0] \
                and x.flags.c_contiguous and w.flags.c_contiguous and not is_bf16(x.dtype):
            # rows times a contiguous weight, nothing saved: mm's operand analysis in short
            y = np.empty((x.shape[0], w.shape[0]), x.dtype)
            _C.gemm(x, w, y, False, True, 1.0, 0.0, b, 1 if b is not None else 0, 0)
            return y
        lead = x.shape[:-1]
        x2 = x.reshape(-1, x.shape[-1])
        if self.requires_grad:
            self.x2, self.w, self.lead, self.has_b = x2, w, lead, b is not None
        y = mm(x2, w, transb=True, bias=b)
        return y.reshape(lead + (w.shape[0],))

    def backward(self, g):
        g2 = g.reshape(-1, g.shape[-1])
        gx = gw = gb = None
        if self.needs_input_grad[0]:
            gx = mm(g2, self.w).reshape(self.lead + (self.w.shape[1],))
        if self.needs_input_grad[1]:
            gw = mm(g2, self.x2, transa=True)
        if self.has_b and self.needs_input_grad[2]:
            gb = column_sums(g2) if not is_bf16(g2.dtype) else \
                widen(g2).sum(axis=0).astype(g2.dtype)  # summed in float32
        return gx, gw, gb

    def backward_graph(self, g):
        x, w = self.parents[0], self.parents[1]
        need = self.needs_input_grad
        g2 = g.reshape(-1, g.shape[-1])
        gx = MatMul.apply(g, w) if need[0] else None
        gw = MatMul.apply(g2.transpose(0, 1), x.reshape(-1, x.shape[-1])) if need[1] else None
        gb = g2.sum(0) if len(need) > 2 and need[2] else None
        return gx, gw, gb


@lower_precision
@via_float32(only=float16)
def linear(input, weight, bias=None):
    """F.linear: input (..., in) @ weight (out, in).T + bias (out)."""
    if not isinstance(input, TensorBase) or not isinstance(weight, TensorBase):
        raise TypeError("linear: input and weight must be Tensors")
    x, w = input._data, weight._data
    if w.ndim != 2:
        raise ValueError("linear: weight must be 2-D (out_features, in_features), got shape %s"
                         % (w.shape,))
    if x.ndim == 0 or x.shape[-1] != w.shape[1]:
        raise ValueError("linear: input's last dim must be in_features=%d, got shape %s"
                         % (w.shape[1], x.shape))
    if x.dtype != w.dtype:
        raise TypeError("linear: input dtype %s does not match weight dtype %s"
                        % (x.dtype, w.dtype))
    if x.dtype not in _FLOAT and not is_bf16(x.dtype):
        raise TypeError("linear: expected a float tensor, got %s" % x.dtype)
    if bias is None:
        return Linear.apply(input, weight)
    if bias._data.shape != (w.shape[0],):
        raise ValueError("linear: bias must have shape (%d,), got %s"
                         % (w.shape[0], bias._data.shape))
    if bias._data.dtype != w.dtype:
        raise TypeError("linear: bias dtype %s does not match weight dtype %s"
                        % (bias._data.dtype, w.dtype))
    return Linear.apply(input, weight, bias)


class MatmulMethods:
    """The Tensor's matrix-product operators."""

    __slots__ = ()

    def __matmul__(self, o):
        if getattr(o, "is_sparse", False):
            return NotImplemented  # dense @ sparse: the sparse tensor's __rmatmul__
        return matmul(self, o)

    def __rmatmul__(self, o):
        return matmul(_as_operand(o, self), self)

    def matmul(self, other):
        return matmul(self, other)

    def mm(self, mat2):
        _check_dims("mm", 2, self, mat2)
        return matmul(self, mat2)

    def bmm(self, mat2):
        _check_dims("bmm", 3, self, mat2)
        if self.shape[0] != mat2.shape[0]:
            raise RuntimeError("bmm: batch sizes differ: %d and %d"
                               % (self.shape[0], mat2.shape[0]))
        return matmul(self, mat2)

    def mv(self, vec):
        if self.ndim != 2 or getattr(vec, "ndim", None) != 1:
            raise RuntimeError("mv: expected a 2-D matrix and a 1-D vector, got %d-D and %s"
                               % (self.ndim, getattr(vec, "ndim", type(vec).__name__)))
        return matmul(self, vec)

    def dot(self, other):
        if self.ndim != 1 or getattr(other, "ndim", None) != 1:
            raise RuntimeError("dot: expected two 1-D tensors")
        if self.shape[0] != other.shape[0]:
            raise RuntimeError("dot: inconsistent sizes %d and %d"
                               % (self.shape[0], other.shape[0]))
        return matmul(self, other)

    @lower_precision
    def addmm(self, mat1, mat2, *, beta=1, alpha=1):
        """beta * self + alpha * (mat1 @ mat2), self broadcast to the product's shape."""
        _check_dims("addmm", 2, mat1, mat2)
        prod = matmul(mat1, mat2)
        if alpha != 1:
            prod = prod * alpha
        if beta == 0:  # torch ignores self then, NaNs included
            return prod
        return (self * beta if beta != 1 else self) + prod


def _check_dims(fname, n, a, b):
    for name, t in (("self" if fname != "addmm" else "mat1", a),
                    ("mat2", b)):
        nd = getattr(t, "ndim", None)
        if nd != n:
            raise RuntimeError("%s: %s must be a %d-D tensor, got %s"
                               % (fname, name, n, "%d-D" % nd if nd is not None
                                  else type(t).__name__))


# ---- GEMM on caller-owned arrays: benchmarks and serving loops that reuse their buffers ------
_GEMM_ACTIVATIONS = {"relu": 1, "gelu": 2}


def gemm(a, b, out=None, *, transpose_a=False, transpose_b=False, bias=None, activation=None):
    """out = activation(op(a) @ op(b) + bias) on NumPy arrays by the engine's GEMM; returns out.

    a, b: 2-D float32 or float64 arrays of one dtype with contiguous rows or columns (slices
    and transposed views are read in place).  op(x) is x.T when transpose_x is set, so an
    nn.Linear weight (N, K) is used as stored with transpose_b=True.  bias (N values added to
    every row) and activation (None, 'relu' or 'gelu' (exact erf)) happen in the same pass over
    the output.  out: an (M, N) array of the same dtype written in place (nothing is allocated,
    which is what a timed loop wants), or None for a new one.  No autograd: for Tensors use
    matmul / F.linear.

    Types, dtypes (byte order included) and the activation are checked here; shapes, layouts,
    writeability and overlap by the kernel binding, whose messages call a, b, out A, B, C.
    Checking shapes twice would cost ~0.5 us a call, a tenth of a 64x64 product.
    """
    if type(a) is not np.ndarray or type(b) is not np.ndarray:
        raise TypeError("gemm: a and b must be NumPy arrays, got %s and %s (for Tensors use "
                        "matmul or F.linear)" % (type(a).__name__, type(b).__name__))
    dt = a.dtype
    if dt not in _FLOAT or b.dtype != dt:
        raise TypeError("gemm: a and b must both be float32 or both float64 in native byte "
                        "order, got %s and %s" % (a.dtype, b.dtype))
    act = 0 if activation is None else _GEMM_ACTIVATIONS.get(activation, -1)
    if act < 0:
        raise ValueError("gemm: activation must be None, 'relu' or 'gelu', got %r"
                         % (activation,))
    if out is None:
        if a.ndim != 2 or b.ndim != 2:
            raise ValueError("gemm: a and b must be 2-D, got shapes %s and %s"
                             % (a.shape, b.shape))
        out = np.empty((a.shape[1 if transpose_a else 0], b.shape[0 if transpose_b else 1]), dt)
    elif type(out) is not np.ndarray or out.dtype != dt:
        raise TypeError("gemm: out must be a NumPy array of dtype %s, got %s"
                        % (dt, getattr(out, "dtype", type(out).__name__)))
    if bias is not None and (type(bias) is not np.ndarray or bias.ndim != 1
                             or bias.dtype != dt):
        raise TypeError("gemm: bias must be a 1-D NumPy array of dtype %s, got %s"
                        % (dt, "%s %s" % (getattr(bias, "shape", ""), getattr(
                            bias, "dtype", type(bias).__name__))))
    return _C.gemm(a, b, out, transpose_a, transpose_b, 1.0, 0.0, bias,
                   0 if bias is None else 1, act)
