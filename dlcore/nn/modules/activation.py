"""Activation layers: thin wrappers over dlcore.nn.functional."""
from ...ops import activation as A
from .module import Module


class ReLU(Module):
    def __init__(self, inplace=False):
        super().__init__()
        self.inplace = inplace

    def forward(self, x):
        return A.relu(x)


class Sigmoid(Module):
    def forward(self, x):
        return A.sigmoid(x)


class Tanh(Module):
    def forward(self, x):
        return A.tanh(x)


class Softmax(Module):
    def __init__(self, dim=None):
        super().__init__()
        self.dim = -1 if dim is None else dim

    def forward(self, x):
        return A.softmax(x, self.dim)

    def extra_repr(self):
        return "dim=%s" % self.dim


class LogSoftmax(Module):
    def __init__(self, dim=None):
        super().__init__()
        self.dim = -1 if dim is None else dim

    def forward(self, x):
        return A.log_softmax(x, self.dim)

    def extra_repr(self):
        return "dim=%s" % self.dim
