"""Memory-bound plans run a batch in cache-sized slices (dlcore/jit/cache_slices.py): the
choice itself, the graph measure it rests on, and that a run so sliced equals the whole-batch
run and eager mode at 1 and 2 threads and from several Python threads."""
import threading

import numpy as np
import pytest

import dlcore as dl
from dlcore import nn
from dlcore.jit import cache_slices as cs
from dlcore.jit.ir import Graph

RNG = np.random.default_rng(11)


def test_choice():
    big = 64 << 20
    assert cs.cache_slices(1, big, 5.0, 1) == 1            # nothing to split
    assert cs.cache_slices(32, big, 200.0, 1) == 1         # compute-bound: batch whole
    assert cs.cache_slices(32, 1 << 20, 5.0, 1) == 1       # arena already in cache
    n = cs.cache_slices(32, big, 5.0, 1)
    assert n > 1 and 32 % n == 0 and big / n <= cs._SLICE_BYTES
    # slices of one sample when one sample's arena is past the budget
    assert cs.cache_slices(6, 6 * cs._SLICE_BYTES, 5.0, 1) == 6
    # at least one slice per thread, and slices of equal size (a batch of 12 in 8 MB per
    # slice of 3 MB per sample: slices of 2)
    assert cs.cache_slices(12, 12 * (3 << 20), 5.0, 1) == 6
    assert cs.cache_slices(9, 9 * (3 << 20), 5.0, 1) == 9     # 2 per slice does not divide 9
    assert cs.cache_slices(4, 4 * (1 << 20) * 3, 5.0, 4) == 4


def test_macs_per_byte_counts_conv_and_gemm():
    g = Graph()
    x = g.add_input("x", (2, 3, 8, 8), np.float32)
    w = g.const(np.ones((4, 3, 3, 3), np.float32), "w")
    y, = g.add_node("Conv", [x, w, None], {"strides": (1, 1), "pads": (1, 1, 1, 1),
                                           "dilations": (1, 1), "group": 1},
                    [((2, 4, 8, 8), np.float32)]).outputs
    r, = g.add_node("Reshape", [y], {"shape": (2, 256)}, [((2, 256), np.float32)]).outputs
    w2 = g.const(np.ones((5, 256), np.float32), "w2")
    z, = g.add_node("Gemm", [r, w2, None], {"transB": 1}, [((2, 5), np.float32)]).outputs
    g.outputs = [z]
    macs = 2 * 4 * 8 * 8 * 27 + 2 * 5 * 256
    moved = 4 * (2 * 4 * 8 * 8 * 2 + 2 * 5)
    assert cs.macs_per_byte(g) == pytest.approx(macs / moved)


class _Inverted(nn.Module):
    """a MobileNetV2-like inverted residual block: little arithmetic per byte moved"""

    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2d(3, 8, 3, 2, 1)
        self.expand = nn.Conv2d(8, 48, 1)
        self.dw = nn.Conv2d(48, 48, 3, 1, 1, groups=48)
        self.project = nn.Conv2d(48, 8, 1)
        self.fc = nn.Linear(8, 5)

    def forward(self, x):
        y = nn.functional.relu6(self.stem(x))
        z = nn.functional.relu6(self.dw(nn.functional.relu6(self.expand(y))))
        y = y + self.project(z)
        return self.fc(nn.functional.adaptive_avg_pool2d(y, 1).flatten(1))


@pytest.mark.parametrize("nthreads", [1, 2])
def test_sliced_run_matches_whole_and_eager(monkeypatch, nthreads):
    m = _Inverted()
    m.eval()
    x = RNG.standard_normal((6, 3, 33, 31)).astype(np.float32)
    t = dl.jit.trace(m, [x[:1]])
    p = t.plan(x)
    assert p.macs_per_byte < cs._MAX_MACS_PER_BYTE
    # a budget of two samples' arenas: slices of 2 (at 1 thread), or of 2 with 3 slices at 2
    monkeypatch.setattr(cs, "_SLICE_BYTES", int(p.arena_bytes / 6 * 2.5))
    n = cs.cache_slices(6, p.arena_bytes, p.macs_per_byte, nthreads)
    assert n == 3
    whole = p.exe.run([x], 1)[0]
    got = p.run([x], nthreads)[0]
    assert 3 in p._slice_plans and p._slice_plans[3].env["batch"] == 2
    np.testing.assert_allclose(got, whole, rtol=1e-6, atol=1e-7)
    with dl.no_grad():
        want = m(dl.tensor(x)).numpy()
    assert float(np.abs(got - want).max()) <= 1e-5 * float(np.abs(want).max())
    # several Python threads sharing the plan, each with its own arena
    outs = [None] * 4

    def work(k):
        outs[k] = p.run([x], nthreads)[0]
    ts = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for th in ts:
        th.start()
    for th in ts:
        th.join()
    for o in outs:
        np.testing.assert_allclose(o, whole, rtol=1e-6, atol=1e-7)


def test_compute_bound_graph_stays_whole(monkeypatch):
    m = nn.Sequential(nn.Linear(256, 512), nn.ReLU(), nn.Linear(512, 256))
    m.eval()
    x = RNG.standard_normal((8, 256)).astype(np.float32)
    p = dl.jit.trace(m, [x[:1]]).plan(x)
    monkeypatch.setattr(cs, "_SLICE_BYTES", 1)
    assert p.macs_per_byte >= cs._MAX_MACS_PER_BYTE
    p.run([x], 1)
    assert not p._slice_plans
