"""The IDX file format of MNIST (and Fashion-MNIST, EMNIST, KMNIST): read, write, load a folder.

Layout: 2 zero bytes, a type code (0x08 uint8, 0x09 int8, 0x0B int16, 0x0C int32, 0x0D float32,
0x0E float64), the number of dimensions, then each dimension as a big-endian uint32, then the
values in C order, big-endian.  Files may be gzip- or xz-compressed (detected from the content).
"""
import gzip
import io
import lzma
import os
import struct
import zlib

import numpy as np

__all__ = ["read_idx", "write_idx", "load_mnist_idx"]

#: the endings a folder loader tries after each standard IDX name, in this order
IDX_SUFFIXES = ("", ".gz", ".xz")

_TYPES = {0x08: np.dtype(">u1"), 0x09: np.dtype(">i1"), 0x0B: np.dtype(">i2"),
          0x0C: np.dtype(">i4"), 0x0D: np.dtype(">f4"), 0x0E: np.dtype(">f8")}
_CODES = {np.dtype(v).newbyteorder("=").str: k for k, v in _TYPES.items()}


# deflate cannot expand data by more than about 1032:1; a header asking for more than this
# times the compressed file size is refused without decompressing anything
_DEFLATE_MAX_RATIO = 1032
# LZMA codes a bit with an 11-bit probability that never passes 2017/2048, so each coded bit
# costs at least 0.022 output bits; the cheapest bytes are a repeat of the last match at the
# longest length, 273 bytes for 14 coded bits, which bounds xz near 7,090:1 (100 MB of zeros at
# preset 9e: 6,814:1)
_XZ_MAX_RATIO = 7200
# xz -9 decodes in 65 MiB; a header asking for a larger dictionary is refused, not allocated
_XZ_MEMLIMIT = 256 << 20
_XZ_MAGIC = b"\xfd7zXZ\x00"
_GZIP_MAGIC = b"\x1f\x8b"
_MAX_DIMS = 32
_CHUNK = 1 << 20


class _XzReader(io.RawIOBase):
    """The decompressed bytes of one or more concatenated xz streams, produced only as far as
    they are read (lzma.LZMAFile cannot take a memory limit)."""

    def __init__(self, raw):
        self._raw = raw
        self._dec = self._decompressor()

    @staticmethod
    def _decompressor():
        return lzma.LZMADecompressor(lzma.FORMAT_XZ, memlimit=_XZ_MEMLIMIT)

    def readable(self):
        return True

    def readinto(self, buf):
        try:
            return self._decode_into(buf)
        except lzma.LZMAError as e:
            if "memory" in str(e).lower():
                raise lzma.LZMAError("its dictionary needs more than %d MiB to decode (%s)"
                                     % (_XZ_MEMLIMIT >> 20, e)) from None
            raise

    def _decode_into(self, buf):
        want = len(buf)
        while want:
            if self._dec.eof:
                rest = self._dec.unused_data
                while len(rest) < len(_XZ_MAGIC):
                    more = self._raw.read(_CHUNK)
                    if not more:
                        break
                    rest += more
                if not rest:
                    return 0
                if not rest.startswith(_XZ_MAGIC):
                    raise lzma.LZMAError("the data after the end of the xz stream is not "
                                         "another xz stream")
                self._dec = self._decompressor()
                data = self._dec.decompress(rest, want)
            elif self._dec.needs_input:
                block = self._raw.read(_CHUNK)
                if not block:
                    raise EOFError("the file ends inside an xz stream")
                data = self._dec.decompress(block, want)
            else:
                data = self._dec.decompress(b"", want)
            if data:
                buf[:len(data)] = data
                return len(data)
        return 0


def _read_exact(f, n, path, what):
    data = f.read(n)
    if len(data) != n:
        raise ValueError("read_idx: %r is truncated: %s needs %d bytes, found %d"
                         % (path, what, n, len(data)))
    return data


def _read_payload(f, arr, path, header_desc):
    """Fill arr from f in chunks; refuse missing or extra bytes."""
    view = memoryview(arr.reshape(-1)).cast("B")
    got = 0
    while got < len(view):
        n = f.readinto(view[got:got + _CHUNK])
        if not n:
            break
        got += n
    if got != len(view):
        raise ValueError("read_idx: %r is truncated: its header (%s) needs %d data bytes, found "
                         "%d" % (path, header_desc, len(view), got))
    if f.read(1):
        raise ValueError("read_idx: %r has trailing data after the %d bytes its header (%s) "
                         "declares" % (path, len(view), header_desc))


def _read(f, path, file_size, codec):
    head = _read_exact(f, 4, path, "the IDX header")
    z0, z1, code, ndim = head
    if z0 != 0 or z1 != 0:
        raise ValueError("read_idx: %r is not an IDX file: bad magic number 0x%s (expected "
                         "0x0000TTNN: two zero bytes, type, dims)" % (path, head.hex()))
    if code not in _TYPES:
        raise ValueError("read_idx: %r has an unknown IDX type code 0x%02X (expected one of %s)"
                         % (path, code, ", ".join("0x%02X" % c for c in sorted(_TYPES))))
    if not 1 <= ndim <= _MAX_DIMS:
        raise ValueError("read_idx: %r declares %d dimensions (expected 1..%d)"
                         % (path, ndim, _MAX_DIMS))
    dims = struct.unpack(">%dI" % ndim, _read_exact(f, 4 * ndim, path,
                                                    "the %d dimension sizes" % ndim))
    dtype = _TYPES[code]
    count = 1
    for d in dims:
        count *= d
    nbytes = count * dtype.itemsize
    desc = "type 0x%02X, dims %s" % (code, tuple(dims))
    head_len = 4 + 4 * ndim
    if codec is None and file_size != head_len + nbytes:
        raise ValueError("read_idx: %r has %d bytes but its header (%s) needs %d: %s"
                         % (path, file_size, desc, head_len + nbytes,
                            "truncated" if file_size < head_len + nbytes else "trailing data"))
    max_ratio = {"gzip": _DEFLATE_MAX_RATIO, "xz": _XZ_MAX_RATIO}.get(codec)
    if max_ratio and nbytes > max_ratio * file_size:
        raise ValueError("read_idx: %r is a %d-byte %s file but its header (%s) declares %d "
                         "data bytes, more than %s can hold in that size (truncated or "
                         "corrupt)" % (path, file_size, codec, desc, nbytes, codec))
    arr = np.empty(count, dtype=dtype)
    _read_payload(f, arr, path, desc)
    return arr.reshape(dims).astype(dtype.newbyteorder("="))


def read_idx(path):
    """Read an IDX file (optionally gzip or xz compressed) into a NumPy array of native byte
    order.

    The header's shape decides how much is read: the data is decompressed in a stream that
    stops one byte past the declared size, so a small .gz or .xz cannot inflate beyond it.
    """
    path = os.fspath(path)
    file_size = os.path.getsize(path)
    with open(path, "rb") as raw:
        magic = raw.read(len(_XZ_MAGIC))
        raw.seek(0)
        if magic.startswith(_GZIP_MAGIC):
            codec, errors = "gzip", (OSError, EOFError, zlib.error)
            opened = gzip.GzipFile(fileobj=raw, mode="rb")
        elif magic == _XZ_MAGIC:
            codec, errors = "xz", (lzma.LZMAError, EOFError)
            opened = io.BufferedReader(_XzReader(raw), _CHUNK)
        else:
            return _read(raw, path, file_size, None)
        try:
            with opened as f:
                return _read(f, path, file_size, codec)
        except errors as e:
            raise ValueError("read_idx: %r is a corrupt or truncated %s file (%s)"
                             % (path, codec, e)) from None


def _codec_for(path, compress):
    """None, "gzip" or "xz": what write_idx(path, ..., compress=compress) writes."""
    by_name = "xz" if path.endswith(".xz") else "gzip" if path.endswith(".gz") else None
    if compress is None:
        return by_name
    if compress is True:
        return by_name or "gzip"
    if compress is False:
        return None
    if compress in ("gzip", "xz"):
        return compress
    raise ValueError("write_idx: compress must be None, True, False, 'gzip' or 'xz', got %r"
                     % (compress,))


def write_idx(path, array, compress=None):
    """Write `array` as an IDX file.

    compress: None (the default) follows the name (.gz: gzip, .xz: xz, else none); "gzip" or
    "xz" chooses the format; True is xz for a name ending in .xz and gzip otherwise; False
    writes it uncompressed.
    """
    path = os.fspath(path)
    codec = _codec_for(path, compress)
    arr = np.asarray(array)
    code = _CODES.get(arr.dtype.newbyteorder("=").str)
    if code is None:
        raise TypeError("write_idx: dtype %s has no IDX type code (uint8, int8, int16, int32, "
                        "float32, float64)" % arr.dtype)
    if arr.ndim == 0 or arr.ndim > 255:
        raise ValueError("write_idx: array must have 1..255 dimensions, got %d" % arr.ndim)
    if any(d >= 2 ** 32 for d in arr.shape):
        raise ValueError("write_idx: dimension too large for IDX: %s" % (arr.shape,))
    payload = (bytes([0, 0, code, arr.ndim]) + struct.pack(">%dI" % arr.ndim, *arr.shape)
               + np.ascontiguousarray(arr, dtype=_TYPES[code]).tobytes())
    if codec == "gzip":
        payload = gzip.compress(payload, mtime=0)
    elif codec == "xz":
        # preset 9e with its 64 MiB window cut to the data's size: as small a file, without
        # preset 9's 674 MiB of encoder tables for a small array
        window = min(64 << 20, max(1 << 12, len(payload)))
        payload = lzma.compress(payload, format=lzma.FORMAT_XZ, filters=[
            {"id": lzma.FILTER_LZMA2, "preset": 9 | lzma.PRESET_EXTREME, "dict_size": window}])
    with open(path, "wb") as f:
        f.write(payload)


_MNIST_NAMES = {
    "train_images": ("train-images-idx3-ubyte", "train-images.idx3-ubyte"),
    "train_labels": ("train-labels-idx1-ubyte", "train-labels.idx1-ubyte"),
    "test_images": ("t10k-images-idx3-ubyte", "t10k-images.idx3-ubyte"),
    "test_labels": ("t10k-labels-idx1-ubyte", "t10k-labels.idx1-ubyte"),
}


def _find(path_dir, names):
    tried = []
    for n in names:
        for ext in IDX_SUFFIXES:
            p = os.path.join(path_dir, n + ext)
            tried.append(os.path.basename(p))
            if os.path.isfile(p):
                return p
    raise FileNotFoundError("load_mnist_idx: none of %s found in %r" % (", ".join(tried),
                                                                       path_dir))


def load_mnist_idx(path_dir, normalize=False):
    """Load MNIST-format files from a folder (the four standard names, optionally .gz or .xz).

    Returns ((X_train, y_train), (X_test, y_test)): images (n, 28, 28) uint8 (float32 in [0, 1]
    with normalize=True) and labels int64.  Works for Fashion-MNIST and other IDX sets with the
    same file names.  Nothing is downloaded.
    """
    path_dir = os.fspath(path_dir)
    if not os.path.isdir(path_dir):
        raise FileNotFoundError("load_mnist_idx: %r is not a directory" % path_dir)
    out = []
    for split in ("train", "test"):
        ipath = _find(path_dir, _MNIST_NAMES[split + "_images"])
        lpath = _find(path_dir, _MNIST_NAMES[split + "_labels"])
        X, y = read_idx(ipath), read_idx(lpath)
        if X.ndim != 3:
            raise ValueError("load_mnist_idx: %r should hold (n, rows, cols) images, got shape %s"
                             % (ipath, X.shape))
        if y.ndim != 1:
            raise ValueError("load_mnist_idx: %r should hold (n,) labels, got shape %s"
                             % (lpath, y.shape))
        if len(X) != len(y):
            raise ValueError("load_mnist_idx: %d images in %r but %d labels in %r"
                             % (len(X), ipath, len(y), lpath))
        if normalize:
            X = X.astype(np.float32) / np.float32(255.0)
        out.append((X, y.astype(np.int64)))
    return tuple(out)
