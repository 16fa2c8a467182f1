"""GGUF files (llama.cpp's format) through the numpy-only `gguf` package (optional dependency:
`pip install gguf`, or the `dlcore[llm]` extra), with our own dequantisation of Q4_0/Q4_1/Q8_0.

Shapes follow the NumPy/PyTorch convention (outermost dimension first): GGUF stores ggml's
reversed order (ne0 = row length first); the `gguf` reader already gives data in row-major form.
"""
import os

import numpy as np

from .quant import dequantize, DEQUANTIZERS


def _reader(path):
    try:
        from gguf import GGUFReader
    except ImportError:
        raise ImportError("reading GGUF files needs the `gguf` package: pip install gguf "
                          "(or pip install 'dlcore[llm]')") from None
    path = os.fspath(path)
    try:
        return GGUFReader(path, "r")
    except (ValueError, OSError, IndexError, KeyError) as e:
        raise ValueError("GGUF file %s could not be read: %s" % (path, e)) from None


def _field_value(field):
    from gguf import GGUFValueType
    if not field.types:
        return None
    if field.types[0] == GGUFValueType.ARRAY:
        sub = field.types[-1]
        if sub == GGUFValueType.STRING:
            return [bytes(field.parts[i]).decode("utf-8", "replace") for i in field.data]
        return [field.parts[i].tolist()[0] for i in field.data]
    if field.types[0] == GGUFValueType.STRING:
        return bytes(field.parts[field.data[0]]).decode("utf-8", "replace")
    v = field.parts[field.data[0]].tolist()
    return v[0] if len(v) == 1 else v


class GGUFFile:
    """metadata (dict of plain Python values), tensor names, raw and dequantised tensors."""

    def __init__(self, path):
        self.path = os.fspath(path)
        self._r = _reader(self.path)
        self.metadata = {k: _field_value(f) for k, f in self._r.fields.items()
                         if not k.startswith("GGUF.")}
        self._tensors = {t.name: t for t in self._r.tensors}

    def __repr__(self):
        return "GGUFFile(%r, %d tensors)" % (self.path, len(self._tensors))

    @property
    def names(self):
        return list(self._tensors)

    def tensor_type(self, name):
        """ggml type name of a tensor, e.g. 'F32', 'Q4_1'."""
        return self._tensors[name].tensor_type.name

    def shape(self, name):
        return tuple(int(d) for d in reversed(self._tensors[name].shape))

    def raw(self, name):
        """The tensor's stored array (quantised blocks as uint8 rows), without copying."""
        return self._tensors[name].data

    def tensor(self, name):
        """The tensor as float32 (or its integer dtype), dequantised if it is Q4_0/Q4_1/Q8_0."""
        t = self._tensors.get(name)
        if t is None:
            raise KeyError("GGUF file %s has no tensor %r" % (self.path, name))
        kind = t.tensor_type.name
        shape = self.shape(name)
        if kind in DEQUANTIZERS:
            return dequantize(t.data, kind, shape)
        if kind in ("F32", "F16", "F64", "I8", "I16", "I32", "I64"):
            arr = np.asarray(t.data).reshape(shape)
            return arr.astype(np.float32) if kind == "F16" else np.array(arr)
        if kind == "BF16":
            from .safetensors_file import bf16_to_f32
            return bf16_to_f32(np.asarray(t.data).view(np.uint16)).reshape(shape)
        raise ValueError("GGUF tensor %r has type %s, which dlcore cannot dequantise "
                         "(supported: F32, F16, BF16, Q4_0, Q4_1, Q8_0)" % (name, kind))

    def state_dict(self):
        return {n: self.tensor(n) for n in self._tensors}


def load_gguf(path):
    return GGUFFile(path)
