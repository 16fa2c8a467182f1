"""Activations and softmax.  PLACEHOLDER NumPy versions: the elementwise issue work replaces
these with C kernels (dlcore/_C/act.pxi) keeping the same function signatures."""
import numpy as np

from ..autograd import Function
from ..tensor import _norm_dim


class ReLU(Function):
    def forward(self, x):
        out = np.maximum(x, 0)
        if self.requires_grad:
            self.out = out
        return out

    def backward(self, g):
        return g * (self.out > 0)


class Sigmoid(Function):
    def forward(self, x):
        out = (1 / (1 + np.exp(-x))).astype(x.dtype)
        if self.requires_grad:
            self.out = out
        return out

    def backward(self, g):
        return g * self.out * (1 - self.out)


class Tanh(Function):
    def forward(self, x):
        out = np.tanh(x)
        if self.requires_grad:
            self.out = out
        return out

    def backward(self, g):
        return g * (1 - self.out * self.out)


class Softmax(Function):
    def forward(self, x, dim=-1):
        e = np.exp(x - x.max(axis=dim, keepdims=True))
        out = e / e.sum(axis=dim, keepdims=True)
        if self.requires_grad:
            self.out, self.dim = out, dim
        return out

    def backward(self, g):
        y = self.out
        return y * (g - (g * y).sum(axis=self.dim, keepdims=True))


class LogSoftmax(Function):
    def forward(self, x, dim=-1):
        m = x.max(axis=dim, keepdims=True)
        s = x - m
        out = s - np.log(np.exp(s).sum(axis=dim, keepdims=True))
        if self.requires_grad:
            self.out, self.dim = out, dim
        return out

    def backward(self, g):
        return g - np.exp(self.out) * g.sum(axis=self.dim, keepdims=True)


def relu(x, inplace=False):
    return ReLU.apply(x)


def sigmoid(x):
    return Sigmoid.apply(x)


def tanh(x):
    return Tanh.apply(x)


def softmax(x, dim=-1, dtype=None):
    if dtype is not None:
        x = x.to(dtype)
    return Softmax.apply(x, dim=_norm_dim(dim, x.ndim, "softmax"))


def log_softmax(x, dim=-1, dtype=None):
    if dtype is not None:
        x = x.to(dtype)
    return LogSoftmax.apply(x, dim=_norm_dim(dim, x.ndim, "log_softmax"))
