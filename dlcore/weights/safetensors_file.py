"""safetensors files: the one writer (dl.save, save_safetensors) and the one reader (dl.load,
load_safetensors, dl.weights.load_file, read_metadata).

The format is an 8-byte little-endian header length, a JSON header naming every tensor's dtype,
shape and byte range, then the raw little-endian bytes.

Writing goes through the `safetensors` package (a declared dependency) into a temporary file
beside the destination that is fsync'ed and renamed over it (dlcore.weights.atomic), so other
safetensors readers see exactly what the package would write and a crash never leaves half a
checkpoint where a good one was.

Reading is our own, because the package's NumPy reader cannot return bfloat16 tensors (NumPy
has no such dtype) and because the header is untrusted input: its size, every offset and every
dtype are checked before a byte of tensor data is read, so a truncated or hostile file raises a
ValueError naming the file instead of reading out of bounds or allocating without limit.
"""
import json
import os
import struct
from collections import OrderedDict

import numpy as np

from ..dtypes import bfloat16_dtype, is_bf16
from .atomic import atomic_write

# the reference implementation refuses headers above 100 MB; so do we
MAX_HEADER_BYTES = 100 * 1000 * 1000
# metadata entry in which dl.save records a state_dict's key order (the package's writer
# orders the header its own way)
KEY_ORDER = "dlcore.keys"

_DTYPES = {
    "F64": np.dtype("<f8"), "F32": np.dtype("<f4"), "F16": np.dtype("<f2"),
    "I64": np.dtype("<i8"), "I32": np.dtype("<i4"), "I16": np.dtype("<i2"), "I8": np.dtype("i1"),
    "U64": np.dtype("<u8"), "U32": np.dtype("<u4"), "U16": np.dtype("<u2"), "U8": np.dtype("u1"),
    "BOOL": np.dtype("?"),
    # NumPy has no bfloat16: the raw 16-bit words are widened to float32 after reading
    "BF16": np.dtype("<u2"),
}
# bfloat16 arrays (ml_dtypes' NumPy dtype, dl.bfloat16) are written as BF16 by the package's
# writer, which names a dtype by dtype.name ("bfloat16")
_WRITABLE = frozenset(v.newbyteorder("=") for k, v in _DTYPES.items() if k != "BF16")


def bf16_to_f32(words):
    """bfloat16 bit patterns (uint16) -> float32: bfloat16 is the top half of a float32."""
    words = np.ascontiguousarray(words, dtype=np.uint16)
    return (words.astype(np.uint32) << 16).view(np.float32)


def _fail(path, msg):
    raise ValueError("safetensors file %s: %s" % (path, msg))


# ---- reading ----------------------------------------------------------------------------------
def looks_like_safetensors(head, size):
    """True when the first bytes `head` (at least 9) of a file of `size` bytes can start a
    safetensors file: a header length that fits in the file, then a JSON object."""
    if len(head) < 9:
        return False
    (n,) = struct.unpack("<Q", head[:8])
    return 2 <= n <= size - 8 and head[8:9] == b"{"


def read_header(path):
    """(header dict, data start offset, data length) after validating the header."""
    path = os.fspath(path)
    size = os.path.getsize(path)
    with open(path, "rb") as f:
        head = f.read(8)
        if len(head) < 8:
            _fail(path, "truncated: %d bytes, need at least 8 for the header length" % size)
        (n,) = struct.unpack("<Q", head)
        if n > MAX_HEADER_BYTES:
            _fail(path, "header length %d exceeds the %d-byte limit" % (n, MAX_HEADER_BYTES))
        if 8 + n > size:
            _fail(path, "truncated: header says %d bytes but the file has only %d after the "
                  "length field" % (n, size - 8))
        raw = f.read(n)
    try:
        header = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as e:
        _fail(path, "header is not valid UTF-8 JSON (%s)" % e)
    except RecursionError:
        _fail(path, "header JSON is nested too deeply")
    if not isinstance(header, dict):
        _fail(path, "header must be a JSON object, got %s" % type(header).__name__)
    data_len = size - 8 - n
    spans = []
    for name, info in header.items():
        if name == "__metadata__":
            if not isinstance(info, dict) or not all(
                    isinstance(k, str) and isinstance(v, str) for k, v in info.items()):
                _fail(path, "__metadata__ must map strings to strings")
            continue
        spans.append(_check_entry(path, name, info, data_len))
    spans.sort()
    pos = 0
    for b, e, name in spans:
        if b != pos:
            _fail(path, "tensor %r starts at byte %d, expected %d (%s)"
                  % (name, b, pos, "overlap" if b < pos else "hole"))
        pos = e
    if pos != data_len:  # the format requires full coverage (the safetensors package refuses too)
        _fail(path, "%d bytes after the last tensor belong to no tensor (a safetensors file's "
              "data section must be exactly its tensors)" % (data_len - pos))
    return header, 8 + n, data_len


def _check_entry(path, name, info, data_len):
    """(begin, end, name) of one tensor entry after checking its dtype, shape and byte range."""
    if not isinstance(info, dict) or set(info) != {"dtype", "shape", "data_offsets"}:
        _fail(path, "tensor %r: entry must have exactly dtype, shape and data_offsets" % name)
    dt = info["dtype"]
    if dt not in _DTYPES:
        _fail(path, "tensor %r: unsupported dtype %r (known: %s)"
              % (name, dt, ", ".join(sorted(_DTYPES))))
    shape = info["shape"]
    if not isinstance(shape, list) or not all(
            isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in shape):
        _fail(path, "tensor %r: shape must be a list of non-negative ints, got %r"
              % (name, shape))
    offs = info["data_offsets"]
    if (not isinstance(offs, list) or len(offs) != 2 or not all(
            isinstance(o, int) and not isinstance(o, bool) for o in offs)):
        _fail(path, "tensor %r: data_offsets must be [begin, end], got %r" % (name, offs))
    b, e = offs
    if not 0 <= b <= e <= data_len:
        _fail(path, "tensor %r: data_offsets %r outside the %d-byte data section (file "
              "truncated?)" % (name, offs, data_len))
    count = 1
    for d in shape:
        count *= d
    nbytes = count * _DTYPES[dt].itemsize
    if e - b != nbytes:
        _fail(path, "tensor %r: %s %s needs %d bytes but data_offsets span %d"
              % (name, dt, tuple(shape), nbytes, e - b))
    return b, e, name


def _order(path, header, metadata):
    """Tensor names in dl.save's recorded order when the file has one, else the header's."""
    names = [k for k in header if k != "__metadata__"]
    if KEY_ORDER in metadata:
        try:
            keys = json.loads(metadata[KEY_ORDER])
        except ValueError:
            keys = None
        except RecursionError:
            _fail(path, "the %s metadata entry is nested too deeply" % KEY_ORDER)
        if isinstance(keys, list) and sorted(map(str, keys)) == sorted(names):
            return keys
    return names


def read_safetensors(path, names=None, keep_bf16=False):
    """(OrderedDict name -> ndarray, metadata dict) from a .safetensors file.

    Every array is a fresh writable copy in native byte order; BF16 is widened to float32
    (pretrained weights go on into float32 code), or kept as dl.bfloat16 with keep_bf16 (dl.load,
    which gives back the dtypes dl.save wrote).
    `names` limits the read to those tensors (KeyError naming the missing ones); otherwise the
    tensors come in dl.save's recorded order, or the header's for files written elsewhere.
    """
    path = os.fspath(path)
    header, start, _ = read_header(path)
    metadata = dict(header.get("__metadata__", {}))
    if names is None:
        wanted = _order(path, header, metadata)
    else:
        wanted = list(names)
        missing = [k for k in wanted if k not in header or k == "__metadata__"]
        if missing:
            raise KeyError("safetensors file %s has no tensor(s) %s" % (path, missing))
    out = OrderedDict()
    with open(path, "rb") as f:
        for name in wanted:
            info = header[name]
            dt = _DTYPES[info["dtype"]]
            arr = np.empty(tuple(info["shape"]), dtype=dt)
            b, e = info["data_offsets"]
            f.seek(start + b)
            got = f.readinto(memoryview(arr.reshape(-1)).cast("B")) if arr.size else 0
            if got != e - b:
                _fail(path, "tensor %r: read %d of %d bytes (file changed or truncated)"
                      % (name, got, e - b))
            if info["dtype"] == "BF16":
                out[name] = (arr.view(bfloat16_dtype()) if keep_bf16
                             else bf16_to_f32(arr).reshape(arr.shape))
            else:
                out[name] = arr.astype(dt.newbyteorder("="), copy=False)
    return out, metadata


def load_safetensors(path, names=None):
    """{name: ndarray} from a .safetensors file (see read_safetensors)."""
    return read_safetensors(path, names)[0]


def safetensors_metadata(path):
    """The header's __metadata__ dict (strings), or {}."""
    return dict(read_header(path)[0].get("__metadata__", {}))


# ---- writing ----------------------------------------------------------------------------------
def storable_array(value, what, caller="save_safetensors"):
    """`value` (Tensor, ndarray or array-like) as the C-contiguous, native-order array the
    writer takes, or TypeError naming `what` when the format has no such dtype."""
    arr = getattr(value, "_data", value)
    if not isinstance(arr, np.ndarray):
        arr = np.asarray(arr)
    if arr.dtype.newbyteorder("=") not in _WRITABLE and not is_bf16(arr.dtype):
        raise TypeError("%s: %s has dtype %s; only bool, integer and bfloat16/float16/32/64 "
                        "tensors can be saved" % (caller, what, arr.dtype))
    if arr.dtype.byteorder == ">":
        arr = arr.astype(arr.dtype.newbyteorder("="))
    # not np.ascontiguousarray: it turns 0-d arrays (e.g. num_batches_tracked) into 1-d
    return arr if arr.flags.c_contiguous else arr.copy(order="C")


def save_safetensors(tensors, path, metadata=None, caller="save_safetensors"):
    """Write {name: array or Tensor} as a plain safetensors file, atomically (see module doc)."""
    try:
        import safetensors.numpy as stn
    except ImportError as e:  # a declared dependency; say so plainly if it is missing
        raise ImportError("%s needs the 'safetensors' package (pip install safetensors)"
                          % caller) from e
    if not hasattr(tensors, "items"):
        raise TypeError("%s: tensors must be a dict, got %s" % (caller, type(tensors).__name__))
    if metadata is not None and not all(
            isinstance(k, str) and isinstance(v, str) for k, v in metadata.items()):
        raise TypeError("%s: metadata must map str to str" % caller)
    arrays = {}
    for name, t in tensors.items():
        if not isinstance(name, str) or name == "__metadata__":
            raise ValueError("%s: invalid tensor name %r" % (caller, name))
        arrays[name] = storable_array(t, "tensor %r" % name, caller)
    atomic_write(path, lambda tmp: stn.save_file(arrays, tmp, metadata=metadata or None),
                 caller)
