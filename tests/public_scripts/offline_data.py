"""Offline stand-ins for the datasets the public PyTorch scripts download.

Everything here returns plain NumPy arrays, so a script can wrap them with whichever engine
it was imported with (`torch.from_numpy`). The arrays come from the data files dlcore ships
(read through dlcore.data, which only uses NumPy) or are generated from a seed.
"""
import re

import numpy as np


def digits(test_fraction=0.25, seed=0):
    """8x8 handwritten digits scaled to [0, 1]: (x_train, y_train, x_test, y_test), x as (N, 1, 8, 8)."""
    from dlcore.data import load_digits
    bunch = load_digits()
    x = (bunch.data / 16.0).astype(np.float32).reshape(-1, 1, 8, 8)
    y = bunch.target.astype(np.int64)
    order = np.random.default_rng(seed).permutation(len(y))
    n_test = int(len(y) * test_fraction)
    test, train = order[:n_test], order[n_test:]
    return x[train], y[train], x[test], y[test]


def fashion(n_train=2000, n_test=1000):
    """The Fashion-MNIST subset dlcore ships, scaled to [0, 1], images as (N, 1, 28, 28)."""
    from dlcore.data import load_fashion_mnist
    (xtr, ytr), (xte, yte) = load_fashion_mnist()
    def prep(x):
        return (x.astype(np.float32) / 255.0)[:, None]
    return prep(xtr[:n_train]), ytr[:n_train].astype(np.int64), prep(xte[:n_test]), yte[:n_test].astype(np.int64)


def text_splits(n_words=None):
    """Hamlet and Macbeth as word-level train/valid/test line lists (80/10/10 by line)."""
    from dlcore.data import load_shakespeare
    lines = [" ".join(re.findall(r"[a-z']+|[.,;:!?]", ln.lower())) for ln in load_shakespeare().text.splitlines()]
    lines = [ln for ln in lines if ln]
    if n_words is not None:
        kept, count = [], 0
        for ln in lines:
            kept.append(ln)
            count += len(ln.split()) + 1
            if count >= n_words:
                break
        lines = kept
    n = len(lines)
    a, b = int(n * 0.8), int(n * 0.9)
    return lines[:a], lines[a:b], lines[b:]


def sine_waves(n=100, length=1000, period=20, seed=2):
    """The time-sequence-prediction data: N sine waves with random phase shifts, float64."""
    rng = np.random.RandomState(seed)
    x = np.empty((n, length), np.int64)
    x[:] = np.arange(length) + rng.randint(-4 * period, 4 * period, n).reshape(n, 1)
    return np.sin(x / period).astype(np.float64)
