"""GGUF files (llama.cpp's format), parsed by our own bounded reader, with our own
dequantisation of Q4_0/Q4_1/Q8_0.  No third-party package is needed to read them.

Layout (all integers little-endian, or all big-endian in a byte-swapped file):
  magic b"GGUF", uint32 version (2 or 3), uint64 tensor count, uint64 key/value count,
  the key/values: string key, uint32 value type, value
    (a string is a uint64 byte length then UTF-8 bytes; an array is a uint32 item type,
    a uint64 item count, then the items),
  the tensor infos: string name, uint32 number of dims, that many uint64 dims (ggml order,
    row length first), uint32 ggml type, uint64 offset into the data section,
  padding to `general.alignment` (default 32), then the data section.

The file is untrusted: every count and length is checked against the bytes that remain before
anything is allocated or looped over (a 65-byte file claiming a 2^62-item array is refused at
once), array nesting is bounded, and every tensor must lie inside the data section without
overlapping another, so no tensor costs more than the bytes it occupies.

Shapes follow the NumPy/PyTorch convention (outermost dimension first), the reverse of ggml's.
"""
import mmap
import os
import struct

import numpy as np

from .quant import dequantize, DEQUANTIZERS
from .safetensors_file import bf16_to_f32

MAGIC = b"GGUF"
VERSIONS = (2, 3)
DEFAULT_ALIGNMENT = 32
MAX_DIMS = 4            # GGML_MAX_DIMS
MAX_ARRAY_NESTING = 8   # the format allows arrays of arrays; real files use one level

# value type code -> (name, struct code); 8 = string, 9 = array
_SCALARS = {0: ("uint8", "B"), 1: ("int8", "b"), 2: ("uint16", "H"), 3: ("int16", "h"),
            4: ("uint32", "I"), 5: ("int32", "i"), 6: ("float32", "f"), 7: ("bool", "?"),
            10: ("uint64", "Q"), 11: ("int64", "q"), 12: ("float64", "d")}
_STRING, _ARRAY = 8, 9

# ggml type code -> (name, elements per block, bytes per block), from the format's type table
GGML_TYPES = {
    0: ("F32", 1, 4), 1: ("F16", 1, 2), 2: ("Q4_0", 32, 18), 3: ("Q4_1", 32, 20),
    6: ("Q5_0", 32, 22), 7: ("Q5_1", 32, 24), 8: ("Q8_0", 32, 34), 9: ("Q8_1", 32, 40),
    10: ("Q2_K", 256, 84), 11: ("Q3_K", 256, 110), 12: ("Q4_K", 256, 144),
    13: ("Q5_K", 256, 176), 14: ("Q6_K", 256, 210), 15: ("Q8_K", 256, 292),
    16: ("IQ2_XXS", 256, 66), 17: ("IQ2_XS", 256, 74), 18: ("IQ3_XXS", 256, 98),
    19: ("IQ1_S", 256, 50), 20: ("IQ4_NL", 32, 18), 21: ("IQ3_S", 256, 110),
    22: ("IQ2_S", 256, 82), 23: ("IQ4_XS", 256, 136), 24: ("I8", 1, 1), 25: ("I16", 1, 2),
    26: ("I32", 1, 4), 27: ("I64", 1, 8), 28: ("F64", 1, 8), 29: ("IQ1_M", 256, 56),
    30: ("BF16", 1, 2), 34: ("TQ1_0", 256, 54), 35: ("TQ2_0", 256, 66),
    39: ("MXFP4", 32, 17),
}
# types NumPy has; the others (BF16 included, as the gguf package does) stay uint8 rows
_PLAIN = {"F32": "f4", "F16": "f2", "F64": "f8", "I8": "i1", "I16": "i2", "I32": "i4",
          "I64": "i8"}

# hyperparameters later used as divisors or sizes: a scalar one must be a positive integer
_POSITIVE_KEYS = ("attention.head_count", "attention.head_count_kv", "embedding_length",
                  "block_count", "context_length")


class _Reader:
    """Bounds-checked cursor over the mapped file; every read names what it was reading."""

    def __init__(self, path, buf, size):
        self.path, self.buf, self.size, self.pos, self.order = path, buf, size, 0, "<"

    def fail(self, msg):
        raise ValueError("GGUF file %s: %s" % (self.path, msg))

    def need(self, n, what):
        if n > self.size - self.pos:
            self.fail("truncated or corrupt: %s needs %d bytes at offset %d, the file has %d "
                      "bytes left" % (what, n, self.pos, self.size - self.pos))

    def unpack(self, code, what):
        n = struct.calcsize(code)
        self.need(n, what)
        (v,) = struct.unpack_from(self.order + code, self.buf, self.pos)
        self.pos += n
        return v

    def string(self, what, errors="replace"):
        n = self.unpack("Q", what + " length")
        self.need(n, "%s (%d bytes)" % (what, n))
        raw = bytes(self.buf[self.pos:self.pos + n])
        self.pos += n
        try:
            return raw.decode("utf-8", errors)
        except UnicodeDecodeError as e:
            self.fail("%s is not valid UTF-8 (%s)" % (what, e))

    def value(self, vtype, what, depth=0):
        if vtype in _SCALARS:
            return self.unpack(_SCALARS[vtype][1], what)
        if vtype == _STRING:
            return self.string(what)
        if vtype != _ARRAY:
            self.fail("%s has unknown value type %d (expected 0..12)" % (what, vtype))
        if depth >= MAX_ARRAY_NESTING:
            self.fail("%s: arrays nested deeper than %d levels" % (what, MAX_ARRAY_NESTING))
        itype = self.unpack("I", what + " item type")
        count = self.unpack("Q", what + " item count")
        if itype in _SCALARS:
            code = _SCALARS[itype][1]
            self.need(count * struct.calcsize(code), "%s (%d %s items)"
                      % (what, count, _SCALARS[itype][0]))
            dt = np.dtype(self.order + code) if code != "?" else np.dtype(np.uint8)
            items = np.frombuffer(self.buf, dtype=dt, count=count, offset=self.pos)
            self.pos += items.nbytes
            return [bool(v) for v in items] if code == "?" else items.tolist()
        # each string item takes at least its 8-byte length, each array its 12-byte header
        smallest = 8 if itype == _STRING else 12 if itype == _ARRAY else 0
        if smallest == 0:
            self.fail("%s has unknown item type %d" % (what, itype))
        self.need(count * smallest, "%s (%d items)" % (what, count))
        return [self.value(itype, "%s[%d]" % (what, i), depth + 1) for i in range(count)]


def _open_mapped(path):
    try:
        size = os.path.getsize(path)
    except OSError as e:
        raise OSError("GGUF file %s cannot be read: %s" % (path, e.strerror or e)) from None
    if size < 24:
        raise ValueError("GGUF file %s: %d bytes, too short for the 24-byte header (magic, "
                         "version, tensor count, key/value count)" % (path, size))
    with open(path, "rb") as f:
        return mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ), size


def _check_hyperparameters(rd, metadata):
    arch = metadata.get("general.architecture")
    if not isinstance(arch, str):
        return
    for key in _POSITIVE_KEYS:
        full = arch + "." + key
        v = metadata.get(full)
        if v is None or isinstance(v, list):  # per-layer arrays may hold 0 (layers without it)
            continue
        if not isinstance(v, int) or isinstance(v, bool) or v < 1:
            rd.fail("metadata %s must be a positive integer, got %r" % (full, v))


def _parse(path):
    buf, size = _open_mapped(path)
    rd = _Reader(path, buf, size)
    if bytes(buf[:4]) != MAGIC:
        rd.fail("bad magic %r, expected %r" % (bytes(buf[:4]), MAGIC))
    rd.pos = 4
    version = rd.unpack("I", "version")
    if version & 0xFFFF == 0:  # written on a machine of the other byte order
        rd.order = ">"
        version = struct.unpack(">I", struct.pack("<I", version))[0]
    if version not in VERSIONS:
        rd.fail("version %d is not supported (expected one of %s)" % (version, VERSIONS))
    n_tensors = rd.unpack("Q", "tensor count")
    n_kv = rd.unpack("Q", "key/value count")
    # smallest key/value: 8-byte key length, 4-byte type, 1-byte value
    rd.need(n_kv * 13, "%d key/values" % n_kv)
    metadata = {}
    for i in range(n_kv):
        key = rd.string("key #%d" % i, errors="strict")
        if key in metadata:
            rd.fail("duplicate metadata key %r" % key)
        vtype = rd.unpack("I", "type of %r" % key)
        metadata[key] = rd.value(vtype, "value of %r" % key)
    # smallest tensor info: name length 8, n_dims 4, type 4, offset 8
    rd.need(n_tensors * 24, "%d tensor infos" % n_tensors)
    infos = []
    for i in range(n_tensors):
        name = rd.string("tensor name #%d" % i, errors="strict")
        n_dims = rd.unpack("I", "dimension count of %r" % name)
        if not 1 <= n_dims <= MAX_DIMS:
            rd.fail("tensor %r has %d dimensions, expected 1..%d" % (name, n_dims, MAX_DIMS))
        dims = [rd.unpack("Q", "dimension of %r" % name) for _ in range(n_dims)]
        code = rd.unpack("I", "type of %r" % name)
        offset = rd.unpack("Q", "data offset of %r" % name)
        infos.append((name, dims, code, offset))
    align = metadata.get("general.alignment", DEFAULT_ALIGNMENT)
    if not isinstance(align, int) or isinstance(align, bool) or align < 1 or align & (align - 1):
        rd.fail("general.alignment must be a power of two, got %r" % (align,))
    data_start = -(-rd.pos // align) * align
    _check_hyperparameters(rd, metadata)
    tensors = {}
    for name, dims, code, offset in infos:
        if name in tensors:
            rd.fail("duplicate tensor name %r" % name)
        tensors[name] = _tensor_info(rd, name, dims, code, offset, align, data_start)
    spans = sorted((t.start, t.start + t.nbytes, n) for n, t in tensors.items() if t.nbytes)
    for (_, end, a), (start, _, b) in zip(spans, spans[1:]):
        if start < end:
            rd.fail("tensors %r and %r overlap in the data section" % (a, b))
    return buf, metadata, tensors


class _TensorInfo:
    __slots__ = ("kind", "shape", "start", "nbytes", "order", "row_bytes")

    def __init__(self, kind, shape, start, nbytes, order, row_bytes):
        self.kind, self.shape, self.start, self.nbytes, self.order, self.row_bytes = (
            kind, shape, start, nbytes, order, row_bytes)


def _tensor_info(rd, name, dims, code, offset, align, data_start):
    if code not in GGML_TYPES:
        rd.fail("tensor %r has unknown ggml type %d" % (name, code))
    kind, block, block_bytes = GGML_TYPES[code]
    if dims[0] % block:
        rd.fail("tensor %r: row length %d is not a multiple of the %s block size %d"
                % (name, dims[0], kind, block))
    count = 1
    for d in dims:
        count *= d
    nbytes = count // block * block_bytes
    if offset % align:
        rd.fail("tensor %r: data offset %d is not a multiple of the alignment %d"
                % (name, offset, align))
    start = data_start + offset
    if start + nbytes > rd.size:
        rd.fail("tensor %r (%s, ggml dims %s) needs bytes %d..%d but the file has %d bytes "
                "(truncated?)" % (name, kind, dims, start, start + nbytes, rd.size))
    row_bytes = dims[0] // block * block_bytes
    return _TensorInfo(kind, tuple(reversed(dims)), start, nbytes, rd.order, row_bytes)


class GGUFFile:
    """metadata (dict of plain Python values), tensor names, raw and dequantised tensors."""

    def __init__(self, path):
        self.path = os.fspath(path)
        self._buf, self.metadata, infos = _parse(self.path)
        self._tensors = infos

    def __repr__(self):
        return "GGUFFile(%r, %d tensors)" % (self.path, len(self._tensors))

    @property
    def names(self):
        return list(self._tensors)

    def _info(self, name):
        t = self._tensors.get(name)
        if t is None:
            raise KeyError("GGUF file %s has no tensor %r" % (self.path, name))
        return t

    def tensor_type(self, name):
        """ggml type name of a tensor, e.g. 'F32', 'Q4_1'."""
        return self._info(name).kind

    def shape(self, name):
        return self._info(name).shape

    def raw(self, name):
        """The tensor's stored array, read-only, without copying: plain types in their dtype
        and shape, block-quantised ones as uint8 rows of whole blocks."""
        t = self._info(name)
        if t.kind in _PLAIN:
            dt = np.dtype(t.order + _PLAIN[t.kind])
            return np.frombuffer(self._buf, dt, t.nbytes // dt.itemsize, t.start).reshape(t.shape)
        rows = t.shape[:-1] + (t.row_bytes,)
        return np.frombuffer(self._buf, np.uint8, t.nbytes, t.start).reshape(rows)

    def tensor(self, name):
        """The tensor as float32 (or its integer dtype), dequantised if it is Q4_0/Q4_1/Q8_0."""
        t = self._info(name)
        if t.kind in DEQUANTIZERS:
            if t.order != "<":
                raise ValueError("GGUF file %s: tensor %r is %s in a big-endian file, which "
                                 "dlcore cannot dequantise" % (self.path, name, t.kind))
            return dequantize(self.raw(name), t.kind, t.shape)
        if t.kind == "BF16":
            words = self.raw(name).view(np.dtype(t.order + "u2"))
            return bf16_to_f32(words).reshape(t.shape)
        if t.kind in _PLAIN:
            arr = self.raw(name)
            if t.kind == "F16":
                return arr.astype(np.float32)
            return arr.astype(arr.dtype.newbyteorder("="))
        raise ValueError("GGUF file %s: tensor %r has type %s, which dlcore cannot dequantise "
                         "(supported: F32, F16, BF16, F64, I8..I64, Q4_0, Q4_1, Q8_0)"
                         % (self.path, name, t.kind))

    def state_dict(self):
        return {n: self.tensor(n) for n in self._tensors}


def load_gguf(path):
    return GGUFFile(path)
