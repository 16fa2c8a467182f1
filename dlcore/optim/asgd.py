"""ASGD: SGD with a decaying step and a running (Polyak) average of the iterates."""
from .optimizer import Optimizer, _check_number
from ._scalars import scalar_round, signed_grad, zeros_state

__all__ = ["ASGD"]


class ASGD(Optimizer):
    """Per step t, with g the gradient (negated if maximize) plus weight_decay * p:
        p = p * (1 - lambd * eta) - eta * g
        ax = p while mu == 1, else ax + mu * (p - ax)
        eta = lr / (1 + lambd * lr * t)^alpha;  mu = 1 / max(1, t - t0)
    state: step, eta, mu (scalars as torch rounds them), ax (the average).
    """

    def __init__(self, params, lr=1e-2, lambd=1e-4, alpha=0.75, t0=1e6, weight_decay=0,
                 foreach=None, maximize=False, differentiable=False, capturable=False):
        defaults = dict(lr=lr, lambd=lambd, alpha=alpha, t0=t0, weight_decay=weight_decay,
                        maximize=maximize)
        self._group_options(defaults)
        super().__init__(params, defaults)

    def _group_options(self, group):
        who = "ASGD"
        return (_check_number(who, "lr", group["lr"]),
                _check_number(who, "lambd", group["lambd"], low=None),
                _check_number(who, "alpha", group["alpha"], low=None),
                _check_number(who, "t0", group["t0"], low=None),
                _check_number(who, "weight_decay", group["weight_decay"]),
                bool(group.get("maximize", False)))

    def _state_buffers(self, group):
        return ("eta", "mu", "ax")

    def _state_shape(self, key, param_shape):
        return None if key in ("step", "eta", "mu") else param_shape

    def _update(self, p, param, grad, opts):
        lr, lambd, alpha, t0, wd, maximize = opts
        st = self.state[p]
        if not st:
            st["step"] = 0.0
            st["eta"] = scalar_round(lr)
            st["mu"] = 1.0
            st["ax"] = zeros_state(param.shape, param.dtype)
        st["step"] += 1.0
        step = st["step"]
        g = signed_grad(grad, maximize, param, wd)
        eta = st["eta"]
        param *= 1 - lambd * eta
        param -= eta * g
        ax = st["ax"]._data
        if st["mu"] != 1:
            ax += (param - ax) * st["mu"]
        else:
            ax[...] = param
        st["eta"] = scalar_round(lr / ((1 + lambd * lr * step) ** alpha))
        st["mu"] = scalar_round(1 / max(1, step - t0))
