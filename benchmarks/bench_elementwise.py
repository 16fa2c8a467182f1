"""pytest-benchmark: activations, softmax and cross-entropy, dlcore vs the NumPy reference
(and torch when installed).  Run: python -m pytest benchmarks/bench_elementwise.py
--benchmark-only.  `dlcore bench elementwise` prints the same comparison as a ratio table."""
import numpy as np
import pytest

import dlcore as dl
import dlcore.nn.functional as F
from dlcore.bench.elementwise import _np_act, _np_softmax, _np_cross_entropy

N_ACT = 1 << 22
SM = (32768, 512)
CE = (4096, 1000)
ACTS = ("relu", "gelu", "sigmoid", "tanh")


@pytest.fixture(scope="module")
def data():
    r = np.random.default_rng(0)
    return {"x": r.standard_normal(N_ACT).astype(np.float32),
            "g": r.standard_normal(N_ACT).astype(np.float32),
            "xs": (r.standard_normal(SM) * 3).astype(np.float32),
            "gs": r.standard_normal(SM).astype(np.float32),
            "xc": (r.standard_normal(CE) * 3).astype(np.float32),
            "tc": r.integers(0, CE[1], CE[0])}


def _dl_act(name):
    return {"relu": F.relu, "gelu": F.gelu, "sigmoid": F.sigmoid, "tanh": F.tanh}[name]


def _torch_act(torch, name):
    return {"relu": torch.relu, "gelu": torch.nn.functional.gelu, "sigmoid": torch.sigmoid,
            "tanh": torch.tanh}[name]


@pytest.mark.parametrize("name", ACTS)
def test_act_fwd_bwd_dlcore(benchmark, data, name):
    fn = _dl_act(name)

    def step():
        x = dl.from_numpy(data["x"]).requires_grad_()
        fn(x).backward(dl.from_numpy(data["g"]))
    benchmark(step)


@pytest.mark.parametrize("name", ACTS)
def test_act_fwd_bwd_numpy(benchmark, data, name):
    benchmark(_np_act, name, data["x"], data["g"])


@pytest.mark.parametrize("name", ACTS)
def test_act_fwd_bwd_torch(benchmark, data, name):
    torch = pytest.importorskip("torch")
    fn = _torch_act(torch, name)

    def step():
        x = torch.from_numpy(data["x"]).requires_grad_()
        fn(x).backward(torch.from_numpy(data["g"]))
    benchmark(step)


@pytest.mark.parametrize("log", [False, True])
def test_softmax_fwd_dlcore(benchmark, data, log):
    fn = F.log_softmax if log else F.softmax
    with dl.no_grad():
        benchmark(fn, dl.from_numpy(data["xs"]), -1)


@pytest.mark.parametrize("log", [False, True])
def test_softmax_fwd_numpy(benchmark, data, log):
    benchmark(_np_softmax, data["xs"], None, log)


@pytest.mark.parametrize("log", [False, True])
def test_softmax_fwd_torch(benchmark, data, log):
    torch = pytest.importorskip("torch")
    fn = torch.log_softmax if log else torch.softmax
    with torch.no_grad():
        benchmark(fn, torch.from_numpy(data["xs"]), -1)


def test_cross_entropy_fwd_bwd_dlcore(benchmark, data):
    t = dl.from_numpy(data["tc"])

    def step():
        x = dl.from_numpy(data["xc"]).requires_grad_()
        F.cross_entropy(x, t).backward()
    benchmark(step)


def test_cross_entropy_fwd_bwd_numpy(benchmark, data):
    benchmark(_np_cross_entropy, data["xc"], data["tc"], True)


def test_cross_entropy_fwd_bwd_torch(benchmark, data):
    torch = pytest.importorskip("torch")
    t = torch.from_numpy(data["tc"])

    def step():
        x = torch.from_numpy(data["xc"]).requires_grad_()
        torch.nn.functional.cross_entropy(x, t).backward()
    benchmark(step)
