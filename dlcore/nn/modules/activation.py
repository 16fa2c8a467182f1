"""Activation layers: thin wrappers over dlcore.ops.activation with PyTorch's arguments.

`inplace=True` writes the result into the input's storage (dlcore.ops.inplace)."""
import numpy as np

from ...ops import activation as _A
from ...ops import prelu as _PR
from ...ops import activation_shrink as _S
from ...tensor import get_default_dtype
from ..parameter import Parameter
from .module import Module

__all__ = ["ReLU", "LeakyReLU", "Sigmoid", "Tanh", "GELU", "SiLU", "ELU", "SELU", "CELU",
           "Softplus", "Hardtanh", "ReLU6", "Hardswish", "Hardsigmoid", "Mish", "LogSigmoid",
           "Softmax", "LogSoftmax", "Softmin", "Softmax2d", "PReLU", "RReLU", "Softsign", "Tanhshrink",
           "Hardshrink", "Softshrink", "Threshold", "GLU"]


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


class Softmax2d(Module):
    """Softmax over the channels at every position of a (C, H, W) or (N, C, H, W) input."""

    def forward(self, input):
        if input.ndim not in (3, 4):
            raise ValueError("Softmax2d: expected a 3-D or 4-D input, got %d-D" % input.ndim)
        return _A.softmax(input, -3)


class PReLU(Module):
    """max(0, x) + weight * min(0, x) with a learned slope (one, or one per channel)."""

    def __init__(self, num_parameters=1, init=0.25, device=None, dtype=None):
        super().__init__()
        if isinstance(num_parameters, bool) or not isinstance(num_parameters, (int, np.integer)) \
                or num_parameters < 1:
            raise ValueError("PReLU: num_parameters must be a positive int, got %r"
                             % (num_parameters,))
        dt = np.dtype(dtype) if dtype is not None else get_default_dtype()
        self.num_parameters, self.init = int(num_parameters), float(init)
        self.weight = Parameter(np.full(self.num_parameters, self.init, dtype=dt))

    def reset_parameters(self):
        self.weight._data[...] = self.init

    def forward(self, input):
        return _PR.prelu(input, self.weight)

    def extra_repr(self):
        return "num_parameters=%d" % self.num_parameters


class RReLU(Module):
    def __init__(self, lower=1.0 / 8, upper=1.0 / 3, inplace=False):
        super().__init__()
        self.lower, self.upper, self.inplace = lower, upper, inplace

    def forward(self, input):
        return _PR.rrelu(input, self.lower, self.upper, self.training, self.inplace)

    def extra_repr(self):
        return "lower=%s, upper=%s" % (self.lower, self.upper)


class Softsign(Module):
    def forward(self, input):
        return _S.softsign(input)


class Tanhshrink(Module):
    def forward(self, input):
        return _S.tanhshrink(input)


class Hardshrink(Module):
    def __init__(self, lambd=0.5):
        super().__init__()
        self.lambd = lambd

    def forward(self, input):
        return _S.hardshrink(input, self.lambd)

    def extra_repr(self):
        return str(self.lambd)


class Softshrink(Hardshrink):
    def forward(self, input):
        return _S.softshrink(input, self.lambd)


class Threshold(Module):
    def __init__(self, threshold, value, inplace=False):
        super().__init__()
        self.threshold, self.value, self.inplace = threshold, value, inplace

    def forward(self, input):
        return _S.threshold(input, self.threshold, self.value, self.inplace)

    def extra_repr(self):
        return "threshold=%s, value=%s%s" % (self.threshold, self.value,
                                             ", inplace=True" if self.inplace else "")


class GLU(Module):
    def __init__(self, dim=-1):
        super().__init__()
        self.dim = dim

    def forward(self, input):
        return _S.glu(input, self.dim)

    def extra_repr(self):
        return "dim=%d" % self.dim


# torch keeps MultiheadAttention in nn.modules.activation; scripts name it by that path
from .transformer import MultiheadAttention  # noqa: E402,F401
