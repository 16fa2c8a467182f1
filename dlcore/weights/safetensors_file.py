"""safetensors files read and written by our own code: an 8-byte little-endian header length, a
JSON header naming every tensor's dtype, shape and byte range, then the raw little-endian bytes.

The header is untrusted input: its size, every offset and every dtype are checked before a byte
of tensor data is read, so a truncated or hostile file raises ValueError instead of reading out
of bounds or allocating without limit.
"""
import json
import os
import struct
import tempfile

import numpy as np

# the reference implementation refuses headers above 100 MB; so do we
MAX_HEADER_BYTES = 100 * 1000 * 1000

_DTYPES = {
    "F64": np.dtype("<f8"), "F32": np.dtype("<f4"), "F16": np.dtype("<f2"),
    "I64": np.dtype("<i8"), "I32": np.dtype("<i4"), "I16": np.dtype("<i2"), "I8": np.dtype("i1"),
    "U64": np.dtype("<u8"), "U32": np.dtype("<u4"), "U16": np.dtype("<u2"), "U8": np.dtype("u1"),
    "BOOL": np.dtype("?"),
    # NumPy has no bfloat16: the raw 16-bit words are widened to float32 after reading
    "BF16": np.dtype("<u2"),
}
_NAMES = {np.dtype(v).newbyteorder("="): k for k, v in _DTYPES.items() if k != "BF16"}


def bf16_to_f32(words):
    """bfloat16 bit patterns (uint16) -> float32: bfloat16 is the top half of a float32."""
    words = np.ascontiguousarray(words, dtype=np.uint16)
    return (words.astype(np.uint32) << 16).view(np.float32)


def _fail(path, msg):
    raise ValueError("safetensors file %s: %s" % (path, msg))


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
        spans.append((b, e, name))
    spans.sort()
    pos = 0
    for b, e, name in spans:
        if b != pos:
            _fail(path, "tensor %r starts at byte %d, expected %d (%s)"
                  % (name, b, pos, "overlap" if b < pos else "hole"))
        pos = e
    return header, 8 + n, data_len


def load_safetensors(path, names=None):
    """{name: ndarray} from a .safetensors file (BF16 widened to float32).

    `names` limits the read to those tensors; every array is a fresh writable copy.
    """
    path = os.fspath(path)
    header, start, _ = read_header(path)
    wanted = [k for k in header if k != "__metadata__"]
    if names is not None:
        missing = [k for k in names if k not in header or k == "__metadata__"]
        if missing:
            raise KeyError("safetensors file %s has no tensor(s) %s" % (path, missing))
        wanted = list(names)
    out = {}
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
                out[name] = bf16_to_f32(arr).reshape(arr.shape)
            else:
                out[name] = arr.astype(dt.newbyteorder("="), copy=False)
    return out


def safetensors_metadata(path):
    """The header's __metadata__ dict (strings), or {}."""
    return dict(read_header(path)[0].get("__metadata__", {}))


def save_safetensors(tensors, path, metadata=None):
    """Write {name: array or Tensor} as safetensors, atomically (temp file, then rename)."""
    path = os.fspath(path)
    if not hasattr(tensors, "items"):
        raise TypeError("save_safetensors: tensors must be a dict, got %s"
                        % type(tensors).__name__)
    header, blobs, pos = {}, [], 0
    if metadata:
        if not all(isinstance(k, str) and isinstance(v, str) for k, v in metadata.items()):
            raise TypeError("save_safetensors: metadata must map str to str")
        header["__metadata__"] = dict(metadata)
    for name, t in tensors.items():
        if not isinstance(name, str) or name == "__metadata__":
            raise ValueError("save_safetensors: invalid tensor name %r" % (name,))
        arr = np.asarray(getattr(t, "_data", t))
        key = _NAMES.get(arr.dtype.newbyteorder("="))
        if key is None:
            raise TypeError("save_safetensors: tensor %r has unsupported dtype %s"
                            % (name, arr.dtype))
        data = np.ascontiguousarray(arr, dtype=_DTYPES[key]).tobytes()
        header[name] = {"dtype": key, "shape": list(arr.shape),
                        "data_offsets": [pos, pos + len(data)]}
        blobs.append(data)
        pos += len(data)
    raw = json.dumps(header, separators=(",", ":")).encode("utf-8")
    raw += b" " * (-len(raw) % 8)  # keeps the data section 8-byte aligned
    d = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=d, prefix=".tmp-", suffix=".safetensors")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(struct.pack("<Q", len(raw)))
            f.write(raw)
            for b in blobs:
                f.write(b)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
