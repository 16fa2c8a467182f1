"""The spectral norm's pieces that its two forms (nn.utils.spectral_norm's hook and
nn.utils.parametrizations.spectral_norm) share: the weight as a matrix, the starting vectors
and sigma = u . (W v) from the power iteration's vectors."""
import numpy as np

from ...tensor import Tensor


def weight_matrix(weight, dim):
    """weight with dim moved first, flattened to (weight.shape[dim], -1)."""
    if dim != 0:
        order = [dim] + [d for d in range(weight.ndim) if d != dim]
        weight = weight.permute(*order)
    return weight.reshape(weight.shape[0], -1)


def random_unit_vectors(mat, eps):
    """Random starting vectors u (rows of mat) and v (columns), each scaled to unit length."""
    h, w = mat.shape
    rng = np.random.default_rng()
    u = rng.standard_normal(h).astype(mat.dtype)
    v = rng.standard_normal(w).astype(mat.dtype)
    return u / max(np.linalg.norm(u), eps), v / max(np.linalg.norm(v), eps)


def sigma(mat, u, v):
    """The largest singular value's estimate u . (mat v), differentiable in mat; u and v are
    copied, so later power-iteration steps do not change the graph."""
    return (Tensor(u.copy()) * (mat * Tensor(v.copy())).sum(1)).sum()
