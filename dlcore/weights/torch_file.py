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
Before that, every pickle's opcodes are scanned (pickle_scan.py) so that no memo index or length
in the stream can make the unpickler allocate more than the file holds.
Tensors come back as NumPy arrays (bfloat16 widened to float32).

The work is bounded by the file (see _Limits): zip members are read in chunks after their
declared sizes are checked against the archive and the inflation limits, and the arrays built
from stored views may not add up to more than a small multiple of the stored bytes.
"""
import collections
import io
import mmap
import os
import pickle
import struct
import zipfile

import numpy as np

from .pickle_scan import ByteWindow, scan_pickle
from .safetensors_file import bf16_to_f32

LEGACY_MAGIC = 0x1950a86a20f9469cfc6c
LEGACY_PROTOCOL = 1001

_STORAGE_DTYPES = {
    "FloatStorage": "f4", "DoubleStorage": "f8", "HalfStorage": "f2", "BFloat16Storage": "bf16",
    "LongStorage": "i8", "IntStorage": "i4", "ShortStorage": "i2", "CharStorage": "i1",
    "ByteStorage": "u1", "BoolStorage": "?",
}


class UnsafeCheckpointError(pickle.UnpicklingError, ValueError):
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
    """A tensor as the pickle describes it; made into an array by _finish, after every storage
    is read and against the file's expansion budget."""
    __slots__ = ("storage", "offset", "size", "stride")

    def __init__(self, storage, offset, size, stride):
        for k, v in zip(self.__slots__, (storage, offset, size, stride)):
            object.__setattr__(self, k, v)

    def materialize(self, limits=None, where="tensor"):
        return _view(self.storage, self.offset, self.size, self.stride, limits, where)


class _Limits:
    """What one load may cost, and what it has cost so far.

    A stored tensor is a view (size, stride, offset) of a storage; a stride of 0 repeats
    elements, so a 4-byte storage can describe a 256 MiB array.  Every materialised byte is
    charged here, and the total may not exceed max_expansion times the storage bytes the file
    really holds (plus a little slack for broadcast scalars) unless the caller passes None.
    Compressed zip members are charged too: each may inflate at most max_inflate_ratio times its
    compressed size, all together at most max_inflate_bytes, and the members read may not
    together claim more compressed bytes than the archive has (overlapping entries).
    """
    SLACK = 1 << 16

    def __init__(self, path, max_expansion, max_inflate_ratio, max_inflate_bytes):
        self.path = path
        self.max_expansion = max_expansion
        self.max_inflate_ratio = max_inflate_ratio
        self.max_inflate_bytes = max_inflate_bytes
        self.stored = self.made = self.inflated = self.compressed = 0

    def charge_view(self, nbytes, where, size, stride, storage_bytes):
        self.made += nbytes
        if self.max_expansion is None:
            return
        allowed = self.max_expansion * self.stored + self.SLACK
        if self.made > allowed:
            raise ValueError(
                "%s: %s (size %r, stride %r) would materialise %d bytes from a %d-byte storage, "
                "bringing the file's tensors to %d bytes from %d stored bytes; at most "
                "max_expansion=%g times the stored bytes are allowed (pass max_expansion=None "
                "to load_torch if you trust this file)" % (
                    self.path, where, size, stride, nbytes, storage_bytes, self.made,
                    self.stored, self.max_expansion))


def _ints(x, what):
    if not isinstance(x, (tuple, list)) or not all(
            isinstance(v, int) and not isinstance(v, bool) for v in x):
        raise pickle.UnpicklingError("checkpoint: tensor %s must be a tuple of ints, got %r"
                                     % (what, x))
    return tuple(x)


def _view(storage, offset, size, stride, limits=None, where="tensor"):
    """The tensor as a fresh array, after checking that every element lies inside the storage
    and that the file's budget (limits) covers the bytes it materialises."""
    flat = storage.as_numpy()
    if any(s < 0 for s in size) or any(s < 0 for s in stride) or offset < 0:
        raise pickle.UnpicklingError("checkpoint: negative size/stride/offset %r %r %r"
                                     % (size, stride, offset))
    if len(size) != len(stride):
        raise pickle.UnpicklingError("checkpoint: size %r and stride %r differ in length"
                                     % (size, stride))
    if len(size) > 32:
        raise pickle.UnpicklingError("checkpoint: tensor with %d dimensions (at most 32)"
                                     % len(size))
    count = 1
    for n in size:
        count *= n
    if count:
        last = offset + sum((n - 1) * s for n, s in zip(size, stride))
        if last >= flat.size:
            raise pickle.UnpicklingError(
                "checkpoint: tensor of size %r stride %r at offset %d reaches element %d of a "
                "%d-element storage" % (size, stride, offset, last, flat.size))
    if limits is not None:
        limits.charge_view(count * flat.itemsize, where, size, stride, flat.nbytes)
    if count == 0:
        arr = np.empty(size, dtype=flat.dtype)
    else:
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
    if not isinstance(storage_offset, int) or isinstance(storage_offset, bool):
        raise pickle.UnpicklingError("checkpoint: storage offset must be an int")
    return _LazyTensor(storage, storage_offset, _ints(size, "size"), _ints(stride, "stride"))


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


MAX_NESTING = 100


def _path_name(where):
    """'checkpoint['state_dict']['w']' from the (parent, key) chain _finish passes down."""
    keys = []
    while where is not None:
        where, key = where
        keys.append(key)
    parts = ["[%r]" % k for k in reversed(keys)]
    if len(parts) > 12:
        parts = parts[:8] + ["...(%d levels)..." % (len(parts) - 11)] + parts[-3:]
    return "checkpoint" + "".join(parts)


def _finish(obj, limits, memo, depth=0, where=None):
    """Replace _LazyTensor placeholders by arrays, through dicts/lists/tuples.

    A pickle is a graph, not a tree: shared and cyclic containers are visited once (memo keeps
    each original alive beside its result, so ids stay unique), and nesting is bounded."""
    hit = memo.get(id(obj))
    if hit is not None:
        return hit[1]
    if depth > MAX_NESTING:
        raise ValueError("%s: containers nested deeper than %d levels at %s"
                         % (limits.path, MAX_NESTING, _path_name(where)))
    if isinstance(obj, _LazyTensor):
        out = obj.materialize(limits, "tensor " + _path_name(where))
    elif isinstance(obj, dict):
        memo[id(obj)] = (obj, obj)
        for k in list(obj):
            obj[k] = _finish(obj[k], limits, memo, depth + 1, (where, k))
        return obj
    elif isinstance(obj, list):
        out = []
        memo[id(obj)] = (obj, out)
        out.extend(_finish(v, limits, memo, depth + 1, (where, i)) for i, v in enumerate(obj))
        return out
    elif isinstance(obj, tuple):
        out = tuple(_finish(v, limits, memo, depth + 1, (where, i)) for i, v in enumerate(obj))
    else:
        return obj
    memo[id(obj)] = (obj, out)
    return out


def _read_member(z, info, limits, archive_size):
    """A zip member's bytes as a uint8 array, read in chunks after checking that its declared
    size is backed by the archive (stored) or within the inflation limits (compressed)."""
    path, name = limits.path, info.filename
    if info.flag_bits & 0x1:
        raise ValueError("%s: member %r is encrypted" % (path, name))
    limits.compressed += info.compress_size
    if info.header_offset + info.compress_size > archive_size or (
            limits.compressed > archive_size):
        raise ValueError("%s: member %r claims %d compressed bytes at offset %d; the archive "
                         "has %d bytes (truncated, or entries overlap)"
                         % (path, name, info.compress_size, info.header_offset, archive_size))
    if info.compress_type == zipfile.ZIP_STORED:
        if info.file_size != info.compress_size:
            raise ValueError("%s: stored member %r declares %d bytes but occupies %d"
                             % (path, name, info.file_size, info.compress_size))
    else:
        ratio = limits.max_inflate_ratio
        if ratio is not None and info.file_size > ratio * max(info.compress_size, 1):
            raise ValueError("%s: member %r inflates %d compressed bytes to %d, more than "
                             "max_inflate_ratio=%g times (a zip bomb?)"
                             % (path, name, info.compress_size, info.file_size, ratio))
        limits.inflated += info.file_size
        cap = limits.max_inflate_bytes
        if cap is not None and limits.inflated > cap:
            raise ValueError("%s: compressed members inflate to %d bytes in all, more than "
                             "max_inflate_bytes=%d" % (path, limits.inflated, cap))
    out = np.empty(info.file_size, np.uint8)
    view = memoryview(out)
    got = 0
    with z.open(info) as f:
        while got < info.file_size:
            chunk = f.read(min(1 << 20, info.file_size - got))
            if not chunk:
                break
            view[got:got + len(chunk)] = chunk
            got += len(chunk)
        if got != info.file_size or f.read(1):  # the extra read also runs the CRC check
            raise ValueError("%s: member %r holds %s bytes, its entry declares %d"
                             % (path, name, got if got < info.file_size else "more than",
                                info.file_size))
    return out


def _load_zip(path, limits):
    archive_size = os.path.getsize(path)
    try:
        z = zipfile.ZipFile(path)
    except zipfile.BadZipFile as e:
        raise ValueError("%s: starts like a zip archive (torch.save's format) but cannot be "
                         "opened as one: %s (truncated or corrupt?)" % (path, e)) from None
    with z:
        infos = {}
        for info in z.infolist():
            if info.filename in infos:
                raise ValueError("%s: zip member %r appears twice" % (path, info.filename))
            infos[info.filename] = info
        pkl = [n for n in infos if n.endswith("/data.pkl") and n.count("/") == 1]
        if len(pkl) != 1:
            raise ValueError("%s: zip archive is not a torch checkpoint: expected one "
                             "<name>/data.pkl, found %d" % (path, len(pkl)))
        root = pkl[0][:-len("data.pkl")]
        order = "little"
        if root + "byteorder" in infos:
            order = bytes(_read_member(z, infos[root + "byteorder"], limits, archive_size))
            order = order.decode("ascii", "replace").strip()
            if order not in ("little", "big"):
                raise ValueError("%s: byteorder is %r, expected 'little' or 'big'"
                                 % (path, order[:40]))
        storages = {}

        def pload(pid):
            _check_pid(pid, 5)
            key = pid[2]
            if key not in storages:
                stype, numel = pid[1], pid[4]
                info = infos.get(root + "data/" + key)
                if info is None:
                    raise ValueError("%s: storage %r missing from the archive" % (path, key))
                if info.file_size != numel * stype.dtype.itemsize:
                    raise ValueError("%s: storage %r has %d bytes, expected %d elements of %s"
                                     % (path, key, info.file_size, numel, stype.name))
                dt = stype.dtype.newbyteorder("<" if order == "little" else ">")
                st = _Storage(stype, numel)
                st.fill(_read_member(z, info, limits, archive_size).view(dt))
                limits.stored += info.file_size
                storages[key] = st
            return storages[key]

        stream = io.BytesIO(_read_member(z, infos[pkl[0]], limits, archive_size).tobytes())
        scan_pickle(stream, "%s: %s" % (path, pkl[0]))
        obj = RestrictedUnpickler(stream, pload).load()
    return _finish(obj, limits, {})


def _load_legacy(path, limits):
    size = os.path.getsize(path)
    if size == 0:
        raise ValueError("%s: empty file, expected a PyTorch checkpoint" % path)
    with open(path, "rb") as fh:
        mm = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)
    try:
        return _read_legacy(path, ByteWindow(mm), limits)
    finally:
        mm.close()


def _unpickle_next(f, what, pload=None):
    """The pickle at f's position, scanned first, then read from a copy of just its bytes."""
    end = scan_pickle(f, what)
    return RestrictedUnpickler(io.BytesIO(f.read(end - f.tell())), pload).load()


def _read_legacy(path, f, limits):
    def plain(what):
        return _unpickle_next(f, "%s: %s" % (path, what))
    try:
        magic = plain("magic-number pickle")
    except (ValueError, pickle.UnpicklingError) as e:
        raise ValueError("%s: not a PyTorch checkpoint: expected a zip archive or a pickled "
                         "magic number, found %r... (%s)" % (path, f.buf[:8], e)) from None
    if magic != LEGACY_MAGIC:
        raise ValueError("%s: not a PyTorch checkpoint (bad magic number)" % path)
    proto = plain("protocol-version pickle")
    if proto != LEGACY_PROTOCOL:
        raise ValueError("%s: unsupported legacy protocol %r" % (path, proto))
    info = plain("system-info pickle")
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

    obj = _unpickle_next(f, "%s: object pickle" % path, pload)
    keys = plain("storage-key pickle")
    if not isinstance(keys, list) or not all(isinstance(k, str) for k in keys):
        raise ValueError("%s: malformed storage key list" % path)
    for key in keys:
        st = storages.get(key)
        if st is None:
            raise ValueError("%s: storage %r listed but never referenced" % (path, key))
        if st.array is not None:
            raise ValueError("%s: storage %r listed twice" % (path, key))
        head = f.read(8)
        if len(head) != 8:
            raise ValueError("%s: truncated before storage %r" % (path, key))
        (numel,) = struct.unpack("<q" if little else ">q", head)
        if numel != st.numel:
            raise ValueError("%s: storage %r holds %d elements, the pickle said %d"
                             % (path, key, numel, st.numel))
        nbytes = numel * st.stype.dtype.itemsize
        raw = f.read(nbytes)  # never more than the file holds
        if len(raw) != nbytes:
            raise ValueError("%s: truncated inside storage %r (%d of %d bytes)"
                             % (path, key, len(raw), nbytes))
        st.fill(np.frombuffer(raw, dtype=st.stype.dtype.newbyteorder(
            "<" if little else ">")))
        limits.stored += nbytes
    unread = [k for k, s in storages.items() if s.array is None]
    if unread:
        raise ValueError("%s: storages %s referenced but not in the file" % (path, unread))
    return _finish(obj, limits, {})


def load_torch(path, max_expansion=8, max_inflate_ratio=100, max_inflate_bytes=1 << 30):
    """Read a torch.save file (zip or legacy) into nested dicts of NumPy arrays, safely.

    The work is bounded by the file: tensors together may materialise at most `max_expansion`
    times the storage bytes the file holds (stride-0 views can describe far more; None lifts
    the limit), a compressed zip member may inflate at most `max_inflate_ratio` times and all
    of them at most `max_inflate_bytes` (None: no limit).

    Raises UnsafeCheckpointError (naming the global) for anything but tensors and dicts,
    ValueError naming the file for truncated, malformed or over-limit files.
    """
    path = os.fspath(path)
    limits = _Limits(path, max_expansion, max_inflate_ratio, max_inflate_bytes)
    try:
        with open(path, "rb") as f:
            head = f.read(4)
        if head in (b"PK\x03\x04", b"PK\x05\x06") or zipfile.is_zipfile(path):
            return _load_zip(path, limits)
        return _load_legacy(path, limits)
    except UnsafeCheckpointError as e:
        raise UnsafeCheckpointError("%s: %s" % (path, e)) from None
    except pickle.UnpicklingError as e:
        raise ValueError("%s: malformed checkpoint: %s" % (path, e)) from None
    except (EOFError, zipfile.BadZipFile, struct.error) as e:
        raise ValueError("%s: truncated or corrupt checkpoint (%s)" % (path, e)) from None
    except (ValueError, OSError):
        raise
    except RecursionError:
        raise ValueError("%s: malformed checkpoint: nested too deeply" % path) from None
    except MemoryError:
        raise ValueError("%s: malformed checkpoint: it asks for more memory than is available"
                         % path) from None
    except Exception as e:  # a malformed pickle can raise almost anything while rebuilding
        raise ValueError("%s: malformed checkpoint: %s: %s"
                         % (path, type(e).__name__, e)) from None
