"""Small preprocessing helpers on NumPy arrays: a (stratified) train/test split and scaling."""
import math

import numpy as np

from ..random import rng as _rng
from ..tensor import Tensor

__all__ = ["train_test_split", "StandardScaler", "one_hot"]


def _np(x):
    return x._data if isinstance(x, Tensor) else np.asarray(x)


def train_test_split(*arrays, test_size=0.25, train_size=None, shuffle=True, stratify=None,
                     generator=None, random_state=None):
    """Split arrays (same first dimension) into train and test parts, as scikit-learn does.

    Returns [a_train, a_test, b_train, b_test, ...].  test_size/train_size: a fraction in (0, 1)
    or a sample count.  stratify=labels keeps each class's share in both parts (each class's
    samples are split in the test proportion, rounding so the totals come out exact).  The
    shuffle is drawn from `generator` (dl.Generator), `random_state` (an int seed) or the global
    stream.
    """
    if not arrays:
        raise ValueError("train_test_split: at least one array required")
    arrs = [_np(a) for a in arrays]
    n = len(arrs[0])
    for i, a in enumerate(arrs[1:], 1):
        if len(a) != n:
            raise ValueError("train_test_split: array %d has %d samples, array 0 has %d"
                             % (i, len(a), n))
    n_test, n_train = _sizes(n, test_size, train_size)
    g = np.random.default_rng(random_state) if random_state is not None else _rng(generator)
    if stratify is not None:
        if not shuffle:
            raise ValueError("train_test_split: stratify needs shuffle=True")
        test_idx, train_idx = _stratified(_np(stratify), n, n_test, n_train, g)
    elif shuffle:
        perm = g.permutation(n)
        test_idx, train_idx = perm[:n_test], perm[n_test:n_test + n_train]
    else:
        train_idx, test_idx = np.arange(n_train), np.arange(n_train, n_train + n_test)
    out = []
    for a, orig in zip(arrs, arrays):
        for idx in (train_idx, test_idx):
            part = a[idx]
            out.append(Tensor._wrap(part) if isinstance(orig, Tensor) else part)
    return out


def _count(n, size, name):
    if isinstance(size, (float, np.floating)):
        if not 0 < size < 1:
            raise ValueError("train_test_split: %s as a fraction must be in (0, 1), got %r"
                             % (name, size))
        return float(size)
    if isinstance(size, bool) or int(size) != size or not 0 < size < n:
        raise ValueError("train_test_split: %s must be a fraction in (0, 1) or a count between 1 "
                         "and %d, got %r" % (name, n - 1, size))
    return int(size)


def _sizes(n, test_size, train_size):
    if test_size is None and train_size is None:
        test_size = 0.25
    t = _count(n, test_size, "test_size") if test_size is not None else None
    r = _count(n, train_size, "train_size") if train_size is not None else None
    if isinstance(t, float):
        t = int(math.ceil(t * n))
    if isinstance(r, float):
        r = int(math.floor(r * n))
    if t is None:
        t = n - r
    if r is None:
        r = n - t
    if t + r > n or t == 0 or r == 0:
        raise ValueError("train_test_split: with %d samples, train %d + test %d is not a valid "
                         "split" % (n, r, t))
    return t, r


def _stratified(labels, n, n_test, n_train, g):
    if len(labels) != n:
        raise ValueError("train_test_split: stratify has %d labels for %d samples"
                         % (len(labels), n))
    classes, y = np.unique(labels, return_inverse=True)
    counts = np.bincount(y)
    if counts.min() < 2:
        raise ValueError("train_test_split: the least populated class in stratify has only %d "
                         "member; each class needs at least 2" % counts.min())
    if n_test < len(classes) or n_train < len(classes):
        raise ValueError("train_test_split: test and train parts need at least one sample per "
                         "class (%d classes), got test %d, train %d"
                         % (len(classes), n_test, n_train))
    # largest-remainder rounding: per-class test counts that sum exactly to n_test
    want = counts * (n_test / n)
    take = np.floor(want).astype(np.int64)
    order = np.argsort(-(want - take), kind="stable")
    take[order[:n_test - take.sum()]] += 1
    want_tr = (counts - take) * (n_train / max(1, n - n_test))
    take_tr = np.minimum(np.floor(want_tr).astype(np.int64), counts - take)
    short = n_train - take_tr.sum()
    room = counts - take - take_tr
    for c in np.argsort(-(want_tr - take_tr), kind="stable"):
        if short <= 0:
            break
        add = min(short, room[c])
        take_tr[c] += add
        short -= add
    test_idx, train_idx = [], []
    for c in range(len(classes)):
        members = np.flatnonzero(y == c)
        members = members[g.permutation(len(members))]
        test_idx.append(members[:take[c]])
        train_idx.append(members[take[c]:take[c] + take_tr[c]])
    test_idx = np.concatenate(test_idx)
    train_idx = np.concatenate(train_idx)
    return test_idx[g.permutation(len(test_idx))], train_idx[g.permutation(len(train_idx))]


class StandardScaler:
    """Standardise features: (x - mean) / std, with mean and std learned by fit() on training
    data (population std; features with zero spread are left unscaled)."""

    def __init__(self, with_mean=True, with_std=True):
        self.with_mean, self.with_std = with_mean, with_std
        self.mean_ = self.scale_ = None

    def fit(self, X):
        X = _np(X)
        if X.ndim != 2:
            raise ValueError("StandardScaler.fit: X must be 2-D (samples, features), got shape %s"
                             % (X.shape,))
        Xd = X.astype(np.float64)
        self.mean_ = Xd.mean(axis=0) if self.with_mean else np.zeros(X.shape[1])
        std = Xd.std(axis=0) if self.with_std else np.ones(X.shape[1])
        self.scale_ = np.where(std > 0, std, 1.0)
        return self

    def transform(self, X):
        if self.mean_ is None:
            raise RuntimeError("StandardScaler: call fit() before transform()")
        arr = _np(X)
        if arr.ndim != 2 or arr.shape[1] != len(self.mean_):
            raise ValueError("StandardScaler.transform: X must be (samples, %d), got shape %s"
                             % (len(self.mean_), arr.shape))
        dtype = arr.dtype if arr.dtype.kind == "f" else np.float32
        out = ((arr - self.mean_) / self.scale_).astype(dtype)
        return Tensor._wrap(out) if isinstance(X, Tensor) else out

    def fit_transform(self, X):
        return self.fit(X).transform(X)

    def inverse_transform(self, X):
        if self.mean_ is None:
            raise RuntimeError("StandardScaler: call fit() before inverse_transform()")
        arr = _np(X)
        dtype = arr.dtype if arr.dtype.kind == "f" else np.float32
        out = (arr * self.scale_ + self.mean_).astype(dtype)
        return Tensor._wrap(out) if isinstance(X, Tensor) else out


def one_hot(labels, num_classes=None, dtype=np.float32):
    """(n,) integer labels -> (n, num_classes) array of 0/1."""
    y = _np(labels)
    if y.dtype.kind not in "iu":
        raise TypeError("one_hot: labels must be integers, got %s" % y.dtype)
    k = int(y.max()) + 1 if num_classes is None else int(num_classes)
    if y.size and (y.min() < 0 or y.max() >= k):
        raise ValueError("one_hot: labels must be in [0, %d), got range [%d, %d]"
                         % (k, y.min(), y.max()))
    out = np.zeros(y.shape + (k,), dtype=dtype)
    np.put_along_axis(out, y[..., None], 1, axis=-1)
    return out
