"""nn.utils.parametrize: a module attribute computed from stored tensors by a chain of modules.

`register_parametrization(module, "weight", P)` moves the parameter to
`module.parametrizations.weight.original` (or `original0`, `original1`, ... when
`P.right_inverse` splits it) and turns `module.weight` into a property that runs the chain on
every access, so gradients reach the stored tensors through ordinary autograd.  The state_dict
keys are PyTorch's (`parametrizations.weight.original0`, ...).  As in PyTorch, the property lives
on a per-instance subclass (`Parametrized<Class>`), so other instances are untouched.
"""
from contextlib import contextmanager

from ...autograd import sealed
from ...tensor import Tensor
from ..modules.container import ModuleDict, ModuleList
from ..modules.module import Module
from ..parameter import Parameter
from ...dtypes import is_floating

__all__ = ["register_parametrization", "remove_parametrizations", "is_parametrized", "cached",
           "ParametrizationList", "type_before_parametrizations", "transfer_parametrizations_and_params"]

_cache = {"on": False, "values": {}}


@contextmanager
def cached():
    """Inside, each parametrized tensor is computed once and reused (PyTorch's `cached`)."""
    prev = _cache["on"]
    _cache["on"] = True
    try:
        yield
    finally:
        _cache["on"] = prev
        if not prev:
            _cache["values"].clear()


def _as_param(t, requires_grad=True):
    if isinstance(t, Parameter):
        return t
    return Parameter(t.detach(), requires_grad=requires_grad and is_floating(t.dtype))


class ParametrizationList(ModuleList):
    """The parametrizations of one tensor, with the stored original(s) as parameters."""

    def __init__(self, modules, original, unsafe=False):
        super().__init__(modules)
        self.unsafe = unsafe
        first = modules[0]
        value = original
        if hasattr(first, "right_inverse"):
            value = first.right_inverse(original)
        self.is_tensor = isinstance(value, Tensor)
        if self.is_tensor:
            if not unsafe and (tuple(value.shape) != tuple(original.shape) or
                               value.dtype != original.dtype):
                raise ValueError("register_parametrization: right_inverse must keep the shape "
                                 "%s and dtype %s of the tensor, got %s %s (pass unsafe=True "
                                 "to allow it)" % (tuple(original.shape), original.dtype,
                                                   tuple(value.shape), value.dtype))
            self.original = _as_param(value, original.requires_grad)
            self.ntensors = 1
        else:
            if not isinstance(value, (tuple, list)) or not all(isinstance(v, Tensor)
                                                               for v in value):
                raise TypeError("register_parametrization: right_inverse must return a Tensor "
                                "or a sequence of Tensors, got %s" % type(value).__name__)
            for i, v in enumerate(value):
                setattr(self, "original%d" % i, _as_param(v, original.requires_grad))
            self.ntensors = len(value)
        if not unsafe:
            out = self()
            if not isinstance(out, Tensor) or tuple(out.shape) != tuple(original.shape) or \
                    out.dtype != original.dtype:
                raise ValueError("register_parametrization: the parametrization must keep the "
                                 "shape %s and dtype %s of the tensor, got %s (pass "
                                 "unsafe=True to allow it)" % (
                                     tuple(original.shape), original.dtype,
                                     None if not isinstance(out, Tensor) else
                                     (tuple(out.shape), out.dtype)))

    def right_inverse(self, value):
        """Assigning module.<name> = value stores the value the chain maps back from it."""
        for m in reversed(list(self)):
            if not hasattr(m, "right_inverse"):
                raise RuntimeError("parametrization %s has no right_inverse: the tensor cannot "
                                   "be assigned" % type(m).__name__)
            value = m.right_inverse(value)
        originals = [value] if self.is_tensor else list(value)
        for i, v in enumerate(originals):
            target = self.original if self.is_tensor else getattr(self, "original%d" % i)
            if tuple(v.shape) != tuple(target.shape):
                raise ValueError("parametrize: the assigned value maps to shape %s, the stored "
                                 "original has %s" % (tuple(v.shape), tuple(target.shape)))
            sealed.writable(target._data)
            target._data[...] = v._data

    def forward(self):
        if self.is_tensor:
            x = self[0](self.original)
        else:
            x = self[0](*[getattr(self, "original%d" % i) for i in range(self.ntensors)])
        for m in list(self)[1:]:
            x = m(x)
        return x


def _getter(name):
    def get(self):
        plist = self.parametrizations[name]
        if _cache["on"]:
            key = (id(self), name)
            v = _cache["values"].get(key)
            if v is None:
                v = _cache["values"][key] = plist()
            return v
        return plist()

    def set_(self, value):
        self.parametrizations[name].right_inverse(value)
    return property(get, set_)


def _inject_class(module):
    cls = module.__class__
    new = type("Parametrized" + cls.__name__, (cls,), {"_dl_parametrized_base": cls})
    new.__module__ = cls.__module__
    module.__class__ = new


def is_parametrized(module, tensor_name=None):
    p = module.__dict__.get("_modules", {}).get("parametrizations")
    if p is None or not isinstance(p, ModuleDict):
        return False
    return tensor_name is None or tensor_name in p


def type_before_parametrizations(module):
    return getattr(type(module), "_dl_parametrized_base", type(module))


def register_parametrization(module, tensor_name, parametrization, *, unsafe=False):
    if not isinstance(module, Module) or not isinstance(parametrization, Module):
        raise TypeError("register_parametrization: module and parametrization must be "
                        "dl.nn.Modules, got %s and %s" % (type(module).__name__,
                                                         type(parametrization).__name__))
    if is_parametrized(module, tensor_name):
        plist = module.parametrizations[tensor_name]
        if not unsafe:
            value = getattr(module, tensor_name)
            out = parametrization(value)
            if tuple(out.shape) != tuple(value.shape) or out.dtype != value.dtype:
                raise ValueError("register_parametrization: the parametrization changes shape "
                                 "%s to %s (pass unsafe=True to allow it)"
                                 % (tuple(value.shape), tuple(out.shape)))
        plist.append(parametrization)
        return module
    if tensor_name in module._parameters:
        original = module._parameters[tensor_name]
        if original is None:
            raise ValueError("register_parametrization: %r is None" % tensor_name)
        del module._parameters[tensor_name]
    elif tensor_name in module._buffers:
        original = module._buffers[tensor_name]
        del module._buffers[tensor_name]
    else:
        raise ValueError("register_parametrization: module %s has no parameter or buffer %r"
                         % (type(module).__name__, tensor_name))
    try:
        plist = ParametrizationList([parametrization], original, unsafe=unsafe)
    except Exception:
        module._parameters[tensor_name] = original  # leave the module as it was
        raise
    if not is_parametrized(module):
        module.parametrizations = ModuleDict()
        _inject_class(module)
    module.parametrizations[tensor_name] = plist
    setattr(type(module), tensor_name, _getter(tensor_name))
    return module


def remove_parametrizations(module, tensor_name, leave_parametrized=True):
    if not is_parametrized(module, tensor_name):
        raise ValueError("remove_parametrizations: module %s has no parametrization on %r"
                         % (type(module).__name__, tensor_name))
    plist = module.parametrizations[tensor_name]
    if leave_parametrized:
        value = getattr(module, tensor_name).detach()
        if plist.is_tensor:
            param = plist.original
            if tuple(param.shape) == tuple(value.shape):
                sealed.writable(param._data)
                param._data[...] = value._data
            else:
                param = Parameter(value._data.copy())
        else:
            param = Parameter(value._data.copy())
    else:
        if not plist.is_tensor:
            raise ValueError("remove_parametrizations: leave_parametrized=False needs a single "
                             "stored original tensor")
        param = plist.original
    delattr(type(module), tensor_name)
    del module.parametrizations[tensor_name]
    module.register_parameter(tensor_name, param)
    if not len(module.parametrizations):
        del module.parametrizations
        module.__class__ = type_before_parametrizations(module)
    return module


def transfer_parametrizations_and_params(from_module, to_module, tensor_name=None):
    """Copies the parametrizations (and their originals) of `from_module` onto `to_module`."""
    if not is_parametrized(from_module):
        raise ValueError("transfer_parametrizations_and_params: from_module is not parametrized")
    names = [tensor_name] if tensor_name is not None else list(from_module.parametrizations)
    for name in names:
        src = from_module.parametrizations[name]
        if not is_parametrized(to_module, name):
            if name in to_module._parameters:
                del to_module._parameters[name]
            to_module.register_parameter(name, Parameter(getattr(from_module, name).detach()
                                                         ._data.copy()))
            for i, p in enumerate(src):
                register_parametrization(to_module, name, p, unsafe=True)
        dst = to_module.parametrizations[name]
        for k, v in src.named_parameters(recurse=False):
            sealed.writable(getattr(dst, k)._data)
            getattr(dst, k)._data[...] = v._data
    return to_module
