"""Optimizer: the base class, with PyTorch's param_groups, state and state_dict layout.

A subclass says how to read its options off a param group (`_group_options`, which also
validates them) and how to update one parameter (`_update`, one fused C call on the
parameter's array, its gradient's array and its state buffers).  The base class does the
rest: grouping, skipping parameters without gradients, contiguity, zero_grad, state_dict.
"""
import math
from collections import defaultdict

import numpy as np

from ..autograd import enable_grad, sealed
from ..tensor import Tensor
from ..dtypes import is_floating

__all__ = ["Optimizer", "required"]


class _RequiredParameter:
    """Marks a default that every param group must set itself."""

    def __repr__(self):
        return "<required parameter>"


required = _RequiredParameter()


def _check_number(who, name, value, low=0.0, low_inclusive=True, high=None,
                  high_inclusive=False):
    """Raises ValueError unless `value` is a real number in the given range; returns it."""
    if isinstance(value, Tensor):
        if value._data.size != 1:
            raise ValueError("%s: %s must be a number, got a tensor of shape %s"
                             % (who, name, value.shape))
        value = value.item()
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError("%s: %s must be a number, got %r" % (who, name, value))
    v = float(value)
    if math.isnan(v):
        raise ValueError("%s: %s must not be NaN" % (who, name))
    if low is not None and (v < low or (v == low and not low_inclusive)):
        raise ValueError("%s: invalid %s %r: expected %s %s"
                         % (who, name, value, ">=" if low_inclusive else ">", low))
    if high is not None and (v > high or (v == high and not high_inclusive)):
        raise ValueError("%s: invalid %s %r: expected %s %s"
                         % (who, name, value, "<=" if high_inclusive else "<", high))
    return v


def _as_state_value(who, key, value, param_arr, shape=()):
    """A loaded state entry as this optimizer keeps it: scalars (shape None: 'step', and
    what `Optimizer._state_shape` names) a float, buffers tensors with the parameter's dtype
    and the expected shape (the parameter's by default; copied, so the loaded dict is never
    aliased)."""
    if shape == ():
        shape = param_arr.shape
    if shape is None:
        if isinstance(value, Tensor):
            value = value._data
        arr = np.asarray(value)
        if arr.size != 1:
            raise ValueError("%s.load_state_dict: state %r must be a number, got shape %s"
                             % (who, key, arr.shape))
        return float(arr.reshape(-1)[0])
    if value is None:
        return None
    if isinstance(value, Tensor):
        arr = value._data
    elif isinstance(value, np.ndarray):
        arr = value
    elif hasattr(value, "__array__") or isinstance(value, (list, tuple)):
        arr = np.asarray(value)
    else:
        return value  # a plain option someone stored in the state: keep as is
    if arr.shape != tuple(shape):
        raise ValueError("%s.load_state_dict: state %r has shape %s but should have "
                         "shape %s" % (who, key, arr.shape, tuple(shape)))
    out = np.array(arr, dtype=param_arr.dtype, order="C", copy=True)
    return Tensor._wrap(out)


class Optimizer:
    """Base class of all optimizers.

    params: an iterable of Tensors, of (name, Tensor) pairs, or of dicts each holding
    "params" and options that override `defaults` for that group.
    """

    def __init__(self, params, defaults):
        self.defaults = dict(defaults)
        self.state = defaultdict(dict)
        self.param_groups = []
        name = type(self).__name__
        if isinstance(params, Tensor):
            raise TypeError("%s: params must be an iterable of Tensors or dicts, got a Tensor"
                            % name)
        if isinstance(params, (set, frozenset)):
            raise TypeError("%s: parameters must be in an ordered collection (a list), not a "
                            "set, so their order is the same in every run" % name)
        if isinstance(params, dict):
            params = [params]
        param_groups = list(params)
        if len(param_groups) == 0:
            raise ValueError("%s: got an empty parameter list" % name)
        if not isinstance(param_groups[0], dict):
            param_groups = [{"params": param_groups}]
        for group in param_groups:
            self.add_param_group(group)

    # ---- groups ----------------------------------------------------------------------
    def add_param_group(self, param_group):
        """Adds a group of parameters with its own options (others from the defaults)."""
        who = type(self).__name__
        if not isinstance(param_group, dict):
            raise TypeError("%s.add_param_group: param_group must be a dict, got %s"
                            % (who, type(param_group).__name__))
        if "params" not in param_group:
            raise ValueError("%s.add_param_group: param_group needs a 'params' entry" % who)
        param_group = dict(param_group)
        params = param_group["params"]
        if isinstance(params, Tensor):
            params = [params]
        elif isinstance(params, set):
            raise TypeError("%s: parameters must be in an ordered collection (a list), not a "
                            "set, so their order is the same in every run" % who)
        else:
            params = list(params)
        tensors, names = [], []
        for p in params:
            if isinstance(p, tuple) and len(p) == 2:
                names.append(p[0])
                p = p[1]
            tensors.append(p)
        for i, p in enumerate(tensors):
            if not isinstance(p, Tensor):
                raise TypeError("%s: can only optimize Tensors, but parameter %d is %s"
                                % (who, i, type(p).__name__))
            if not p.is_leaf:
                raise ValueError("%s: can't optimize a non-leaf Tensor (parameter %d)" % (who, i))
            if not is_floating(p._data.dtype):
                raise TypeError("%s: parameter %d has dtype %s; only floating point "
                                "parameters can be optimized" % (who, i, p._data.dtype))
        if names:
            if len(names) != len(tensors):
                raise ValueError("%s: all parameters of a group must be named, or none" % who)
            param_group["param_names"] = names
        param_group["params"] = tensors
        for key, default in self.defaults.items():
            if default is required and key not in param_group:
                raise ValueError("%s: parameter group didn't specify a value of required "
                                 "optimization parameter %s" % (who, key))
            param_group.setdefault(key, default)
        if len(set(map(id, tensors))) != len(tensors):
            raise ValueError("%s: a parameter group contains the same parameter twice" % who)
        seen = set()
        for group in self.param_groups:
            seen.update(id(p) for p in group["params"])
            if ("param_names" in group) != ("param_names" in param_group):
                raise ValueError("%s: all param groups must be named, or none" % who)
        if any(id(p) in seen for p in tensors):
            raise ValueError("%s: some parameters appear in more than one parameter group"
                             % who)
        self._group_options(param_group)  # validates the options now, not at the first step
        self.param_groups.append(param_group)

    # ---- the update ------------------------------------------------------------------
    def _group_options(self, group):
        """Validated options of a group, in the form `_update` takes them."""
        raise NotImplementedError

    def _update(self, p, param, grad, opts):
        """Updates one parameter in place: `param` and `grad` are C-contiguous arrays of the
        same shape and dtype (param is p's array, or a contiguous copy written back after)."""
        raise NotImplementedError

    def step(self, closure=None):
        """Updates every parameter that has a gradient; returns closure()'s loss if given."""
        loss = None
        if closure is not None:
            with enable_grad():
                loss = closure()
        who = type(self).__name__
        for group in self.param_groups:
            opts = self._group_options(group)
            for p in group["params"]:
                g = p.grad
                if g is None:
                    continue
                sealed.writable(p._data)   # a sealed weight (eager inference) is unsealed
                arr = p._data
                garr = g._data if isinstance(g, Tensor) else np.asarray(g)
                if garr.shape != arr.shape:
                    raise ValueError("%s.step: a gradient has shape %s but its parameter has "
                                     "shape %s" % (who, garr.shape, arr.shape))
                if garr.dtype != arr.dtype:
                    raise TypeError("%s.step: a gradient has dtype %s but its parameter has "
                                    "dtype %s" % (who, garr.dtype, arr.dtype))
                if not garr.flags.c_contiguous:
                    garr = np.ascontiguousarray(garr)
                if arr.flags.c_contiguous:
                    self._update(p, arr, garr, opts)
                else:
                    # the kernels need contiguous memory: update a copy and write it back
                    work = np.ascontiguousarray(arr)
                    self._update(p, work, garr, opts)
                    arr[...] = work
        return loss

    def zero_grad(self, set_to_none=True):
        """Clears gradients: drops them (default) or fills them with zeros."""
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                if set_to_none:
                    p.grad = None
                else:
                    g = p.grad
                    if isinstance(g, Tensor):
                        g._ctx = None
                        g.requires_grad = False
                        g._data[...] = 0
                    else:
                        p.grad = None

    # ---- state -----------------------------------------------------------------------
    def _state_buffers(self, group):
        """Names of the tensors a parameter's state holds under this group's options."""
        return ()

    def _state_shape(self, key, param_shape):
        """The shape of state entry `key` for a parameter of `param_shape`: None for a
        scalar kept as a Python float (the step count; others where a subclass says)."""
        return None if key == "step" else param_shape

    def state_dict(self):
        """{'state': {index: {...}}, 'param_groups': [{..., 'params': [indices]}]}, PyTorch's
        layout: parameters are numbered in group order; state tensors are references."""
        index = {}
        groups = []
        for group in self.param_groups:
            packed = {k: v for k, v in group.items() if k != "params"}
            ids = []
            for p in group["params"]:
                if id(p) not in index:
                    index[id(p)] = len(index)
                ids.append(index[id(p)])
            packed["params"] = ids
            groups.append(packed)
        state = {}
        for group in self.param_groups:
            for p in group["params"]:
                st = self.state.get(p)
                if st:
                    state[index[id(p)]] = dict(st)
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict):
        """Loads a dict from state_dict() (this one's or PyTorch's, with arrays or tensors)."""
        who = type(self).__name__
        if not isinstance(state_dict, dict) or "state" not in state_dict \
                or "param_groups" not in state_dict:
            raise ValueError("%s.load_state_dict: expected a dict with 'state' and "
                             "'param_groups', got %s" % (who, type(state_dict).__name__
                                                         if not isinstance(state_dict, dict)
                                                         else sorted(state_dict)))
        saved_groups = state_dict["param_groups"]
        if len(saved_groups) != len(self.param_groups):
            raise ValueError("%s.load_state_dict: the state dict has %d parameter groups, "
                             "this optimizer has %d" % (who, len(saved_groups),
                                                        len(self.param_groups)))
        for i, (g, s) in enumerate(zip(self.param_groups, saved_groups)):
            if "params" not in s:
                raise ValueError("%s.load_state_dict: param_groups[%d] has no 'params'"
                                 % (who, i))
            if len(g["params"]) != len(s["params"]):
                raise ValueError("%s.load_state_dict: param_groups[%d] has %d parameters in "
                                 "the state dict, %d in this optimizer"
                                 % (who, i, len(s["params"]), len(g["params"])))
        by_index = {}
        for g, s in zip(self.param_groups, saved_groups):
            for idx, p in zip(s["params"], g["params"]):
                by_index[int(idx)] = p
        new_groups = []
        for g, s in zip(self.param_groups, saved_groups):
            ng = {k: v for k, v in s.items() if k != "params"}
            if "betas" in ng and isinstance(ng["betas"], list):
                ng["betas"] = tuple(ng["betas"])
            for key, default in self.defaults.items():
                ng.setdefault(key, default)
            ng["params"] = g["params"]
            self._group_options(ng)
            new_groups.append(ng)
        group_of = {}
        for ng in new_groups:
            for p in ng["params"]:
                group_of[id(p)] = ng
        new_state = defaultdict(dict)
        for key, st in state_dict["state"].items():
            try:
                idx = int(key)
            except (TypeError, ValueError):
                raise ValueError("%s.load_state_dict: state keys must be parameter indices, "
                                 "got %r" % (who, key)) from None
            if idx not in by_index:
                raise ValueError("%s.load_state_dict: state for parameter %d, but the "
                                 "param_groups list parameters %s"
                                 % (who, idx, sorted(by_index)))
            if not isinstance(st, dict):
                raise ValueError("%s.load_state_dict: state[%d] must be a dict, got %s"
                                 % (who, idx, type(st).__name__))
            p = by_index[idx]
            loaded = {k: _as_state_value(who, k, v, p._data,
                                         self._state_shape(k, p._data.shape))
                      for k, v in st.items()}
            if loaded:
                missing = [b for b in self._state_buffers(group_of[id(p)])
                           if loaded.get(b) is None]
                if missing:
                    raise ValueError("%s.load_state_dict: state[%d] lacks %s, which the "
                                     "group's options need" % (who, idx, missing))
            new_state[p] = loaded
        self.param_groups = new_groups
        self.state = new_state

    def __repr__(self):
        lines = [type(self).__name__ + " ("]
        for i, group in enumerate(self.param_groups):
            lines.append("Parameter Group %d" % i)
            for key in sorted(group):
                if key not in ("params", "param_names"):
                    lines.append("    %s: %s" % (key, group[key]))
        lines.append(")")
        return "\n".join(lines)
