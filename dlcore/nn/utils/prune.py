"""nn.utils.prune: torch's pruning by masks.

Pruning parameter `name` of a module moves it to `<name>_orig`, adds the buffer `<name>_mask`
and a forward pre-hook (the pruning method itself) that sets `module.<name> = orig * mask`
before each call, so gradients reach only the kept entries.  Pruning the same parameter again
combines the new mask with the old one (PruningContainer): an unstructured method works on the
entries still kept, a structured one on the channels still kept.  `remove` makes the pruned
weight a plain parameter again; `amount` is a fraction in [0, 1] or a count of entries
(channels) as torch's."""
import numbers
from abc import ABC, abstractmethod

import numpy as np

from ...random import rng as _rng
from ...tensor import Tensor
from ...tensor_base import TensorBase, wrap
from ..parameter import Parameter

__all__ = ["BasePruningMethod", "PruningContainer", "Identity", "RandomUnstructured",
           "L1Unstructured", "RandomStructured", "LnStructured", "CustomFromMask", "identity",
           "random_unstructured", "l1_unstructured", "random_structured", "ln_structured",
           "global_unstructured", "custom_from_mask", "remove", "is_pruned"]


def _check_amount(amount):
    if isinstance(amount, bool) or not isinstance(amount, numbers.Real) or amount < 0 or (
            isinstance(amount, float) and amount > 1):
        raise ValueError("amount=%r should either be a float in the range [0, 1] or a "
                         "non-negative integer" % (amount,))


def _count_to_prune(amount, size):
    if isinstance(amount, numbers.Integral):
        if amount > size:
            raise ValueError("amount=%d should be smaller than the number of parameters to "
                             "prune=%d" % (amount, size))
        return int(amount)
    return int(round(amount * size))


def _data(t):
    return t._data if isinstance(t, TensorBase) else np.asarray(t)


class BasePruningMethod(ABC):
    """A pruning method: compute_mask(t, default_mask) gives the new mask (1 keep, 0 prune)."""
    _tensor_name = None
    PRUNING_TYPE = None

    def __call__(self, module, inputs):
        object.__setattr__(module, self._tensor_name, self.apply_mask(module))

    @abstractmethod
    def compute_mask(self, t, default_mask):
        ...

    def apply_mask(self, module):
        orig = getattr(module, self._tensor_name + "_orig")
        mask = getattr(module, self._tensor_name + "_mask")
        return orig * mask.to(orig.dtype)

    @classmethod
    def apply(cls, module, name, *args, importance_scores=None, **kwargs):
        previous = None
        hooks = module.__dict__.get("_forward_pre_hooks", {})
        for key, hook in list(hooks.items()):
            if isinstance(hook, BasePruningMethod) and hook._tensor_name == name:
                if previous is not None:
                    raise RuntimeError("prune: more than one pruning hook on %r" % name)
                previous = hook
                del hooks[key]
        method = cls(*args, **kwargs)
        method._tensor_name = name
        if previous is not None:
            container = previous if isinstance(previous, PruningContainer) \
                else PruningContainer(previous)
            container.add_pruning_method(method)
            method = container
        orig = getattr(module, name if previous is None else name + "_orig")
        scores = orig if importance_scores is None else importance_scores
        if tuple(scores.shape) != tuple(orig.shape):
            raise ValueError("importance_scores should have the same shape as parameter %s of "
                             "%s" % (name, type(module).__name__))
        if previous is None:
            module.register_parameter(name + "_orig", orig)
            del module._parameters[name]
            default_mask = np.ones(orig.shape, _data(orig).dtype)
        else:
            default_mask = _data(getattr(module, name + "_mask")).copy()
        mask = _data(method.compute_mask(wrap(_data(scores)), default_mask=wrap(default_mask)))
        module.register_buffer(name + "_mask", wrap(np.asarray(mask, _data(orig).dtype)))
        object.__setattr__(module, name, method.apply_mask(module))
        method.handle = module.register_forward_pre_hook(method)
        return method

    def prune(self, t, default_mask=None, importance_scores=None):
        scores = t if importance_scores is None else importance_scores
        default = np.ones(t.shape, _data(t).dtype) if default_mask is None else _data(default_mask)
        return t * wrap(np.asarray(_data(self.compute_mask(scores, wrap(default))),
                                   _data(t).dtype))

    def remove(self, module):
        if self._tensor_name is None:
            raise ValueError("prune: %s has not been applied to a module" % type(self).__name__)
        weight = self.apply_mask(module).detach()
        for key, hook in list(module.__dict__.get("_forward_pre_hooks", {}).items()):
            if hook is self:
                del module._forward_pre_hooks[key]
        del module._parameters[self._tensor_name + "_orig"]
        del module._buffers[self._tensor_name + "_mask"]
        module.__dict__.pop(self._tensor_name, None)
        module.register_parameter(self._tensor_name, Parameter(weight._data.copy()))


class PruningContainer(BasePruningMethod):
    """Successive pruning of one parameter: each method acts on what the earlier ones kept."""

    def __init__(self, *methods):
        self._pruning_methods = ()
        for m in methods:
            self.add_pruning_method(m)

    def add_pruning_method(self, method):
        if not isinstance(method, BasePruningMethod) and method is not None:
            raise TypeError("%s is not a BasePruningMethod subclass" % type(method).__name__)
        if method is None:
            return
        if self._tensor_name is not None and method._tensor_name != self._tensor_name:
            raise ValueError("can only add pruning methods acting on the parameter named '%s' "
                             "to PruningContainer %s; found '%s'"
                             % (self._tensor_name, self, method._tensor_name))
        self._tensor_name = method._tensor_name
        self._pruning_methods += (method,)

    def __len__(self):
        return len(self._pruning_methods)

    def __iter__(self):
        return iter(self._pruning_methods)

    def __getitem__(self, idx):
        return self._pruning_methods[idx]

    def compute_mask(self, t, default_mask):
        method = self._pruning_methods[-1]
        mask = np.array(_data(default_mask), dtype=_data(t).dtype)
        if method.PRUNING_TYPE == "unstructured":
            keep = mask == 1
            part = method.compute_mask(wrap(_data(t)[keep]), wrap(mask[keep]))
            mask[keep] = _data(part)
            return wrap(mask)
        if method.PRUNING_TYPE == "structured":
            dim = method.dim + mask.ndim if method.dim < 0 else method.dim
            if not 0 <= dim < mask.ndim:
                raise IndexError("Index is out of bounds for tensor of size %d" % mask.ndim)
            others = tuple(d for d in range(mask.ndim) if d != dim)
            channels = mask.sum(axis=others) != 0
            sel = [slice(None)] * mask.ndim
            sel[dim] = channels
            sel = tuple(sel)
            mask[sel] = _data(method.compute_mask(wrap(_data(t)[sel]), wrap(mask[sel])))
            return wrap(mask)
        if method.PRUNING_TYPE == "global":
            return method.compute_mask(t, wrap(mask))
        raise ValueError("Unrecognized PRUNING_TYPE %r" % (method.PRUNING_TYPE,))


class Identity(BasePruningMethod):
    PRUNING_TYPE = "unstructured"

    def compute_mask(self, t, default_mask):
        return default_mask

    @classmethod
    def apply(cls, module, name):
        return super().apply(module, name)


class _Unstructured(BasePruningMethod):
    """Zeroes the `amount` entries that come first in _order(t) (a flat index order)."""
    PRUNING_TYPE = "unstructured"

    def __init__(self, amount):
        _check_amount(amount)
        self.amount = amount

    def compute_mask(self, t, default_mask):
        k = _count_to_prune(self.amount, t.numel())
        mask = np.array(_data(default_mask), copy=True)
        mask.reshape(-1)[self._order(t)[:k]] = 0
        return wrap(mask)


class RandomUnstructured(_Unstructured):
    def _order(self, t):
        return np.argsort(-_rng(None).random(t.numel()), kind="stable")

    @classmethod
    def apply(cls, module, name, amount):
        return super().apply(module, name, amount=amount)


class L1Unstructured(_Unstructured):
    """Prunes the `amount` entries of smallest absolute value."""

    def _order(self, t):
        return np.argsort(np.abs(_data(t)).reshape(-1), kind="stable")

    @classmethod
    def apply(cls, module, name, amount, importance_scores=None):
        return super().apply(module, name, amount=amount, importance_scores=importance_scores)


class _Structured(BasePruningMethod):
    """Zeroes the `amount` channels along dim that come first in _order(channels), where
    channels is t with dim moved first and the rest flattened."""
    PRUNING_TYPE = "structured"

    def compute_mask(self, t, default_mask):
        if t.ndim <= 1:
            raise ValueError("structured pruning needs a tensor of at least 2 dimensions, got "
                             "%d" % t.ndim)
        a = _data(t)
        dim = self.dim + a.ndim if self.dim < 0 else self.dim
        n = a.shape[dim]
        k = _count_to_prune(self.amount, n)
        if k == 0:
            return default_mask
        keep = np.sort(self._order(np.moveaxis(a, dim, 0).reshape(n, -1))[k:])
        mask = np.zeros(a.shape, _data(default_mask).dtype)
        sel = [slice(None)] * mask.ndim
        sel[dim] = keep
        mask[tuple(sel)] = 1
        return wrap(mask * _data(default_mask))


class RandomStructured(_Structured):
    def __init__(self, amount, dim=-1):
        _check_amount(amount)
        self.amount, self.dim = amount, dim

    def _order(self, channels):
        # the channels kept are argsort(r)[:n - k], as before: the order is that reversed
        return np.argsort(_rng(None).random(len(channels)), kind="stable")[::-1]

    @classmethod
    def apply(cls, module, name, amount, dim=-1):
        return super().apply(module, name, amount=amount, dim=dim)


class LnStructured(_Structured):
    """Prunes the `amount` channels along `dim` of smallest L`n` norm."""

    def __init__(self, amount, n, dim=-1):
        _check_amount(amount)
        self.amount, self.n, self.dim = amount, n, dim

    def _order(self, channels):
        norms = np.linalg.norm(channels.astype(np.float64), ord=self.n, axis=1)
        # reversed largest-first order: the kept set (and its tie-break) as argsort(-norms)
        return np.argsort(-norms, kind="stable")[::-1]

    @classmethod
    def apply(cls, module, name, amount, n, dim, importance_scores=None):
        return super().apply(module, name, amount=amount, n=n, dim=dim,
                             importance_scores=importance_scores)


class CustomFromMask(BasePruningMethod):
    PRUNING_TYPE = "global"

    def __init__(self, mask):
        self.mask = mask

    def compute_mask(self, t, default_mask):
        if tuple(default_mask.shape) != tuple(np.shape(_data(self.mask))):
            raise ValueError("custom_from_mask: mask of shape %s for a parameter of shape %s"
                             % (np.shape(_data(self.mask)), tuple(default_mask.shape)))
        return wrap(_data(default_mask) * np.asarray(_data(self.mask), _data(default_mask).dtype))

    @classmethod
    def apply(cls, module, name, mask):
        return super().apply(module, name, mask=mask)


def identity(module, name):
    Identity.apply(module, name)
    return module


def random_unstructured(module, name, amount):
    RandomUnstructured.apply(module, name, amount)
    return module


def l1_unstructured(module, name, amount, importance_scores=None):
    L1Unstructured.apply(module, name, amount=amount, importance_scores=importance_scores)
    return module


def random_structured(module, name, amount, dim):
    RandomStructured.apply(module, name, amount, dim)
    return module


def ln_structured(module, name, amount, n, dim, importance_scores=None):
    LnStructured.apply(module, name, amount, n, dim, importance_scores=importance_scores)
    return module


def custom_from_mask(module, name, mask):
    CustomFromMask.apply(module, name, mask)
    return module


def global_unstructured(parameters, pruning_method, importance_scores=None, **kwargs):
    """One unstructured method over several parameters together (e.g. the smallest 20% of all
    conv weights), each pruned by its share of the joint mask."""
    params = list(parameters)
    if not params:
        raise ValueError("global_unstructured: parameters is empty")
    importance_scores = importance_scores or {}
    method = pruning_method(**kwargs)
    if method.PRUNING_TYPE != "unstructured":
        raise TypeError('Only "unstructured" PRUNING_TYPE supported for the `pruning_method`. '
                        "Found method %s of type %s" % (pruning_method, method.PRUNING_TYPE))
    scores, defaults = [], []
    for module, name in params:
        current = getattr(module, name)
        scores.append(_data(importance_scores.get((module, name), current)).reshape(-1))
        mask = getattr(module, name + "_mask", None)
        defaults.append(np.ones(current.numel(), _data(current).dtype) if mask is None
                        else _data(mask).reshape(-1))
    method._tensor_name = "temp"
    container = PruningContainer(method)
    final = _data(container.compute_mask(wrap(np.concatenate(scores)),
                                         wrap(np.concatenate(defaults))))
    start = 0
    for module, name in params:
        shape = tuple(getattr(module, name).shape)
        n = int(np.prod(shape))
        custom_from_mask(module, name, mask=Tensor(final[start:start + n].reshape(shape)))
        start += n


def remove(module, name):
    for hook in list(module.__dict__.get("_forward_pre_hooks", {}).values()):
        if isinstance(hook, BasePruningMethod) and hook._tensor_name == name:
            hook.remove(module)
            return module
    raise ValueError("Parameter '%s' of module %s has to be pruned before pruning can be removed"
                     % (name, module))


def is_pruned(module):
    for m in module.modules():
        for hook in m.__dict__.get("_forward_pre_hooks", {}).values():
            if isinstance(hook, BasePruningMethod):
                return True
    return False
