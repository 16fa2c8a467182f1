"""Elementwise arithmetic: NumPy's ufuncs already run these at memory speed.

Broadcasting is handled by the engine: backward returns gradients in the output's shape and
autograd.unbroadcast sums them back to each input's shape.
"""
import numpy as np

from ..autograd import Function


class Add(Function):
    def forward(self, a, b):
        return np.add(a, b)

    def backward(self, g):
        return g, g


class Sub(Function):
    def forward(self, a, b):
        return np.subtract(a, b)

    def backward(self, g):
        return g, (-g if self.needs_input_grad[1] else None)


class Mul(Function):
    def forward(self, a, b):
        if self.requires_grad:
            self.a, self.b = a, b
        return np.multiply(a, b)

    def backward(self, g):
        ga = g * self.b if self.needs_input_grad[0] else None
        gb = g * self.a if self.needs_input_grad[1] else None
        return ga, gb


class Div(Function):
    def forward(self, a, b):
        out = np.divide(a, b)
        if self.requires_grad:
            self.b, self.out = b, out
        return out

    def backward(self, g):
        ga = g / self.b if self.needs_input_grad[0] else None
        gb = -g * self.out / self.b if self.needs_input_grad[1] else None
        return ga, gb


class Neg(Function):
    def forward(self, a):
        return np.negative(a)

    def backward(self, g):
        return -g


class Pow(Function):
    def forward(self, a, b):
        out = np.power(a, b)
        if self.requires_grad:
            self.a, self.b, self.out = a, b, out
        return out

    def backward(self, g):
        a, b = self.a, self.b
        ga = gb = None
        if self.needs_input_grad[0]:
            if np.isscalar(b) or np.ndim(b) == 0:
                ga = g * (b * np.power(a, b - 1) if b != 0 else np.zeros_like(a))
            else:
                ga = g * b * np.power(a, b - 1)
        if self.needs_input_grad[1]:
            with np.errstate(divide="ignore", invalid="ignore"):
                la = np.where(a > 0, np.log(np.where(a > 0, a, 1)), 0).astype(self.out.dtype)
            gb = g * self.out * la
        return ga, gb


class Exp(Function):
    def forward(self, a):
        out = np.exp(a)
        if self.requires_grad:
            self.out = out
        return out

    def backward(self, g):
        return g * self.out


class Log(Function):
    def forward(self, a):
        if self.requires_grad:
            self.a = a
        return np.log(a)

    def backward(self, g):
        return g / self.a


class Log1p(Function):
    def forward(self, a):
        if self.requires_grad:
            self.a = a
        return np.log1p(a)

    def backward(self, g):
        return g / (1 + self.a)


class Sqrt(Function):
    def forward(self, a):
        out = np.sqrt(a)
        if self.requires_grad:
            self.out = out
        return out

    def backward(self, g):
        return g / (2 * self.out)


class Abs(Function):
    def forward(self, a):
        if self.requires_grad:
            self.a = a
        return np.abs(a)

    def backward(self, g):
        return g * np.sign(self.a)


class Sin(Function):
    def forward(self, a):
        if self.requires_grad:
            self.a = a
        return np.sin(a)

    def backward(self, g):
        return g * np.cos(self.a)


class Cos(Function):
    def forward(self, a):
        if self.requires_grad:
            self.a = a
        return np.cos(a)

    def backward(self, g):
        return -g * np.sin(self.a)


class Clamp(Function):
    """Gradient passes where min <= x <= max (PyTorch's convention at the bounds)."""

    def forward(self, a, min=None, max=None):
        if self.requires_grad:
            self.a, self.lo, self.hi = a, min, max
        return np.clip(a, min, max)

    def backward(self, g):
        a = self.a
        keep = np.ones(a.shape, dtype=bool)
        if self.lo is not None:
            keep &= a >= self.lo
        if self.hi is not None:
            keep &= a <= self.hi
        return g * keep


class Maximum(Function):
    """Ties split the gradient evenly, as PyTorch does."""

    def forward(self, a, b):
        if self.requires_grad:
            self.a, self.b = a, b
        return np.maximum(a, b)

    def backward(self, g):
        a, b = self.a, self.b
        wa = (a > b) + 0.5 * (a == b)
        return g * wa, g * (1 - wa)


class Minimum(Function):
    def forward(self, a, b):
        if self.requires_grad:
            self.a, self.b = a, b
        return np.minimum(a, b)

    def backward(self, g):
        a, b = self.a, self.b
        wa = (a < b) + 0.5 * (a == b)
        return g * wa, g * (1 - wa)


class Where(Function):
    def forward(self, cond, a, b):
        if self.requires_grad:
            self.cond = cond
        return np.where(cond, a, b)

    def backward(self, g):
        z = np.zeros((), dtype=g.dtype)
        return (None,
                np.where(self.cond, g, z) if self.needs_input_grad[1] else None,
                np.where(self.cond, z, g) if self.needs_input_grad[2] else None)
