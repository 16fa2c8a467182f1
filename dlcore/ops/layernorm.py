"""LayerNorm and RMSNorm over trailing dims: one fused C kernel forward, one backward."""
import numpy as np

from .. import _C
from ..autograd import Function
from ..autograd.double_backward import composite_backward
from ..tensor_base import TensorBase
from .half import via_float32

__all__ = ["layer_norm", "rms_norm"]


class LayerNormFn(Function):
    """y = normalize(x over its last n elements) * weight + bias; weight/bias may be None."""

    def forward(self, x, weight, bias, n=1, eps=1e-5, rms=False):
        x = np.ascontiguousarray(x)
        weight = None if weight is None else np.ascontiguousarray(weight, dtype=x.dtype)
        bias = None if (bias is None or rms) else np.ascontiguousarray(bias, dtype=x.dtype)
        rows = x.size // n if n else 0
        y = np.empty_like(x)
        mean = None if rms else np.empty(rows, x.dtype)
        rstd = np.empty(rows, x.dtype)
        if x.size:
            _C.layer_norm_forward(x, n, weight, bias, eps, y, mean, rstd, rms)
        if self.requires_grad:
            self.saved = (x, weight, mean, rstd, n, rms, bias is not None)
        return y

    def backward(self, g):
        x, weight, mean, rstd, n, rms, has_bias = self.saved
        g = np.ascontiguousarray(g, dtype=x.dtype)
        dx = np.empty_like(x)
        dw = np.empty(weight.shape, x.dtype) if weight is not None and self.needs_input_grad[1] \
            else None
        db = np.empty(n, x.dtype) if has_bias and self.needs_input_grad[2] else None
        if x.size:
            _C.layer_norm_backward(x, n, weight, mean, rstd, g, dx, dw, db, rms)
        else:
            for a in (dw, db):
                if a is not None:
                    a[...] = 0
        if db is not None and weight is not None:
            db = db.reshape(weight.shape)
        return dx, dw, db

    def backward_graph(self, g):
        x, weight, bias = self.parents[:3]
        kw = self.kwargs
        n, eps, rms = kw.get("n", 1), kw.get("eps", 1e-5), kw.get("rms", False)

        def same_value():  # the forward as differentiable ops, for gradients of gradients
            xr = x.reshape(-1, n)
            if rms:
                y = xr / ((xr * xr).mean(1, keepdim=True) + eps).sqrt()
            else:
                d = xr - xr.mean(1, keepdim=True)
                y = d / ((d * d).mean(1, keepdim=True) + eps).sqrt()
            y = y.reshape(tuple(x.shape))
            if isinstance(weight, TensorBase):
                y = y * weight
            if isinstance(bias, TensorBase) and not rms:
                y = y + bias
            return y
        return composite_backward(self, (g,), same_value)


_FLOAT = (np.dtype(np.float32), np.dtype(np.float64))


def _check(fname, input, normalized_shape, weight, bias):
    """The number of normalized elements, or the error _check_fully names.  The common call
    (a float Tensor, one trailing dim given as a 1-tuple of int, weight/bias Tensors of that
    shape or None) is accepted by a few comparisons; anything else takes the full check."""
    if type(normalized_shape) is tuple and len(normalized_shape) == 1 \
            and isinstance(input, TensorBase):
        n = normalized_shape[0]
        x = input._data
        if type(n) is int and x.ndim and x.shape[-1] == n and x.dtype in _FLOAT \
                and (weight is None or (isinstance(weight, TensorBase)
                                        and weight._data.shape == normalized_shape)) \
                and (bias is None or (isinstance(bias, TensorBase)
                                      and bias._data.shape == normalized_shape)):
            return n
    return _check_fully(fname, input, normalized_shape, weight, bias)


def _check_fully(fname, input, normalized_shape, weight, bias):
    if isinstance(normalized_shape, (int, np.integer)):
        normalized_shape = (int(normalized_shape),)
    normalized_shape = tuple(int(s) for s in normalized_shape)
    shape = tuple(input.shape)
    k = len(normalized_shape)
    if k == 0 or shape[len(shape) - k:] != normalized_shape or len(shape) < k:
        raise ValueError("%s: normalized_shape %s must match the trailing dims of the input, "
                         "got input shape %s" % (fname, normalized_shape, shape))
    if np.dtype(input.dtype) not in (np.dtype(np.float32), np.dtype(np.float64)):
        raise TypeError("%s: input must be float32 or float64, got %s" % (fname, input.dtype))
    for name, p in (("weight", weight), ("bias", bias)):
        if p is not None and tuple(p.shape) != normalized_shape:
            raise ValueError("%s: %s must have shape %s, got %s"
                             % (fname, name, normalized_shape, tuple(p.shape)))
    return int(np.prod(normalized_shape))


@via_float32
def layer_norm(input, normalized_shape, weight=None, bias=None, eps=1e-5):
    """Normalizes over the trailing `normalized_shape` dims (biased variance), then
    applies weight and bias when given; PyTorch's F.layer_norm."""
    n = _check("layer_norm", input, normalized_shape, weight, bias)
    return LayerNormFn.apply(input, weight, bias, n=n, eps=float(eps), rms=False)


@via_float32
def rms_norm(input, normalized_shape, weight=None, eps=None):
    """x / sqrt(mean(x^2) + eps) * weight over the trailing dims; eps=None means the
    dtype's machine epsilon, as in PyTorch's F.rms_norm."""
    n = _check("rms_norm", input, normalized_shape, weight, None)
    if eps is None:
        eps = float(np.finfo(np.dtype(input.dtype)).eps)
    return LayerNormFn.apply(input, weight, None, n=n, eps=float(eps), rms=True)
