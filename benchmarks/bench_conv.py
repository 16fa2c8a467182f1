"""pytest-benchmark suite for convolution and pooling: dlcore beside the NumPy im2col
reference and torch (when installed).  `dlcore bench conv` prints the same comparison as a
table of ratios (dlcore.bench.conv)."""
import numpy as np
import pytest

import dlcore as dl
import dlcore.nn.functional as F
from dlcore.bench.conv import CONVS, np_conv_forward, np_conv_backward, np_maxpool2

IDS = [c[0] for c in CONVS]


def _data(case):
    name, (N, C, H, W), K, k, pad, groups = case
    rng = np.random.default_rng(0)
    x = rng.standard_normal((N, C, H, W)).astype(np.float32)
    w = (rng.standard_normal((K, C // groups, k, k)) * 0.1).astype(np.float32)
    gy = rng.standard_normal((N, K, H + 2 * pad - k + 1, W + 2 * pad - k + 1)).astype(np.float32)
    return x, w, gy, pad, groups


@pytest.mark.parametrize("case", CONVS, ids=IDS)
def test_conv_forward_dlcore(benchmark, case):
    x, w, gy, pad, groups = _data(case)
    xt, wt = dl.tensor(x), dl.tensor(w)
    with dl.no_grad():
        benchmark(lambda: F.conv2d(xt, wt, None, 1, pad, 1, groups))


@pytest.mark.parametrize("case", CONVS, ids=IDS)
def test_conv_forward_backward_dlcore(benchmark, case):
    x, w, gy, pad, groups = _data(case)
    xt, wt, gyt = dl.tensor(x, requires_grad=True), dl.tensor(w, requires_grad=True), dl.tensor(gy)
    benchmark(lambda: F.conv2d(xt, wt, None, 1, pad, 1, groups).backward(gyt))


@pytest.mark.parametrize("case", CONVS, ids=IDS)
def test_conv_forward_numpy(benchmark, case):
    x, w, gy, pad, groups = _data(case)
    benchmark(lambda: np_conv_forward(x, w, pad, groups))


@pytest.mark.parametrize("case", CONVS, ids=IDS)
def test_conv_forward_backward_numpy(benchmark, case):
    x, w, gy, pad, groups = _data(case)
    benchmark(lambda: (np_conv_forward(x, w, pad, groups), np_conv_backward(x, w, gy, pad, groups)))


@pytest.mark.parametrize("case", CONVS, ids=IDS)
def test_conv_forward_backward_torch(benchmark, case):
    torch = pytest.importorskip("torch")
    x, w, gy, pad, groups = _data(case)
    tx, tw = torch.tensor(x, requires_grad=True), torch.tensor(w, requires_grad=True)
    tgy = torch.tensor(gy)
    benchmark(lambda: torch.nn.functional.conv2d(tx, tw, None, 1, pad, 1, groups).backward(tgy))


def test_maxpool_dlcore(benchmark):
    x = dl.tensor(np.random.default_rng(0).standard_normal((32, 64, 56, 56)).astype(np.float32))
    with dl.no_grad():
        benchmark(lambda: F.max_pool2d(x, 2))


def test_maxpool_numpy(benchmark):
    x = np.random.default_rng(0).standard_normal((32, 64, 56, 56)).astype(np.float32)
    benchmark(lambda: np_maxpool2(x))


def test_maxpool_torch(benchmark):
    torch = pytest.importorskip("torch")
    x = torch.randn(32, 64, 56, 56)
    with torch.no_grad():
        benchmark(lambda: torch.nn.functional.max_pool2d(x, 2))
