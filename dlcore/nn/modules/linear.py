"""Identity, Linear (one fused GEMM per call) and Bilinear (one einsum)."""
import math

import numpy as np

from ...ops.bilinear import bilinear
from ...ops.matmul import linear
from .. import init
from ._weights import make_weight_and_bias, reset_kaiming_uniform
from .module import Module


class Identity(Module):
    def __init__(self, *args, **kwargs):
        super().__init__()

    def forward(self, x):
        return x


class Linear(Module):
    """y = x @ weight.T + bias with weight (out_features, in_features), PyTorch's init."""

    def __init__(self, in_features, out_features, bias=True, device=None, dtype=None):
        super().__init__()
        for name, v in (("in_features", in_features), ("out_features", out_features)):
            if not isinstance(v, (int, np.integer)) or v < 0:
                raise ValueError("Linear: %s must be a non-negative int, got %r" % (name, v))
        self.in_features, self.out_features = int(in_features), int(out_features)
        make_weight_and_bias(self, (out_features, in_features), out_features, bias, device, dtype)
        self.reset_parameters()

    def reset_parameters(self):
        reset_kaiming_uniform(self.weight, self.bias, self.in_features)

    def forward(self, input):  # torch's argument name: Linear(input=x) works
        return linear(input, self.weight, self.bias)

    def extra_repr(self):
        return "in_features=%d, out_features=%d, bias=%s" % (
            self.in_features, self.out_features, self.bias is not None)


class NonDynamicallyQuantizableLinear(Linear):
    """torch's name for MultiheadAttention.out_proj's class: a Linear (the name only marks it
    for torch's dynamic quantization; scripts list it in safe_globals)."""


class Bilinear(Module):
    """y = x1^T A_o x2 + b_o for each output o: weight (out, in1, in2), bias (out)."""

    def __init__(self, in1_features, in2_features, out_features, bias=True, device=None,
                 dtype=None):
        super().__init__()
        for name, v in (("in1_features", in1_features), ("in2_features", in2_features),
                        ("out_features", out_features)):
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v <= 0:
                raise ValueError("Bilinear: %s must be a positive int, got %r" % (name, v))
        self.in1_features, self.in2_features = int(in1_features), int(in2_features)
        self.out_features = int(out_features)
        make_weight_and_bias(self, (out_features, in1_features, in2_features), out_features, bias,
                             device, dtype)
        self.reset_parameters()

    def reset_parameters(self):
        bound = 1 / math.sqrt(self.in1_features)
        init.uniform_(self.weight, -bound, bound)
        if self.bias is not None:
            init.uniform_(self.bias, -bound, bound)

    def forward(self, input1, input2):
        return bilinear(input1, input2, self.weight, self.bias)

    def extra_repr(self):
        return "in1_features=%d, in2_features=%d, out_features=%d, bias=%s" % (
            self.in1_features, self.in2_features, self.out_features, self.bias is not None)
