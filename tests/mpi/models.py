"""Models the MPI test scripts train: an MLP, the chapter-4 CNN, an LSTM regressor and an MLP
that uses one weight twice (shared-weight gradient counting)."""
import importlib.util
import os

import numpy as np

import dlcore as dl
import dlcore.nn as nn
import dlcore.nn.functional as F

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _example(name):
    path = os.path.join(ROOT, "python", name)
    spec = importlib.util.spec_from_file_location(name[:-3], path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


class MLP(nn.Module):
    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(20, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU(),
                                 nn.Linear(64, 5))

    def forward(self, x):
        return self.net(x)


class SharedMLP(nn.Module):
    """`body` runs twice per forward and the input layer's weight, transposed, is also the
    output projection's (tied): those parameters get two gradient contributions per
    backward."""

    def __init__(self):
        super().__init__()
        self.inp = nn.Linear(20, 32)
        self.body = nn.Linear(32, 32)
        self.out_bias = nn.Parameter(np.zeros(20, dtype=np.float32))
        self.head = nn.Linear(20, 5)

    def forward(self, x):
        h = F.relu(self.inp(x))
        h = F.relu(self.body(h))
        h = F.relu(self.body(h))
        # tied: the input projection's weight, transposed, maps back to 20 features
        h = F.linear(h, self.inp.weight.T, self.out_bias)
        return self.head(h)


class LSTMRegressor(nn.Module):
    def __init__(self):
        super().__init__()
        self.lstm = nn.LSTM(6, 24, batch_first=True)
        self.head = nn.Linear(24, 1)

    def forward(self, x):
        out, _ = self.lstm(x)
        return self.head(out[:, -1])


def digits_cnn(sync_bn):
    model = _example("04_cnn_digits.py").DigitsCNN()
    model.head[1].p = 0.0  # dropout masks are random per rank: equivalence needs it off
    if sync_bn:
        model = nn.SyncBatchNorm.convert_sync_batchnorm(model)
    return model


def make(kind, sync_bn=True):
    """(model, dataset arrays X, y, loss_fn) for one of mlp, shared, cnn, lstm."""
    rng = np.random.default_rng(42)
    if kind in ("mlp", "shared"):
        X = rng.standard_normal((640, 20)).astype(np.float32)
        y = rng.integers(0, 5, 640)
        return (MLP() if kind == "mlp" else SharedMLP()), X, y, F.cross_entropy
    if kind == "cnn":
        X, y = dl.data.load_digits(return_X_y=True)
        X = (X[:640] / 16.0).astype(np.float32).reshape(-1, 1, 8, 8)
        return digits_cnn(sync_bn), X, y[:640], F.cross_entropy
    if kind == "lstm":
        X = rng.standard_normal((640, 12, 6)).astype(np.float32)
        y = (X[:, :, 0].mean(axis=1, keepdims=True) * 3).astype(np.float32)
        return LSTMRegressor(), X, y, F.mse_loss
    raise ValueError(kind)
