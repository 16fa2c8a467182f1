"""RAdam: Adam whose adaptive step is switched on, rectified, once the variance of the
adaptive learning rate is tractable (torch's formulas)."""
import numpy as np

from .optimizer import Optimizer, _check_number
from ._scalars import check_betas, signed_grad, zeros_state

__all__ = ["RAdam"]


class RAdam(Optimizer):
    """Per step t, with g as in Adam (weight decay coupled, or decoupled):
        m = lerp(m, g, 1 - beta1);  v = beta2 * v + (1 - beta2) g^2;  mh = m / (1 - beta1^t)
        rho_inf = 2 / (1 - beta2) - 1;  rho_t = rho_inf - 2 t beta2^t / (1 - beta2^t)
        rho_t > 5:  p = p - lr mh r sqrt(1 - beta2^t) / (sqrt(v) + eps), r the rectifier
        else:       p = p - lr mh
    """

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0,
                 decoupled_weight_decay=False, *, foreach=None, maximize=False,
                 capturable=False, differentiable=False):
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                        decoupled_weight_decay=decoupled_weight_decay, maximize=maximize)
        self._group_options(defaults)
        super().__init__(params, defaults)

    def _group_options(self, group):
        who = "RAdam"
        b1, b2 = check_betas(who, group["betas"])
        return (_check_number(who, "lr", group["lr"]), b1, b2,
                _check_number(who, "eps", group["eps"]),
                _check_number(who, "weight_decay", group["weight_decay"]),
                bool(group.get("decoupled_weight_decay", False)),
                bool(group.get("maximize", False)))

    def _state_buffers(self, group):
        return ("exp_avg", "exp_avg_sq")

    def _update(self, p, param, grad, opts):
        lr, beta1, beta2, eps, wd, decoupled, maximize = opts
        st = self.state[p]
        if not st:
            st["step"] = 0.0
            st["exp_avg"] = zeros_state(param.shape, param.dtype)
            st["exp_avg_sq"] = zeros_state(param.shape, param.dtype)
        st["step"] += 1.0
        step = st["step"]
        g = signed_grad(grad, maximize, param, wd, lr if decoupled else None)
        m, v = st["exp_avg"]._data, st["exp_avg_sq"]._data
        m += (g - m) * (1 - beta1)
        v *= beta2
        v += (1 - beta2) * (g * g)
        bc1 = 1 - beta1 ** step
        bc2 = 1 - beta2 ** step
        mh = m / bc1
        rho_inf = 2 / (1 - beta2) - 1
        rho_t = rho_inf - 2 * step * (beta2 ** step) / bc2
        if rho_t > 5.0:
            rect = ((rho_t - 4) * (rho_t - 2) * rho_inf
                    / ((rho_inf - 4) * (rho_inf - 2) * rho_t)) ** 0.5
            adaptive = (bc2 ** 0.5) / (np.sqrt(v) + eps)
            param -= mh * lr * adaptive * rect
        else:
            param -= mh * lr
