"""The executor's depthwise "same" convolution of small maps with L planes as the lanes of a
vector (csrc/plan_dw_cblock_simd.c; L = 16 on AVX-512, 8 on AVX2, the portable path keeps the
flat-grid kernel): against a float64 NumPy reference on odd sizes up to its 28 x 28 limit and
just past it, 3x3/5x5/7x7 filters at stride 1 and 2, plane counts that are and are not
multiples of 8 and 16 (the rest on the flat kernel) and groups that span two images, every
activation path, with and without bias, at 1 and 2 threads, on every ISA the CPU has, and
several Python threads on one plan."""
import threading

import numpy as np
import pytest

import dlcore as dl
from dlcore import nn


from test_jit_dw_same import _ACTS, _reference

RNG = np.random.default_rng(29)


def _model(C, k, stride, act, bias):
    kh, kw = (k, k) if isinstance(k, int) else k
    pad = ((kh - 1) // 2, (kw - 1) // 2)
    conv = nn.Conv2d(C, C, (kh, kw), stride, pad, groups=C, bias=bias)
    return nn.Sequential(*[conv] + ([act()] if act else [])).eval(), conv, pad


def _want(conv, x, stride, pad, act, bias):
    return _ACTS[act](_reference(x.astype(np.float64), conv.weight.numpy().astype(np.float64),
                                 conv.bias.numpy().astype(np.float64) if bias else None,
                                 stride, pad))


def _check(C, k, stride, size, N=1, act=nn.ReLU6, bias=True, nthreads=1):
    m, conv, pad = _model(C, k, stride, act, bias)
    x = (RNG.standard_normal((N, C) + size) * 3).astype(np.float32)
    p = dl.jit.trace(m, [x], dynamic_axes=False).plan(x)
    want = _want(conv, x, stride, pad, act, bias)
    got = p.run([x], nthreads)[0]
    assert got.shape == want.shape
    scale = max(float(np.abs(want).max()), 1e-30)
    assert float(np.abs(got - want).max()) <= 1e-5 * scale


@pytest.mark.parametrize("C,N", [(16, 1), (48, 1), (20, 4), (37, 3), (17, 1), (8, 1), (12, 2),
                                 (9, 1)])
@pytest.mark.parametrize("k,stride,size", [
    (3, 1, (7, 7)), (3, 2, (14, 14)), (3, 2, (13, 13)), (3, 1, (5, 13)), (3, 1, (1, 1)),
    (3, 2, (3, 3)), (5, 1, (7, 7)), (5, 2, (14, 14)), (7, 1, (8, 5)), ((3, 5), 2, (9, 11)),
    (3, 1, (28, 13)), (3, 2, (28, 25)), (3, 1, (29, 13)), (3, 2, (27, 28))])
def test_channel_lanes_against_numpy(isa, C, N, k, stride, size):
    _check(C, k, stride, size, N)


@pytest.mark.parametrize("act", [None, nn.ReLU, nn.Tanh])
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("nthreads", [1, 2])
def test_channel_lanes_activations_bias_threads(isa, act, bias, nthreads):
    _check(40, 3, 1, (7, 7), 2, act, bias, nthreads)
    _check(40, 3, 2, (14, 13), 2, act, bias, nthreads)


def test_channel_lanes_shared_plan_across_python_threads():
    m, conv, pad = _model(64, 3, 2, nn.ReLU6, True)
    x = (RNG.standard_normal((2, 64, 14, 14)) * 3).astype(np.float32)
    p = dl.jit.trace(m, [x], dynamic_axes=False).plan(x)
    want = p.run([x], 1)[0]
    ref = _want(conv, x, 2, pad, nn.ReLU6, True)
    assert float(np.abs(want - ref).max()) <= 1e-5 * float(np.abs(ref).max())
    outs = [None] * 6

    def work(k):
        for _ in range(3):
            outs[k] = p.run([x], 1 + k % 2)[0]
    ts = [threading.Thread(target=work, args=(k,)) for k in range(6)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    for o in outs:
        np.testing.assert_array_equal(o, want)


def test_nan_and_inf_stay_in_their_plane():
    m, conv, pad = _model(32, 3, 1, None, True)
    x = RNG.standard_normal((1, 32, 7, 7)).astype(np.float32)
    x[0, 5, 3, 3] = np.nan
    x[0, 20, 0, 0] = np.inf
    got = dl.jit.trace(m, [x], dynamic_axes=False).plan(x).run([x], 1)[0]
    with np.errstate(invalid="ignore"):
        want = _want(conv, x, 1, pad, None, True)
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
    np.testing.assert_array_equal(np.isinf(got), np.isinf(want))
    ok = np.isfinite(want)
    assert float(np.abs(got[ok] - want[ok]).max()) <= 1e-5 * float(np.abs(want[ok]).max())


def test_plan_table_made_under_one_isa_runs_under_another():
    """The lanes' weight table is made once, when the plan is (csrc/plan_dw_cblock.c), its
    rows padded for the widest lane count: a plan made on one ISA path gives the right result
    run on every other (C = 20 at batch 2: groups of 8 and of 16 lanes both wrap past the last
    channel into the next image's first)."""
    from dlcore.runtime import get_isa, set_isa, supported_isas
    prev = get_isa()
    try:
        for made in supported_isas():
            set_isa(made)
            m, conv, pad = _model(20, 3, 2, nn.ReLU6, True)
            x = (RNG.standard_normal((2, 20, 13, 13)) * 3).astype(np.float32)
            p = dl.jit.trace(m, [x], dynamic_axes=False).plan(x)
            want = _want(conv, x, 2, pad, nn.ReLU6, True)
            for run in supported_isas():
                set_isa(run)
                got = p.run([x], 1)[0]
                assert float(np.abs(got - want).max()) <= 1e-5 * float(np.abs(want).max())
    finally:
        set_isa(prev)
