"""Small datasets bundled inside the package (they work offline); see dlcore/data/LICENSES.md."""
import lzma
import os

import numpy as np

__all__ = ["Bunch", "load_iris", "load_digits", "data_file"]

_FILES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "files")


def data_file(name):
    """Path of a file bundled in dlcore/data/files/."""
    path = os.path.join(_FILES, name)
    if not os.path.exists(path):
        raise FileNotFoundError("bundled data file %r is missing from %s (a broken install?)"
                                % (name, _FILES))
    return path


class Bunch(dict):
    """A dict whose keys are also attributes (ds.data, ds["data"]).

    Unpacking gives (data, target), so both `ds = load_iris()` and `X, y = load_iris()` work.
    """

    def __getattr__(self, key):
        try:
            return self[key]
        except KeyError:
            raise AttributeError(key) from None

    def __setattr__(self, key, value):
        self[key] = value

    def __iter__(self):
        return iter((self["data"], self["target"]))

    def __dir__(self):
        return sorted(set(super().__dir__()) | set(self.keys()))


def _read_csv_xz(name):
    with lzma.open(data_file(name), "rt", encoding="ascii") as f:
        header = f.readline().strip().split(",")
        rows = np.loadtxt(f, delimiter=",", dtype=np.float64, ndmin=2)
    return header, rows


_IRIS_FEATURES = ["sepal length (cm)", "sepal width (cm)", "petal length (cm)",
                  "petal width (cm)"]


def load_iris(return_X_y=False):
    """Fisher's Iris data: 150 flowers, 4 measurements (cm), 3 species (50 each).

    Returns a Bunch with data (150, 4) float32, target (150,) int64 in {0, 1, 2},
    feature_names, target_names and DESCR; `X, y = load_iris()` also works, as does
    return_X_y=True (a plain tuple).
    """
    header, rows = _read_csv_xz("iris.csv.xz")
    n, d = int(header[0]), int(header[1])
    if rows.shape != (n, d + 1):
        raise ValueError("iris.csv.xz: expected %d rows of %d values, got %s"
                         % (n, d + 1, rows.shape))
    X = rows[:, :d].astype(np.float32)
    y = rows[:, d].astype(np.int64)
    if return_X_y:
        return X, y
    return Bunch(data=X, target=y, feature_names=list(_IRIS_FEATURES),
                 target_names=np.array(header[2:]), DESCR=_IRIS_DESCR,
                 filename=data_file("iris.csv.xz"))


def load_digits(n_class=10, return_X_y=False):
    """The UCI 8x8 handwritten digits: 1,797 images, pixels 0..16, labels 0..9.

    Returns a Bunch with data (n, 64) float32, images (n, 8, 8) float32, target (n,) int64,
    feature_names, target_names and DESCR.  n_class keeps only digits 0..n_class-1.
    """
    if int(n_class) != n_class or not 1 <= n_class <= 10:
        raise ValueError("load_digits: n_class must be an integer in 1..10, got %r" % (n_class,))
    with lzma.open(data_file("digits.csv.xz"), "rt", encoding="ascii") as f:
        rows = np.loadtxt(f, delimiter=",", dtype=np.float64, ndmin=2)
    if rows.shape != (1797, 65):
        raise ValueError("digits.csv.xz: expected 1797 rows of 65 values, got %s" % (rows.shape,))
    X = rows[:, :64].astype(np.float32)
    y = rows[:, 64].astype(np.int64)
    keep = y < n_class
    X, y = X[keep], y[keep]
    if return_X_y:
        return X, y
    return Bunch(data=X, target=y, images=X.reshape(-1, 8, 8),
                 feature_names=["pixel_%d_%d" % (r, c) for r in range(8) for c in range(8)],
                 target_names=np.arange(10)[:n_class], DESCR=_DIGITS_DESCR,
                 filename=data_file("digits.csv.xz"))


_IRIS_DESCR = """Iris plants dataset (R. A. Fisher, 1936), via the UCI Machine Learning Repository
(CC BY 4.0). 150 samples, 50 per class (setosa, versicolor, virginica); features: sepal length,
sepal width, petal length, petal width in cm. Setosa is linearly separable from the other two;
versicolor and virginica are not linearly separable from each other."""

_DIGITS_DESCR = """Optical Recognition of Handwritten Digits (E. Alpaydin, C. Kaynak, 1998), the
test part of the UCI data set (CC BY 4.0). 1,797 images of 8x8 pixels, each pixel the count of
'on' pixels (0..16) in a 4x4 block of a 32x32 bitmap; 10 classes (digits 0-9)."""
