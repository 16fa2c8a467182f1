"""Batch-sliced runs (dlcore/jit/batch_split.py, csrc/plan_split.c): which graphs split, and
that a split run equals the whole-batch run and eager mode, at 2 and 3 threads, from several
Python threads at once, with an uneven batch (not split), and in a forked child."""
import os

import numpy as np
import pytest

import dlcore as dl
from dlcore import nn
from dlcore.jit.batch_split import split_dim

RNG = np.random.default_rng(7)


class _SmallCNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, 1, 1)
        self.bn = nn.BatchNorm2d(8)
        self.dw = nn.Conv2d(8, 8, 3, 2, 1, groups=8)
        self.fc = nn.Linear(8 * 5 * 5, 10)

    def forward(self, x):
        y = nn.functional.relu(self.bn(self.conv(x)))
        y = nn.functional.relu6(self.dw(y)) + nn.functional.max_pool2d(y, 2)
        return self.fc(y.reshape(y.shape[0], -1)).softmax(-1)


class _BatchMean(nn.Module):
    """subtracts the batch mean: every output row reads every sample"""

    def forward(self, x):
        return x - x.mean(0, keepdim=True)


class _BatchSoftmax(nn.Module):
    def forward(self, x):
        return (x * 2.0).softmax(0)


class _Gram(nn.Module):
    def forward(self, x):
        return x @ x.t()


def _traced(m, x):
    m.eval()
    return dl.jit.trace(m, [x])


def _eager(m, x):
    with dl.no_grad():
        return m(dl.tensor(x)).numpy()


def test_cnn_and_mlp_split_along_batch():
    x = RNG.standard_normal((1, 3, 10, 10)).astype(np.float32)
    assert split_dim(_traced(_SmallCNN(), x).graph) == "batch"
    mlp = nn.Sequential(nn.Linear(5, 7), nn.ReLU(), nn.Linear(7, 3))
    assert split_dim(_traced(mlp, RNG.standard_normal((1, 5)).astype(np.float32)).graph) == \
        "batch"


@pytest.mark.parametrize("m", [_BatchMean(), _BatchSoftmax(), _Gram()])
def test_graphs_that_mix_samples_do_not_split(m):
    x = RNG.standard_normal((4, 5)).astype(np.float32)
    t = _traced(m, x)
    assert split_dim(t.graph) is None
    p = t.plan(x)
    assert p.slice_plan(2) is None
    np.testing.assert_allclose(p.run([x], 2)[0], _eager(m, x), rtol=1e-5, atol=1e-6)


def test_recurrent_layer_does_not_split():
    lstm = nn.LSTM(4, 6)
    x = RNG.standard_normal((5, 2, 4)).astype(np.float32)
    lstm.eval()
    t = dl.jit.trace(lstm, [x], dynamic_axes={1: "batch"})
    assert split_dim(t.graph) is None


@pytest.mark.parametrize("nthreads,batch", [(2, 8), (3, 6), (2, 2)])
def test_split_run_matches_whole_run_and_eager(nthreads, batch):
    m = _SmallCNN()
    x = RNG.standard_normal((batch, 3, 10, 10)).astype(np.float32)
    t = _traced(m, x[:1])
    p = t.plan(x)
    sub = p.slice_plan(nthreads)
    assert sub is not None and sub.env["batch"] == batch // nthreads
    whole = p.exe.run([x], 1)[0]
    # the slices themselves (Plan.run slices only while the machine has room for the threads)
    sliced = sub.exe.run_sliced([x], nthreads, nthreads, p.exe.out_types)[0]
    np.testing.assert_allclose(sliced, whole, rtol=1e-6, atol=1e-7)
    got = p.run([x], nthreads)[0]
    np.testing.assert_allclose(got, whole, rtol=1e-6, atol=1e-7)
    want = _eager(m, x)
    assert float(np.abs(got - want).max()) <= 1e-5 * float(np.abs(want).max())
    # through the traced module too, with the global thread count
    prev = dl.get_num_threads()
    dl.set_num_threads(nthreads)
    try:
        np.testing.assert_allclose(t(dl.tensor(x)).numpy(), whole, rtol=1e-6, atol=1e-7)
    finally:
        dl.set_num_threads(prev)


def test_oversubscribed_machine_runs_the_batch_whole(monkeypatch):
    """While the load rule leaves one thread (csrc/team_load.h), Plan.run asks for no slices:
    the caller would run them all itself at the slice plan's smaller size."""
    from dlcore.jit import plan as plan_mod
    m = _SmallCNN()
    x = RNG.standard_normal((4, 3, 10, 10)).astype(np.float32)
    p = _traced(m, x[:1]).plan(x)
    want = p.exe.run([x], 1)[0]
    asked = []

    def one_thread(n):
        asked.append(n)
        return 1
    monkeypatch.setattr(plan_mod, "threads_for_load", one_thread)
    np.testing.assert_allclose(p.run([x], 2)[0], want, rtol=1e-6, atol=1e-7)
    assert asked == [2] and p._slice_plans == {}
    monkeypatch.setattr(plan_mod, "threads_for_load", lambda n: n)
    np.testing.assert_allclose(p.run([x], 2)[0], want, rtol=1e-6, atol=1e-7)
    assert list(p._slice_plans) == [2]


def test_uneven_batch_runs_whole():
    m = _SmallCNN()
    x = RNG.standard_normal((5, 3, 10, 10)).astype(np.float32)
    p = _traced(m, x[:1]).plan(x)
    assert p.slice_plan(2) is None
    want = _eager(m, x)
    assert float(np.abs(p.run([x], 2)[0] - want).max()) <= 1e-5 * float(np.abs(want).max())


def test_concurrent_callers_share_the_helpers():
    import threading
    m = _SmallCNN()
    xs = [RNG.standard_normal((4, 3, 10, 10)).astype(np.float32) for _ in range(4)]
    p = _traced(m, xs[0][:1]).plan(xs[0])
    wants = [p.exe.run([x], 1)[0] for x in xs]
    errs = []

    def work(k):
        for _ in range(15):
            errs.append(float(np.abs(p.run([xs[k]], 2)[0] - wants[k]).max()))
    ts = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert len(errs) == 60 and max(errs) <= 1e-6


def test_sliced_run_rejects_arrays_that_do_not_split():
    m = _SmallCNN()
    x = RNG.standard_normal((4, 3, 10, 10)).astype(np.float32)
    p = _traced(m, x[:1]).plan(x)
    sub = p.slice_plan(2)
    out = np.empty((4, 10), np.float32)
    with pytest.raises(ValueError, match="equal slices"):
        sub.exe.cplan.run_sliced([x[:, :, :, :9].copy(), out], 3, 2)
    with pytest.raises(ValueError, match="expected 2"):
        sub.exe.cplan.run_sliced([x], 2, 2)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_forked_child_runs_split_plans():
    m = _SmallCNN()
    x = RNG.standard_normal((4, 3, 10, 10)).astype(np.float32)
    p = _traced(m, x[:1]).plan(x)
    want = p.run([x], 2)[0]   # the parent's helpers exist now
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            code = 0 if float(np.abs(p.run([x], 2)[0] - want).max()) <= 1e-6 else 2
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0
