"""Adagrad with learning-rate decay (PyTorch's formulas)."""
import numpy as np

from .. import _C
from ..tensor import Tensor
from .optimizer import Optimizer, _check_number

__all__ = ["Adagrad"]


class Adagrad(Optimizer):
    """Adagrad, one fused kernel per parameter.

    With g the gradient (negated if maximize) and t the step count, per step:
        g = g + weight_decay * p
        s = s + g * g                              (s starts at initial_accumulator_value)
        p = p - lr / (1 + (t - 1) * lr_decay) * g / (sqrt(s) + eps)
    """

    def __init__(self, params, lr=1e-2, lr_decay=0, weight_decay=0,
                 initial_accumulator_value=0, eps=1e-10, *, maximize=False):
        defaults = dict(lr=lr, lr_decay=lr_decay, weight_decay=weight_decay,
                        initial_accumulator_value=initial_accumulator_value, eps=eps,
                        maximize=maximize)
        self._check(lr, lr_decay, weight_decay, eps)
        _check_number("Adagrad", "initial_accumulator_value", initial_accumulator_value)
        super().__init__(params, defaults)
        # like PyTorch, the state exists from the start (the accumulator has its initial value)
        for group in self.param_groups:
            for p in group["params"]:
                self._init_state(p, group["initial_accumulator_value"])

    @staticmethod
    def _check(lr, lr_decay, weight_decay, eps):
        return (_check_number("Adagrad", "lr", lr),
                _check_number("Adagrad", "lr_decay", lr_decay),
                _check_number("Adagrad", "weight_decay", weight_decay),
                _check_number("Adagrad", "eps", eps))

    def _init_state(self, p, initial):
        st = self.state[p]
        st["step"] = 0.0
        st["sum"] = Tensor._wrap(np.full(p._data.shape, initial, dtype=p._data.dtype))

    def _group_options(self, group):
        lr, lr_decay, wd, eps = self._check(group["lr"], group["lr_decay"],
                                            group["weight_decay"], group["eps"])
        init = _check_number("Adagrad", "initial_accumulator_value",
                             group["initial_accumulator_value"])
        return (lr, lr_decay, wd, eps, init, bool(group.get("maximize", False)))

    def _state_buffers(self, group):
        return ("sum",)

    def _update(self, p, param, grad, opts):
        lr, lr_decay, wd, eps, init, maximize = opts
        st = self.state[p]
        if not st:  # a parameter added with add_param_group after construction
            self._init_state(p, init)
        step = st["step"] + 1.0
        st["step"] = step
        clr = lr / (1 + (step - 1) * lr_decay)
        _C.adagrad_update(param, grad, st["sum"]._data, clr, eps, wd, maximize)
