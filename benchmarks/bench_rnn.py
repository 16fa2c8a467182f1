"""pytest-benchmark: LSTM and GRU layers (seq 100, batch 32, input 128, hidden 256), forward and
forward+backward, dlcore vs the NumPy reference (and torch if present).
Run: python -m pytest benchmarks/bench_rnn.py --benchmark-only
(`dlcore bench rnn` prints the same comparison as one table of ratios, timed in one run.)"""
import numpy as np
import pytest

import dlcore as dl
from dlcore.bench.rnn import np_lstm, np_gru, SEQ, BATCH, INPUT, HIDDEN

KINDS = ["LSTM", "GRU"]
REF = {"LSTM": np_lstm, "GRU": np_gru}


@pytest.fixture(scope="module")
def data():
    r = np.random.default_rng(0)
    return (r.standard_normal((SEQ, BATCH, INPUT)).astype(np.float32),
            r.standard_normal((SEQ, BATCH, HIDDEN)).astype(np.float32))


def _layer(kind):
    dl.manual_seed(0)
    return getattr(dl.nn, kind)(INPUT, HIDDEN)


@pytest.mark.parametrize("kind", KINDS)
def test_fwd_dlcore(benchmark, data, kind):
    m, x = _layer(kind), dl.tensor(data[0])

    def step():
        with dl.no_grad():
            m(x)
    benchmark(step)


@pytest.mark.parametrize("kind", KINDS)
def test_fwd_bwd_dlcore(benchmark, data, kind):
    m, g = _layer(kind), dl.tensor(data[1])

    def step():
        x = dl.tensor(data[0], requires_grad=True)
        m(x)[0].backward(g)
    benchmark(step)


@pytest.mark.parametrize("kind", KINDS)
def test_fwd_numpy(benchmark, data, kind):
    w = [p.numpy() for p in _layer(kind).parameters()]
    benchmark(REF[kind], data[0], *w)


@pytest.mark.parametrize("kind", KINDS)
def test_fwd_bwd_numpy(benchmark, data, kind):
    w = [p.numpy() for p in _layer(kind).parameters()]
    benchmark(REF[kind], data[0], *w, grad=data[1])


@pytest.mark.parametrize("kind", KINDS)
def test_fwd_torch(benchmark, data, kind):
    torch = pytest.importorskip("torch")
    m, x = getattr(torch.nn, kind)(INPUT, HIDDEN), torch.from_numpy(data[0])

    def step():
        with torch.no_grad():
            m(x)
    benchmark(step)


@pytest.mark.parametrize("kind", KINDS)
def test_fwd_bwd_torch(benchmark, data, kind):
    torch = pytest.importorskip("torch")
    m, g = getattr(torch.nn, kind)(INPUT, HIDDEN), torch.from_numpy(data[1])

    def step():
        x = torch.from_numpy(data[0]).requires_grad_()
        m(x)[0].backward(g)
    benchmark(step)
