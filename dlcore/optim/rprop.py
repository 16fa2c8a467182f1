"""Rprop: resilient backpropagation, per-element step sizes driven by gradient signs."""
import numpy as np

from ..tensor import Tensor
from .optimizer import Optimizer, _check_number
from ._scalars import zeros_state

__all__ = ["Rprop"]


class Rprop(Optimizer):
    """Per step, with g the gradient (negated if maximize) and s = sign(g * prev):
        step_size *= etaplus where s > 0, etaminus where s < 0; clamped to step_sizes
        g = 0 where s < 0 (the sign flipped: skip this element once)
        p = p - sign(g) * step_size;  prev = g
    """

    def __init__(self, params, lr=1e-2, etas=(0.5, 1.2), step_sizes=(1e-6, 50), *,
                 capturable=False, foreach=None, maximize=False, differentiable=False):
        defaults = dict(lr=lr, etas=etas, step_sizes=step_sizes, maximize=maximize)
        self._group_options(defaults)
        super().__init__(params, defaults)

    def _group_options(self, group):
        lr = _check_number("Rprop", "lr", group["lr"])
        etas, sizes = group["etas"], group["step_sizes"]
        for name, v in (("etas", etas), ("step_sizes", sizes)):
            if not isinstance(v, (tuple, list)) or len(v) != 2:
                raise ValueError("Rprop: %s must be a pair, got %r" % (name, v))
        etaminus = _check_number("Rprop", "etaminus", etas[0], low_inclusive=False, high=1.0)
        etaplus = _check_number("Rprop", "etaplus", etas[1], low=1.0, low_inclusive=False,
                                high=None)
        smin = _check_number("Rprop", "step_sizes[0]", sizes[0], low=None)
        smax = _check_number("Rprop", "step_sizes[1]", sizes[1], low=None)
        return lr, etaminus, etaplus, smin, smax, bool(group.get("maximize", False))

    def _state_buffers(self, group):
        return ("prev", "step_size")

    def _update(self, p, param, grad, opts):
        lr, etaminus, etaplus, smin, smax, maximize = opts
        st = self.state[p]
        if not st:
            st["step"] = 0.0
            st["prev"] = zeros_state(param.shape, param.dtype)
            st["step_size"] = Tensor._wrap(np.full(param.shape, lr, dtype=param.dtype))
        st["step"] += 1.0
        g = -grad if maximize else grad.copy()
        prev, size = st["prev"]._data, st["step_size"]._data
        s = np.sign(g * prev)
        factor = np.where(s > 0, etaplus, np.where(s < 0, etaminus, 1.0)).astype(param.dtype)
        size *= factor
        np.clip(size, smin, smax, out=size)
        g[s < 0] = 0
        param -= np.sign(g) * size
        prev[...] = g
