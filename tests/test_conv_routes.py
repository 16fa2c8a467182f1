"""Eager conv2d runs the kernel an inference plan of the same convolution runs
(csrc/conv_routes.c): the executor's direct kernels (stride 2 on at most 4 input channels, a
network's first layer; stride 1 with few output channels on a small map, LeNet's) and, for
one image on a small map, the transposed product col^T W^T with W read in place.  Checked
against a float64 NumPy convolution on odd sizes, padding, stride and dilation, with and
without bias, recording gradients or not, every ISA path and one and two threads; the
eager result equals the plan's bit for bit where both run the same kernel on the same
weight blocks (the routing agrees with the planner's, dlcore/jit/lower_layers.py); the
input gradient and weight gradient after such a forward are unchanged (gradcheck)."""
import numpy as np
import pytest

import dlcore as dl
import dlcore.nn.functional as F
from dlcore import nn
from dlcore.jit.executor import CONV_DIRECT, CONV_GEMM, gemm_columns
from dlcore.ops.conv import conv_algorithm
from test_conv import ref_conv2d

RNG = np.random.default_rng(7)

# C, K, (H, W), R, S, stride, pad, dilation, N
DIRECT_S2 = [
    (3, 64, (37, 45), 7, 7, 2, 3, 1, 1),     # ResNet's stem, odd map
    (3, 19, (23, 17), 7, 5, 2, (2, 1), 1, 2),  # uneven filter and padding, two images
    (1, 8, (9, 11), 3, 3, 2, 1, 1, 1),       # 3x3 at padding 1 (plan_direct_s2_simd.c)
    (4, 33, (16, 15), 3, 3, 2, 0, 1, 1),     # 3x3 at padding 0, channels off the blocks
    (2, 5, (12, 13), 4, 6, 2, (3, 5), 1, 1),  # padding just under the filter
]
DIRECT_S1 = [
    (6, 16, (14, 14), 5, 5, 1, 0, 1, 1),     # LeNet's second layer
    (5, 7, (9, 12), 5, 3, 1, (2, 1), 1, 2),
]
SMALL_MAP = [
    (64, 128, (14, 14), 3, 3, 2, 1, 1, 1),   # ResNet-18 layer4.0.conv1's form
    (64, 128, (14, 14), 1, 1, 2, 0, 1, 1),   # and its downsample
    (37, 45, (13, 9), 3, 3, 2, 1, 1, 1),     # 7x5 positions, channels off the tiles
    (20, 70, (11, 11), 5, 5, 1, 2, 1, 1),    # 5x5 at stride 1: 121 positions
    (30, 33, (1, 1), 3, 3, 2, 1, 1, 1),      # one position
    (40, 50, (15, 13), 3, 3, 1, 2, 2, 1),    # dilated
]


def _pair(v):
    return v if isinstance(v, tuple) else (v, v)


def _run(case, bias, grad):
    C, K, hw, R, S, stride, pad, dil, N = case
    x = RNG.standard_normal((N, C) + hw).astype(np.float32)
    w = (RNG.standard_normal((K, C, R, S)) / np.sqrt(C * R * S)).astype(np.float32)
    b = RNG.standard_normal(K).astype(np.float32) if bias else None
    xt = dl.tensor(x)
    wt = dl.tensor(w, requires_grad=grad)
    bt = None if b is None else dl.tensor(b)
    y = F.conv2d(xt, wt, bt, stride, _pair(pad), dil)
    want = ref_conv2d(x.astype(np.float64), w.astype(np.float64),
                      None if b is None else b.astype(np.float64), _pair(stride), _pair(pad),
                      _pair(dil))
    return y.numpy(), want


@pytest.mark.parametrize("case", DIRECT_S2 + DIRECT_S1 + SMALL_MAP)
@pytest.mark.parametrize("bias", [False, True])
def test_matches_float64_reference(isa, threads, case, bias):
    for grad in (False, True):
        got, want = _run(case, bias, grad)
        assert got.shape == want.shape
        scale = max(float(np.abs(want).max()), 1e-30)
        assert float(np.abs(got - want).max()) <= 2e-5 * scale, (grad, isa)


def _eager_and_plan(case, algo="auto"):
    C, K, hw, R, S, stride, pad, dil, N = case
    conv = nn.Conv2d(C, K, (R, S), stride, pad, dilation=dil, bias=True).eval()
    x = RNG.standard_normal((N, C) + hw).astype(np.float32)
    with conv_algorithm(algo):
        p = dl.jit.trace(conv, [x], dynamic_axes=False).plan(x)
        with dl.no_grad():
            eager = conv(dl.tensor(x)).numpy()
    return eager, p.run([x])[0], p


@pytest.mark.parametrize("case", DIRECT_S2 + DIRECT_S1)
def test_direct_route_is_the_plans(isa, case):
    eager, planned, p = _eager_and_plan(case)
    assert [s.op for s in p.steps] == [CONV_DIRECT]
    np.testing.assert_array_equal(eager, planned)


@pytest.mark.parametrize("case", SMALL_MAP)
def test_small_map_route_is_the_plans(isa, case):
    C, K, hw, R, S, stride, pad, dil, N = case
    eager, planned, p = _eager_and_plan(case)
    steps = [s for s in p.steps if s.op == CONV_GEMM]
    # the planner's test (lower_layers.py), which conv_routes.c repeats: under 8 register
    # tiles of columns on the ISA in use (the generic path's are narrower)
    P = eager.shape[2] * eager.shape[3]
    small = P < 8 * gemm_columns() and C * R * S * K >= 4096
    assert [s.ints[20] for s in steps] == [2 if small else 0]
    scale = float(np.abs(planned).max())
    assert float(np.abs(eager - planned).max()) <= 1e-6 * scale


def test_forced_algorithm_keeps_im2col():
    """conv_algorithm('im2col') keeps the direct kernels out, in eager as in the plan: the
    eager result is then the im2col product's, which differs from the direct kernel's in
    its last bits."""
    C, K, hw, R, S, stride, pad, dil, N = DIRECT_S2[0]
    conv = nn.Conv2d(C, K, (R, S), stride, pad, dilation=dil).eval()
    x = RNG.standard_normal((N, C) + hw).astype(np.float32)
    out = {}
    for algo in ("auto", "im2col"):
        with conv_algorithm(algo):
            p = dl.jit.trace(conv, [x], dynamic_axes=False).plan(x)
            with dl.no_grad():
                out[algo] = conv(dl.tensor(x)).numpy()
        assert (CONV_DIRECT in [s.op for s in p.steps]) == (algo == "auto")
        np.testing.assert_array_equal(out[algo], p.run([x])[0])
    assert not np.array_equal(out["auto"], out["im2col"])
    assert float(np.abs(out["auto"] - out["im2col"]).max()) <= 1e-5 * float(
        np.abs(out["auto"]).max())


def test_non_finite_inputs_propagate(isa):
    """A NaN or an infinity in the input reaches exactly the outputs whose windows hold it."""
    for case in (DIRECT_S2[0], SMALL_MAP[0], DIRECT_S1[0]):
        C, K, hw, R, S, stride, pad, dil, N = case
        x = RNG.standard_normal((N, C) + hw).astype(np.float32)
        x[0, 0, 3, 4] = np.nan
        w = RNG.standard_normal((K, C, R, S)).astype(np.float32)
        with dl.no_grad():
            got = F.conv2d(dl.tensor(x), dl.tensor(w), None, stride, _pair(pad), dil).numpy()
        mask = np.zeros((N, C) + hw)
        mask[0, 0, 3, 4] = 1
        reach = ref_conv2d(mask, np.ones((K, C, R, S)), None, _pair(stride), _pair(pad),
                           _pair(dil)) > 0
        np.testing.assert_array_equal(np.isnan(got), reach)


@pytest.mark.parametrize("case", [(2, 3, (9, 8), 5, 3, 2, 1, 1, 1),
                                  (9, 70, (3, 3), 3, 3, 2, 1, 1, 1),
                                  (3, 4, (7, 8), 3, 3, 1, 1, 1, 1)])
def test_gradcheck(case):
    """float64 runs the portable paths; the float32 forward above feeds the same backward."""
    C, K, hw, R, S, stride, pad, dil, N = case
    x = dl.tensor(RNG.standard_normal((N, C) + hw), requires_grad=True)
    w = dl.tensor(RNG.standard_normal((K, C, R, S)), requires_grad=True)
    b = dl.tensor(RNG.standard_normal(K), requires_grad=True)
    assert dl.autograd.gradcheck(lambda a, c, d: F.conv2d(a, c, d, stride, _pair(pad), dil),
                                 (x, w, b))


@pytest.mark.parametrize("case", [DIRECT_S2[0], SMALL_MAP[2]])
def test_float32_gradients_after_a_routed_forward(case):
    """x and w gradients of a routed float32 forward against float64 ones."""
    C, K, hw, R, S, stride, pad, dil, N = case
    x = RNG.standard_normal((N, C) + hw)
    w = RNG.standard_normal((K, C, R, S)) / np.sqrt(C * R * S)
    g = RNG.standard_normal(ref_conv2d(x, w, None, _pair(stride), _pair(pad)).shape)
    out = {}
    for dt in (np.float32, np.float64):
        xt = dl.tensor(x.astype(dt), requires_grad=True)
        wt = dl.tensor(w.astype(dt), requires_grad=True)
        y = F.conv2d(xt, wt, None, stride, _pair(pad), dil)
        (y * dl.tensor(g.astype(dt))).sum().backward()
        out[dt] = (xt.grad.numpy(), wt.grad.numpy())
    for a, b in zip(out[np.float32], out[np.float64]):
        assert float(np.abs(a - b).max()) <= 1e-4 * float(np.abs(b).max())
