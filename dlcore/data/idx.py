"""The IDX file format of MNIST (and Fashion-MNIST, EMNIST, KMNIST): read, write, load a folder.

Layout: 2 zero bytes, a type code (0x08 uint8, 0x09 int8, 0x0B int16, 0x0C int32, 0x0D float32,
0x0E float64), the number of dimensions, then each dimension as a big-endian uint32, then the
values in C order, big-endian.  Files may be gzip-compressed (detected from the content).
"""
import gzip
import os
import struct

import numpy as np

__all__ = ["read_idx", "write_idx", "load_mnist_idx"]

_TYPES = {0x08: np.dtype(">u1"), 0x09: np.dtype(">i1"), 0x0B: np.dtype(">i2"),
          0x0C: np.dtype(">i4"), 0x0D: np.dtype(">f4"), 0x0E: np.dtype(">f8")}
_CODES = {np.dtype(v).newbyteorder("=").str: k for k, v in _TYPES.items()}


def _read_bytes(path):
    with open(path, "rb") as f:
        raw = f.read()
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError, gzip.BadGzipFile) as e:
            raise ValueError("read_idx: %r is a corrupt or truncated gzip file (%s)"
                             % (os.fspath(path), e)) from None
    return raw


def read_idx(path):
    """Read an IDX file (optionally .gz) into a NumPy array of native byte order."""
    path = os.fspath(path)
    raw = _read_bytes(path)
    if len(raw) < 4:
        raise ValueError("read_idx: %r is too short for an IDX header (%d bytes)"
                         % (path, len(raw)))
    z0, z1, code, ndim = raw[0], raw[1], raw[2], raw[3]
    if z0 != 0 or z1 != 0:
        raise ValueError("read_idx: %r is not an IDX file: bad magic number 0x%s (expected "
                         "0x0000TTNN: two zero bytes, type, dims)" % (path, raw[:4].hex()))
    if code not in _TYPES:
        raise ValueError("read_idx: %r has an unknown IDX type code 0x%02X (expected one of %s)"
                         % (path, code, ", ".join("0x%02X" % c for c in sorted(_TYPES))))
    if ndim == 0:
        raise ValueError("read_idx: %r declares 0 dimensions" % path)
    head = 4 + 4 * ndim
    if len(raw) < head:
        raise ValueError("read_idx: %r is truncated: header needs %d bytes for %d dimensions, "
                         "file has %d" % (path, head, ndim, len(raw)))
    dims = struct.unpack(">%dI" % ndim, raw[4:head])
    dtype = _TYPES[code]
    count = 1
    for d in dims:
        count *= d
    expected = head + count * dtype.itemsize
    if len(raw) != expected:
        raise ValueError("read_idx: %r has %d bytes but its header (type 0x%02X, dims %s) "
                         "needs %d: %s" % (path, len(raw), code, tuple(dims), expected,
                                           "truncated" if len(raw) < expected
                                           else "trailing data"))
    arr = np.frombuffer(raw, dtype=dtype, count=count, offset=head).reshape(dims)
    return arr.astype(dtype.newbyteorder("="))


def write_idx(path, array, compress=None):
    """Write `array` as an IDX file; gzip it when compress=True or the name ends in .gz."""
    path = os.fspath(path)
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
    if compress or (compress is None and path.endswith(".gz")):
        payload = gzip.compress(payload, mtime=0)
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
        for ext in ("", ".gz"):
            p = os.path.join(path_dir, n + ext)
            tried.append(os.path.basename(p))
            if os.path.isfile(p):
                return p
    raise FileNotFoundError("load_mnist_idx: none of %s found in %r" % (", ".join(tried),
                                                                       path_dir))


def load_mnist_idx(path_dir, normalize=False):
    """Load MNIST-format files from a folder (the four standard names, optionally .gz).

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
