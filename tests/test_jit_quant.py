"""Quantized models through dl.jit: a quantize_dynamic'd model's int8 Linear layers and a
statically quantized model's QLinear become native plan steps (DL_PLAN_QLINEAR), whose
outputs equal the eager quantized model's bit for bit (same kernels, same quantization)."""
import numpy as np
import pytest

import dlcore as dl
from dlcore import nn


def mlp():
    dl.manual_seed(0)
    return nn.Sequential(nn.Linear(13, 37), nn.ReLU(), nn.Linear(37, 33), nn.GELU(),
                         nn.Linear(33, 7)).eval()


def eager(model, x):
    with dl.no_grad():
        return model(dl.tensor(x)).numpy()


@pytest.mark.parametrize("granularity", ["per_row", "per_tensor"])
def test_dynamic_int8_linear_runs_natively_in_the_plan(granularity, isa, threads, rng):
    q = dl.quantization.quantize_dynamic(mlp())
    for m in q.modules():
        if hasattr(m, "granularity"):
            m.granularity = granularity
    x = rng.standard_normal((5, 13)).astype(np.float32)
    tr = dl.jit.trace(q, x)
    p = tr.plan(x)
    assert p.n_python_steps == 0
    assert str(p).count("QLINEAR") == 3
    np.testing.assert_array_equal(p(x)[0], eager(q, x))
    # another batch size (a new plan), odd and larger than a row block
    x2 = rng.standard_normal((101, 13)).astype(np.float32)
    np.testing.assert_array_equal(tr(x2).numpy(), eager(q, x2))
    # and the quantized plan stays close to the float model
    f = eager(mlp(), x2)
    assert np.abs(tr(x2).numpy() - f).max() < 0.05 * np.abs(f).max()


@pytest.mark.parametrize("reduce_range", [False, True])
def test_dynamic_linears_fuse_activations_and_hand_over_quantized_rows(reduce_range, isa,
                                                                       threads, rng):
    """Relu and Gelu go into the int8 epilogues (fuse_qlinear_act); a Linear read only by
    the next dynamic Linear writes its rows already quantized (DL_QLIN_QROWS): bit for bit
    the eager model, over more rows than one work chunk."""
    q = dl.quantization.quantize_dynamic(mlp(), reduce_range=reduce_range)
    x = rng.standard_normal((397, 13)).astype(np.float32)
    p = dl.jit.trace(q, x).plan(x)
    labels = [s.label for s in p.steps]
    assert labels == ["QLinear"] * 3, labels
    modes = [(s.ints[3], s.ints[4], s.ints[10]) for s in p.steps]
    # relu in the first, rows out of the first and second, rows into the second and third
    assert modes == [(0, 1, 1), (3, 2, 1), (3, 0, 0)], modes
    np.testing.assert_array_equal(p(x)[0], eager(q, x))
    x[7, 3] = np.nan
    got = p(x)[0]
    np.testing.assert_array_equal(got, eager(q, x))
    assert np.isnan(got[7]).all() and np.isfinite(np.delete(got, 7, axis=0)).all()


def test_a_linear_read_twice_keeps_its_float_result(rng):
    class Two(nn.Module):
        def __init__(self):
            super().__init__()
            self.a, self.b, self.c = nn.Linear(9, 11), nn.Linear(11, 5), nn.Linear(11, 5)

        def forward(self, x):
            h = self.a(x)
            return self.b(h) + self.c(h)

    dl.manual_seed(1)
    q = dl.quantization.quantize_dynamic(Two().eval())
    x = rng.standard_normal((6, 9)).astype(np.float32)
    p = dl.jit.trace(q, x).plan(x)
    assert all(s.ints[10] == 0 for s in p.steps if s.label == "QLinear")
    np.testing.assert_allclose(p(x)[0], eager(q, x), rtol=1e-6, atol=1e-6)


def test_dynamic_int8_linear_nonfinite_input_in_the_plan():
    q = dl.quantization.quantize_dynamic(mlp())
    x = np.ones((3, 13), np.float32)
    tr = dl.jit.trace(q, x)
    x[1, 4] = np.nan
    got = tr(x).numpy()
    np.testing.assert_array_equal(got, eager(q, x))
    assert np.isnan(got[1]).all() and np.isfinite(got[[0, 2]]).all()


def test_static_qlinear_runs_natively_in_the_plan(rng):
    dl.manual_seed(1)
    m = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1),
                      nn.Flatten(), nn.Linear(8, 6), nn.ReLU(), nn.Linear(6, 5)).eval()
    calib = [rng.standard_normal((2, 3, 11, 11)).astype(np.float32) for _ in range(3)]
    qm = dl.quantization.quantize_static(m, calib)
    x = rng.standard_normal((3, 3, 11, 11)).astype(np.float32)
    tr = dl.jit.trace(qm, x)
    p = tr.plan(x)
    assert str(p).count("QLINEAR") == 2
    np.testing.assert_array_equal(p(x)[0], eager(qm, x))


class _Block(nn.Module):
    """conv-bn-relu, a depthwise conv, a residual add, max pooling: the static path's ops."""

    def __init__(self):
        super().__init__()
        self.c1 = nn.Conv2d(3, 12, 3, padding=1)
        self.b1 = nn.BatchNorm2d(12)
        self.dw = nn.Conv2d(12, 12, 3, padding=1, groups=12)
        self.pw = nn.Conv2d(12, 12, 1)
        self.pool = nn.MaxPool2d(2)
        self.head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(12, 5))

    def forward(self, x):
        y = nn.functional.relu(self.b1(self.c1(x)))
        y = y + self.pw(nn.functional.relu(self.dw(y)))
        return self.head(self.pool(y))


def test_static_cnn_runs_natively_in_the_plan(isa, threads, rng):
    dl.manual_seed(2)
    m = _Block().eval()
    calib = [rng.standard_normal((2, 3, 13, 15)).astype(np.float32) for _ in range(3)]
    qm = dl.quantization.quantize_static(m, calib)
    x = rng.standard_normal((3, 3, 13, 15)).astype(np.float32)
    x[0, 1, 2, 3], x[1, 0, 0, 0], x[2, 2, 5, 5] = np.nan, np.inf, -np.inf
    tr = dl.jit.trace(qm, x)
    p = tr.plan(x)
    text = str(p)
    for op in ("QUANTIZE", "QCONV", "QADD", "QMAXPOOL", "QAVGPOOL", "QLINEAR"):
        assert op in text, op
    assert p.n_python_steps == 0
    np.testing.assert_array_equal(p(x)[0], eager(qm, x))
    x2 = rng.standard_normal((1, 3, 13, 15)).astype(np.float32)
    np.testing.assert_array_equal(tr(x2).numpy(), eager(qm, x2))


@pytest.mark.parametrize("size", [(2, 3), (3, 1), (7, 11)])
def test_quantized_pooling_steps_match_the_functions(size, rng):
    """QAVGPOOL (uneven windows, mean rounded half to even) and QMAXPOOL against the eager
    Functions, on an odd-sized input."""
    from dlcore.ops.qconv import qadaptive_avg_pool2d, qmax_pool2d
    from dlcore.ops.qtensor import quantize_per_tensor

    def f(x):
        q = quantize_per_tensor(x, 0.05, 100)
        a = qadaptive_avg_pool2d(q, size).dequantize()
        m = qmax_pool2d(q, 3, stride=2, padding=1).dequantize()
        return a, m

    x = rng.standard_normal((2, 5, 7, 11)).astype(np.float32)
    tr = dl.jit.trace(f, x)
    p = tr.plan(x)
    assert p.n_python_steps == 0 and "QAVGPOOL" in str(p) and "QMAXPOOL" in str(p)
    with dl.no_grad():
        want = [t.numpy() for t in f(dl.tensor(x))]
    for got, w in zip(p(x), want):
        np.testing.assert_array_equal(got, w)


@pytest.mark.parametrize("shape", [(2, 3, 19, 29), (1, 16, 5, 53), (1, 17, 4, 5), (2, 1, 3, 300)])
def test_quantize_dequantize_steps_match_the_functions(shape, isa, rng):
    """QUANTIZE (NCHW floats -> NHWC codes: blocks of 256 positions with a tail for up to 16
    channels, a per-position loop above) and DEQUANTIZE against the eager Functions, with
    values past both ends of the u8 range and non-finite ones."""
    from dlcore.ops.qtensor import quantize_per_tensor

    def f(x):
        q = quantize_per_tensor(x, 0.1, 77)
        return q.int_repr(), q.dequantize()

    x = (rng.standard_normal(shape) * 12).astype(np.float32)
    x.flat[::37] = np.nan
    x.flat[5::41] = np.inf
    x.flat[7::43] = -np.inf
    x.flat[9::47] = 0.1 * 0.5          # a rounding tie: rint(0.5) = 0
    tr = dl.jit.trace(f, x)
    p = tr.plan(x)
    assert p.n_python_steps == 0 and "QUANTIZE" in str(p) and "DEQUANTIZE" in str(p)
    with dl.no_grad():
        want = [t.numpy() for t in f(dl.tensor(x))]
    got = p(x)
    for g, w in zip(got, want):
        np.testing.assert_array_equal(g, w)
    assert (want[0] == 0).any() and (want[0] == 255).any()
