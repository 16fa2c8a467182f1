"""Adamax: Adam with the infinity norm in place of the second moment (torch's formulas)."""
import numpy as np

from .optimizer import Optimizer, _check_number
from ._scalars import check_betas, signed_grad, zeros_state

__all__ = ["Adamax"]


class Adamax(Optimizer):
    """Per step, with g the gradient (negated if maximize) plus weight_decay * p:
        m = lerp(m, g, 1 - beta1);  u = max(beta2 * u, |g| + eps)
        p = p - lr / (1 - beta1^t) * m / u
    """

    def __init__(self, params, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0,
                 foreach=None, *, maximize=False, differentiable=False, capturable=False):
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                        maximize=maximize)
        self._check(lr, betas, eps, weight_decay)
        super().__init__(params, defaults)

    @staticmethod
    def _check(lr, betas, eps, weight_decay):
        b1, b2 = check_betas("Adamax", betas)
        return (_check_number("Adamax", "lr", lr), b1, b2, _check_number("Adamax", "eps", eps),
                _check_number("Adamax", "weight_decay", weight_decay))

    def _group_options(self, group):
        return self._check(group["lr"], group["betas"], group["eps"],
                           group["weight_decay"]) + (bool(group.get("maximize", False)),)

    def _state_buffers(self, group):
        return ("exp_avg", "exp_inf")

    def _update(self, p, param, grad, opts):
        lr, beta1, beta2, eps, wd, maximize = opts
        st = self.state[p]
        if not st:
            st["step"] = 0.0
            st["exp_avg"] = zeros_state(param.shape, param.dtype)
            st["exp_inf"] = zeros_state(param.shape, param.dtype)
        st["step"] += 1.0
        g = signed_grad(grad, maximize, param, wd)
        m, u = st["exp_avg"]._data, st["exp_inf"]._data
        m += (g - m) * (1 - beta1)
        u *= beta2
        np.maximum(u, np.abs(g) + eps, out=u)
        param -= (lr / (1 - beta1 ** st["step"])) * (m / u)
