"""NAdam: Adam with Nesterov momentum and torch's momentum-decay schedule."""
import numpy as np

from .optimizer import Optimizer, _check_number
from ._scalars import check_betas, scalar_mul, signed_grad, zeros_state

__all__ = ["NAdam"]


class NAdam(Optimizer):
    """Per step t, with g the gradient (negated if maximize; plus weight_decay * p, or the
    parameter shrunk by lr * weight_decay when decoupled_weight_decay):
        mu_t = beta1 * (1 - 0.5 * 0.96^(t * momentum_decay));  P = prod(mu_1..mu_t)
        m = lerp(m, g, 1 - beta1);  v = beta2 * v + (1 - beta2) g^2
        d = sqrt(v / (1 - beta2^t)) + eps
        p = p - lr (1 - mu_t) / (1 - P) g / d - lr mu_{t+1} / (1 - P mu_{t+1}) m / d
    """

    def __init__(self, params, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0,
                 momentum_decay=4e-3, decoupled_weight_decay=False, *, foreach=None,
                 maximize=False, capturable=False, differentiable=False):
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                        momentum_decay=momentum_decay,
                        decoupled_weight_decay=decoupled_weight_decay, maximize=maximize)
        self._group_options(defaults)
        super().__init__(params, defaults)

    def _group_options(self, group):
        who = "NAdam"
        b1, b2 = check_betas(who, group["betas"])
        return (_check_number(who, "lr", group["lr"]), b1, b2,
                _check_number(who, "eps", group["eps"]),
                _check_number(who, "weight_decay", group["weight_decay"]),
                _check_number(who, "momentum_decay", group["momentum_decay"]),
                bool(group.get("decoupled_weight_decay", False)),
                bool(group.get("maximize", False)))

    def _state_buffers(self, group):
        return ("exp_avg", "exp_avg_sq", "mu_product")

    def _state_shape(self, key, param_shape):
        return None if key in ("step", "mu_product") else param_shape

    def _update(self, p, param, grad, opts):
        lr, beta1, beta2, eps, wd, momentum_decay, decoupled, maximize = opts
        st = self.state[p]
        if not st:
            st["step"] = 0.0
            st["mu_product"] = 1.0
            st["exp_avg"] = zeros_state(param.shape, param.dtype)
            st["exp_avg_sq"] = zeros_state(param.shape, param.dtype)
        st["step"] += 1.0
        step = st["step"]
        g = signed_grad(grad, maximize, param, wd, lr if decoupled else None)
        mu = beta1 * (1.0 - 0.5 * (0.96 ** (step * momentum_decay)))
        mu_next = beta1 * (1.0 - 0.5 * (0.96 ** ((step + 1) * momentum_decay)))
        st["mu_product"] = mu_product = scalar_mul(st["mu_product"], mu)
        m, v = st["exp_avg"]._data, st["exp_avg_sq"]._data
        m += (g - m) * (1 - beta1)
        v *= beta2
        v += (1 - beta2) * (g * g)
        denom = np.sqrt(v / (1 - beta2 ** step)) + eps
        param += (-lr * (1.0 - mu) / (1.0 - mu_product)) * (g / denom)
        param += (-lr * mu_next / (1.0 - mu_product * mu_next)) * (m / denom)
