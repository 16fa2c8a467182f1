"""PyTorch checkpoints (torch.save) read without PyTorch and without running code from the file.

Both layouts torch.save has used since 1.0:
- zip (default since 1.6): `<name>/data.pkl` is the object pickle, each tensor storage is a raw
  file `<name>/data/<key>`, `<name>/byteorder` says the storages' byte order;
- legacy (`_use_new_zipfile_serialization=False`, or files from before 1.6): five things one after
  the other in one stream: a magic-number pickle, a protocol-version pickle, a system-info pickle,
  the object pickle, a pickle of the storage keys, then per key an int64 element count and the raw
  bytes of that storage.

The object pickle is read by a restricted Unpickler: `find_class` hands out only our own stand-ins
for what rebuilding tensors and (ordered) dicts needs, and refuses every other global by name —
so a pickle whose `__reduce__` names os.system or builtins.eval fails before anything runs.
Tensors come back as NumPy arrays (bfloat16 widened to float32).
"""
import collections
import io
import os
import pickle
import struct
import zipfile

import numpy as np

from .safetensors_file import bf16_to_f32

LEGACY_MAGIC = 0x1950a86a20f9469cfc6c
LEGACY_PROTOCOL = 1001

_STORAGE_DTYPES = {
    "FloatStorage": "f4", "DoubleStorage": "f8", "HalfStorage": "f2", "BFloat16Storage": "bf16",
    "LongStorage": "i8", "IntStorage": "i4", "ShortStorage": "i2", "CharStorage": "i1",
    "ByteStorage": "u1", "BoolStorage": "?",
}


class UnsafeCheckpointError(pickle.UnpicklingError):
    """The checkpoint's pickle asks for something other than tensors and dicts."""


class _Sealed:
    """Objects a pickle can reach must not be changed by its BUILD opcode (setattr/setstate)."""
    __slots__ = ()

    def __setattr__(self, name, value):
        raise UnsafeCheckpointError("checkpoint tries to set attribute %r on %s"
                                    % (name, type(self).__name__))

    def __setstate__(self, state):
        raise UnsafeCheckpointError("checkpoint tries to set the state of %s"
                                    % type(self).__name__)


class _StorageType(_Sealed):
    """Stand-in for torch.FloatStorage etc.: only carries the element dtype."""
    __slots__ = ("name", "bf16", "dtype")

    def __init__(self, name):
        code = _STORAGE_DTYPES[name]
        object.__setattr__(self, "name", name)
        object.__setattr__(self, "bf16", code == "bf16")
        object.__setattr__(self, "dtype", np.dtype("<u2") if code == "bf16"
                           else np.dtype(code).newbyteorder("<"))

    def __call__(self, *args, **kwargs):
        raise UnsafeCheckpointError("checkpoint tries to call torch.%s directly" % self.name)


class _Storage(_Sealed):
    """One storage's bytes as a flat array (filled after the pickle for the legacy format)."""
    __slots__ = ("stype", "numel", "array")

    def __init__(self, stype, numel):
        object.__setattr__(self, "stype", stype)
        object.__setattr__(self, "numel", numel)
        object.__setattr__(self, "array", None)

    def fill(self, array):
        object.__setattr__(self, "array", array)

    def as_numpy(self):
        if self.array is None:
            raise pickle.UnpicklingError("storage referenced before its data was read")
        return self.array


class _LazyTensor(_Sealed):
    """A tensor whose storage bytes arrive after the object pickle (legacy format)."""
    __slots__ = ("storage", "offset", "size", "stride")

    def __init__(self, storage, offset, size, stride):
        for k, v in zip(self.__slots__, (storage, offset, size, stride)):
            object.__setattr__(self, k, v)

    def materialize(self):
        return _view(self.storage, self.offset, self.size, self.stride)


def _ints(x, what):
    if not isinstance(x, (tuple, list)) or not all(
            isinstance(v, int) and not isinstance(v, bool) for v in x):
        raise pickle.UnpicklingError("checkpoint: tensor %s must be a tuple of ints, got %r"
                                     % (what, x))
    return tuple(x)


def _view(storage, offset, size, stride):
    """The tensor as a fresh array, after checking that every element lies inside the storage."""
    flat = storage.as_numpy()
    if any(s < 0 for s in size) or any(s < 0 for s in stride) or offset < 0:
        raise pickle.UnpicklingError("checkpoint: negative size/stride/offset %r %r %r"
                                     % (size, stride, offset))
    if len(size) != len(stride):
        raise pickle.UnpicklingError("checkpoint: size %r and stride %r differ in length"
                                     % (size, stride))
    if 0 in size:
        arr = np.empty(size, dtype=flat.dtype)
    else:
        last = offset + sum((n - 1) * s for n, s in zip(size, stride))
        if last >= flat.size:
            raise pickle.UnpicklingError(
                "checkpoint: tensor of size %r stride %r at offset %d reaches element %d of a "
                "%d-element storage" % (size, stride, offset, last, flat.size))
        item = flat.itemsize
        arr = np.lib.stride_tricks.as_strided(flat[offset:], shape=size,
                                              strides=tuple(s * item for s in stride))
        arr = np.array(arr, copy=True)
    if storage.stype.bf16:
        return bf16_to_f32(arr).reshape(size)
    return arr.astype(arr.dtype.newbyteorder("="), copy=False)


def _rebuild_tensor(storage, storage_offset, size, stride, *rest):
    if not isinstance(storage, _Storage):
        raise pickle.UnpicklingError("checkpoint: tensor rebuilt from %s, expected a storage"
                                     % type(storage).__name__)
    if not isinstance(storage_offset, int):
        raise pickle.UnpicklingError("checkpoint: storage offset must be an int")
    t = _LazyTensor(storage, storage_offset, _ints(size, "size"), _ints(stride, "stride"))
    return t.materialize() if storage.array is not None else t


def _rebuild_parameter(data, *rest):
    return data


def _rebuild_parameter_with_state(data, *rest):
    return data


def _ordered_dict(*args):
    return collections.OrderedDict(*args)


class _Callable(_Sealed):
    """A function handed to the pickle, wrapped so BUILD cannot rewrite its attributes."""
    __slots__ = ("fn",)

    def __init__(self, fn):
        object.__setattr__(self, "fn", fn)

    def __call__(self, *args, **kwargs):
        return self.fn(*args, **kwargs)


_ALLOWED = {
    ("collections", "OrderedDict"): _Callable(_ordered_dict),
    ("torch._utils", "_rebuild_tensor_v2"): _Callable(_rebuild_tensor),
    ("torch._utils", "_rebuild_tensor"): _Callable(_rebuild_tensor),
    ("torch._utils", "_rebuild_parameter"): _Callable(_rebuild_parameter),
    ("torch._utils", "_rebuild_parameter_with_state"): _Callable(_rebuild_parameter_with_state),
}
_ALLOWED.update({("torch", n): _StorageType(n) for n in _STORAGE_DTYPES})


class RestrictedUnpickler(pickle.Unpickler):
    """Unpickler that resolves only the globals in _ALLOWED (to our own stand-ins)."""

    def __init__(self, file, persistent_load=None):
        super().__init__(file)
        self._pload = persistent_load

    def find_class(self, module, name):
        obj = _ALLOWED.get((module, name))
        if obj is None:
            raise UnsafeCheckpointError(
                "refusing to load global '%s.%s' from a checkpoint: only tensors and (ordered) "
                "dicts are allowed; the file may be malicious or hold a pickled Python object "
                "rather than a state_dict" % (module, name))
        return obj

    def persistent_load(self, pid):
        if self._pload is None:
            raise pickle.UnpicklingError("unexpected persistent id %r" % (pid,))
        return self._pload(pid)


def _check_pid(pid, min_len):
    if (not isinstance(pid, tuple) or len(pid) < min_len or pid[0] != "storage"
            or not isinstance(pid[1], _StorageType) or not isinstance(pid[2], str)
            or not isinstance(pid[4], int) or pid[4] < 0):
        raise pickle.UnpicklingError("checkpoint: malformed storage reference %r" % (pid,))


def _finish(obj):
    """Replace _LazyTensor placeholders (legacy format) by arrays, through dicts/lists/tuples."""
    if isinstance(obj, _LazyTensor):
        return obj.materialize()
    if isinstance(obj, dict):
        for k in list(obj):
            obj[k] = _finish(obj[k])
        return obj
    if isinstance(obj, list):
        return [_finish(v) for v in obj]
    if isinstance(obj, tuple):
        return tuple(_finish(v) for v in obj)
    return obj


def _load_zip(path):
    with zipfile.ZipFile(path) as z:
        names = z.namelist()
        pkl = [n for n in names if n.endswith("/data.pkl") and n.count("/") == 1]
        if len(pkl) != 1:
            raise ValueError("%s: zip file is not a torch checkpoint (no unique */data.pkl)" % path)
        root = pkl[0][:-len("data.pkl")]
        order = "little"
        if root + "byteorder" in names:
            order = z.read(root + "byteorder").decode("ascii", "replace").strip()
            if order not in ("little", "big"):
                raise ValueError("%s: unknown byteorder %r" % (path, order))
        storages = {}

        def pload(pid):
            _check_pid(pid, 5)
            key = pid[2]
            if key not in storages:
                stype, numel = pid[1], pid[4]
                member = root + "data/" + key
                if member not in names:
                    raise ValueError("%s: storage %r missing from the archive" % (path, key))
                nbytes = z.getinfo(member).file_size
                if nbytes != numel * stype.dtype.itemsize:
                    raise ValueError("%s: storage %r has %d bytes, expected %d elements of %s"
                                     % (path, key, nbytes, numel, stype.name))
                dt = stype.dtype.newbyteorder("<" if order == "little" else ">")
                st = _Storage(stype, numel)
                st.fill(np.frombuffer(z.read(member), dtype=dt))
                storages[key] = st
            return storages[key]

        with z.open(pkl[0]) as f:
            return _finish(RestrictedUnpickler(io.BufferedReader(f), pload).load())


def _load_legacy(path):
    with open(path, "rb") as f:
        def plain():
            return RestrictedUnpickler(f).load()
        try:
            magic = plain()
        except Exception as e:
            raise ValueError("%s: not a PyTorch checkpoint (%s)" % (path, e)) from None
        if magic != LEGACY_MAGIC:
            raise ValueError("%s: not a PyTorch checkpoint (bad magic number)" % path)
        proto = plain()
        if proto != LEGACY_PROTOCOL:
            raise ValueError("%s: unsupported legacy protocol %r" % (path, proto))
        info = plain()
        little = not isinstance(info, dict) or info.get("little_endian", True)
        storages = {}

        def pload(pid):
            _check_pid(pid, 6)
            key, stype, numel, view = pid[2], pid[1], pid[4], pid[5]
            if key not in storages:
                storages[key] = _Storage(stype, numel)
            if view is not None:
                raise pickle.UnpicklingError("checkpoint: storage views (pre-1.0 files) are "
                                             "not supported")
            return storages[key]

        obj = RestrictedUnpickler(f, pload).load()
        keys = plain()
        if not isinstance(keys, list) or not all(isinstance(k, str) for k in keys):
            raise ValueError("%s: malformed storage key list" % path)
        for key in keys:
            st = storages.get(key)
            if st is None:
                raise ValueError("%s: storage %r listed but never referenced" % (path, key))
            head = f.read(8)
            if len(head) != 8:
                raise ValueError("%s: truncated before storage %r" % (path, key))
            (numel,) = struct.unpack("<q" if little else ">q", head)
            if numel != st.numel:
                raise ValueError("%s: storage %r holds %d elements, the pickle said %d"
                                 % (path, key, numel, st.numel))
            nbytes = numel * st.stype.dtype.itemsize
            raw = f.read(nbytes)
            if len(raw) != nbytes:
                raise ValueError("%s: truncated inside storage %r (%d of %d bytes)"
                                 % (path, key, len(raw), nbytes))
            st.fill(np.frombuffer(raw, dtype=st.stype.dtype.newbyteorder(
                "<" if little else ">")))
        unread = [k for k, s in storages.items() if s.array is None]
        if unread:
            raise ValueError("%s: storages %s referenced but not in the file" % (path, unread))
    return _finish(obj)


def load_torch(path):
    """Read a torch.save file (zip or legacy) into nested dicts of NumPy arrays, safely.

    Raises UnsafeCheckpointError (naming the global) for anything but tensors and dicts,
    ValueError for truncated or malformed files.
    """
    path = os.fspath(path)
    try:
        if zipfile.is_zipfile(path):
            return _load_zip(path)
        return _load_legacy(path)
    except UnsafeCheckpointError:
        raise
    except pickle.UnpicklingError as e:
        raise ValueError("%s: malformed checkpoint: %s" % (path, e)) from None
    except (EOFError, zipfile.BadZipFile, struct.error) as e:
        raise ValueError("%s: truncated or corrupt checkpoint (%s)" % (path, e)) from None
    except ValueError:
        raise
    except Exception as e:  # a malformed pickle can raise almost anything while rebuilding
        raise ValueError("%s: malformed checkpoint: %s: %s"
                         % (path, type(e).__name__, e)) from None
