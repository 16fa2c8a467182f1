"""Activation layers: thin wrappers over dlcore.ops.activation with PyTorch's arguments.

`inplace=True` writes the result into the input's storage (dlcore.ops.activation.in_place)."""
from ...ops import activation as _A
from .module import Module

__all__ = ["ReLU", "LeakyReLU", "Sigmoid", "Tanh", "GELU", "SiLU", "ELU", "SELU", "CELU",
           "Softplus", "Hardtanh", "ReLU6", "Hardswish", "Hardsigmoid", "Mish", "LogSigmoid",
           "Softmax", "LogSoftmax", "Softmin"]


class _Inplace(Module):
    def __init__(self, inplace=False):
        super().__init__()
        self.inplace = inplace

    def extra_repr(self):
        return "inplace=True" if self.inplace else ""


class ReLU(_Inplace):
    def forward(self, input):
        return _A.relu(input, inplace=self.inplace)


class ReLU6(_Inplace):
    def forward(self, input):
        return _A.relu6(input, inplace=self.inplace)


class SiLU(_Inplace):
    def forward(self, input):
        return _A.silu(input, inplace=self.inplace)


class SELU(_Inplace):
    def forward(self, input):
        return _A.selu(input, inplace=self.inplace)


class Hardswish(_Inplace):
    def forward(self, input):
        return _A.hardswish(input, inplace=self.inplace)

    def extra_repr(self):
        return ""  # PyTorch's repr does not show inplace for this layer


class Hardsigmoid(_Inplace):
    def forward(self, input):
        return _A.hardsigmoid(input, inplace=self.inplace)

    def extra_repr(self):
        return ""  # PyTorch's repr does not show inplace for this layer


class Mish(_Inplace):
    def forward(self, input):
        return _A.mish(input, inplace=self.inplace)


class LeakyReLU(Module):
    def __init__(self, negative_slope=0.01, inplace=False):
        super().__init__()
        self.negative_slope, self.inplace = negative_slope, inplace

    def forward(self, input):
        return _A.leaky_relu(input, self.negative_slope, self.inplace)

    def extra_repr(self):
        return "negative_slope=%s%s" % (self.negative_slope, ", inplace=True" if self.inplace else "")


class Sigmoid(Module):
    def forward(self, input):
        return _A.sigmoid(input)


class Tanh(Module):
    def forward(self, input):
        return _A.tanh(input)


class LogSigmoid(Module):
    def forward(self, input):
        return _A.logsigmoid(input)


class GELU(Module):
    def __init__(self, approximate="none"):
        super().__init__()
        if approximate not in ("none", "tanh"):
            raise ValueError("GELU: approximate must be 'none' or 'tanh', got %r" % (approximate,))
        self.approximate = approximate

    def forward(self, input):
        return _A.gelu(input, approximate=self.approximate)

    def extra_repr(self):
        return "approximate=%r" % (self.approximate,)


class ELU(Module):
    def __init__(self, alpha=1.0, inplace=False):
        super().__init__()
        self.alpha, self.inplace = alpha, inplace

    def forward(self, input):
        return _A.elu(input, self.alpha, self.inplace)

    def extra_repr(self):
        return "alpha=%s%s" % (self.alpha, ", inplace=True" if self.inplace else "")


class CELU(ELU):
    def forward(self, input):
        return _A.celu(input, self.alpha, self.inplace)


class Softplus(Module):
    def __init__(self, beta=1.0, threshold=20.0):
        super().__init__()
        self.beta, self.threshold = beta, threshold

    def forward(self, input):
        return _A.softplus(input, self.beta, self.threshold)

    def extra_repr(self):
        return "beta=%s, threshold=%s" % (self.beta, self.threshold)


class Hardtanh(Module):
    def __init__(self, min_val=-1.0, max_val=1.0, inplace=False):
        super().__init__()
        if min_val > max_val:
            raise ValueError("Hardtanh: min_val must be <= max_val, got %r > %r"
                             % (min_val, max_val))
        self.min_val, self.max_val, self.inplace = min_val, max_val, inplace

    def forward(self, input):
        return _A.hardtanh(input, self.min_val, self.max_val, self.inplace)

    def extra_repr(self):
        return "min_val=%s, max_val=%s%s" % (self.min_val, self.max_val,
                                             ", inplace=True" if self.inplace else "")


class _SoftmaxBase(Module):
    _fn = None

    def __init__(self, dim=None):
        super().__init__()
        self.dim = dim

    def forward(self, input):
        return type(self)._fn(input, self.dim)

    def extra_repr(self):
        return "dim=%s" % (self.dim,)


class Softmax(_SoftmaxBase):
    _fn = staticmethod(_A.softmax)


class LogSoftmax(_SoftmaxBase):
    _fn = staticmethod(_A.log_softmax)


class Softmin(_SoftmaxBase):
    _fn = staticmethod(_A.softmin)
