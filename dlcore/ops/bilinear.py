"""bilinear: y = x1^T A x2 + b for each output feature, one einsum (whose backward gives the
gradients of both inputs and the weight)."""
import numpy as np

from ..tensor_base import TensorBase
from .einsum import einsum

__all__ = ["bilinear"]


def bilinear(input1, input2, weight, bias=None):
    """input1 (*, in1), input2 (*, in2), weight (out, in1, in2), bias (out) -> (*, out)."""
    fname = "bilinear"
    for name, t in (("input1", input1), ("input2", input2), ("weight", weight)):
        if not isinstance(t, TensorBase):
            raise TypeError("%s: %s must be a Tensor, got %s" % (fname, name, type(t).__name__))
        if t.dtype != np.float32 and t.dtype != np.float64:
            raise TypeError("%s: %s must be float32 or float64, got %s" % (fname, name, t.dtype))
    if weight.ndim != 3:
        raise ValueError("bilinear: weight must be 3-D (out, in1, in2), got shape %s"
                         % (tuple(weight.shape),))
    O, I1, I2 = weight.shape
    if input1.ndim == 0 or input1.shape[-1] != I1 or input2.ndim == 0 or \
            input2.shape[-1] != I2 or tuple(input1.shape[:-1]) != tuple(input2.shape[:-1]):
        raise ValueError("bilinear: expected input1 (*, %d) and input2 (*, %d) with the same "
                         "leading dims, got %s and %s" % (I1, I2, tuple(input1.shape),
                                                          tuple(input2.shape)))
    if bias is not None and tuple(bias.shape) != (O,):
        raise ValueError("bilinear: bias must have shape (%d,), got %s" % (O, tuple(bias.shape)))
    lead = tuple(input1.shape[:-1])
    y = einsum("bi,oij,bj->bo", input1.reshape(-1, I1), weight, input2.reshape(-1, I2))
    if bias is not None:
        y = y + bias
    return y.reshape(*lead, O)
