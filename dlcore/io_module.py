"""Whole-module checkpoints for dl.save / dl.load: a Module is written as its class's import
path, its plain attributes (numbers, strings, tuples, dtypes...), its parameters and buffers
(safetensors entries) and its submodules, recursively.  Nothing is pickled.

Loading one rebuilds the objects without calling __init__ (as unpickling does), which imports
each class's module and so may run its code: dl.load does it only with weights_only=False,
the switch torch uses for the same risk.  Attributes that are module-level functions (an
`activation=F.relu`) are stored by import path too; anything else stops the save with the
attribute's name.
"""
import importlib
import pickle
import sys
import types

import numpy as np

from .nn.modules.module import Module

_STORES = ("_parameters", "_buffers", "_modules")


def class_path(obj):
    cls = obj if isinstance(obj, type) else type(obj)
    qual = cls.__qualname__
    if "<locals>" in qual:
        raise TypeError("dl.save: the class %s is defined inside a function, so it cannot be "
                        "imported back; define it at module level or save state_dict()" % qual)
    return "%s:%s" % (cls.__module__, qual)


def _function_path(fn, path):
    """module:qualname of a module-level function or class, checked to lead back to it."""
    where = "%s:%s" % (getattr(fn, "__module__", None), getattr(fn, "__qualname__", "?"))
    mod = sys.modules.get(getattr(fn, "__module__", None) or "")
    obj = mod
    for part in where.partition(":")[2].split("."):
        obj = getattr(obj, part, None)
    if obj is not fn:
        raise TypeError("dl.save: cannot save the module attribute '%s' (%s is not a "
                        "module-level function or class, so it cannot be imported back); save "
                        "model.state_dict() instead" % (".".join(path), where))
    return where


def import_path(path, what):
    mod_name, _, qual = path.partition(":")
    try:
        obj = importlib.import_module(mod_name)
        for part in qual.split("."):
            obj = getattr(obj, part)
    except (ImportError, AttributeError) as e:
        raise ValueError("dl.load: cannot import %s %r (%s)" % (what, path, e)) from None
    return obj


def encode_module(enc, module, path):
    """The description of `module` for the _Encoder `enc` (which stores the tensors)."""
    d = module.__dict__
    node = {"M": class_path(module), "attrs": {}, "P": {}, "B": {}, "C": {},
            "np": sorted(d.get("_non_persistent", ()))}
    for name, p in d["_parameters"].items():
        node["P"][name] = None if p is None else enc.encode(p, path + (name,))
    for name, b in d["_buffers"].items():
        node["B"][name] = None if b is None else enc.encode(b, path + (name,))
    for name, m in d["_modules"].items():
        node["C"][name] = None if m is None else encode_module(enc, m, path + (name,))
    skip = set(_STORES) | {"_non_persistent"} | set(d["_parameters"]) | set(d["_buffers"]) \
        | set(d["_modules"])
    for name, value in d.items():
        if name in skip or name.startswith("_forward_") or name.startswith("_backward_"):
            continue
        node["attrs"][name] = _encode_attr(enc, value, path + (name,))
    return node


def _encode_attr(enc, value, path):
    if isinstance(value, np.dtype):
        return {"dtype": value.str}
    if isinstance(value, (set, frozenset)):
        return {"set": [_encode_attr(enc, v, path) for v in sorted(value, key=repr)]}
    if isinstance(value, (types.FunctionType, types.BuiltinFunctionType, type)):
        return {"fn": _function_path(value, path)}
    if isinstance(value, dict) and not all(isinstance(k, str) for k in value):
        return enc.encode(value, path)
    if isinstance(value, (list, tuple)) and any(
            isinstance(v, (np.dtype, types.FunctionType, type, set)) for v in value):
        items = [_encode_attr(enc, v, path + (str(i),)) for i, v in enumerate(value)]
        return {"tuple": items} if isinstance(value, tuple) else items
    try:
        return enc.encode(value, path)
    except TypeError as e:
        raise TypeError("dl.save: cannot save the module attribute '%s' (%s); save "
                        "model.state_dict() instead" % (".".join(path), e)) from None


def refuse(node_path, what="class"):
    raise pickle.UnpicklingError(
        "dl.load: this file holds a whole module (%s %s, not allowlisted); rebuilding it "
        "imports that code, so dl.load refuses by default (weights_only=True). Allowlist what "
        "you trust with dl.serialization.add_safe_globals([...]) or the "
        "dl.serialization.safe_globals([...]) context manager, pass weights_only=False if you "
        "trust the file, or save and load model.state_dict()." % (what, node_path))


def decode_module(node, decode, check=None):
    """Rebuild a module from its description; `decode` decodes the nested values; `check`
    (if given) is called with every class and function import path before it is imported."""
    if check is not None:
        check(node["M"], "class")
    cls = import_path(node["M"], "module class")
    if not (isinstance(cls, type) and issubclass(cls, Module)):
        raise ValueError("dl.load: %r is not a dl.nn.Module class" % node["M"])
    obj = cls.__new__(cls)
    state = {k: _decode_attr(v, decode, check) for k, v in node["attrs"].items()}
    state["_parameters"] = {k: None if v is None else decode(v) for k, v in node["P"].items()}
    state["_buffers"] = {k: None if v is None else decode(v) for k, v in node["B"].items()}
    state["_modules"] = {k: None if v is None else decode_module(v, decode, check)
                         for k, v in node["C"].items()}
    state["_non_persistent"] = set(node.get("np", ()))
    for store in _STORES:  # the stores mirror their entries into the instance dict
        state.update({k: v for k, v in state[store].items()})
    obj.__setstate__(state)
    return obj


def _decode_attr(v, decode, check=None):
    if isinstance(v, dict):
        if "dtype" in v and len(v) == 1:
            return np.dtype(v["dtype"])
        if "set" in v and len(v) == 1:
            return set(_decode_attr(x, decode, check) for x in v["set"])
        if "fn" in v and len(v) == 1:
            if check is not None:
                check(v["fn"], "function")
            return import_path(v["fn"], "function")
        if "tuple" in v and len(v) == 1:
            return tuple(_decode_attr(x, decode, check) for x in v["tuple"])
    if isinstance(v, list):
        return [_decode_attr(x, decode, check) for x in v]
    return decode(v)
