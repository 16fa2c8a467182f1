"""SGD with momentum, dampening, Nesterov momentum and weight decay (PyTorch's formulas)."""
import numpy as np

from .. import _C
from ..tensor import Tensor
from .optimizer import Optimizer, _check_number

__all__ = ["SGD"]


class SGD(Optimizer):
    """Stochastic gradient descent, one fused kernel per parameter.

    With g the gradient (negated if maximize), per step:
        g = g + weight_decay * p
        b = g (first step), else momentum * b + (1 - dampening) * g     (if momentum != 0)
        g = g + momentum * b if nesterov else b
        p = p - lr * g
    """

    def __init__(self, params, lr=1e-3, momentum=0, dampening=0, weight_decay=0,
                 nesterov=False, *, maximize=False):
        defaults = dict(lr=lr, momentum=momentum, dampening=dampening,
                        weight_decay=weight_decay, nesterov=nesterov, maximize=maximize)
        _check_number("SGD", "lr", lr)
        _check_number("SGD", "momentum", momentum)
        _check_number("SGD", "weight_decay", weight_decay)
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("SGD: nesterov momentum requires a momentum > 0 and zero "
                             "dampening, got momentum=%r, dampening=%r" % (momentum, dampening))
        super().__init__(params, defaults)

    def _group_options(self, group):
        lr = _check_number("SGD", "lr", group["lr"])
        momentum = _check_number("SGD", "momentum", group["momentum"])
        dampening = _check_number("SGD", "dampening", group["dampening"], low=None)
        wd = _check_number("SGD", "weight_decay", group["weight_decay"])
        nesterov = bool(group.get("nesterov", False))
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("SGD: nesterov momentum requires a momentum > 0 and zero "
                             "dampening, got momentum=%r, dampening=%r" % (momentum, dampening))
        return (lr, momentum, dampening, wd, nesterov, bool(group.get("maximize", False)))

    def _state_buffers(self, group):
        return ("momentum_buffer",) if group["momentum"] != 0 else ()

    def _update(self, p, param, grad, opts):
        lr, momentum, dampening, wd, nesterov, maximize = opts
        if momentum == 0:
            _C.sgd_update(param, grad, None, lr, 0.0, dampening, wd, nesterov, maximize, False)
            return
        st = self.state[p]
        buf = st.get("momentum_buffer")
        first = buf is None
        if first:
            # the kernel sets it to the gradient: no need to fill it first
            buf = Tensor._wrap(np.empty(param.shape, dtype=param.dtype))
            st["momentum_buffer"] = buf
        _C.sgd_update(param, grad, buf._data, lr, momentum, dampening, wd, nesterov, maximize,
                      first)
