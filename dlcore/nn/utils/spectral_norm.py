"""nn.utils.spectral_norm / remove_spectral_norm: the older hook form (parameter
`<name>_orig`, buffers `<name>_u` and `<name>_v`, the weight recomputed before each forward
with one power-iteration step in training), as SN-GAN scripts use it."""
import numpy as np

from ...tensor import Tensor
from ._weight_hooks import remove_weight_hook

__all__ = ["spectral_norm", "remove_spectral_norm", "SpectralNorm"]


class SpectralNorm:
    def __init__(self, name, n_power_iterations, dim, eps):
        if n_power_iterations <= 0:
            raise ValueError("spectral_norm: n_power_iterations must be positive, got %d"
                             % n_power_iterations)
        self.name, self.n, self.dim, self.eps = name, n_power_iterations, dim, eps

    def matrix(self, weight):
        if self.dim != 0:
            order = [self.dim] + [d for d in range(weight.ndim) if d != self.dim]
            weight = weight.permute(*order)
        return weight.reshape(weight.shape[0], -1)

    def compute_weight(self, module, do_power_iteration):
        weight = getattr(module, self.name + "_orig")
        u = getattr(module, self.name + "_u")._data
        v = getattr(module, self.name + "_v")._data
        mat = self.matrix(weight)
        if do_power_iteration:
            m = mat._data
            for _ in range(self.n):
                v[...] = m.T @ u
                v /= max(float(np.linalg.norm(v)), self.eps)
                u[...] = m @ v
                u /= max(float(np.linalg.norm(u)), self.eps)
        sigma = (Tensor(u.copy()) * (mat * Tensor(v.copy())).sum(1)).sum()
        return weight / sigma

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
    mat = fn.matrix(weight.detach())._data
    h, w = mat.shape
    rng = np.random.default_rng()
    u = rng.standard_normal(h).astype(mat.dtype)
    v = rng.standard_normal(w).astype(mat.dtype)
    del module._parameters[name]
    module.register_parameter(name + "_orig", weight)
    module.register_buffer(name + "_u", Tensor(u / max(np.linalg.norm(u), eps)))
    module.register_buffer(name + "_v", Tensor(v / max(np.linalg.norm(v), eps)))
    object.__setattr__(module, name, weight.detach())
    fn.handle = module.register_forward_pre_hook(fn)
    return module


def remove_spectral_norm(module, name="weight"):
    return remove_weight_hook(
        module, name, SpectralNorm, "remove_spectral_norm", ("_orig",), ("_u", "_v"),
        lambda hook: hook.compute_weight(module, do_power_iteration=False))
