"""CyclicLR: the cyclical learning-rate policy (Smith, 2017) with PyTorch's arguments and lr
sequences: lr moves between base_lr and max_lr in triangles of step_size_up + step_size_down
steps, their height scaled per cycle (triangular, triangular2), per step (exp_range) or by
a user function; momentum (or Adam's beta1) moves the opposite way.  Step once per batch."""
import math
import types

from ..optimizer import Optimizer
from .groups import _per_group, cycle_momentum_start
from .schedules import LRScheduler

__all__ = ["CyclicLR"]

_MODES = ("triangular", "triangular2", "exp_range")


class CyclicLR(LRScheduler):
    def __init__(self, optimizer, base_lr, max_lr, step_size_up=2000, step_size_down=None,
                 mode="triangular", gamma=1.0, scale_fn=None, scale_mode="cycle",
                 cycle_momentum=True, base_momentum=0.8, max_momentum=0.9, last_epoch=-1):
        if not isinstance(optimizer, Optimizer):
            raise TypeError("CyclicLR: expected an Optimizer, got %s" % type(optimizer).__name__)
        self.optimizer = optimizer
        base_lrs = _per_group("CyclicLR: base_lr", optimizer, base_lr)
        if last_epoch == -1:
            for lr, group in zip(base_lrs, optimizer.param_groups):
                group["lr"] = lr
        self.max_lrs = _per_group("CyclicLR: max_lr", optimizer, max_lr)
        up = float(step_size_up)
        down = float(step_size_down) if step_size_down is not None else up
        if not up > 0 or not down >= 0:
            raise ValueError("CyclicLR: step_size_up must be > 0 and step_size_down >= 0, got "
                             "%r and %r" % (step_size_up, step_size_down))
        self.total_size = up + down
        self.step_ratio = up / self.total_size
        if mode not in _MODES and scale_fn is None:
            raise ValueError("CyclicLR: mode must be one of %s (or give scale_fn), got %r"
                             % (", ".join(_MODES), mode))
        if scale_fn is not None and scale_mode not in ("cycle", "iterations"):
            raise ValueError("CyclicLR: scale_mode must be 'cycle' or 'iterations', got %r"
                             % (scale_mode,))
        self.mode, self.gamma = mode, gamma
        self._scale_fn_custom, self.scale_mode = scale_fn, scale_mode
        self._set_builtin_scale()
        self.cycle_momentum = cycle_momentum
        if cycle_momentum:
            self.use_beta1, self.base_momentums, self.max_momentums = cycle_momentum_start(
                "CyclicLR", optimizer, base_momentum, max_momentum, last_epoch)
        super().__init__(optimizer, last_epoch)
        self.base_lrs = base_lrs

    def _set_builtin_scale(self):
        """The mode's scale and the count it reads; a user's scale_fn keeps its scale_mode."""
        if self._scale_fn_custom is not None:
            return
        if self.mode == "exp_range":
            self.scale_mode = "iterations"
        else:
            self.scale_mode = "cycle"

    def scale_fn(self, x):
        if self._scale_fn_custom is not None:
            return self._scale_fn_custom(x)
        if self.mode == "triangular":
            return 1.0
        if self.mode == "triangular2":
            return 1 / (2.0 ** (x - 1))
        return self.gamma ** x

    def _set_momentum(self, group, m):
        if self.use_beta1:
            group["betas"] = (m, *group["betas"][1:])
        else:
            group["momentum"] = m

    def get_lr(self):
        cycle = math.floor(1 + self.last_epoch / self.total_size)
        x = 1.0 + self.last_epoch / self.total_size - cycle
        # rising for the first step_ratio of the cycle, then falling back to base
        frac = x / self.step_ratio if x <= self.step_ratio else (x - 1) / (self.step_ratio - 1)
        scale = self.scale_fn(cycle if self.scale_mode == "cycle" else self.last_epoch)
        lrs = [base + (top - base) * frac * scale
               for base, top in zip(self.base_lrs, self.max_lrs)]
        if self.cycle_momentum:
            for bs, mx, group in zip(self.base_momentums, self.max_momentums,
                                     self.optimizer.param_groups):
                self._set_momentum(group, mx - (mx - bs) * frac * scale)
        return lrs

    def state_dict(self):
        """As torch's: a plain-function scale_fn is not saved (give it again on resume); a
        callable object's attributes are."""
        state = super().state_dict()
        fn = state.pop("_scale_fn_custom")
        keep = fn is not None and not isinstance(fn, types.FunctionType)
        state["_scale_fn_custom"] = dict(fn.__dict__) if keep else None
        return state

    def load_state_dict(self, state_dict):
        state = dict(state_dict)
        fn_state = state.pop("_scale_fn_custom", None)
        super().load_state_dict(state)
        if fn_state is not None and self._scale_fn_custom is not None:
            self._scale_fn_custom.__dict__.update(fn_state)
        self._set_builtin_scale()
