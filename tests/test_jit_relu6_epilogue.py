"""MobileNet's ReLU6 (Clip 0..6) in the GEMM epilogue of the plan's products (gemm.h's
DL_ACT_RELU6) instead of a pass over the output after them, and the executor's global average
pool (plan_simd.c's plane_means): against eager on odd sizes, every route a convolution or a
Linear takes to a product (pointwise in place, im2col tiles, several images per product, the
transposed small-map product, the Gemm step), every ISA, 1 and 2 threads, several Python
threads on one plan, and NaN/Inf through both."""
import threading

import numpy as np
import pytest

import dlcore as dl
from dlcore import nn
from dlcore.jit import executor as X


RNG = np.random.default_rng(31)


def _plan(m, x):
    m.eval()
    return dl.jit.trace(m, [x], dynamic_axes=False).plan(x)


def _eager(m, x):
    with dl.no_grad():
        return m(dl.tensor(x)).numpy()


def _close(got, want):
    assert got.shape == want.shape
    scale = max(float(np.abs(want).max()), 1e-30)
    assert float(np.abs(got - want).max()) <= 1e-5 * scale


class _Clip(nn.Module):
    def __init__(self, lo, hi):
        super().__init__()
        self.lo, self.hi = lo, hi

    def forward(self, x):
        return x.clamp(self.lo, self.hi)


# (C, K, kernel, stride, pad, size, N): pointwise in place, im2col tiles (the first
# MobileNet layer's shape, odd), several images per product, the transposed small-map product
CASES = [(16, 96, 1, 1, 0, (29, 31), 1), (3, 32, 3, 2, 1, (37, 35), 1),
         (24, 40, 3, 2, 1, (17, 19), 3), (160, 96, 1, 1, 0, (7, 7), 2),
         (13, 19, 1, 1, 0, (5, 3), 2)]


@pytest.mark.parametrize("C,K,k,s,p,size,N", CASES)
@pytest.mark.parametrize("nthreads", [1, 2])
def test_conv_relu6_in_the_epilogue_matches_eager(isa, C, K, k, s, p, size, N, nthreads):
    conv = nn.Conv2d(C, K, k, s, p)
    conv.weight.data[...] *= 4.0        # outputs well past 6 and below 0
    m = nn.Sequential(conv, nn.ReLU6())
    x = RNG.standard_normal((N, C) + size).astype(np.float32)
    plan = _plan(m, x)
    steps = [st for st in plan.steps if st.op in (X.CONV_GEMM, X.CONV_DIRECT, X.CONV)]
    assert len(steps) == 1
    if steps[0].op == X.CONV_GEMM:
        # gemm act RELU6, no post pass
        assert steps[0].ints[17] == X.GEMM_ACT_RELU6 and steps[0].ints[16] == -1
    want = _eager(m, x)
    assert (want == 6.0).any() and (want == 0.0).any()
    _close(plan.run([x], nthreads)[0], want)


def test_other_clips_stay_a_post_pass():
    m = nn.Sequential(nn.Conv2d(8, 16, 1), _Clip(0.0, 5.0))
    x = RNG.standard_normal((1, 8, 9, 9)).astype(np.float32) * 3
    plan = _plan(m, x)
    st = [s for s in plan.steps if s.op == X.CONV_GEMM][0]
    assert st.ints[17] != X.GEMM_ACT_RELU6 and st.ints[16] >= 0
    _close(plan.run([x], 1)[0], _eager(m, x))


@pytest.mark.parametrize("rows", [1, 3, 17])
def test_linear_relu6_matches_eager(isa, rows):
    m = nn.Sequential(nn.Linear(37, 45), nn.ReLU6())
    m[0].weight.data[...] *= 8.0
    x = RNG.standard_normal((rows, 37)).astype(np.float32)
    plan = _plan(m, x)
    st = [s for s in plan.steps if s.op == X.GEMM][0]
    assert st.ints[8] == X.GEMM_ACT_RELU6
    _close(plan.run([x], 1)[0], _eager(m, x))


def test_relu6_epilogue_nan_inf_and_threads():
    conv = nn.Conv2d(5, 7, 1)
    m = nn.Sequential(conv, nn.ReLU6()).eval()
    x = RNG.standard_normal((2, 5, 6, 7)).astype(np.float32)
    x[0, 2, 3, 4] = np.nan
    x[1, 1, 0, 0] = np.inf
    plan = _plan(m, x)
    want = _eager(m, x)
    got = plan.run([x], 1)[0]
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
    ok = ~np.isnan(want)
    np.testing.assert_allclose(got[ok], want[ok], rtol=1e-5, atol=1e-5)
    outs = [None] * 4

    def work(k):
        outs[k] = plan.run([x], 1 + k % 2)[0]
    ts = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    for o in outs:
        np.testing.assert_array_equal(o, got)


@pytest.mark.parametrize("C,size,N", [(1280, (7, 7), 1), (17, (1, 1), 3), (5, (33, 31), 2),
                                      (9, (4, 4), 1), (3, (1, 15), 2)])
@pytest.mark.parametrize("nthreads", [1, 2])
def test_global_average_pool_matches_numpy(isa, C, size, N, nthreads):
    m = nn.AdaptiveAvgPool2d(1)
    x = RNG.standard_normal((N, C) + size).astype(np.float32) + 3.0
    plan = _plan(m, x)
    assert [s.op for s in plan.steps] == [X.ADAPTIVE_AVGPOOL]
    want = x.astype(np.float64).mean(axis=(2, 3), keepdims=True)
    got = plan.run([x], nthreads)[0]
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-6)
    _close(got, _eager(m, x))


def test_global_average_pool_nan_inf():
    m = nn.AdaptiveAvgPool2d(1)
    x = RNG.standard_normal((1, 4, 5, 7)).astype(np.float32)
    x[0, 1, 4, 6] = np.nan      # in the masked tail
    x[0, 2, 0, 0] = np.inf
    x[0, 3, 1, 1], x[0, 3, 2, 2] = np.inf, -np.inf
    got = _plan(m, x).run([x], 1)[0].reshape(4)
    assert np.isnan(got[1]) and got[2] == np.inf and np.isnan(got[3]) and np.isfinite(got[0])
