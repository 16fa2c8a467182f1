"""nn.utils.parametrizations: weight_norm and spectral_norm as parametrizations (PyTorch's
current API), with PyTorch's state_dict keys:
`parametrizations.weight.original0` (g) / `original1` (v) for weight_norm, and
`parametrizations.weight.original` plus the buffers `parametrizations.weight.0._u` / `_v` for
spectral_norm."""
import numpy as np

from ...ops.distance import normalize
from ...tensor import Tensor
from ..modules.module import Module
from . import parametrize
from ._spectral import random_unit_vectors, sigma, weight_matrix

__all__ = ["weight_norm", "spectral_norm", "norm_except_dim"]


def norm_except_dim(v, pow=2, dim=0):
    """||v||_pow over every dim but `dim` (keepdim shape); dim=None (or -1): the whole norm."""
    if dim is None or dim == -1:
        return (v.abs() ** pow).sum() ** (1.0 / pow) if pow != 2 else (v * v).sum().sqrt()
    dim = dim % v.ndim
    axes = [d for d in range(v.ndim) if d != dim]
    sq = (v * v).sum(axes, keepdim=True) if pow == 2 else (v.abs() ** pow).sum(axes, keepdim=True)
    return sq.sqrt() if pow == 2 else sq ** (1.0 / pow)


class _WeightNorm(Module):
    def __init__(self, dim=0):
        super().__init__()
        self.dim = -1 if dim is None else dim

    def forward(self, weight_g, weight_v):
        return weight_v * (weight_g / norm_except_dim(weight_v, 2, self.dim))

    def right_inverse(self, weight):
        return norm_except_dim(weight, 2, self.dim).detach(), weight.detach()


def weight_norm(module, name="weight", dim=0):
    """w = g * v / ||v|| with g (the magnitude) and v (the direction) learned separately."""
    parametrize.register_parametrization(module, name, _WeightNorm(dim), unsafe=True)
    return module


class _SpectralNorm(Module):
    def __init__(self, weight, n_power_iterations=1, dim=0, eps=1e-12):
        super().__init__()
        ndim = weight.ndim
        if n_power_iterations <= 0:
            raise ValueError("spectral_norm: n_power_iterations must be positive, got %d"
                             % n_power_iterations)
        if not -ndim <= dim < max(ndim, 1):
            raise ValueError("spectral_norm: dim %d is out of range for a %d-D weight"
                             % (dim, ndim))
        self.dim = dim % ndim if ndim else 0
        self.eps, self.n_power_iterations = eps, n_power_iterations
        if ndim > 1:
            mat = weight_matrix(weight.detach(), self.dim)._data
            u, v = random_unit_vectors(mat, eps)
            self.register_buffer("_u", Tensor(u))
            self.register_buffer("_v", Tensor(v))
            self._power_method(mat, 15)

    def _power_method(self, mat, n):
        u, v = self._u._data, self._v._data
        for _ in range(n):
            u[...] = mat @ v
            u /= max(float(np.linalg.norm(u)), self.eps)
            v[...] = mat.T @ u
            v /= max(float(np.linalg.norm(v)), self.eps)

    def forward(self, weight):
        if weight.ndim == 1:
            return normalize(weight, dim=0, eps=self.eps)
        mat = weight_matrix(weight, self.dim)
        if self.training:
            self._power_method(mat._data, self.n_power_iterations)
        return weight / sigma(mat, self._u._data, self._v._data)

    def right_inverse(self, value):
        return value


def spectral_norm(module, name="weight", n_power_iterations=1, eps=1e-12, dim=None):
    """w / sigma(w), sigma estimated by power iteration (one step per training forward)."""
    weight = getattr(module, name, None)
    if not isinstance(weight, Tensor):
        raise ValueError("spectral_norm: module %s has no parameter or buffer %r"
                         % (type(module).__name__, name))
    if dim is None:
        dim = 1 if type(module).__name__.startswith("ConvTranspose") else 0
    parametrize.register_parametrization(
        module, name, _SpectralNorm(weight, n_power_iterations, dim, eps))
    return module


