"""SwiGLU, the gated unit of Llama-family MLPs: the input's last dim holds a gate half g and a
value half u, and the output is silu(g) * u (silu(g) = g * sigmoid(g)), so one projection of
width 2F followed by this op replaces two projections and three elementwise ops.

Forward computes silu on the engine's activation kernel (dlcore/_C/act.pxi); backward uses
silu'(g) = s (1 + g (1 - s)) with s = sigmoid(g).
"""
import numpy as np

from .. import _C
from ..autograd import Function
from ..autograd.double_backward import composite_backward
from .activation import SiLU
from .rotary import float_array

__all__ = ["swiglu"]


class SwiGLUFn(Function):
    def forward(self, x):
        f = x.shape[-1] // 2
        g = np.ascontiguousarray(x[..., :f])
        out = np.empty_like(g)
        if out.size:
            _C.act_forward(_C.AF_SILU, g, out)
        out *= x[..., f:]
        if self.requires_grad:
            self.saved = x
        return out

    def backward(self, grad):
        x = self.saved
        f = x.shape[-1] // 2
        g, u = x[..., :f], x[..., f:]
        s = 1.0 / (1.0 + np.exp(-g))
        gx = np.empty_like(x)
        gx[..., :f] = grad * u * (s * (1.0 + g * (1.0 - s)))
        gx[..., f:] = grad * (g * s)
        return gx

    def backward_graph(self, grad):
        x = self.parents[0]
        f = x.shape[-1] // 2
        return composite_backward(self, (grad,),
                                  lambda: SiLU.apply(x[..., :f]) * x[..., f:])


def swiglu(input):
    """silu(input[..., :F]) * input[..., F:] for an input whose last dim is 2F."""
    x = float_array("swiglu", "input", input)
    if x.ndim == 0 or x.shape[-1] % 2:
        raise ValueError("swiglu: input's last dim must be even (gate and value halves), got "
                         "shape %s" % (x.shape,))
    return SwiGLUFn.apply(input)
