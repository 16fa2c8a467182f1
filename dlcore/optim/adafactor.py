"""Adafactor: second moments kept as row and column factors for matrices (torch's
variant: relative step min(lr, 1/sqrt(t)), decay 1 - t^beta2_decay, update clipping d)."""
import math

import numpy as np

from .optimizer import Optimizer, _check_number
from ._scalars import zeros_state

__all__ = ["Adafactor"]


class Adafactor(Optimizer):
    """Per step t, with g the gradient (negated if maximize), b = t^beta2_decay:
        alpha = max(eps2, rms(p)) * min(lr, 1/sqrt(t));  p *= 1 - lr * weight_decay
        matrices (and stacks of them): r = lerp(r, mean(g^2, -1), b); c = lerp(c, mean(g^2, -2), b)
            v = r @ c / max(mean(r, -2), eps1);  vectors: v = lerp(v, g^2, b)
        u = g / sqrt(max(v, eps1^2));  p -= alpha / max(1, rms(u) / d) * u
    """

    def __init__(self, params, lr=1e-2, beta2_decay=-0.8, eps=(None, 1e-3), d=1.0,
                 weight_decay=0.0, *, foreach=None, maximize=False):
        defaults = dict(lr=lr, beta2_decay=beta2_decay, eps=eps, d=d,
                        weight_decay=weight_decay, maximize=maximize)
        self._group_options(defaults)
        super().__init__(params, defaults)

    def _group_options(self, group):
        who = "Adafactor"
        eps = group["eps"]
        if not isinstance(eps, (tuple, list)) or len(eps) != 2:
            raise ValueError("%s: eps must be a pair (eps1 or None, eps2), got %r" % (who, eps))
        eps1 = None if eps[0] is None else _check_number(who, "epsilon1", eps[0])
        decay = _check_number(who, "beta2_decay", group["beta2_decay"], low=None, high=0.0,
                              high_inclusive=True)
        return (_check_number(who, "lr", group["lr"]), decay, eps1,
                _check_number(who, "epsilon2", eps[1]),
                _check_number(who, "d", group["d"], low=1.0),
                _check_number(who, "weight_decay", group["weight_decay"]),
                bool(group.get("maximize", False)))

    def _state_buffers(self, group):
        return ()   # row_var/col_var or variance, by the parameter's rank

    def _state_shape(self, key, param_shape):
        if key == "step":
            return None
        if key == "row_var":
            return param_shape[:-1] + (1,)
        if key == "col_var":
            return param_shape[:-2] + (1,) + param_shape[-1:]
        return param_shape

    def _update(self, p, param, grad, opts):
        lr, decay, eps1, eps2, d, wd, maximize = opts
        st = self.state[p]
        factored = param.ndim > 1
        if not st:
            st["step"] = 0.0
            if factored:
                st["row_var"] = zeros_state(self._state_shape("row_var", param.shape),
                                            param.dtype)
                st["col_var"] = zeros_state(self._state_shape("col_var", param.shape),
                                            param.dtype)
            else:
                st["variance"] = zeros_state(param.shape, param.dtype)
        if eps1 is None:
            eps1 = float(np.finfo(param.dtype).eps)
        g = -grad if maximize else grad
        st["step"] += 1.0
        step = st["step"]
        b = step ** decay
        rho = min(lr, 1 / (step ** 0.5))
        alpha = max(eps2, float(np.linalg.norm(param.ravel())) / math.sqrt(param.size)) * rho
        if wd != 0:
            param *= 1 - lr * wd
        if factored:
            if "row_var" not in st or "col_var" not in st:
                raise ValueError("Adafactor: the state of a %d-d parameter needs row_var and "
                                 "col_var" % param.ndim)
            r, c = st["row_var"]._data, st["col_var"]._data
            g2 = g * g
            r += (g2.mean(axis=-1, keepdims=True) - r) * b
            c += (g2.mean(axis=-2, keepdims=True) - c) * b
            v = (r @ c) / np.maximum(r.mean(axis=-2, keepdims=True), eps1)
        else:
            if "variance" not in st:
                raise ValueError("Adafactor: the state of a vector parameter needs variance")
            var = st["variance"]._data
            var += (g * g - var) * b
            v = var.copy()
        u = g / np.sqrt(np.maximum(v, eps1 * eps1))
        denom = max(1.0, float(np.linalg.norm(u.ravel())) / (math.sqrt(u.size) * d))
        param -= (alpha / denom) * u
