"""Plans of one model share their constants and the weights they transform or pack
(dlcore/jit/shared_consts.py, csrc/plan_shared.c): a second plan of the same weights adds no
transformed filters and no folded constants, weights changed in between get their own, every
plan's outputs stay eager's, and the last plan freed releases the shared buffers."""
import gc

import numpy as np

import dlcore as dl
from dlcore import _C, nn


def _model():
    dl.manual_seed(5)
    # a direct 5x5 conv (8 -> 32 on a 16x16 map, its BatchNorm folded in; 5x5 so that no
    # ISA's cost model sends it to Winograd), a Winograd 3x3 one and a stride-2 one on im2col
    # tiles (weights packed for the GEMM; 32 x 9 x 12 of them, under the 4096 from which a
    # map this small takes the transposed product, whose W^T is packed per plan like a
    # Linear's, csrc/plan_conv.c)
    return nn.Sequential(nn.Conv2d(8, 32, 5, padding=2), nn.BatchNorm2d(32), nn.ReLU(),
                         nn.Conv2d(32, 32, 3, padding=1), nn.ReLU(),
                         nn.Conv2d(32, 12, 3, stride=2, padding=1)).eval()


def _eager(m, x):
    with dl.no_grad():
        return m(dl.tensor(x)).numpy()


def _check(plan, m, x):
    got = plan.run([x], 1)[0]
    want = _eager(m, x)
    assert np.abs(got - want).max() <= 1e-5 * np.abs(want).max()


def _consts(plan):
    return [b.array for b in plan.bufs if b.kind == "const" and b.array.nbytes >= 4096]


def test_second_plan_of_the_same_weights_shares_everything():
    gc.collect()
    base = _C.plan_shared_weights()
    m = _model()
    rng = np.random.default_rng(0)
    x = rng.standard_normal((1, 8, 16, 16)).astype(np.float32)
    tr = dl.jit.trace(m, [x])
    p1 = tr.plan(x)
    # the plan is what this test means: one direct conv, one on transformed filters
    assert "CONV_DIRECT" in str(p1) and "CONV_GEMM" in str(p1)
    assert sum(w > 0 for w in p1.exe.cplan.winograd_steps()) == 1
    n1, bytes1 = _C.plan_shared_weights()
    assert n1 == base[0] + 3 and bytes1 > base[1]
    # the same trace at the same size, and the model traced again
    p2 = tr.plan(x.copy())
    p3 = dl.jit.trace(m, [x]).plan(x)
    assert _C.plan_shared_weights() == (n1, bytes1)
    c1, c2, c3 = _consts(p1), _consts(p2), _consts(p3)
    assert len(c1) == 3   # the folded conv weights and the other convs'
    for a, b, c in zip(c1, c2, c3):
        assert a is b and a is c
    for p in (p1, p2, p3):
        _check(p, m, x)
    # weights changed in place (as training does): the next plan has its own copies
    with dl.no_grad():
        m[3].weight.numpy()[...] *= 0.5
        m[0].weight.numpy()[:1] += 1.0
        m[5].weight.numpy()[-1] -= 0.25
    p4 = dl.jit.trace(m, [x]).plan(x)
    assert _C.plan_shared_weights()[0] == n1 + 3
    params = [q.numpy() for q in m.parameters()]
    folded = [a for a in c1 if not any(np.shares_memory(a, q) for q in params)]
    assert len(folded) == 1   # conv 0's weights with BatchNorm folded in (the others are theirs)
    assert not any(a is b for a in folded for b in _consts(p4))
    _check(p4, m, x)
    # the first plans read their own (old) transformed filters: unchanged outputs
    assert np.array_equal(p1.run([x], 1)[0], p2.run([x], 1)[0])
    del p1, p2, p3, p4, p, tr
    gc.collect()
    assert _C.plan_shared_weights() == base


def test_plans_for_batch_slices_share_with_the_batch_one_plan():
    """A batch run at two threads runs a per-slice plan (batch_split.py): at batch 2 that is
    the batch-1 plan's weights again."""
    gc.collect()
    base = _C.plan_shared_weights()
    m = _model()
    rng = np.random.default_rng(1)
    x1 = rng.standard_normal((1, 8, 16, 16)).astype(np.float32)
    x2 = rng.standard_normal((2, 8, 16, 16)).astype(np.float32)
    tr = dl.jit.trace(m, [x1])
    p1 = tr.plan(x1)
    after_one = _C.plan_shared_weights()
    p2 = tr.plan(x2)
    sub = p2.slice_plan(2)
    assert sub is not None
    assert sub.exe.cplan.winograd_steps() == p1.exe.cplan.winograd_steps()
    got = p2.run([x2], 2)[0]
    want = _eager(m, x2)
    assert np.abs(got - want).max() <= 1e-5 * np.abs(want).max()
    # the slice plan added nothing: whatever p2 (batch 2) packed differently is all
    added_by_p2 = _C.plan_shared_weights()[0] - after_one[0]
    del sub
    p2._slice_plans.clear()
    gc.collect()
    assert _C.plan_shared_weights()[0] - after_one[0] == added_by_p2
    del p1, p2, tr
    gc.collect()
    assert _C.plan_shared_weights() == base


def test_equal_parameters_of_two_models_stay_their_own():
    """Two models with equal weights: each plan reads its own model's parameter arrays, so
    training one in place never changes the other's plan."""
    m1 = _model()
    m2 = _model()
    x = np.random.default_rng(2).standard_normal((1, 8, 16, 16)).astype(np.float32)
    p1 = dl.jit.trace(m1, [x]).plan(x)
    p2 = dl.jit.trace(m2, [x]).plan(x)
    for p, m in ((p1, m1), (p2, m2)):
        params = [q.numpy() for q in m.parameters()]
        other = [q.numpy() for q in (m2 if m is m1 else m1).parameters()]
        for a in _consts(p):
            assert not any(np.shares_memory(a, q) for q in other)
        assert any(np.shares_memory(a, q) for a in _consts(p) for q in params)
    before = p2.run([x], 1)[0]
    with dl.no_grad():
        for q in m1.parameters():
            q.numpy()[...] = 0.0
    assert np.array_equal(p2.run([x], 1)[0], before)


def test_shared_consts_compare_bytes():
    from dlcore.jit.shared_consts import shared
    a = np.arange(4096, dtype=np.float32)
    b = a.copy()
    assert shared(a) is a and shared(b) is a
    v = np.arange(8192, dtype=np.float32)[:4096]   # a view: never handed out or swapped
    assert shared(v) is v
    c = a.copy()
    c[7] = -0.0 if c[7] == 0 else -c[7]
    assert shared(c) is c
    z = np.zeros(2048, np.float32)
    nz = np.full(2048, -0.0, np.float32)   # equal as numbers, not as bytes
    assert shared(z) is z and shared(nz) is nz
    a[5] = 99.0   # changed after it was registered: an array equal to its old bytes is kept
    assert shared(b) is b
