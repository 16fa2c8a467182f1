"""Adam and AdamW (PyTorch's formulas, bias corrections computed here in double)."""

import numpy as np

from .. import _C
from ..tensor import Tensor
from .optimizer import Optimizer, _check_number

__all__ = ["Adam", "AdamW"]

class Adam(Optimizer):
    """Adam, one fused kernel per parameter.

    With g the gradient (negated if maximize) and t the step count, per step:
        g = g + weight_decay * p        (Adam)    or   p = p * (1 - lr * weight_decay)  (AdamW)
        m = lerp(m, g, 1 - beta1);  v = beta2 * v + (1 - beta2) * g * g
        vmax = max(vmax, v) and v = vmax                                          (amsgrad)
        p = p - lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)
    """

    _name = "Adam"

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0,
                 amsgrad=False, *, maximize=False, decoupled_weight_decay=False):
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                        amsgrad=amsgrad, maximize=maximize,
                        decoupled_weight_decay=decoupled_weight_decay)
        self._check(lr, betas, eps, weight_decay)
        super().__init__(params, defaults)

    def _check(self, lr, betas, eps, weight_decay):
        who = self._name
        lr = _check_number(who, "lr", lr)
        eps = _check_number(who, "eps", eps)
        if not isinstance(betas, (tuple, list)) or len(betas) != 2:
            raise ValueError("%s: betas must be a pair (beta1, beta2), got %r" % (who, betas))
        b1 = _check_number(who, "beta parameter at index 0", betas[0], high=1.0)
        b2 = _check_number(who, "beta parameter at index 1", betas[1], high=1.0)
        wd = _check_number(who, "weight_decay", weight_decay)
        return lr, b1, b2, eps, wd

    def _group_options(self, group):
        lr, b1, b2, eps, wd = self._check(group["lr"], group["betas"], group["eps"],
                                          group["weight_decay"])
        return (lr, b1, b2, eps, wd, bool(group.get("amsgrad", False)),
                bool(group.get("maximize", False)),
                bool(group.get("decoupled_weight_decay", False)))

    def _state_buffers(self, group):
        if group.get("amsgrad", False):
            return ("exp_avg", "exp_avg_sq", "max_exp_avg_sq")
        return ("exp_avg", "exp_avg_sq")

    def _update(self, p, param, grad, opts):
        lr, beta1, beta2, eps, wd, amsgrad, maximize, decoupled = opts
        st = self.state[p]
        if not st:
            st["step"] = 0.0
            st["exp_avg"] = Tensor._wrap(np.zeros(param.shape, dtype=param.dtype))
            st["exp_avg_sq"] = Tensor._wrap(np.zeros(param.shape, dtype=param.dtype))
            if amsgrad:
                st["max_exp_avg_sq"] = Tensor._wrap(np.zeros(param.shape, dtype=param.dtype))
        vmax = None
        if amsgrad:
            t = st.get("max_exp_avg_sq")
            if t is None:  # amsgrad switched on after some steps: start the max at zero
                t = st["max_exp_avg_sq"] = Tensor._wrap(np.zeros(param.shape,
                                                                 dtype=param.dtype))
            vmax = t._data
        step = st["step"] + 1.0
        st["step"] = step
        bias_correction1 = 1.0 - beta1 ** step
        bias_correction2 = 1.0 - beta2 ** step
        _C.adam_update(param, grad, st["exp_avg"]._data, st["exp_avg_sq"]._data, vmax,
                       lr, beta1, beta2, eps, wd, decoupled, maximize,
                       lr / bias_correction1, bias_correction2 ** 0.5)

class AdamW(Adam):
    """Adam with decoupled weight decay: p = p * (1 - lr * weight_decay) before the step."""

    _name = "AdamW"

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2,
                 amsgrad=False, *, maximize=False):
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                         amsgrad=amsgrad, maximize=maximize, decoupled_weight_decay=True)
