"""Batch norm: NumPy reference (training and eval), gradcheck, running statistics as
PyTorch keeps them, torch parity, errors."""
import numpy as np
import pytest

import dlcore as dl
import dlcore.nn.functional as F
from _torch_parity import layer_forward_backward


def _t(a, grad=False):
    return dl.tensor(a, requires_grad=grad)


def ref_bn(x, w, b, eps):
    axes = (0,) + tuple(range(2, x.ndim))
    shape = (1, -1) + (1,) * (x.ndim - 2)
    m = x.mean(axis=axes)
    v = x.var(axis=axes)
    y = (x - m.reshape(shape)) / np.sqrt(v.reshape(shape) + eps)
    if w is not None:
        y = y * w.reshape(shape) + b.reshape(shape)
    return y, m, v


@pytest.mark.parametrize("shape", [(7, 5), (4, 3, 9), (3, 4, 5, 7), (2, 300), (1, 2, 3, 1)])
def test_training_forward_and_running_stats(shape, rng, threads):
    x = rng.standard_normal(shape) * 3 + 2
    C = shape[1]
    w, b = rng.standard_normal(C), rng.standard_normal(C)
    rm, rv = _t(rng.standard_normal(C)), _t(rng.random(C) + 0.5)
    rm0, rv0 = rm.numpy().copy(), rv.numpy().copy()
    y = F.batch_norm(_t(x), rm, rv, _t(w), _t(b), training=True, momentum=0.3, eps=1e-3)
    ry, m, v = ref_bn(x, w, b, 1e-3)
    np.testing.assert_allclose(y.numpy(), ry, rtol=1e-10, atol=1e-10)
    n = x.size // C
    np.testing.assert_allclose(rm.numpy(), 0.7 * rm0 + 0.3 * m, rtol=1e-12)
    np.testing.assert_allclose(rv.numpy(), 0.7 * rv0 + 0.3 * v * n / (n - 1), rtol=1e-12)


def test_eval_forward_uses_running_stats(rng):
    x = rng.standard_normal((4, 3, 5, 5))
    rm, rv = rng.standard_normal(3), rng.random(3) + 0.5
    w, b = rng.standard_normal(3), rng.standard_normal(3)
    y = F.batch_norm(_t(x), _t(rm), _t(rv), _t(w), _t(b), training=False, eps=1e-5).numpy()
    sh = (1, 3, 1, 1)
    ref = (x - rm.reshape(sh)) / np.sqrt(rv.reshape(sh) + 1e-5) * w.reshape(sh) + b.reshape(sh)
    np.testing.assert_allclose(y, ref, rtol=1e-12)


@pytest.mark.parametrize("shape", [(6, 4), (3, 2, 5), (2, 3, 3, 4)])
@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize("affine", [True, False])
def test_gradcheck(shape, training, affine, rng):
    C = shape[1]
    x = _t(rng.standard_normal(shape), True)
    w = _t(rng.standard_normal(C), True) if affine else None
    b = _t(rng.standard_normal(C), True) if affine else None
    rm, rv = _t(rng.standard_normal(C)), _t(rng.random(C) + 0.5)
    inputs = (x, w, b) if affine else (x,)

    def f(*a):
        # copies keep the finite differences from drifting the running statistics
        return F.batch_norm(a[0], dl.tensor(rm.numpy().copy()), dl.tensor(rv.numpy().copy()),
                            a[1] if affine else None, a[2] if affine else None,
                            training=training)
    assert dl.autograd.gradcheck(f, inputs)


def test_float32_large_offset_is_stable(isa, threads, rng):
    x = (rng.standard_normal((16, 8, 33)) * 0.01 + 1000.0).astype(np.float32)
    y = F.batch_norm(_t(x), None, None, training=True).numpy()
    ry, _, _ = ref_bn(x.astype(np.float64), None, None, 1e-5)
    np.testing.assert_allclose(y, ry, atol=2e-2)


@pytest.mark.parametrize("momentum", [0.1, None])
def test_batchnorm2d_layer_torch_parity(torch, momentum, rng):
    m = dl.nn.BatchNorm2d(4, momentum=momentum)
    tm = torch.nn.BatchNorm2d(4, momentum=momentum)
    with torch.no_grad():
        tm.weight.uniform_(0.5, 1.5)
        tm.bias.uniform_(-1, 1)
    m.load_state_dict({k: v.detach().numpy() for k, v in tm.state_dict().items()})
    assert list(m.state_dict()) == list(tm.state_dict())
    for step in range(3):
        x = (rng.standard_normal((3, 4, 5, 6)) * 2 + step).astype(np.float32)
        layer_forward_backward(m, tm, x, rng, 1e-4, 1e-5, 1e-4, 1e-4)
    np.testing.assert_allclose(m.weight.grad.numpy(), tm.weight.grad.numpy(), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(m.bias.grad.numpy(), tm.bias.grad.numpy(), rtol=1e-4, atol=1e-4)
    for k, v in tm.state_dict().items():
        np.testing.assert_allclose(m.state_dict()[k].numpy(), v.numpy(), rtol=1e-5, atol=1e-6)
    m.eval()
    tm.eval()
    x = rng.standard_normal((2, 4, 5, 6)).astype(np.float32)
    xt, tx = _t(x, True), torch.tensor(x, requires_grad=True)
    y, ty = m(xt), tm(tx)
    np.testing.assert_allclose(y.numpy(), ty.detach().numpy(), rtol=1e-4, atol=1e-5)
    y.sum().backward()
    ty.sum().backward()
    np.testing.assert_allclose(xt.grad.numpy(), tx.grad.numpy(), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("shape", [(8, 5), (4, 5, 7)])
def test_batchnorm1d_no_affine_no_tracking_torch_parity(torch, shape, rng):
    m = dl.nn.BatchNorm1d(5, affine=False, track_running_stats=False)
    tm = torch.nn.BatchNorm1d(5, affine=False, track_running_stats=False)
    assert list(m.state_dict()) == list(tm.state_dict()) == []
    x = rng.standard_normal(shape).astype(np.float32)
    for mode in ("train", "eval"):
        getattr(m, mode)()
        getattr(tm, mode)()
        xt, tx = _t(x, True), torch.tensor(x, requires_grad=True)
        y, ty = m(xt), tm(tx)
        np.testing.assert_allclose(y.numpy(), ty.detach().numpy(), rtol=1e-4, atol=1e-5)
        (y * y).sum().backward()
        (ty * ty).sum().backward()
        np.testing.assert_allclose(xt.grad.numpy(), tx.grad.numpy(), rtol=1e-3, atol=1e-4)


def test_bad_inputs():
    bn = dl.nn.BatchNorm2d(3)
    with pytest.raises(ValueError, match=r"expected 4-D input, got shape \(2, 3\)"):
        bn(dl.zeros(2, 3))
    with pytest.raises(ValueError, match=r"expected 3 channels .* \(2, 4, 5, 5\)"):
        bn(dl.zeros(2, 4, 5, 5))
    with pytest.raises(ValueError, match="more than 1 value per channel"):
        dl.nn.BatchNorm1d(3)(dl.zeros(1, 3))
    with pytest.raises(ValueError, match=r"running_mean must have shape \(3,\)"):
        F.batch_norm(dl.zeros(2, 3), dl.zeros(4), dl.ones(4))
    with pytest.raises(ValueError, match="needed when training=False"):
        F.batch_norm(dl.zeros(2, 3), None, None, training=False)
    with pytest.raises(ValueError, match="num_features"):
        dl.nn.BatchNorm2d(0)


@pytest.mark.parametrize("C", [1, 7, 256, 300, 3136])
@pytest.mark.parametrize("training", [True, False])
def test_batchnorm1d_2d_input_backward_matches_numpy(threads, C, training):
    """BatchNorm1d on (N, C) (the row-walking backward, channels in blocks of 256) against
    the NumPy formulas in float64, every gradient, training and eval; float64 by finite
    differences on a block boundary."""
    rng = np.random.default_rng(C)
    N = 6
    x = rng.standard_normal((N, C)) * 2 + 0.5
    w, b = rng.standard_normal(C), rng.standard_normal(C)
    gy = rng.standard_normal((N, C))
    rm, rv = rng.standard_normal(C), rng.uniform(0.5, 2, C)
    eps = 1e-5
    if training:
        mean, var = x.mean(0), x.var(0)
    else:
        mean, var = rm, rv
    inv = 1 / np.sqrt(var + eps)
    xhat = (x - mean) * inv
    want_gw, want_gb = (gy * xhat).sum(0), gy.sum(0)
    if training:
        want_gx = w * inv * (gy - gy.mean(0) - xhat * (gy * xhat).mean(0))
    else:
        want_gx = gy * w * inv
    for dtype, tol in ((np.float32, 2e-4), (np.float64, 1e-10)):
        xt, wt, bt = (dl.tensor(a.astype(dtype), requires_grad=True) for a in (x, w, b))
        y = F.batch_norm(xt, dl.tensor(rm.astype(dtype)), dl.tensor(rv.astype(dtype)), wt, bt,
                         training=training, eps=eps)
        y.backward(dl.tensor(gy.astype(dtype)))
        for got, want in ((xt, want_gx), (wt, want_gw), (bt, want_gb)):
            np.testing.assert_allclose(got.grad.numpy(), want, rtol=tol,
                                       atol=tol * max(1.0, np.abs(want).max()))
    if C in (7, 300):
        xt, wt, bt = (dl.tensor(a, requires_grad=True) for a in (x, w, b))
        assert dl.autograd.gradcheck(
            lambda a, c, d: F.batch_norm(a, None, None, c, d, training=True), (xt, wt, bt))


@pytest.mark.parametrize("shape", [(2, 5), (3, 4, 1), (2, 3, 7)])
def test_float32_training_near_constant_channel_keeps_its_precision(isa, threads, shape, rng):
    """Found by the fuzzer: BatchNorm1d on two identical rows of ~30 in float32 gave the bias
    +-1.4e-3 (torch: within 1e-6).  The kernel applied y = x * a + (bias - mean * a) with
    a = w / sqrt(var + eps) ~ 316 w, so both terms were ~1e4 and their difference kept only
    ~1e-3 of precision; the output must be (x - mean) * a + bias."""
    C = shape[1]
    row = (rng.standard_normal((1,) + shape[1:]) * 30).astype(np.float32)
    x = np.repeat(row, shape[0], axis=0)       # every channel constant over the batch...
    if len(shape) == 3 and shape[2] > 1:
        x[:, :, 1:] = x[:, :, :1]              # ... and over L
    w = rng.standard_normal(C).astype(np.float32)
    b = rng.standard_normal(C).astype(np.float32)
    y = F.batch_norm(_t(x), None, None, _t(w), _t(b), training=True).numpy()
    want = np.broadcast_to(b.reshape((1, C) + (1,) * (len(shape) - 2)), x.shape)
    np.testing.assert_allclose(y, want, rtol=0, atol=1e-6)
    # a large offset with a small spread: float32 output close to float64
    x = (rng.standard_normal(shape) * 0.01 + 1000.0).astype(np.float32)
    y = F.batch_norm(_t(x), None, None, _t(w), _t(b), training=True).numpy()
    ry, _, _ = ref_bn(x.astype(np.float64), w.astype(np.float64), b.astype(np.float64), 1e-5)
    np.testing.assert_allclose(y, ry, rtol=0, atol=2e-3 * max(1.0, np.abs(ry).max()))


def test_batch_norm_of_equal_huge_values_is_the_bias():
    """Two equal rows of 1e30: x - mean is exactly 0, so the output is the bias (torch's
    float64 one-pass answer, 4.7e14, is lost to cancellation; the fuzz oracle knows)."""
    x = np.full((2, 1), 1e30)
    y = dl.nn.functional.batch_norm(dl.tensor(x), None, None, dl.tensor(np.array([1.5])),
                                    dl.tensor(np.array([-0.25])), training=True, eps=1e-5)
    np.testing.assert_array_equal(y.numpy(), np.full((2, 1), -0.25))


@pytest.mark.parametrize("shape", [(2, 3136), (3, 5), (2, 7, 1), (64, 300, 1)])
def test_batchnorm1d_one_value_per_channel_torch_parity(torch, shape, rng):
    """BatchNorm1d where each channel has one value per sample ((N, C) with a small N, or
    (N, C, 1)), as DCGAN's projection uses it: output, every gradient and the running
    statistics after two training steps match torch's, then eval mode on those statistics."""
    C = shape[1]
    m, tm = dl.nn.BatchNorm1d(C), torch.nn.BatchNorm1d(C)
    w = rng.standard_normal(C).astype(np.float32)
    b = rng.standard_normal(C).astype(np.float32)
    m.load_state_dict({"weight": w, "bias": b, "running_mean": np.zeros(C, np.float32),
                       "running_var": np.ones(C, np.float32), "num_batches_tracked": np.array(0)})
    tm.weight.data = torch.tensor(w)
    tm.bias.data = torch.tensor(b)
    for mode in ("train", "train", "eval"):
        getattr(m, mode)()
        getattr(tm, mode)()
        x = (rng.standard_normal(shape) * 2 + 0.5).astype(np.float32)
        gy = rng.standard_normal(shape).astype(np.float32)
        xt, tx = _t(x, True), torch.tensor(x, requires_grad=True)
        m.weight.grad = m.bias.grad = None
        tm.zero_grad()
        y, ty = m(xt), tm(tx)
        y.backward(dl.tensor(gy))
        ty.backward(torch.tensor(gy))
        np.testing.assert_allclose(y.numpy(), ty.detach().numpy(), rtol=1e-4, atol=1e-4)
        np.testing.assert_allclose(xt.grad.numpy(), tx.grad.numpy(), rtol=1e-3, atol=1e-3)
        np.testing.assert_allclose(m.weight.grad.numpy(), tm.weight.grad.numpy(), rtol=1e-4,
                                   atol=1e-3)
        np.testing.assert_allclose(m.bias.grad.numpy(), tm.bias.grad.numpy(), rtol=1e-4,
                                   atol=1e-4)
        np.testing.assert_allclose(m.running_mean.numpy(), tm.running_mean.numpy(), rtol=1e-5,
                                   atol=1e-6)
        np.testing.assert_allclose(m.running_var.numpy(), tm.running_var.numpy(), rtol=1e-5,
                                   atol=1e-6)


@pytest.mark.parametrize("shape", [(64, 3136), (1000, 37), (33, 300), (3, 257)])
def test_batchnorm1d_float32_statistics_match_float64(isa, threads, shape, rng):
    """BatchNorm1d (L == 1) sums float32 blocks of rows into double totals: the batch mean and
    variance, the output and the running statistics against float64 ones, on odd sizes with
    a large offset and a small spread (the second pass on x - mean keeps the variance's
    digits) and several blocks of rows."""
    C = shape[1]
    x = (rng.standard_normal(shape) * 0.05 + rng.uniform(-300, 300, C)).astype(np.float32)
    w = rng.standard_normal(C).astype(np.float32)
    b = rng.standard_normal(C).astype(np.float32)
    rm, rv = _t(np.zeros(C, np.float32)), _t(np.ones(C, np.float32))
    y = F.batch_norm(_t(x), rm, rv, _t(w), _t(b), training=True, momentum=1.0).numpy()
    x64 = x.astype(np.float64)
    ry, m, v = ref_bn(x64, w.astype(np.float64), b.astype(np.float64), 1e-5)
    n = shape[0]
    np.testing.assert_allclose(rm.numpy(), m, rtol=1e-6, atol=0)
    # variance to ~1e-4 of itself: x's float32 rounding of values ~300 is 1.5e-5 (of a 0.05 spread)
    np.testing.assert_allclose(rv.numpy(), v * n / (n - 1), rtol=1e-4)
    np.testing.assert_allclose(y, ry, rtol=0, atol=5e-4 * np.abs(ry).max())
