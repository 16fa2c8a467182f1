"""nn.utils.spectral_norm / remove_spectral_norm: the older hook form (parameter
`<name>_orig`, buffers `<name>_u` and `<name>_v`, the weight recomputed before each forward
with one power-iteration step in training), as SN-GAN scripts use it."""
import numpy as np

from ...tensor import Tensor
from ._spectral import random_unit_vectors, sigma, weight_matrix
from ._weight_hooks import remove_weight_hook

__all__ = ["spectral_norm", "remove_spectral_norm", "SpectralNorm"]


class SpectralNorm:
    def __init__(self, name, n_power_iterations, dim, eps):
        if n_power_iterations <= 0:
            raise ValueError("spectral_norm: n_power_iterations must be positive, got %d"
                             % n_power_iterations)
        self.name, self.n, self.dim, self.eps = name, n_power_iterations, dim, eps

    def compute_weight(self, module, do_power_iteration):
        weight = getattr(module, self.name + "_orig")
        u = getattr(module, self.name + "_u")._data
        v = getattr(module, self.name + "_v")._data
        mat = weight_matrix(weight, self.dim)
        if do_power_iteration:
            m = mat._data
            for _ in range(self.n):
                v[...] = m.T @ u
                v /= max(float(np.linalg.norm(v)), self.eps)
                u[...] = m @ v
                u /= max(float(np.linalg.norm(u)), self.eps)
        return weight / sigma(mat, u, v)

    def __call__(self, module, inputs):
        object.__setattr__(module, self.name,
                           self.compute_weight(module, do_power_iteration=module.training))


def spectral_norm(module, name="weight", n_power_iterations=1, eps=1e-12, dim=None):
    weight = module._parameters.get(name)
    if weight is None:
        raise ValueError("spectral_norm: module %s has no parameter %r"
                         % (type(module).__name__, name))
    if dim is None:
        dim = 1 if type(module).__name__.startswith("ConvTranspose") else 0
    fn = SpectralNorm(name, n_power_iterations, dim, eps)
    u, v = random_unit_vectors(weight_matrix(weight.detach(), dim)._data, eps)
    del module._parameters[name]
    module.register_parameter(name + "_orig", weight)
    module.register_buffer(name + "_u", Tensor(u))
    module.register_buffer(name + "_v", Tensor(v))
    object.__setattr__(module, name, weight.detach())
    fn.handle = module.register_forward_pre_hook(fn)
    return module


def remove_spectral_norm(module, name="weight"):
    return remove_weight_hook(
        module, name, SpectralNorm, "remove_spectral_norm", ("_orig",), ("_u", "_v"),
        lambda hook: hook.compute_weight(module, do_power_iteration=False))
