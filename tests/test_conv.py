"""conv2d / conv_transpose2d / conv1d: NumPy reference, gradcheck, every ISA path and thread
count, torch parity on loaded weights, and clear errors on bad input."""
import math

import numpy as np
import pytest

import dlcore as dl
from dlcore import _C
import dlcore.nn.functional as F
from _torch_parity import layer_forward_backward


def ref_conv2d(x, w, b=None, stride=(1, 1), pad=(0, 0), dil=(1, 1), groups=1, out_hw=None):
    """Direct conv2d: a loop over kernel taps and groups, each tap one einsum."""
    N, C, H, W = x.shape
    K, Cg, R, S = w.shape
    sh, sw = stride
    dh, dw = dil
    if out_hw is None:
        out_hw = ((H + 2 * pad[0] - dh * (R - 1) - 1) // sh + 1,
                  (W + 2 * pad[1] - dw * (S - 1) - 1) // sw + 1)
    OH, OW = out_hw
    big = max(sh * OH, dh * R) + max(sw * OW, dw * S) + H + W
    xp = np.pad(x, ((0, 0), (0, 0), (pad[0], big), (pad[1], big)))
    y = np.zeros((N, K, OH, OW), dtype=np.float64)
    Kg = K // groups
    for g in range(groups):
        xg = xp[:, g * Cg:(g + 1) * Cg]
        for r in range(R):
            for s in range(S):
                patch = xg[:, :, r * dh: r * dh + sh * (OH - 1) + 1: sh,
                           s * dw: s * dw + sw * (OW - 1) + 1: sw]
                y[:, g * Kg:(g + 1) * Kg] += np.einsum("nchw,kc->nkhw", patch,
                                                       w[g * Kg:(g + 1) * Kg, :, r, s])
    if b is not None:
        y += b[None, :, None, None]
    return y


def ref_conv_transpose2d(x, w, b=None, stride=(1, 1), pad=(0, 0), opad=(0, 0), groups=1,
                         dil=(1, 1)):
    """Direct transposed convolution: every input pixel scatters its kernel-weighted copy."""
    N, C, H, W = x.shape
    _, Kg, R, S = w.shape
    sh, sw = stride
    dh, dw = dil
    OH = (H - 1) * sh - 2 * pad[0] + dh * (R - 1) + opad[0] + 1
    OW = (W - 1) * sw - 2 * pad[1] + dw * (S - 1) + opad[1] + 1
    full = np.zeros((N, Kg * groups, (H - 1) * sh + dh * (R - 1) + 1 + opad[0],
                     (W - 1) * sw + dw * (S - 1) + 1 + opad[1]))
    Cg = C // groups
    for g in range(groups):
        for r in range(R):
            for s in range(S):
                full[:, g * Kg:(g + 1) * Kg, r * dh: r * dh + sh * (H - 1) + 1: sh,
                     s * dw: s * dw + sw * (W - 1) + 1: sw] += np.einsum(
                         "nchw,ck->nkhw", x[:, g * Cg:(g + 1) * Cg], w[g * Cg:(g + 1) * Cg, :, r, s])
    y = full[:, :, pad[0]: pad[0] + OH, pad[1]: pad[1] + OW]
    if b is not None:
        y = y + b[None, :, None, None]
    return y


# (N, C, H, W, K, (R, S), stride, padding, dilation, groups): stride x padding x dilation x
# groups, odd sizes, kernel = input size, 1x1, batch 1, depthwise with multipliers
CASES = [
    (2, 3, 7, 9, 4, (3, 3), (1, 1), (1, 1), (1, 1), 1),
    (1, 4, 8, 5, 6, (1, 1), (1, 1), (0, 0), (1, 1), 2),
    (3, 4, 9, 9, 8, (3, 2), (2, 1), (1, 0), (2, 1), 2),
    (2, 6, 11, 10, 6, (3, 3), (1, 1), (1, 1), (1, 1), 6),
    (2, 5, 11, 10, 10, (3, 3), (2, 2), (1, 2), (1, 2), 5),
    (1, 3, 9, 7, 6, (5, 5), (1, 1), (2, 2), (2, 1), 3),
    (2, 1, 12, 13, 3, (5, 5), (1, 1), (0, 0), (1, 1), 1),
    (1, 3, 5, 6, 2, (5, 6), (1, 1), (0, 0), (1, 1), 1),
    (2, 4, 6, 7, 4, (1, 1), (2, 3), (0, 0), (1, 1), 1),
    (1, 2, 4, 4, 3, (2, 2), (3, 3), (1, 1), (1, 1), 1),
]


def _t(a, grad=False):
    return dl.tensor(a, requires_grad=grad)


@pytest.mark.parametrize("case", CASES)
def test_conv2d_matches_reference(case, rng):
    N, C, H, W, K, (R, S), st, pd, dil, g = case
    x = rng.standard_normal((N, C, H, W))
    w = rng.standard_normal((K, C // g, R, S))
    b = rng.standard_normal(K)
    y = F.conv2d(_t(x), _t(w), _t(b), st, pd, dil, g)
    np.testing.assert_allclose(y.numpy(), ref_conv2d(x, w, b, st, pd, dil, g), rtol=1e-10,
                               atol=1e-10)


@pytest.mark.parametrize("case", CASES[::2] + [CASES[3], CASES[7]])
def test_conv2d_gradcheck(case, rng):
    N, C, H, W, K, (R, S), st, pd, dil, g = case
    N = 1 if H * W > 60 else N
    x = _t(rng.standard_normal((N, C, H, W)), True)
    w = _t(rng.standard_normal((K, C // g, R, S)), True)
    b = _t(rng.standard_normal(K), True)
    assert dl.autograd.gradcheck(lambda a, c, d: F.conv2d(a, c, d, st, pd, dil, g), (x, w, b))


@pytest.mark.parametrize("groups", [1, 3])
def test_conv2d_paths_every_isa_and_thread_count(isa, threads, groups, rng):
    """float32 on each SIMD path: the depthwise kernel (groups == C, with multiplier 2, odd
    widths for the vector tails, stride 2 and dilation), the GEMM path, the 1x1 path."""
    C = 3
    x = rng.standard_normal((3, C, 19, 37)).astype(np.float32)
    for K, (R, S), st, pd, dil in [(2 * C, (3, 3), (1, 1), (1, 1), (1, 1)),
                                   (C, (3, 5), (1, 1), (2, 1), (2, 1)),
                                   (C, (3, 3), (2, 2), (1, 1), (1, 1)),
                                   (2 * C, (1, 1), (1, 1), (0, 0), (1, 1))]:
        g = C if groups == 3 else 1
        w = rng.standard_normal((K, C // g, R, S)).astype(np.float32)
        b = rng.standard_normal(K).astype(np.float32)
        xt, wt, bt = _t(x, True), _t(w, True), _t(b, True)
        y = F.conv2d(xt, wt, bt, st, pd, dil, g)
        ref = ref_conv2d(x.astype(np.float64), w.astype(np.float64), b, st, pd, dil, g)
        np.testing.assert_allclose(y.numpy(), ref, rtol=1e-4, atol=1e-4)
        gy = rng.standard_normal(y.shape).astype(np.float32)
        y.backward(dl.tensor(gy))
        # gradients from the float64 kernels (checked by gradcheck) as the reference
        x64, w64, b64 = _t(x.astype(np.float64), True), _t(w.astype(np.float64), True), \
            _t(b.astype(np.float64), True)
        F.conv2d(x64, w64, b64, st, pd, dil, g).backward(dl.tensor(gy.astype(np.float64)))
        for got, want in ((xt, x64), (wt, w64), (bt, b64)):
            np.testing.assert_allclose(got.grad.numpy(), want.grad.numpy(), rtol=1e-4, atol=2e-3)


def test_depthwise_nan_inf_stay_where_they_belong(isa):
    """An inf in an input column that only the (masked) tail lanes would touch must not turn
    the weight gradient into NaN; a NaN in the input reaches exactly the outputs it feeds."""
    x = np.zeros((1, 2, 5, 20), np.float32)
    x[0, 0, 2, 19] = np.inf
    w = np.ones((2, 1, 1, 1), np.float32)
    xt, wt = _t(x), _t(w, True)
    y = F.conv2d(xt, wt, None, 1, 0, 1, 2)
    gy = np.ones(y.shape, np.float32)
    gy[0, 0, 2, 19] = 0.0
    y.backward(dl.tensor(gy))
    assert np.isnan(wt.grad.numpy()[0, 0, 0, 0])  # 0 * inf at the pixel itself: IEEE NaN
    x2 = x.copy()
    x2[0, 0, 2, 19] = 0.0
    x2[0, 1, 1, 3] = np.nan
    y2 = F.conv2d(_t(x2), _t(np.ones((2, 1, 3, 3), np.float32)), None, 1, 1, 1, 2).numpy()
    assert np.isnan(y2[0, 1, 0:3, 2:5]).all()
    assert np.isnan(y2[0, 1]).sum() == 9 and not np.isnan(y2[0, 0]).any()


def test_conv2d_tiled_workspace_matches(threads, rng):
    """A tiny column budget forces many position tiles per image (and threads split tiles)."""
    x = rng.standard_normal((3, 4, 13, 11))
    w = rng.standard_normal((5, 4, 3, 3))
    b = rng.standard_normal(5)
    prev = _C.conv_workspace_limit()
    try:
        _C.conv_workspace_limit(4 * 36 * 8 * 16)  # 16 columns of Kc = 36 doubles
        xt, wt, bt = _t(x, True), _t(w, True), _t(b, True)
        y = F.conv2d(xt, wt, bt, 2, 1)
        y.backward(dl.tensor(np.ones(y.shape)))
        tiled = (y.numpy(), xt.grad.numpy(), wt.grad.numpy(), bt.grad.numpy())
    finally:
        _C.conv_workspace_limit(0)
    assert _C.conv_workspace_limit() == prev
    xt, wt, bt = _t(x, True), _t(w, True), _t(b, True)
    y = F.conv2d(xt, wt, bt, 2, 1)
    y.backward(dl.tensor(np.ones(y.shape)))
    np.testing.assert_allclose(tiled[0], ref_conv2d(x, w, b, (2, 2), (1, 1)), atol=1e-10)
    for a, t in zip(tiled[1:], (xt, wt, bt)):
        np.testing.assert_allclose(a, t.grad.numpy(), atol=1e-10)


def test_conv2d_same_and_valid_padding(rng):
    x = rng.standard_normal((2, 2, 7, 8))
    for R, S, dil in [(3, 3, 1), (4, 2, 1), (2, 3, 2)]:
        w = rng.standard_normal((3, 2, R, S))
        y = F.conv2d(_t(x), _t(w), padding="same", dilation=dil).numpy()
        assert y.shape == (2, 3, 7, 8)
        th, tw_ = dil * (R - 1), dil * (S - 1)
        xp = np.pad(x, ((0, 0), (0, 0), (th // 2, th - th // 2), (tw_ // 2, tw_ - tw_ // 2)))
        np.testing.assert_allclose(y, ref_conv2d(xp, w, dil=(dil, dil)), atol=1e-10)
        xt, wt = _t(x, True), _t(w, True)
        assert dl.autograd.gradcheck(lambda a, c: F.conv2d(a, c, padding="same", dilation=dil),
                                     (_t(x[:1, :, :4, :5], True), wt))
    y = F.conv2d(_t(x), _t(rng.standard_normal((3, 2, 3, 3))), padding="valid")
    assert y.shape == (2, 3, 5, 6)


TCASES = [
    (2, 4, 5, 6, 3, (3, 3), (2, 2), (1, 1), (1, 1), 1, (1, 1)),
    (1, 4, 4, 3, 4, (3, 2), (2, 3), (0, 1), (1, 2), 2, (2, 1)),
    (2, 3, 3, 4, 6, (2, 2), (1, 1), (0, 0), (0, 0), 3, (1, 1)),
    (1, 2, 5, 5, 2, (1, 1), (1, 1), (0, 0), (0, 0), 1, (1, 1)),
    (2, 2, 4, 4, 4, (4, 4), (2, 2), (1, 1), (0, 0), 1, (1, 1)),
]


@pytest.mark.parametrize("case", TCASES)
def test_conv_transpose2d_reference_and_gradcheck(case, rng):
    N, C, H, W, K, (R, S), st, pd, op, g, dil = case
    x = rng.standard_normal((N, C, H, W))
    w = rng.standard_normal((C, K // g, R, S))
    b = rng.standard_normal(K)
    y = F.conv_transpose2d(_t(x), _t(w), _t(b), st, pd, op, g, dil)
    np.testing.assert_allclose(y.numpy(), ref_conv_transpose2d(x, w, b, st, pd, op, g, dil),
                               atol=1e-10)
    xt = _t(x[:1, :, :3, :3], True)
    assert dl.autograd.gradcheck(
        lambda a, c, d: F.conv_transpose2d(a, c, d, st, pd, op, g, dil),
        (xt, _t(w, True), _t(b, True)))


def test_conv1d_reference_and_gradcheck(rng):
    x = rng.standard_normal((2, 4, 11))
    w = rng.standard_normal((6, 2, 3))
    b = rng.standard_normal(6)
    y = F.conv1d(_t(x), _t(w), _t(b), stride=2, padding=1, dilation=2, groups=2)
    ref = ref_conv2d(x[:, :, None], w[:, :, None], b, (1, 2), (0, 1), (1, 2), 2)[:, :, 0]
    np.testing.assert_allclose(y.numpy(), ref, atol=1e-10)
    assert dl.autograd.gradcheck(lambda a, c: F.conv1d(a, c, None, 1, "same"),
                                 (_t(x[:1], True), _t(rng.standard_normal((3, 4, 4)), True)))


def test_unbatched_input(rng):
    x = rng.standard_normal((3, 6, 6))
    w = rng.standard_normal((2, 3, 3, 3))
    y = F.conv2d(_t(x), _t(w), padding=1)
    assert y.shape == (2, 6, 6)
    np.testing.assert_allclose(y.numpy(), ref_conv2d(x[None], w, pad=(1, 1))[0], atol=1e-10)


def test_layers_init_shapes_and_state_dict():
    dl.manual_seed(3)
    m = dl.nn.Conv2d(6, 8, (3, 5), groups=2)
    assert m.weight.shape == (8, 3, 3, 5) and m.bias.shape == (8,)
    bound = 1 / math.sqrt(3 * 15)
    assert np.abs(m.weight.numpy()).max() <= bound and np.abs(m.weight.numpy()).max() > 0.8 * bound
    assert np.abs(m.bias.numpy()).max() <= bound
    t = dl.nn.ConvTranspose2d(4, 6, 3, groups=2)
    assert t.weight.shape == (4, 3, 3, 3)
    assert list(t.state_dict()) == ["weight", "bias"]
    assert dl.nn.Conv1d(2, 3, 4, bias=False).weight.shape == (3, 2, 4)


@pytest.mark.parametrize("mode", ["zeros", "reflect", "replicate", "circular"])
def test_conv2d_layer_torch_parity(torch, mode, rng):
    m = dl.nn.Conv2d(4, 6, 3, stride=(1, 2), padding=(1, 2), groups=2, padding_mode=mode)
    tm = torch.nn.Conv2d(4, 6, 3, stride=(1, 2), padding=(1, 2), groups=2, padding_mode=mode)
    m.load_state_dict({k: v.detach().numpy() for k, v in tm.state_dict().items()})
    x = rng.standard_normal((2, 4, 9, 10)).astype(np.float32)
    layer_forward_backward(m, tm, x, rng, 1e-4, 1e-5, 1e-4, 1e-5)
    np.testing.assert_allclose(m.weight.grad.numpy(), tm.weight.grad.numpy(), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(m.bias.grad.numpy(), tm.bias.grad.numpy(), rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("cfg", [dict(kernel_size=3, stride=2, padding=1, output_padding=1),
                                 dict(kernel_size=(2, 3), stride=(2, 1), groups=2, dilation=2,
                                      bias=False),
                                 dict(kernel_size=4, stride=2, padding=1)])
def test_conv_transpose2d_layer_torch_parity(torch, cfg, rng):
    m = dl.nn.ConvTranspose2d(4, 6, **cfg)
    tm = torch.nn.ConvTranspose2d(4, 6, **cfg)
    m.load_state_dict({k: v.detach().numpy() for k, v in tm.state_dict().items()})
    x = rng.standard_normal((2, 4, 5, 7)).astype(np.float32)
    layer_forward_backward(m, tm, x, rng, 1e-4, 1e-5, 1e-4, 1e-4)
    np.testing.assert_allclose(m.weight.grad.numpy(), tm.weight.grad.numpy(), rtol=1e-4, atol=1e-4)


def test_conv_transpose2d_output_size(torch, rng):
    m = dl.nn.ConvTranspose2d(2, 3, 3, stride=2, padding=1)
    x = _t(rng.standard_normal((1, 2, 4, 4)).astype(np.float32))
    assert m(x, output_size=(8, 8)).shape == (1, 3, 8, 8)
    assert m(x).shape == (1, 3, 7, 7)
    with pytest.raises(ValueError, match="not reachable"):
        m(x, output_size=(10, 10))


def test_conv1d_layer_torch_parity(torch, rng):
    m = dl.nn.Conv1d(3, 4, 5, stride=2, padding=2, dilation=1)
    tm = torch.nn.Conv1d(3, 4, 5, stride=2, padding=2, dilation=1)
    m.load_state_dict({k: v.detach().numpy() for k, v in tm.state_dict().items()})
    x = rng.standard_normal((2, 3, 17)).astype(np.float32)
    xt, tx = _t(x, True), torch.tensor(x, requires_grad=True)
    y, ty = m(xt), tm(tx)
    np.testing.assert_allclose(y.numpy(), ty.detach().numpy(), rtol=1e-4, atol=1e-5)
    y.sum().backward()
    ty.sum().backward()
    np.testing.assert_allclose(m.weight.grad.numpy(), tm.weight.grad.numpy(), rtol=1e-4, atol=1e-4)


def test_bad_inputs_raise_clear_errors(rng):
    x = _t(rng.standard_normal((2, 4, 5, 5)).astype(np.float32))
    w = _t(rng.standard_normal((6, 2, 3, 3)).astype(np.float32))
    with pytest.raises(ValueError, match=r"conv2d: input must be 4-D .*\(5, 5\)"):
        F.conv2d(_t(np.zeros((5, 5), np.float32)), w)
    with pytest.raises(ValueError, match=r"weight must be 4-D"):
        F.conv2d(x, _t(np.zeros((6, 4, 3), np.float32)))
    with pytest.raises(ValueError, match=r"4 channels.*weight shape \(6, 2, 3, 3\)"):
        F.conv2d(x, w, groups=1)
    with pytest.raises(ValueError, match="divisible by groups=4"):
        F.conv2d(x, _t(np.zeros((6, 1, 3, 3), np.float32)), groups=4)
    with pytest.raises(ValueError, match=r"larger than the padded input size \(5, 5\)"):
        F.conv2d(x, _t(np.zeros((6, 4, 7, 7), np.float32)))
    with pytest.raises(ValueError, match="non-negative"):
        F.conv2d(x, w, padding=-1, groups=2)
    with pytest.raises(ValueError, match="'same' is not supported for strided"):
        F.conv2d(x, w, padding="same", stride=2, groups=2)
    with pytest.raises(TypeError, match="share a dtype"):
        F.conv2d(x, _t(np.zeros((6, 2, 3, 3))), groups=2)
    with pytest.raises(ValueError, match="bias must have shape"):
        F.conv2d(x, w, _t(np.zeros(5, np.float32)), groups=2)
    with pytest.raises(ValueError, match="stride must be >= 1"):
        F.conv2d(x, w, stride=0, groups=2)
    with pytest.raises(ValueError, match="output size .* not positive"):
        F.conv_transpose2d(_t(np.zeros((1, 2, 1, 1), np.float32)),
                           _t(np.zeros((2, 2, 1, 1), np.float32)), padding=1)
    with pytest.raises(ValueError, match="output_padding"):
        F.conv_transpose2d(x, _t(np.zeros((4, 2, 3, 3), np.float32)), stride=2, output_padding=2)
    with pytest.raises(ValueError, match="in_channels .* divisible by groups"):
        dl.nn.Conv2d(3, 6, 3, groups=2)
    with pytest.raises(ValueError, match="padding_mode"):
        dl.nn.Conv2d(3, 6, 3, padding_mode="mirror")


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("groups", [1, 2])
@pytest.mark.parametrize("with_bias", [True, False])
def test_conv2d_packed_images_match_reference(threads, dtype, groups, with_bias, rng):
    """Small output maps put several images side by side in one GEMM tile: odd batch (7) not
    divisible by the images per tile (3 under a tight budget, 4 or 7 by default), stride 2 and
    padding, groups, with and without bias, against the NumPy reference."""
    x = rng.standard_normal((7, 32, 9, 9)).astype(dtype)
    K = 40
    w = rng.standard_normal((K, 32 // groups, 3, 3)).astype(dtype)
    b = rng.standard_normal(K).astype(dtype) if with_bias else None
    tol = 2e-4 if dtype == np.float32 else 1e-10
    item = np.dtype(dtype).itemsize
    prev = _C.conv_workspace_limit()
    for st, pd in [((1, 1), (1, 1)), ((2, 2), (0, 1))]:
        ref = ref_conv2d(x.astype(np.float64), w.astype(np.float64), b, st, pd, (1, 1), groups)
        P = ref.shape[2] * ref.shape[3]
        Kc, Kg = 32 // groups * 9, K // groups
        gy = rng.standard_normal(ref.shape).astype(dtype)
        grads = []
        # limit 1: one image per tile (the per-image path, gradchecked above) as the reference
        for limit in (1, 0, 3 * (Kc + Kg) * P * item):
            ts = [_t(x, True), _t(w, True)] + ([] if b is None else [_t(b, True)])
            try:
                _C.conv_workspace_limit(limit)
                y = F.conv2d(*ts[:2], ts[2] if b is not None else None, st, pd, 1, groups)
                y.backward(dl.tensor(gy))
            finally:
                _C.conv_workspace_limit(0)
            assert y.numpy().dtype == dtype
            np.testing.assert_allclose(y.numpy(), ref, rtol=tol, atol=tol)
            grads.append([t.grad.numpy() for t in ts])
        for got in grads[1:]:
            for a, want in zip(got, grads[0]):
                np.testing.assert_allclose(a, want, rtol=tol, atol=10 * tol)
    assert _C.conv_workspace_limit() == prev


# (N, C, H, W, K, (R, S), stride, padding, dilation, groups, column budget in floats or 0)
GEMM_PATH_CASES = [
    # batch 1: the weights packed once (two K blocks), the GEMM's columns split between
    # threads; 130 output channels (>= 128) accumulate the weight gradient in place
    (1, 33, 23, 21, 130, (3, 3), (1, 1), (1, 1), (1, 1), 1, 0),
    # Kc = 2070: the packed transposed weights of the input gradient span two M blocks (and
    # the packing itself is split between threads)
    (1, 230, 9, 8, 64, (3, 3), (1, 1), (1, 1), (1, 1), 1, 0),
    # a tight budget: column tiles of 16 positions that start and end inside output rows
    (3, 20, 17, 15, 9, (3, 3), (1, 1), (1, 2), (1, 2), 1, 20 * 9 * 16),
    # 14x14 maps as in the benchmark, right-edge GEMM tiles of 4 columns; at 2 threads the
    # images split, the private (transposed) weight gradients reduced row-wise
    (2, 24, 14, 14, 33, (3, 3), (1, 1), (1, 1), (1, 1), 1, 0),
    # pointwise: no im2col, weights packed once (forward and input gradient); at 2 threads
    # the images split, the private weight gradients reduced row-wise (untransposed)
    (2, 33, 15, 17, 140, (1, 1), (1, 1), (0, 0), (1, 1), 1, 0),
    # groups: every group's product on its own weights, unpacked
    (2, 8, 10, 13, 12, (3, 3), (2, 1), (1, 1), (1, 1), 2, 0),
    # stride 2 (AVX2's vector copy of every other column): rows of 19 outputs (two groups
    # of 8 and a tail), of exactly 16 with the last column read at the row's end, and column
    # tiles of 24 positions that start and end inside output rows
    (2, 5, 9, 37, 7, (3, 3), (2, 2), (1, 1), (1, 1), 1, 0),
    (1, 3, 8, 34, 6, (3, 3), (2, 2), (0, 0), (1, 1), 1, 0),
    (2, 4, 11, 41, 5, (3, 3), (2, 2), (1, 1), (1, 1), 1, 4 * 9 * 24),
]


def check_conv2d_float32(rng, xshape, wshape, st, pd, dil, g, limit):
    """float32 conv2d on random operands with the column workspace limited to `limit` bytes
    (0: the default): the forward against ref_conv2d, the gradients against the float64
    kernels' (whose forward is checked against ref_conv2d too)."""
    x = rng.standard_normal(xshape).astype(np.float32)
    w = rng.standard_normal(wshape).astype(np.float32)
    b = rng.standard_normal(wshape[0]).astype(np.float32)
    try:
        _C.conv_workspace_limit(limit)
        xt, wt, bt = _t(x, True), _t(w, True), _t(b, True)
        y = F.conv2d(xt, wt, bt, st, pd, dil, g)
        gy = rng.standard_normal(y.shape).astype(np.float32)
        y.backward(dl.tensor(gy))
    finally:
        _C.conv_workspace_limit(0)
    ref = ref_conv2d(x.astype(np.float64), w.astype(np.float64), b, st, pd, dil, g)
    np.testing.assert_allclose(y.numpy(), ref, rtol=1e-4, atol=1e-4 * np.abs(ref).max())
    x64, w64, b64 = (_t(a.astype(np.float64), True) for a in (x, w, b))
    y64 = F.conv2d(x64, w64, b64, st, pd, dil, g)
    np.testing.assert_allclose(y64.numpy(), ref, rtol=1e-10, atol=1e-10)
    y64.backward(dl.tensor(gy.astype(np.float64)))
    for got, want in ((xt, x64), (wt, w64), (bt, b64)):
        want = want.grad.numpy()
        np.testing.assert_allclose(got.grad.numpy(), want, rtol=1e-4,
                                   atol=1e-4 * np.abs(want).max())


@pytest.mark.parametrize("case", GEMM_PATH_CASES)
def test_conv2d_float32_gemm_paths_every_isa(isa, threads, case, rng):
    """float32 im2col/col2im (one copy per ISA) and the GEMM with weights packed once, im2col
    in chunks of channels (cases 0 and 1), on odd sizes, against the NumPy reference (forward)
    and the float64 kernels (gradients; their forward checked too)."""
    N, C, H, W, K, (R, S), st, pd, dil, g, budget = case
    check_conv2d_float32(rng, (N, C, H, W), (K, C // g, R, S), st, pd, dil, g, 4 * budget)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("N", [1, 2])
def test_conv2d_chunked_im2col_gradients_match_numpy(threads, dtype, N, rng):
    """30 channels x 3x3 on a 9x9 map: the columns are built in two chunks of channels (both
    dtypes); 128 output channels take the in-place (untransposed) weight gradient.  Batch 1
    (one image: at 2 threads the GEMMs split their columns) and 2 (at 2 threads the images
    split; at 1 thread they share a packed tile instead).  Forward and weight gradient
    against direct NumPy sums."""
    C, H, W, K = 30, 9, 9, 128
    x = rng.standard_normal((N, C, H, W)).astype(dtype)
    w = rng.standard_normal((K, C, 3, 3)).astype(dtype)
    xt, wt = _t(x, True), _t(w, True)
    y = F.conv2d(xt, wt, None, 1, 1)
    gy = rng.standard_normal(y.shape).astype(dtype)
    y.backward(dl.tensor(gy))
    xp = np.pad(x.astype(np.float64), ((0, 0), (0, 0), (1, 1), (1, 1)))
    gw = np.zeros((K, C, 3, 3))
    for r in range(3):
        for s in range(3):
            gw[:, :, r, s] = np.einsum("nkhw,nchw->kc", gy.astype(np.float64),
                                       xp[:, :, r:r + H, s:s + W])
    tol = 1e-4 if dtype == np.float32 else 1e-10
    ref = ref_conv2d(x.astype(np.float64), w.astype(np.float64), None, (1, 1), (1, 1))
    np.testing.assert_allclose(y.numpy(), ref, rtol=tol, atol=tol * np.abs(ref).max())
    np.testing.assert_allclose(wt.grad.numpy(), gw, rtol=tol, atol=tol * np.abs(gw).max())


@pytest.mark.parametrize("shape,kw", [
    ((16, 16, 28, 28, 32, 3), dict(padding=1)),            # per-image tiles
    ((8, 256, 14, 14, 256, 3), dict(padding=1)),           # packed / chunked small maps
    ((6, 8, 9, 9, 12, 3), dict(stride=2, groups=2)),       # grouped, transposed reduction
])
def test_conv2d_weight_gradient_is_repeatable_with_threads(shape, kw):
    """Threads sum private weight gradients; each call must give the same bits (a fixed split
    of the work and a fixed order of the partial sums), as seeded training relies on."""
    from dlcore import _C
    N, C, H, W, K, R = shape
    rng = np.random.default_rng(3)
    x = rng.standard_normal((N, C, H, W)).astype(np.float32)
    w = rng.standard_normal((K, C // kw.get("groups", 1), R, R)).astype(np.float32)
    prev = _C.get_num_threads()
    _C.set_num_threads(2)
    try:
        grads = []
        for _ in range(6):
            wt = dl.tensor(w, requires_grad=True)
            F.conv2d(dl.tensor(x), wt, **kw).square().sum().backward()
            grads.append(wt.grad.numpy().copy())
            wt2 = dl.tensor(np.ascontiguousarray(w.transpose(1, 0, 2, 3)) if "groups" not in kw
                            else w, requires_grad=True)
            if "groups" not in kw:
                F.conv_transpose2d(dl.tensor(x), wt2, padding=1).square().sum().backward()
                grads.append(wt2.grad.numpy().copy())
    finally:
        _C.set_num_threads(prev)
    step = 1 if "groups" in kw else 2
    for i in range(step):
        for g in grads[i::step]:
            assert np.array_equal(g, grads[i])
