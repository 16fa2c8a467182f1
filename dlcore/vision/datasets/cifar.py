"""CIFAR-10 and CIFAR-100 in torchvision's folder layout, read offline.

Two on-disk forms are accepted under `root`: the Python-pickle batches torchvision uses
(cifar-10-batches-py/, cifar-100-python/) and the binary batches (cifar-10-batches-bin/,
cifar-100-binary/).  The pickles are read by an unpickler that builds nothing but uint8/int
NumPy arrays, lists, dicts and strings: a file from the internet must not be able to run code.
Items are (PIL RGB image, label) as torchvision gives them; `data` is (N, 32, 32, 3) uint8."""
import os
import pickle

import numpy as np

from ...data.dataset import Dataset
from ._items import transformed

try:
    from PIL import Image as _PILImage
except ImportError:  # pragma: no cover
    _PILImage = None

__all__ = ["CIFAR10", "CIFAR100"]

_IMAGE_BYTES = 3 * 32 * 32
# numeric dtypes a CIFAR pickle may declare; object and structured dtypes are refused
_DTYPE_CODES = {"u1", "i1", "u2", "i2", "u4", "i4", "u8", "i8", "f4", "f8", "b1"}


def _reconstruct(cls, shape, typecode):
    if cls is not np.ndarray:
        raise pickle.UnpicklingError("CIFAR pickle: array of type %r refused" % (cls,))
    return np.ndarray.__new__(np.ndarray, (0,), np.uint8)


def _dtype(code, align=False, copy=True):
    if not isinstance(code, str) or code not in _DTYPE_CODES:
        raise pickle.UnpicklingError("CIFAR pickle: dtype %r refused (numeric types only)"
                                     % (code,))
    return np.dtype(code)


def _frombuffer(buf, dtype, shape, order="C"):
    if not isinstance(dtype, np.dtype) or dtype.kind not in "biuf":
        raise pickle.UnpicklingError("CIFAR pickle: dtype %r refused" % (dtype,))
    return np.frombuffer(buf, dtype=dtype).reshape(shape, order=order).copy()


def _latin1_bytes(text, encoding):
    # how a protocol-2 pickle written by Python 3 spells a bytes object
    if not isinstance(text, str) or encoding not in ("latin1", "latin-1"):
        raise pickle.UnpicklingError("CIFAR pickle: _codecs.encode(%r) refused" % (encoding,))
    return text.encode("latin1")


_GLOBALS = {
    ("_codecs", "encode"): _latin1_bytes,
    ("numpy.core.multiarray", "_reconstruct"): _reconstruct,
    ("numpy._core.multiarray", "_reconstruct"): _reconstruct,
    ("numpy.core.numeric", "_frombuffer"): _frombuffer,
    ("numpy._core.numeric", "_frombuffer"): _frombuffer,
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): _dtype,
}


class _ArrayUnpickler(pickle.Unpickler):
    def find_class(self, module, name):
        obj = _GLOBALS.get((module, name))
        if obj is None:
            raise pickle.UnpicklingError(
                "CIFAR pickle: refusing global '%s.%s' (a CIFAR batch holds only arrays, lists "
                "and strings; the file may be malicious)" % (module, name))
        return obj


def _load_pickle(path):
    with open(path, "rb") as f:
        try:
            entry = _ArrayUnpickler(f, encoding="latin1").load()
        except (pickle.UnpicklingError, EOFError, ValueError, TypeError, IndexError,
                KeyError, AttributeError) as e:
            raise ValueError("%s: not a readable CIFAR batch (%s)" % (path, e)) from None
    if not isinstance(entry, dict):
        raise ValueError("%s: a CIFAR batch is a dict, got %s" % (path, type(entry).__name__))
    return entry


def _labels(path, entry, key, n):
    labels = entry.get(key)
    if labels is None:
        raise ValueError("%s: no '%s' entry" % (path, key))
    labels = np.asarray(labels)
    if labels.dtype.kind not in "iu" or labels.shape != (n,):
        raise ValueError("%s: '%s' must be %d integer labels, got %s of shape %s"
                         % (path, key, n, labels.dtype, labels.shape))
    return labels.astype(np.int64)


def _images(path, data):
    data = np.asarray(data)
    if data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != _IMAGE_BYTES:
        raise ValueError("%s: 'data' must be uint8 of shape (N, %d), got %s of shape %s"
                         % (path, _IMAGE_BYTES, data.dtype, data.shape))
    return data.reshape(-1, 3, 32, 32)


class CIFAR10(Dataset):
    _py_dir, _bin_dir = "cifar-10-batches-py", "cifar-10-batches-bin"
    _train = ["data_batch_%d" % i for i in range(1, 6)]
    _test = ["test_batch"]
    _meta, _names_key, _label_key = "batches.meta", "label_names", "labels"
    _bin_meta, _bin_label_bytes = "batches.meta.txt", 1
    classes = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship",
               "truck"]

    def __init__(self, root, train=True, transform=None, target_transform=None,
                 download=False):
        self.root, self.train = os.fspath(root), bool(train)
        self.transform, self.target_transform = transform, target_transform
        names = self._train if self.train else self._test
        py, binary = (os.path.join(self.root, d) for d in (self._py_dir, self._bin_dir))
        if all(os.path.isfile(os.path.join(py, n)) for n in names):
            images, labels = self._read_py(py, names)
        elif all(os.path.isfile(os.path.join(binary, n + ".bin")) for n in names):
            images, labels = self._read_bin(binary, names)
        else:
            raise RuntimeError(
                "%s: dataset not found in %s (dlcore downloads nothing%s); put the Python "
                "batches in %s/ or the binary ones in %s/"
                % (type(self).__name__, self.root,
                   ", download=True cannot fetch it" if download else "",
                   self._py_dir, self._bin_dir))
        self.data = np.ascontiguousarray(images.transpose(0, 2, 3, 1))
        self.targets = [int(t) for t in labels]

    def _read_py(self, folder, names):
        images, labels = [], []
        for n in names:
            path = os.path.join(folder, n)
            entry = _load_pickle(path)
            if "data" not in entry:
                raise ValueError("%s: no 'data' entry" % path)
            batch = _images(path, entry["data"])
            images.append(batch)
            labels.append(_labels(path, entry, self._label_key, len(batch)))
        meta = os.path.join(folder, self._meta)
        if os.path.isfile(meta):
            found = _load_pickle(meta).get(self._names_key)
            if (isinstance(found, list) and found
                    and all(isinstance(c, str) for c in found)):
                self.classes = list(found)
        return self._checked(np.concatenate(images), np.concatenate(labels))

    def _read_bin(self, folder, names):
        record = self._bin_label_bytes + _IMAGE_BYTES
        images, labels = [], []
        for n in names:
            path = os.path.join(folder, n + ".bin")
            raw = np.fromfile(path, dtype=np.uint8)
            if raw.size == 0 or raw.size % record:
                raise ValueError("%s: %d bytes is not a whole number of %d-byte CIFAR records"
                                 % (path, raw.size, record))
            raw = raw.reshape(-1, record)
            labels.append(raw[:, self._bin_label_bytes - 1].astype(np.int64))
            images.append(raw[:, self._bin_label_bytes:].reshape(-1, 3, 32, 32))
        meta = os.path.join(folder, self._bin_meta)
        if os.path.isfile(meta):
            with open(meta, encoding="utf-8", errors="replace") as f:
                found = [line.strip() for line in f if line.strip()]
            if found:
                self.classes = found
        return self._checked(np.concatenate(images), np.concatenate(labels))

    def _checked(self, images, labels):
        bad = (labels < 0) | (labels >= len(self.classes))
        if bad.any():
            raise ValueError("%s: label %d outside the %d classes"
                             % (type(self).__name__, int(labels[bad][0]), len(self.classes)))
        return images, labels

    @property
    def class_to_idx(self):
        return {c: i for i, c in enumerate(self.classes)}

    def __getitem__(self, index):
        img, target = self.data[index], self.targets[index]
        if _PILImage is not None:
            img = _PILImage.fromarray(img)
        return transformed(self, img, target)

    def __len__(self):
        return len(self.data)

    def extra_repr(self):
        return "Split: %s" % ("Train" if self.train else "Test")


class CIFAR100(CIFAR10):
    """The fine labels (100 classes), as torchvision's CIFAR100."""
    _py_dir, _bin_dir = "cifar-100-python", "cifar-100-binary"
    _train, _test = ["train"], ["test"]
    _meta, _names_key, _label_key = "meta", "fine_label_names", "fine_labels"
    _bin_meta, _bin_label_bytes = "fine_label_names.txt", 2
    classes = ["class_%d" % i for i in range(100)]
