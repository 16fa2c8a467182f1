"""dl.save / dl.load: checkpoints in the safetensors format — no pickle, nothing in a file runs.

A flat mapping of names to Tensors/arrays (a model's state_dict) is written as plain safetensors
entries under those names, so other safetensors readers see the same keys; it loads back as an
OrderedDict of Tensors in the saved order.  Anything nested (an
optimizer's state_dict: dicts, lists, tuples, numbers, strings, None around tensors) is written
as one entry per tensor plus a JSON description of the structure in the file's metadata, and
load() rebuilds it exactly (container types, int keys, Python and NumPy scalar types).

Writes are atomic: the bytes go to a temporary file in the same directory, are fsync'ed, then
renamed over the destination, so a crash or an error never leaves a half-written checkpoint where
a good one was.
"""
import json
import math
import numbers
import os
import tempfile
from collections import OrderedDict
from collections.abc import Mapping

import numpy as np

from .io_module import decode_module, encode_module, refuse
from .nn.modules.module import Module
from .tensor import Tensor
from .weights import load_file  # noqa: F401  (safetensors' name; reads any weights file)
from .weights.safetensors_file import (KEY_ORDER as _KEYS, read_safetensors,
                                       safetensors_metadata, save_safetensors, storable_array)

__all__ = ["save", "load", "read_metadata", "save_file", "load_file"]

_KIND = "dlcore.kind"
_TREE = "dlcore.tree"


def _is_flat(obj):
    return (isinstance(obj, Mapping) and len(obj) > 0
            and all(isinstance(k, str) for k in obj)
            and all(isinstance(v, (Tensor, np.ndarray)) for v in obj.values()))


class _Encoder:
    """Turns a nested object into (JSON-able description, {entry name: array})."""

    def __init__(self):
        self.tensors = {}
        self.memo = {}

    def _name(self, path):
        base = ".".join(path) or "tensor"
        name, i = base, 1
        while name in self.tensors:
            name = "%s#%d" % (base, i)
            i += 1
        return name

    def _store(self, value, path, tag):
        key = id(value)
        if key in self.memo:  # the same tensor twice stays one tensor after load
            return {tag: self.memo[key][0]}
        name = self._name(path)
        self.tensors[name] = storable_array(value, "'%s'" % name, "dl.save")
        self.memo[key] = (name, value)
        return {tag: name}

    def encode(self, obj, path=()):
        from .nn.parameter import Parameter
        if obj is None or isinstance(obj, (bool, str)):
            return obj
        if isinstance(obj, Parameter):
            d = self._store(obj, path, "P")
            d["rg"] = bool(obj.requires_grad)
            return d
        if isinstance(obj, Tensor):
            d = self._store(obj, path, "T")
            if obj.requires_grad:
                d["rg"] = True
            return d
        if isinstance(obj, np.ndarray):
            return self._store(obj, path, "A")
        if isinstance(obj, np.generic):
            if obj.dtype.kind not in "biuf":
                raise TypeError("dl.save: cannot save a NumPy scalar of dtype %s at '%s'"
                                % (obj.dtype, ".".join(path)))
            name = self._name(path)
            self.tensors[name] = storable_array(np.asarray(obj), "'%s'" % name, "dl.save")
            return {"S": name}
        if isinstance(obj, numbers.Integral):
            return int(obj)
        if isinstance(obj, float):
            return obj if math.isfinite(obj) else {"f": repr(obj)}
        if isinstance(obj, Mapping):
            items = list(obj.items())
            kind = "OrderedDict" if isinstance(obj, OrderedDict) else "dict"
            if all(isinstance(k, str) for k, _ in items):
                return {"dict": {k: self.encode(v, path + (k,)) for k, v in items}, "type": kind}
            return {"items": [[self.encode(k, path + ("key",)), self.encode(v, path + (str(k),))]
                              for k, v in items], "type": kind}
        if isinstance(obj, tuple):
            if hasattr(obj, "_fields"):
                raise TypeError("dl.save: namedtuples are not supported (at '%s'); use a dict"
                                % ".".join(path))
            return {"tuple": [self.encode(v, path + (str(i),)) for i, v in enumerate(obj)]}
        if isinstance(obj, list):
            return [self.encode(v, path + (str(i),)) for i, v in enumerate(obj)]
        if isinstance(obj, Module):
            return encode_module(self, obj, path)
        raise TypeError("dl.save: cannot save a %s at '%s' (supported: Tensors, NumPy arrays and "
                        "scalars, dicts, lists, tuples, int, float, bool, str, None)"
                        % (type(obj).__name__, ".".join(path) or "<top>"))


def _decode(node, arrays, as_array, memo, allow_code=False):
    if node is None or isinstance(node, (bool, int, float, str)):
        return node
    if isinstance(node, list):
        return [_decode(v, arrays, as_array, memo, allow_code) for v in node]
    if not isinstance(node, dict):
        raise ValueError("unexpected node %r in the structure description" % (node,))
    if "M" in node:  # a whole module: rebuilding it imports its class (weights_only=False,
        # or every class and function it names allowlisted in dl.serialization)
        return decode_module(node, lambda v: _decode(v, arrays, as_array, memo, allow_code),
                             None if allow_code else _check_allowlisted)
    if "dict" in node:
        cls = OrderedDict if node.get("type") == "OrderedDict" else dict
        return cls((k, _decode(v, arrays, as_array, memo, allow_code))
                   for k, v in node["dict"].items())
    if "items" in node:
        cls = OrderedDict if node.get("type") == "OrderedDict" else dict
        return cls((_decode(k, arrays, as_array, memo, allow_code),
                    _decode(v, arrays, as_array, memo, allow_code)) for k, v in node["items"])
    if "tuple" in node:
        return tuple(_decode(v, arrays, as_array, memo, allow_code) for v in node["tuple"])
    if "f" in node:
        return float(node["f"])
    if "S" in node:
        return arrays[node["S"]][()]
    for tag in ("T", "P", "A"):
        if tag in node:
            name = node[tag]
            if name in memo:
                return memo[name]
            arr = arrays[name]
            if as_array or tag == "A":
                value = arr
            elif tag == "P":
                from .nn.parameter import Parameter
                value = Parameter(arr, requires_grad=bool(node.get("rg", True)))
            else:
                value = Tensor._wrap(arr, requires_grad=bool(node.get("rg", False)))
            memo[name] = value
            return value
    raise ValueError("unexpected node %r in the structure description" % (node,))


def _check_allowlisted(path, what):
    from .safe_globals_registry import is_safe
    if not is_safe(path):
        refuse(path, what)


def _open_meta(f):
    """The safetensors header metadata of a path or binary file object (nothing decoded)."""
    if _is_file_object(f, "read"):
        pos = f.tell() if hasattr(f, "tell") else None
        data = f.read()
        if pos is not None and hasattr(f, "seek"):
            f.seek(pos)
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "from_file_object.safetensors")
            with open(path, "wb") as out:
                out.write(data)
            return safetensors_metadata(path)
    return safetensors_metadata(os.fspath(f))


def _encode(obj, metadata):
    meta = {}
    if metadata:
        for k, v in metadata.items():
            if not isinstance(k, str) or not isinstance(v, str):
                raise TypeError("dl.save: metadata must map str to str, got %r: %r" % (k, v))
            if k.startswith("dlcore."):
                raise ValueError("dl.save: metadata keys starting with 'dlcore.' are reserved, "
                                 "got %r" % k)
        meta.update(metadata)
    if _is_flat(obj):
        tensors = {}
        for k, v in obj.items():
            tensors[k] = storable_array(v, "'%s'" % k, "dl.save")
        meta[_KIND] = "state_dict"
        meta[_KEYS] = json.dumps(list(obj.keys()))
        return tensors, meta
    enc = _Encoder()
    tree = enc.encode(obj)
    meta[_KIND] = "tree"
    meta[_TREE] = json.dumps(tree, separators=(",", ":"))
    return enc.tensors, meta


def _is_file_object(f, method):
    return hasattr(f, method) and not isinstance(f, (str, bytes, os.PathLike))


def save(obj, f, metadata=None):
    """Save `obj` to `f` (a path, or a binary file object such as io.BytesIO) as safetensors.

    obj: a state_dict (name -> Tensor/array), a nested structure of dicts, lists and tuples
    around tensors, arrays, numbers, strings and None (an optimizer's state_dict), or a whole
    Module (stored as its class's import path, attributes and tensors; loading it needs
    weights_only=False).  Writes to a path are atomic.  `metadata`: optional extra str -> str
    entries for the file's header.
    """
    tensors, meta = _encode(obj, metadata)
    if _is_file_object(f, "write"):
        arrays = {k: storable_array(v, "tensor %r" % k, "dl.save") for k, v in tensors.items()}
        f.write(_safetensors_bytes(arrays, meta))
        return
    if not isinstance(f, (str, bytes, os.PathLike)):
        raise TypeError("dl.save: f must be a path (str or os.PathLike) or a binary file "
                        "object with write(), got %s" % type(f).__name__)
    save_safetensors(tensors, f, metadata=meta, caller="dl.save")


def _safetensors_bytes(arrays, meta):
    import safetensors.numpy as stn  # a declared dependency, loaded only when saving
    return stn.save(arrays, metadata=meta or None)


def load(f, map_location=None, weights_only=True, as_array=False, mmap=None):
    """Load what dl.save wrote (or any safetensors file) from a path or a binary file object.

    A state_dict comes back as an OrderedDict of name -> Tensor in the saved order (any other
    safetensors file: in the file's order); a nested object comes back with its structure and
    types.  A whole module is rebuilt only with weights_only=False (it imports the module's
    class); by default that raises, as torch's weights_only switch does.  as_array=True gives
    NumPy arrays instead of Tensors.  map_location: None, 'cpu' or dl.device('cpu').
    Nothing is ever unpickled.
    """
    if map_location is not None and str(map_location) not in ("cpu", "cpu:0"):
        raise ValueError("dl.load: dlcore runs on the CPU; map_location must be None or 'cpu', "
                         "got %r" % (map_location,))
    if _is_file_object(f, "read"):
        data = f.read()
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise TypeError("dl.load: the file object must be opened in binary mode ('rb')")
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "from_file_object.safetensors")
            with open(path, "wb") as out:
                out.write(data)
            return _load_path(path, as_array, weights_only, "the file object")
    if not isinstance(f, (str, bytes, os.PathLike)):
        raise TypeError("dl.load: f must be a path (str or os.PathLike) or a binary file "
                        "object with read(), got %s" % type(f).__name__)
    path = os.fspath(f)
    if not os.path.exists(path):
        raise FileNotFoundError("dl.load: no such file: %r" % path)
    if os.path.isdir(path):
        raise IsADirectoryError("dl.load: %r is a directory, expected a .safetensors file" % path)
    return _load_path(path, as_array, weights_only, repr(path))


# torch.save's formats: a zip archive, or (before torch 1.6) a pickle of protocol 2 that
# starts with torch's magic number
_TORCH_MAGIC = (b"PK\x03\x04", b"PK\x05\x06", b"\x80\x02\x8a\x0a")


def _torch_tree(obj, as_array, memo):
    """load_torch's containers with Tensors for arrays; shared and cyclic parts stay shared
    and cyclic (memo: id -> converted object), so a DAG is not expanded."""
    if id(obj) in memo:
        return memo[id(obj)]
    if isinstance(obj, np.ndarray):
        out = obj if as_array else Tensor._wrap(obj)
    elif isinstance(obj, dict):
        out = memo[id(obj)] = type(obj)()  # registered first: a cycle comes back to it
        for k, v in obj.items():
            out[k] = _torch_tree(v, as_array, memo)
    elif isinstance(obj, list):
        out = memo[id(obj)] = []
        out.extend(_torch_tree(v, as_array, memo) for v in obj)
    elif isinstance(obj, tuple):
        out = tuple(_torch_tree(v, as_array, memo) for v in obj)
    else:
        return obj
    memo[id(obj)] = out
    return out


def _load_path(path, as_array, weights_only, what):
    with open(path, "rb") as f:
        head = f.read(4)
    if head in _TORCH_MAGIC:  # a file torch.save wrote: its restricted reader runs no code
        from .weights.torch_file import load_torch
        tree = load_torch(path)
        try:
            return _torch_tree(tree, as_array, {})
        except RecursionError:
            raise ValueError("dl.load: %s (a torch.save file) is nested too deeply" % what) \
                from None
    try:
        arrays, meta = read_safetensors(path, keep_bf16=True)
    except ValueError as e:
        raise ValueError("dl.load: %s is not a valid safetensors file (%s); dl.load reads only "
                         "safetensors, never pickle" % (what, e)) from None
    try:
        if meta.get(_KIND) == "tree":
            return _decode(json.loads(meta[_TREE]), arrays, as_array, {},
                           allow_code=weights_only is False)
    except (ValueError, KeyError, TypeError) as e:
        raise ValueError("dl.load: %s has a damaged dlcore structure description (%s)"
                         % (what, e)) from None
    except RecursionError:
        raise ValueError("dl.load: %s has a dlcore structure description nested too deeply"
                         % (what,)) from None
    # read_safetensors gives a state_dict in its saved order (the dlcore.keys entry)
    if as_array:
        return arrays
    return OrderedDict((k, Tensor._wrap(a)) for k, a in arrays.items())


def read_metadata(path):
    """The str -> str metadata in a safetensors file's header, without dlcore's own entries."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError("read_metadata: no such file: %r" % path)
    return {k: v for k, v in safetensors_metadata(path).items() if not k.startswith("dlcore.")}


# the safetensors package's name for writing; load_file (imported above) is dl.weights.load_file
save_file = save
