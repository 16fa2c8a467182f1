"""Pooling, unpooling and interpolation: NumPy references, gradcheck, torch parity, errors."""
import numpy as np
import pytest

import dlcore as dl
import dlcore.nn.functional as F
from _torch_parity import layer_forward_backward
from dlcore.runtime import get_isa, set_isa, supported_isas


def _t(a, grad=False):
    return dl.tensor(a, requires_grad=grad)


def _pool_out(n, k, s, p, d, ceil):
    out = (n + 2 * p - d * (k - 1) - 1 + ((s - 1) if ceil else 0)) // s + 1
    if ceil and (out - 1) * s >= n + p:
        out -= 1
    return out


def _max_windows(x, k, s, p, d, ceil):
    """The output planes (N, C, OH, OW) of a max pooling of x, -inf, and its indices (zero),
    then for each tap of each window inside x, in scan order: (oh, ow, ih, iw, first), first
    for a window's first tap inside x."""
    N, C, H, W = x.shape
    OH, OW = _pool_out(H, k[0], s[0], p[0], d[0], ceil), _pool_out(W, k[1], s[1], p[1], d[1], ceil)

    def taps():
        for oh in range(OH):
            for ow in range(OW):
                first = True
                for i in range(k[0]):
                    for j in range(k[1]):
                        ih, iw = oh * s[0] - p[0] + i * d[0], ow * s[1] - p[1] + j * d[1]
                        if 0 <= ih < H and 0 <= iw < W:
                            yield oh, ow, ih, iw, first
                            first = False

    return np.full((N, C, OH, OW), -np.inf), np.zeros((N, C, OH, OW), np.int64), taps()


def ref_max_pool(x, k, s, p, d, ceil):
    W = x.shape[3]
    y, idx, taps = _max_windows(x, k, s, p, d, ceil)
    for oh, ow, ih, iw, _ in taps:
        v = x[:, :, ih, iw]
        better = v > y[:, :, oh, ow]
        y[:, :, oh, ow] = np.where(better, v, y[:, :, oh, ow])
        idx[:, :, oh, ow] = np.where(better, ih * W + iw, idx[:, :, oh, ow])
    return y, idx


def ref_avg_pool(x, k, s, p, ceil, cip, div):
    N, C, H, W = x.shape
    OH, OW = _pool_out(H, k[0], s[0], p[0], 1, ceil), _pool_out(W, k[1], s[1], p[1], 1, ceil)
    y = np.zeros((N, C, OH, OW))
    for oh in range(OH):
        for ow in range(OW):
            h0, w0 = oh * s[0] - p[0], ow * s[1] - p[1]
            h1, w1 = min(h0 + k[0], H + p[0]), min(w0 + k[1], W + p[1])
            size = (h1 - h0) * (w1 - w0)
            h0, w0, h1, w1 = max(h0, 0), max(w0, 0), min(h1, H), min(w1, W)
            n = div or (size if cip else (h1 - h0) * (w1 - w0))
            y[:, :, oh, ow] = x[:, :, h0:h1, w0:w1].sum(axis=(2, 3)) / n
    return y


MAX_CASES = [((2, 2), (2, 2), (0, 0), (1, 1), False), ((3, 3), (2, 2), (1, 1), (1, 1), True),
             ((3, 2), (1, 2), (1, 0), (2, 1), False), ((2, 2), (3, 3), (1, 1), (1, 1), True),
             ((4, 4), (1, 1), (0, 0), (1, 1), False)]


@pytest.mark.parametrize("case", MAX_CASES)
def test_max_pool2d_reference_and_gradcheck(case, rng, threads):
    k, s, p, d, ceil = case
    x = rng.standard_normal((2, 3, 9, 8))
    y, idx = F.max_pool2d(_t(x), k, s, p, d, ceil, return_indices=True)
    ry, ridx = ref_max_pool(x, k, s, p, d, ceil)
    np.testing.assert_array_equal(y.numpy(), ry)
    np.testing.assert_array_equal(idx.numpy(), ridx)
    xt = _t(rng.permutation(2 * 3 * 9 * 8).reshape(2, 3, 9, 8) * 0.1, True)  # no ties
    assert dl.autograd.gradcheck(lambda a: F.max_pool2d(a, k, s, p, d, ceil), (xt,))


def test_max_pool2d_nan_and_fast_path(rng):
    x = rng.standard_normal((2, 3, 10, 12)).astype(np.float32)
    x[0, 1, 3, 4] = np.nan
    y = F.max_pool2d(_t(x), 2).numpy()  # the 2x2/2 path without indices
    ry, _ = ref_max_pool(np.nan_to_num(x, nan=-np.inf), (2, 2), (2, 2), (0, 0), (1, 1), False)
    assert np.isnan(y[0, 1, 1, 2])
    mask = ~np.isnan(y)
    assert mask.sum() == y.size - 1
    np.testing.assert_array_equal(y[mask], ry[mask])
    y2, i2 = F.max_pool2d(_t(x), 2, return_indices=True)
    assert np.isnan(y2.numpy()[0, 1, 1, 2]) and i2.numpy()[0, 1, 1, 2] == 3 * 12 + 4


@pytest.mark.parametrize("W", [2, 5, 10, 14, 15, 16, 17, 28, 30, 33, 34])
def test_max_pool2d_2x2_rows_every_isa(W, isa, rng):
    """The float32 2x2/2 row kernels on every SIMD path: rows shorter than a vector (masked),
    whole vectors, and a tail redone as an overlapping vector; NaN anywhere in a window wins
    (one in the first, the middle and the last output column), against float64."""
    H = 6
    x = rng.standard_normal((2, 3, H, W)).astype(np.float32)
    OW = W // 2
    for ow in {0, OW // 2, OW - 1}:
        x[1, 2, 2 + ow % 2, 2 * ow + (ow % 2)] = np.nan
    y = F.max_pool2d(_t(x), 2).numpy()
    ref = x[:, :, :H // 2 * 2, :OW * 2].astype(np.float64).reshape(2, 3, H // 2, 2, OW, 2)
    want = np.where(np.isnan(ref).any(axis=(3, 5)), np.nan, np.nanmax(ref, axis=(3, 5)))
    assert y.shape == want.shape
    np.testing.assert_array_equal(y, want.astype(np.float32))


@pytest.mark.parametrize("case", [((2, 2), (2, 2), (0, 0), False, True, None),
                                  ((3, 3), (2, 2), (1, 1), True, False, None),
                                  ((3, 2), (2, 1), (1, 1), True, True, None),
                                  ((2, 3), (1, 2), (1, 0), False, True, 5)])
def test_avg_pool2d_reference_and_gradcheck(case, rng, threads):
    k, s, p, ceil, cip, div = case
    x = rng.standard_normal((2, 3, 7, 8))
    y = F.avg_pool2d(_t(x), k, s, p, ceil, cip, div)
    np.testing.assert_allclose(y.numpy(), ref_avg_pool(x, k, s, p, ceil, cip, div), atol=1e-12)
    assert dl.autograd.gradcheck(lambda a: F.avg_pool2d(a, k, s, p, ceil, cip, div),
                                 (_t(x[:1, :2], True),))


def test_adaptive_pools(rng):
    x = rng.standard_normal((2, 3, 7, 10))
    for out in [(3, 4), (1, 1), (7, 10), (5, 3)]:
        y = F.adaptive_avg_pool2d(_t(x), out).numpy()
        ym, im = F.adaptive_max_pool2d(_t(x), out, return_indices=True)
        for oh in range(out[0]):
            h0, h1 = oh * 7 // out[0], -(-(oh + 1) * 7 // out[0])
            for ow in range(out[1]):
                w0, w1 = ow * 10 // out[1], -(-(ow + 1) * 10 // out[1])
                win = x[:, :, h0:h1, w0:w1]
                np.testing.assert_allclose(y[:, :, oh, ow], win.mean(axis=(2, 3)), atol=1e-12)
                np.testing.assert_array_equal(ym.numpy()[:, :, oh, ow], win.max(axis=(2, 3)))
        xt = _t(x[:1, :2], True)
        assert dl.autograd.gradcheck(lambda a: F.adaptive_avg_pool2d(a, out), (xt,))
        assert dl.autograd.gradcheck(lambda a: F.adaptive_max_pool2d(a, out), (xt,))
    assert F.adaptive_avg_pool2d(_t(x), (None, 2)).shape == (2, 3, 7, 2)


def test_max_unpool2d_roundtrip_and_grad(rng):
    x = rng.standard_normal((2, 3, 6, 8))
    y, idx = F.max_pool2d(_t(x), 2, return_indices=True)
    u = F.max_unpool2d(y, idx, 2)
    assert u.shape == (2, 3, 6, 8)
    un = u.numpy()
    np.testing.assert_array_equal(np.sort(un[un != 0]), np.sort(y.numpy().ravel()))
    assert dl.autograd.gradcheck(lambda a: F.max_unpool2d(a, idx, 2), (_t(y.numpy(), True),))
    with pytest.raises(ValueError, match="outside the output plane"):
        F.max_unpool2d(y, dl.tensor(idx.numpy() + 100), 2)


@pytest.mark.parametrize("kw", [dict(scale_factor=2, mode="nearest"),
                                dict(size=(5, 7), mode="nearest"),
                                dict(scale_factor=1.5, mode="nearest"),
                                dict(size=(9, 5), mode="bilinear", align_corners=False),
                                dict(size=(9, 5), mode="bilinear", align_corners=True),
                                dict(scale_factor=2, mode="bilinear"),
                                dict(size=(1, 3), mode="bilinear", align_corners=True),
                                dict(size=(2, 3), mode="nearest")])
def test_interpolate_torch_parity_and_gradcheck(torch, kw, rng):
    x = rng.standard_normal((2, 3, 4, 6)).astype(np.float32)
    xt, tx = _t(x, True), torch.tensor(x, requires_grad=True)
    y = F.interpolate(xt, **kw)
    ty = torch.nn.functional.interpolate(tx, **kw)
    np.testing.assert_allclose(y.numpy(), ty.detach().numpy(), rtol=1e-5, atol=1e-6)
    gy = rng.standard_normal(y.shape).astype(np.float32)
    y.backward(dl.tensor(gy))
    ty.backward(torch.tensor(gy))
    np.testing.assert_allclose(xt.grad.numpy(), tx.grad.numpy(), rtol=1e-5, atol=1e-5)
    assert dl.autograd.gradcheck(lambda a: F.interpolate(a, **kw),
                                 (_t(x[:1, :1].astype(np.float64), True),))


def test_pool_layers_torch_parity(torch, rng):
    x = rng.standard_normal((2, 3, 11, 9)).astype(np.float32)
    pairs = [(dl.nn.MaxPool2d(3, 2, 1, ceil_mode=True), torch.nn.MaxPool2d(3, 2, 1, ceil_mode=True)),
             (dl.nn.MaxPool2d(2, dilation=2), torch.nn.MaxPool2d(2, dilation=2)),
             (dl.nn.AvgPool2d(3, 2, 1, count_include_pad=False),
              torch.nn.AvgPool2d(3, 2, 1, count_include_pad=False)),
             (dl.nn.AvgPool2d(2, ceil_mode=True, divisor_override=3),
              torch.nn.AvgPool2d(2, ceil_mode=True, divisor_override=3)),
             (dl.nn.AdaptiveAvgPool2d((4, 3)), torch.nn.AdaptiveAvgPool2d((4, 3))),
             (dl.nn.AdaptiveMaxPool2d(5), torch.nn.AdaptiveMaxPool2d(5)),
             (dl.nn.Upsample(scale_factor=2, mode="bilinear", align_corners=True),
              torch.nn.Upsample(scale_factor=2, mode="bilinear", align_corners=True))]
    for m, tm in pairs:
        layer_forward_backward(m, tm, x, rng, 1e-5, 1e-6, 1e-5, 1e-5)
    y, i = dl.nn.MaxPool2d(2, return_indices=True)(_t(x))
    ty, ti = torch.nn.MaxPool2d(2, return_indices=True)(torch.tensor(x))
    np.testing.assert_array_equal(i.numpy(), ti.numpy())
    u = dl.nn.MaxUnpool2d(2)(y, i, output_size=(11, 9))
    tu = torch.nn.MaxUnpool2d(2)(ty, ti, output_size=(11, 9))
    np.testing.assert_array_equal(u.numpy(), tu.numpy())


def test_float32_every_thread_count(threads, rng):
    x = rng.standard_normal((4, 8, 33, 17)).astype(np.float32)
    y = F.max_pool2d(_t(x), 3, 2, 1).numpy()
    ry, _ = ref_max_pool(x.astype(np.float64), (3, 3), (2, 2), (1, 1), (1, 1), False)
    np.testing.assert_array_equal(y, ry.astype(np.float32))
    a = F.avg_pool2d(_t(x), 2).numpy()
    np.testing.assert_allclose(a, ref_avg_pool(x.astype(np.float64), (2, 2), (2, 2), (0, 0),
                                               False, True, None), rtol=1e-5, atol=1e-6)


def test_pool_bad_inputs(rng):
    x = _t(rng.standard_normal((2, 3, 5, 5)).astype(np.float32))
    with pytest.raises(ValueError, match=r"4-D .* got shape \(5, 5\)"):
        F.max_pool2d(_t(np.zeros((5, 5), np.float32)), 2)
    with pytest.raises(ValueError, match="at most half"):
        F.max_pool2d(x, 2, padding=2)
    with pytest.raises(ValueError, match="non-negative"):
        F.avg_pool2d(x, 2, padding=-1)
    with pytest.raises(ValueError, match=r"output size .* too small .*\(2, 3, 5, 5\)"):
        F.max_pool2d(x, 7)
    with pytest.raises(ValueError, match="positive"):
        F.max_pool2d(x, 0)
    with pytest.raises(ValueError, match="output_size must be positive"):
        F.adaptive_avg_pool2d(x, 0)
    with pytest.raises(ValueError, match="align_corners"):
        F.interpolate(x, scale_factor=2, align_corners=True)
    with pytest.raises(ValueError, match="exactly one"):
        F.interpolate(x)
    with pytest.raises(ValueError, match="mode"):
        F.interpolate(x, scale_factor=2, mode="spline")
    with pytest.raises(ValueError, match="needs a 4-D input"):
        F.interpolate(x[0], scale_factor=2, mode="bicubic")


def test_max_pool2d_2x2_indices_ties_inf_and_late_nan():
    """The 2x2 stride-2 path with indices keeps the generic scan's rules: the first maximum
    of a tie, -inf windows point at their first element, a NaN anywhere wins (the last one)."""
    x = np.zeros((1, 1, 4, 6), np.float32)
    x[0, 0, 0:2, 2:4] = -np.inf
    x[0, 0, 2, 0] = np.nan
    x[0, 0, 3, 1] = np.nan
    x[0, 0, 2:4, 4:6] = [[1.0, 5.0], [5.0, 2.0]]
    y, idx = F.max_pool2d(_t(x), 2, return_indices=True)
    assert idx.numpy()[0, 0].tolist() == [[0, 2, 4], [19, 14, 17]]
    yv = y.numpy()[0, 0]
    assert yv[0, 0] == 0 and yv[0, 1] == -np.inf and np.isnan(yv[1, 0]) and yv[1, 2] == 5.0


def _ref_max_pool2x2_nan_rule(x):
    """2x2 stride-2 max pooling by the scan rule: first maximum of a tie, a later NaN wins."""
    N, C, H, W = x.shape
    OH, OW = H // 2, W // 2
    y = np.empty((N, C, OH, OW), x.dtype)
    idx = np.empty((N, C, OH, OW), np.int64)
    for n in range(N):
        for c in range(C):
            for oh in range(OH):
                for ow in range(OW):
                    best, at = None, None
                    for ih, iw in ((2 * oh, 2 * ow), (2 * oh, 2 * ow + 1),
                                   (2 * oh + 1, 2 * ow), (2 * oh + 1, 2 * ow + 1)):
                        v = x[n, c, ih, iw]
                        if best is None or v > best or np.isnan(v):
                            best, at = v, ih * W + iw
                    y[n, c, oh, ow], idx[n, c, oh, ow] = best, at
    return y, idx


@pytest.mark.parametrize("ow", [1, 7, 8, 9, 15, 16, 17, 33])
@pytest.mark.parametrize("extra", [0, 1])
def test_max_pool2d_2x2_vector_rows_match_scan(isa, threads, ow, extra):
    """The vectorized 2x2 row kernels (full groups, masked or scalar tails, odd widths with an
    unused last column) against the scan rule, on ties, +-inf and NaNs, with and without
    indices."""
    rng = np.random.default_rng(ow * 2 + extra)
    x = rng.integers(-3, 4, size=(2, 3, 2 * 3 + extra, 2 * ow + extra)).astype(np.float32)
    flat = x.reshape(-1)
    picks = rng.choice(flat.size, size=max(1, flat.size // 10), replace=False)
    flat[picks[0::3]] = np.nan
    flat[picks[1::3]] = np.inf
    flat[picks[2::3]] = -np.inf
    ry, ridx = _ref_max_pool2x2_nan_rule(x)
    y = F.max_pool2d(_t(x), 2).numpy()
    y2, i2 = F.max_pool2d(_t(x), 2, return_indices=True)
    for got in (y, y2.numpy()):
        assert np.array_equal(np.isnan(got), np.isnan(ry))
        assert np.array_equal(np.nan_to_num(got, nan=7.0), np.nan_to_num(ry, nan=7.0))
    assert np.array_equal(i2.numpy(), ridx)


@pytest.mark.parametrize("shape,kw", [
    ((1, 2, 5), dict(size=8, mode="linear", align_corners=False)),
    ((1, 2, 5), dict(scale_factor=1.7, mode="nearest-exact")),
    ((1, 1, 4, 5), dict(size=(7, 3), mode="bicubic", align_corners=True)),
    ((1, 1, 4, 5), dict(scale_factor=(1.5, 0.6), mode="bicubic")),
    ((1, 1, 3, 4, 5), dict(size=(4, 2, 7), mode="trilinear")),
    ((1, 2, 6, 7), dict(size=(4, 3), mode="area")),
    ((1, 1, 3, 4, 5), dict(scale_factor=1.5, mode="nearest"))])
def test_interpolate_separable_modes_gradcheck_and_torch(torch, rng, shape, kw):
    """The modes and ranks served by ops/interpolate.py: float64 finite differences, and the
    float32 forward against torch (OpInfo covers more samples)."""
    x = rng.standard_normal(shape)
    assert dl.autograd.gradcheck(lambda a: F.interpolate(a, **kw), (_t(x, True),))
    y = F.interpolate(_t(x.astype(np.float32)), **kw)
    ty = torch.nn.functional.interpolate(torch.tensor(x.astype(np.float32)), **kw)
    np.testing.assert_allclose(y.numpy(), ty.numpy(), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("k,s,p,d", [((3, 3), (2, 2), (1, 1), (1, 1)),
                                     ((3, 2), (2, 3), (1, 1), (1, 1)),
                                     ((3, 3), (1, 2), (1, 0), (2, 3)),
                                     ((5, 4), (3, 1), (2, 2), (1, 1))])
@pytest.mark.parametrize("width", [9, 70, 150])
def test_max_pool2d_general_rows_match_scan(threads, k, s, p, d, width):
    """The general max pooling (tap by tap over a row's columns, in chunks of 64 columns):
    values and argmax as the one-window scan gives them, on ties, +-inf and NaNs, for rows
    wider than a chunk, with padding, stride and dilation, float32 and float64."""
    rng = np.random.default_rng(width + 10 * k[0] + s[1])
    x = rng.integers(-3, 4, size=(2, 3, 11, width)).astype(np.float64)
    flat = x.reshape(-1)
    picks = rng.choice(flat.size, size=flat.size // 10, replace=False)
    flat[picks[0::3]] = np.nan
    flat[picks[1::3]] = np.inf
    flat[picks[2::3]] = -np.inf
    x[1, 2] = -np.inf       # a plane with nothing above -inf: every argmax its window's first
    W = x.shape[3]
    ry, ridx, taps = _max_windows(x, k, s, p, d, False)
    for oh, ow, ih, iw, first in taps:
        v = x[:, :, ih, iw]
        if first:
            ridx[:, :, oh, ow] = ih * W + iw
        take = (v > ry[:, :, oh, ow]) | np.isnan(v)
        ry[:, :, oh, ow] = np.where(take, v, ry[:, :, oh, ow])
        ridx[:, :, oh, ow] = np.where(take, ih * W + iw, ridx[:, :, oh, ow])
    for dtype in (np.float32, np.float64):
        y = F.max_pool2d(_t(x.astype(dtype)), k, s, p, d).numpy()
        y2, i2 = F.max_pool2d(_t(x.astype(dtype)), k, s, p, d, return_indices=True)
        for got in (y, y2.numpy()):
            assert np.array_equal(np.isnan(got), np.isnan(ry))
            assert np.array_equal(np.nan_to_num(got, nan=7.0, posinf=8.0, neginf=-8.0),
                                  np.nan_to_num(ry, nan=7.0, posinf=8.0, neginf=-8.0))
        assert np.array_equal(i2.numpy(), ridx)


def test_max_pool_padding_bound_is_half_the_kernel_not_the_dilated_window(torch):
    """Found by the fuzzer: padding 3 with kernel 4 and dilation 2 was accepted (half the
    dilated window, 7 // 2) where torch raises, and a 1-wide input then gave a window of
    padding only: -inf.  torch's rule, padding <= kernel_size // 2, in 1, 2 and 3-D."""
    x = dl.ones(1, 1, 1, 1) * 5
    with pytest.raises(Exception):
        torch.nn.functional.max_pool2d(torch.ones(1, 1, 1, 1), (1, 4), 1, (0, 3), (1, 2))
    with pytest.raises(ValueError, match=r"max_pool2d: padding \(0, 3\) should be at most "
                                         r"half of the kernel size \(1, 4\)"):
        F.max_pool2d(x, (1, 4), 1, (0, 3), (1, 2))
    with pytest.raises(ValueError, match="max_pool1d: padding"):
        F.max_pool1d(dl.ones(1, 1, 5), 4, 1, 3, 2)
    with pytest.raises(ValueError, match="max_pool3d: padding"):
        F.max_pool3d(dl.ones(1, 1, 1, 1, 5), (1, 1, 4), 1, (0, 0, 3), (1, 1, 2))
    # at the bound, dilated: as torch
    xs = np.arange(1, 6, dtype=np.float32).reshape(1, 1, 1, 5)
    want = torch.nn.functional.max_pool2d(torch.tensor(xs), (1, 4), 1, (0, 2), (1, 2))
    got = F.max_pool2d(_t(xs), (1, 4), 1, (0, 2), (1, 2))
    np.testing.assert_array_equal(got.numpy(), want.numpy())


@pytest.mark.parametrize("isa", list(supported_isas()))
def test_max_pool2d_window_wholly_in_padding(isa):
    """A dilated window can hold only padding (k 2, dilation 2, padding 1 over one row): its
    output is -inf (padding counts as -inf) and it routes no gradient; torch 2.13 reads and
    writes outside its buffers there, so this is checked against the definition, not torch."""
    x = np.random.default_rng(3).standard_normal((2, 1, 1, 2)).astype(np.float32)
    prev = get_isa()
    try:
        set_isa(isa)
        t = dl.tensor(x, requires_grad=True)
        y = F.max_pool2d(t, (2, 1), (2, 1), (1, 0), (2, 2))
        y.backward(dl.tensor(np.ones(y.shape, np.float32)))
    finally:
        set_isa(prev)
    assert y.shape == (2, 1, 1, 2) and np.all(y.numpy() == -np.inf)
    np.testing.assert_array_equal(t.grad.numpy(), np.zeros_like(x))
