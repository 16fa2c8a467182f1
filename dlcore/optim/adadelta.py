"""Adadelta (PyTorch's formulas), updated in place with NumPy (no fused kernel yet: Adadelta
is rare enough that its cost is the model's, not the update's)."""
import numpy as np

from ..tensor import Tensor
from .optimizer import Optimizer, _check_number

__all__ = ["Adadelta"]


class Adadelta(Optimizer):
    """With g the gradient (negated if maximize), per step:
        g = g + weight_decay * p
        v = rho * v + (1 - rho) * g^2
        delta = sqrt(u + eps) / sqrt(v + eps) * g
        u = rho * u + (1 - rho) * delta^2
        p = p - lr * delta
    """

    def __init__(self, params, lr=1.0, rho=0.9, eps=1e-6, weight_decay=0, *, maximize=False):
        defaults = dict(lr=lr, rho=rho, eps=eps, weight_decay=weight_decay, maximize=maximize)
        self._check(lr, rho, eps, weight_decay)
        super().__init__(params, defaults)

    @staticmethod
    def _check(lr, rho, eps, weight_decay):
        return (_check_number("Adadelta", "lr", lr),
                _check_number("Adadelta", "rho", rho, high=1.0, high_inclusive=True),
                _check_number("Adadelta", "eps", eps),
                _check_number("Adadelta", "weight_decay", weight_decay))

    def _group_options(self, group):
        return self._check(group["lr"], group["rho"], group["eps"], group["weight_decay"]) + (
            bool(group.get("maximize", False)),)

    def _state_buffers(self, group):
        return ("square_avg", "acc_delta")

    def _update(self, p, param, grad, opts):
        lr, rho, eps, wd, maximize = opts
        st = self.state[p]
        if not st:
            st["step"] = 0.0
            st["square_avg"] = Tensor._wrap(np.zeros_like(param))
            st["acc_delta"] = Tensor._wrap(np.zeros_like(param))
        st["step"] += 1.0
        g = -grad if maximize else grad
        if wd:
            g = g + param.dtype.type(wd) * param
        v, u = st["square_avg"]._data, st["acc_delta"]._data
        t = param.dtype.type
        v *= t(rho)
        v += t(1 - rho) * g * g
        delta = np.sqrt(u + t(eps)) / np.sqrt(v + t(eps)) * g
        u *= t(rho)
        u += t(1 - rho) * delta * delta
        param -= t(lr) * delta
