"""RMSprop, plain, centered and with momentum (PyTorch's formulas)."""
import numpy as np

from .. import _C
from ..tensor import Tensor
from .optimizer import Optimizer, _check_number

__all__ = ["RMSprop"]


class RMSprop(Optimizer):
    """RMSprop, one fused kernel per parameter.

    With g the gradient (negated if maximize), per step:
        g = g + weight_decay * p
        s = alpha * s + (1 - alpha) * g * g
        avg = sqrt(s - ga * ga) + eps with ga = lerp(ga, g, 1 - alpha)   (centered)
              sqrt(s) + eps                                              (otherwise)
        b = momentum * b + g / avg;  p = p - lr * b                       (momentum > 0)
        p = p - lr * g / avg                                              (otherwise)
    """

    def __init__(self, params, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0, momentum=0,
                 centered=False, *, maximize=False):
        defaults = dict(lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay,
                        momentum=momentum, centered=centered, maximize=maximize)
        self._check(lr, alpha, eps, weight_decay, momentum)
        super().__init__(params, defaults)

    @staticmethod
    def _check(lr, alpha, eps, weight_decay, momentum):
        return (_check_number("RMSprop", "lr", lr),
                _check_number("RMSprop", "alpha", alpha),
                _check_number("RMSprop", "eps", eps),
                _check_number("RMSprop", "weight_decay", weight_decay),
                _check_number("RMSprop", "momentum", momentum))

    def _group_options(self, group):
        lr, alpha, eps, wd, momentum = self._check(group["lr"], group["alpha"], group["eps"],
                                                   group["weight_decay"], group["momentum"])
        return (lr, alpha, eps, wd, momentum, bool(group.get("centered", False)),
                bool(group.get("maximize", False)))

    def _state_buffers(self, group):
        names = ["square_avg"]
        if group["momentum"] > 0:
            names.append("momentum_buffer")
        if group["centered"]:
            names.append("grad_avg")
        return tuple(names)

    def _update(self, p, param, grad, opts):
        lr, alpha, eps, wd, momentum, centered, maximize = opts
        st = self.state[p]
        if not st:
            st["step"] = 0.0
            st["square_avg"] = Tensor._wrap(np.zeros(param.shape, dtype=param.dtype))
            if momentum > 0:
                st["momentum_buffer"] = Tensor._wrap(np.zeros(param.shape, dtype=param.dtype))
            if centered:
                st["grad_avg"] = Tensor._wrap(np.zeros(param.shape, dtype=param.dtype))
        buf = gavg = None
        if momentum > 0:
            t = st.get("momentum_buffer")
            if t is None:
                t = st["momentum_buffer"] = Tensor._wrap(np.zeros(param.shape,
                                                                  dtype=param.dtype))
            buf = t._data
        if centered:
            t = st.get("grad_avg")
            if t is None:
                t = st["grad_avg"] = Tensor._wrap(np.zeros(param.shape, dtype=param.dtype))
            gavg = t._data
        st["step"] = st["step"] + 1.0
        _C.rmsprop_update(param, grad, st["square_avg"]._data, gavg, buf, lr, alpha, eps, wd,
                          momentum, centered, maximize)
