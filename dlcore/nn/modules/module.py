"""Module: the base of every layer — parameters, buffers, children, modes and state_dict.

Parameters, buffers and children live in three ordered stores (_parameters, _buffers,
_modules) and, mirrored by the stores themselves, as plain entries of the instance __dict__:
`self.weight` in a forward is then an ordinary attribute lookup instead of a call into
__getattr__, which matters when a batch-1 forward is hundreds of small ops.
"""
import weakref
from collections import OrderedDict

import numpy as np

from ...autograd import sealed
from ...tensor import Tensor, _check_device
from ..parameter import Buffer, Parameter, is_lazy
from ..summary import summary as _summary
from .backward_hooks import call_with_backward_hooks
from ...dtypes import bfloat16_dtype, float16, is_floating
from ...ops.half_convert import convert


class _Store(OrderedDict):
    """One of a module's stores: every write or removal, whichever method makes it (Module's
    own __setattr__/__delattr__/register_*, a container's `del self._modules[k]`, pop, clear),
    is mirrored into the owner's instance __dict__."""

    __slots__ = ("_owner",)

    def __init__(self, owner, items=()):
        super().__init__()
        self._owner = weakref.ref(owner)
        for k, v in items:
            self[k] = v

    def __setitem__(self, key, value):
        OrderedDict.__setitem__(self, key, value)
        owner = self._owner()
        if owner is not None:
            owner.__dict__[key] = value

    def _unmirror(self, key, value):
        owner = self._owner()
        if owner is not None:
            d = owner.__dict__
            if key in d and d[key] is value:
                del d[key]

    def __delitem__(self, key):
        value = self[key]
        OrderedDict.__delitem__(self, key)
        self._unmirror(key, value)

    _missing = object()

    def pop(self, key, default=_missing):
        if key in self:
            value = OrderedDict.pop(self, key)
            self._unmirror(key, value)
            return value
        if default is _Store._missing:
            raise KeyError(key)
        return default

    def popitem(self, last=True):
        key, value = OrderedDict.popitem(self, last)
        self._unmirror(key, value)
        return key, value

    def clear(self):
        while self:
            self.popitem()

    def setdefault(self, key, default=None):
        if key not in self:
            self[key] = default
        return self[key]

    def update(self, other=(), **kw):
        items = other.items() if hasattr(other, "items") else other
        for k, v in items:
            self[k] = v
        for k, v in kw.items():
            self[k] = v

    def __ior__(self, other):
        self.update(other)
        return self

    def copy(self):
        return OrderedDict(self)

    def __reduce__(self):
        # a plain OrderedDict in pickles and deep copies; Module.__setstate__ rebinds it
        return OrderedDict, (list(self.items()),)


_STORES = ("_parameters", "_buffers", "_modules")


class Module:
    """Base class for all layers; subclasses set attributes in __init__ and define forward."""

    training = True

    def __init__(self):
        d = self.__dict__
        for store in _STORES:
            d[store] = _Store(self)
        d["_non_persistent"] = set()
        d["training"] = True

    def __setstate__(self, state):
        # pickle, copy and deepcopy: the stores come back as plain dicts (see _Store.__reduce__)
        # or shared with the original (copy.copy); each gets a store of its own owned by self
        d = self.__dict__
        d.update(state)
        for store in _STORES:
            if store in state:
                d[store] = _Store(self, list(state[store].items()))

    # ---- attribute routing ----------------------------------------------------------------
    def __setattr__(self, name, value):
        d = self.__dict__
        if "_parameters" not in d:
            raise AttributeError("cannot assign %r before Module.__init__() is called" % name)
        params, bufs, mods = d["_parameters"], d["_buffers"], d["_modules"]
        if isinstance(value, Parameter):
            bufs.pop(name, None)
            mods.pop(name, None)
            d.pop(name, None)
            params[name] = value
        elif isinstance(value, Buffer):  # torch.nn.Buffer: registered as a buffer
            params.pop(name, None)
            mods.pop(name, None)
            self.register_buffer(name, value, value.persistent)
        elif isinstance(value, Module):
            params.pop(name, None)
            bufs.pop(name, None)
            d.pop(name, None)
            mods[name] = value
        elif name in params:
            if value is not None:
                raise TypeError("cannot assign a %s as parameter %r (dl.nn.Parameter or None "
                                "expected)" % (type(value).__name__, name))
            params[name] = None
        elif name in bufs:
            if value is not None and not isinstance(value, Tensor):
                raise TypeError("cannot assign a %s as buffer %r (Tensor or None expected)"
                                % (type(value).__name__, name))
            bufs[name] = value
        elif name in mods and value is None:
            mods[name] = None
        else:
            object.__setattr__(self, name, value)

    def __getattr__(self, name):
        # reached only for names not in the instance __dict__ (the stores mirror into it)
        d = self.__dict__
        for store in ("_parameters", "_buffers", "_modules"):
            s = d.get(store)
            if s is not None and name in s:
                return s[name]
        raise AttributeError("'%s' object has no attribute '%s'" % (type(self).__name__, name))

    def __delattr__(self, name):
        d = self.__dict__
        for store in _STORES:
            s = d.get(store)
            if s is not None and name in s:
                del s[name]
                return
        object.__delattr__(self, name)

    def __dir__(self):
        return sorted(set(super().__dir__()) | set(self._parameters) | set(self._buffers)
                      | set(self._modules))

    # ---- registration ----------------------------------------------------------------------
    def register_parameter(self, name, param):
        if param is not None and not isinstance(param, Parameter):
            raise TypeError("register_parameter: %r must be a Parameter or None, got %s"
                            % (name, type(param).__name__))
        if "." in name or not name:
            raise KeyError("register_parameter: invalid name %r" % name)
        self._parameters[name] = param

    def register_buffer(self, name, tensor, persistent=True):
        if tensor is not None and not isinstance(tensor, Tensor):
            raise TypeError("register_buffer: %r must be a Tensor or None, got %s"
                            % (name, type(tensor).__name__))
        if "." in name or not name:
            raise KeyError("register_buffer: invalid name %r" % name)
        self.__dict__.pop(name, None)
        self._buffers[name] = tensor
        if persistent:
            self._non_persistent.discard(name)
        else:
            self._non_persistent.add(name)

    def add_module(self, name, module):
        if module is not None and not isinstance(module, Module):
            raise TypeError("add_module: %r must be a Module, got %s"
                            % (name, type(module).__name__))
        if "." in name or not name:
            raise KeyError("add_module: invalid name %r" % name)
        self._modules[name] = module

    register_module = add_module

    def get_submodule(self, target):
        mod = self
        if target == "":
            return mod
        for part in target.split("."):
            if part not in mod._modules:
                raise AttributeError("%s has no submodule %r" % (type(mod).__name__, part))
            mod = mod._modules[part]
        return mod

    def get_parameter(self, target):
        mod_path, _, name = target.rpartition(".")
        mod = self.get_submodule(mod_path)
        if name not in mod._parameters:
            raise AttributeError("%s has no parameter %r" % (type(mod).__name__, name))
        return mod._parameters[name]

    # ---- traversal -------------------------------------------------------------------------
    def named_modules(self, memo=None, prefix="", remove_duplicate=True):
        memo = set() if memo is None else memo
        stack = [(prefix, self)]
        while stack:
            pre, mod = stack.pop()
            if remove_duplicate:
                if id(mod) in memo:
                    continue
                memo.add(id(mod))
            yield pre, mod
            children = [(pre + ("." if pre else "") + n, m) for n, m in mod._modules.items()
                        if m is not None]
            stack.extend(reversed(children))

    def modules(self):
        for _, m in self.named_modules():
            yield m

    def named_children(self):
        seen = set()
        for n, m in self._modules.items():
            if m is not None and id(m) not in seen:
                seen.add(id(m))
                yield n, m

    def children(self):
        for _, m in self.named_children():
            yield m

    def _named_members(self, store, prefix, recurse, remove_duplicate=True):
        seen = set()
        mods = self.named_modules(prefix=prefix) if recurse else [(prefix, self)]
        for mp, m in mods:
            for n, v in getattr(m, store).items():
                if v is None or (remove_duplicate and id(v) in seen):
                    continue
                seen.add(id(v))
                yield (mp + "." if mp else "") + n, v

    def named_parameters(self, prefix="", recurse=True, remove_duplicate=True):
        return self._named_members("_parameters", prefix, recurse, remove_duplicate)

    def parameters(self, recurse=True):
        for _, p in self.named_parameters(recurse=recurse):
            yield p

    def named_buffers(self, prefix="", recurse=True, remove_duplicate=True):
        return self._named_members("_buffers", prefix, recurse, remove_duplicate)

    def buffers(self, recurse=True):
        for _, b in self.named_buffers(recurse=recurse):
            yield b

    # ---- modes and helpers -----------------------------------------------------------------
    def train(self, mode=True):
        if not isinstance(mode, bool):
            raise ValueError("train: mode must be a bool, got %r" % (mode,))
        for m in self.modules():
            object.__setattr__(m, "training", mode)
        return self

    def eval(self):
        return self.train(False)

    def share_memory(self):
        """Moves every parameter and buffer into shared memory (Hogwild training: processes
        given this module update the same parameters in place)."""
        for t in list(self.parameters()) + [b for b in self.buffers() if b is not None]:
            t.share_memory_()
        return self

    def requires_grad_(self, requires_grad=True):
        for p in self.parameters():
            p.requires_grad_(requires_grad)
        return self

    def zero_grad(self, set_to_none=True):
        for p in self.parameters():
            if p.grad is not None:
                if set_to_none:
                    p.grad = None
                else:
                    p.grad._data[...] = 0

    def apply(self, fn):
        for m in self.children():
            m.apply(fn)
        fn(self)
        return self

    def _apply_arrays(self, fn):
        for m in self.modules():
            for store in (m._parameters, m._buffers):
                for k, v in store.items():
                    if v is not None:
                        v._data = fn(v._data)
                        if v.grad is not None:
                            v.grad._data = fn(v.grad._data)
        return self

    def to(self, *args, **kwargs):
        unknown = set(kwargs) - {"dtype", "device", "non_blocking", "copy", "memory_format"}
        if unknown:
            raise TypeError("Module.to: unexpected keyword argument(s) %s" % sorted(unknown))
        dtype = kwargs.get("dtype")
        _check_device(kwargs.get("device"))
        for a in args:
            if isinstance(a, str) or type(a).__name__ == "device":
                _check_device(a)
            elif a is not None:
                dtype = a
        if dtype is None:
            return self
        dtype = np.dtype(dtype)
        if not is_floating(dtype):
            raise TypeError("Module.to: dtype must be a float type, got %s" % dtype)
        return self._apply_arrays(lambda a: convert(a, dtype) if is_floating(a.dtype) else a)

    def float(self):
        return self.to(np.float32)

    def double(self):
        return self.to(np.float64)

    def half(self):
        """Float parameters and buffers to float16 (for inference: optimizers need float32)."""
        return self.to(float16)

    def bfloat16(self):
        """Float parameters and buffers to bfloat16 (for inference: optimizers need float32)."""
        return self.to(bfloat16_dtype())

    def cpu(self):
        return self

    def num_parameters(self, trainable_only=False):
        return sum(p.numel() for p in self.parameters()
                   if p.requires_grad or not trainable_only)

    def summary(self, input_shape=None, **kwargs):
        """Layers, output shapes, parameters and MACs (print it); see dlcore.nn.summary."""
        return _summary(self, input_shape, **kwargs)

    # ---- calling -----------------------------------------------------------------------------
    def forward(self, *args, **kwargs):
        raise NotImplementedError("%s does not define forward()" % type(self).__name__)

    def __call__(self, *args, **kwargs):
        d = self.__dict__
        if "_forward_pre_hooks" not in d and "_forward_hooks" not in d:
            return self.forward(*args, **kwargs)
        return self._call_hooked(args, kwargs)

    def _call_hooked(self, args, kwargs):
        hooks = self.__dict__.get("_forward_pre_hooks")
        if hooks:
            for h in list(hooks.values()):
                r = h(self, args)
                if r is not None:
                    args = r if isinstance(r, tuple) else (r,)
        if "_backward_hooks" in self.__dict__ or "_backward_pre_hooks" in self.__dict__:
            out = call_with_backward_hooks(self, args, lambda a: self.forward(*a, **kwargs))
        else:
            out = self.forward(*args, **kwargs)
        hooks = self.__dict__.get("_forward_hooks")
        if hooks:
            for h in list(hooks.values()):
                r = h(self, args, out)
                if r is not None:
                    out = r
        return out

    def register_forward_hook(self, hook):
        return _add_hook(self, "_forward_hooks", hook)

    def register_forward_pre_hook(self, hook):
        return _add_hook(self, "_forward_pre_hooks", hook)

    def register_full_backward_hook(self, hook, prepend=False):
        """hook(module, grad_input, grad_output) -> None or a new grad_input (dlcore's calls
        take the hooked path once any hook is registered)."""
        _add_hook(self, "_forward_hooks", None, keep_empty=True)
        return _add_hook(self, "_backward_hooks", hook)

    def register_full_backward_pre_hook(self, hook, prepend=False):
        """hook(module, grad_output) -> None or a new grad_output."""
        _add_hook(self, "_forward_hooks", None, keep_empty=True)
        return _add_hook(self, "_backward_pre_hooks", hook)

    # ---- state_dict ------------------------------------------------------------------------
    def state_dict(self, destination=None, prefix="", keep_vars=False):
        out = OrderedDict() if destination is None else destination
        for name, mod in self.named_modules(prefix=prefix.rstrip("."), remove_duplicate=False):
            pre = name + "." if name else ""
            for k, p in mod._parameters.items():
                if p is not None:
                    out[pre + k] = p if keep_vars else p.detach()
            for k, b in mod._buffers.items():
                if b is not None and k not in mod._non_persistent:
                    out[pre + k] = b if keep_vars else b.detach()
        return out

    def load_state_dict(self, state_dict, strict=True, assign=False):
        """Copy tensors/arrays from `state_dict` into this module's parameters and buffers.

        Keys and shapes are checked; with strict=True any missing or unexpected key raises.
        Returns (missing_keys, unexpected_keys).
        """
        if not hasattr(state_dict, "items"):
            raise TypeError("load_state_dict: expected a dict, got %s" % type(state_dict).__name__)
        own = self.state_dict(keep_vars=True)
        missing = [k for k in own if k not in state_dict]
        unexpected = [k for k in state_dict if k not in own]
        errors = []
        for k, target in own.items():
            if k not in state_dict:
                continue
            src = state_dict[k]
            arr = src._data if isinstance(src, Tensor) else np.asarray(src)
            if is_lazy(target) and not is_lazy(src):  # a lazy module takes the saved shape
                target.materialize(arr.shape)
            if tuple(arr.shape) != tuple(target._data.shape):
                errors.append("size mismatch for %s: copying a param with shape %s from "
                              "checkpoint, the shape in current model is %s."
                              % (k, tuple(arr.shape), tuple(target._data.shape)))
                continue
            if arr.dtype.kind not in "fiub" and not is_floating(arr.dtype):
                errors.append("%s: unsupported dtype %s" % (k, arr.dtype))
                continue
            if assign:
                target._data = np.array(arr, dtype=target._data.dtype, copy=True)
            else:
                if not sealed.writable(target._data):
                    target._data = target._data.copy()
                np.copyto(target._data, arr, casting="unsafe")
        if strict and (missing or unexpected):
            if missing:
                errors.insert(0, "Missing key(s) in state_dict: %s." % ", ".join(
                    '"%s"' % k for k in missing))
            if unexpected:
                errors.insert(0, "Unexpected key(s) in state_dict: %s." % ", ".join(
                    '"%s"' % k for k in unexpected))
        if errors:
            raise RuntimeError("Error(s) in loading state_dict for %s:\n\t%s"
                               % (type(self).__name__, "\n\t".join(errors)))
        return IncompatibleKeys(missing, unexpected)

    # ---- repr --------------------------------------------------------------------------------
    def extra_repr(self):
        return ""

    def __repr__(self):
        lines = []
        for name, m in self._modules.items():
            body = repr(m).replace("\n", "\n  ")
            lines.append("(%s): %s" % (name, body))
        extra = self.extra_repr()
        if not lines:
            return "%s(%s)" % (type(self).__name__, extra)
        head = "%s(" % type(self).__name__
        inner = ([extra] if extra else []) + lines
        return head + "\n  " + "\n  ".join(inner) + "\n)"


class IncompatibleKeys(tuple):
    def __new__(cls, missing, unexpected):
        return super().__new__(cls, (missing, unexpected))

    @property
    def missing_keys(self):
        return self[0]

    @property
    def unexpected_keys(self):
        return self[1]

    def __repr__(self):
        return "<All keys matched successfully>" if not (self[0] or self[1]) else (
            "IncompatibleKeys(missing_keys=%s, unexpected_keys=%s)" % (self[0], self[1]))


class _HookHandle:
    def __init__(self, store, key):
        self.store, self.key = store, key

    def remove(self):
        self.store.pop(self.key, None)


def _add_hook(mod, attr, hook, keep_empty=False):
    store = mod.__dict__.get(attr)
    if store is None:
        store = OrderedDict()
        object.__setattr__(mod, attr, store)
    if keep_empty:  # only make sure the store exists (it routes calls to _call_hooked)
        return None
    key = len(store) and max(store) + 1 or 0
    store[key] = hook
    return _HookHandle(store, key)
