"""Rotary position embedding (RoPE): each head's features are taken in pairs (a, b) and the
pair at frequency i of position p is rotated by the angle p * theta_i:

    a' = a cos - b sin,    b' = a sin + b cos

so that the dot product of a rotated query and key depends only on their distance.  Two pairings
are in use: `interleaved=True` pairs neighbours (x[2i], x[2i+1]) (GGUF/llama.cpp's order of the
q and k rows, GPT-J); `interleaved=False` pairs the halves (x[i], x[i + d/2]) (Hugging Face's
rotate_half, GPT-NeoX).  A weight matrix converted between the two orders gives the same model.

The rotation is linear in x, and its gradient is the inverse rotation of the output gradient;
cos and sin get gradients too (they are usually constant tables).
"""
import numpy as np

from ..autograd import Function
from ..autograd.double_backward import composite_backward
from ..tensor_base import TensorBase
from .shape import Cat, Stack

__all__ = ["rotary_embedding", "rotate", "float_array"]

_FLOAT = (np.dtype(np.float32), np.dtype(np.float64))


def float_array(fname, name, t):
    """The float32/float64 array of Tensor `t`, or a TypeError naming the argument."""
    if not isinstance(t, TensorBase):
        raise TypeError("%s: %s must be a Tensor, got %s" % (fname, name, type(t).__name__))
    x = t._data
    if x.dtype not in _FLOAT:
        raise TypeError("%s: %s must be float32 or float64, got %s" % (fname, name, x.dtype))
    return x


def _pairs(x, interleaved):
    """Views of the first and the second member of every pair along the last dim."""
    if interleaved:
        return x[..., 0::2], x[..., 1::2]
    h = x.shape[-1] // 2
    return x[..., :h], x[..., h:]


def rotate(x, cos, sin, interleaved=True, out=None):
    """The rotation on NumPy arrays (no checks, no autograd): out (a new array, or any array of
    x's shape that does not overlap x, e.g. a slice of a cache) = x rotated by cos/sin."""
    if out is None:
        out = np.empty(x.shape, x.dtype)
    a, b = _pairs(x, interleaved)
    oa, ob = _pairs(out, interleaved)
    np.multiply(a, cos, out=oa)
    oa -= b * sin
    np.multiply(a, sin, out=ob)
    ob += b * cos
    return out


class RotaryFn(Function):
    def forward(self, x, cos, sin, interleaved=True):
        out = rotate(x, cos, sin, interleaved)
        if self.requires_grad:
            self.saved = (x, cos, sin, interleaved)
        return out

    def backward(self, g):
        x, cos, sin, interleaved = self.saved
        ga, gb = _pairs(g, interleaved)
        gx = gc = gs = None
        if self.needs_input_grad[0]:
            gx = np.empty(x.shape, x.dtype)
            da, db = _pairs(gx, interleaved)
            np.multiply(ga, cos, out=da)
            da += gb * sin
            np.multiply(gb, cos, out=db)
            db -= ga * sin
        a, b = _pairs(x, interleaved)
        if self.needs_input_grad[1]:
            gc = ga * a + gb * b
        if self.needs_input_grad[2]:
            gs = gb * a - ga * b
        return gx, gc, gs

    def backward_graph(self, g):
        x, cos, sin = self.parents[:3]
        interleaved = self.kwargs.get("interleaved", True)

        def same_value():  # the rotation as differentiable ops, for gradients of gradients
            if interleaved:
                a, b = x[..., 0::2], x[..., 1::2]
            else:
                h = x.shape[-1] // 2
                a, b = x[..., :h], x[..., h:]
            oa, ob = a * cos - b * sin, a * sin + b * cos
            if interleaved:
                return Stack.apply(oa, ob, dim=oa.ndim).reshape(tuple(x.shape))
            return Cat.apply(oa, ob, dim=oa.ndim - 1)
        return composite_backward(self, (g,), same_value)


def rotary_embedding(input, cos, sin, interleaved=True):
    """Rotate the feature pairs of `input` (..., d) by the angles whose cosines and sines are
    `cos` and `sin`, each broadcastable to input.shape[:-1] + (d // 2,) (typically
    (positions, 1, d // 2) against input (positions, heads, d)).  See the module doc for the
    two pairings."""
    fname = "rotary_embedding"
    x = float_array(fname, "input", input)
    if x.ndim == 0 or x.shape[-1] % 2:
        raise ValueError("%s: input's last dim must be even (pairs of features), got shape %s"
                         % (fname, x.shape))
    half = x.shape[:-1] + (x.shape[-1] // 2,)
    for name, t in (("cos", cos), ("sin", sin)):
        if not isinstance(t, TensorBase):
            raise TypeError("%s: %s must be a Tensor, got %s" % (fname, name, type(t).__name__))
        if t._data.dtype != x.dtype:
            raise TypeError("%s: %s must have the input's dtype %s, got %s"
                            % (fname, name, x.dtype, t._data.dtype))
        s = t._data.shape
        if len(s) > len(half) or any(n != 1 and n != m for n, m in zip(s[::-1], half[::-1])):
            raise ValueError("%s: %s of shape %s does not broadcast to %s (input %s)"
                             % (fname, name, t._data.shape, half, x.shape))
    return RotaryFn.apply(input, cos, sin, interleaved=bool(interleaved))
