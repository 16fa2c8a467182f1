"""The small-map weight gradient with its im2col columns copied straight into the GEMM's
panels (csrc/conv_panels_impl.h, conv_panels_simd.c, dlcore/gemm_bpack.h): taken for 4-wide
kernel rows at dilation 1 over packed tiles of several images, on every ISA.  Checked on every
ISA and thread count against a float64 NumPy reference: channel counts whose taps fill the
32-wide panels exactly (the four-run copy) and odd ones (the general copy, a partial last
panel), more taps than one GEMM column block (a second block starting past column 0), more
pixels than one K block, groups, strides 1-3, unequal padding, dilation down the rows."""
import numpy as np
import pytest

from dlcore import _C


def ref_wgrad(x, gy, wshape, st, pd, dil, g):
    """conv2d's weight gradient in float64: sum over images and outputs of gy times x."""
    N, C, H, W = x.shape
    K, Cg, R, S = wshape
    _, _, OH, OW = gy.shape
    xp = np.zeros((N, C, H + 2 * pd[0] + R * dil[0], W + 2 * pd[1] + S * dil[1]))
    xp[:, :, pd[0]:pd[0] + H, pd[1]:pd[1] + W] = x
    gw = np.zeros(wshape)
    Kg = K // g
    for gi in range(g):
        xs = xp[:, gi * Cg:(gi + 1) * Cg]
        gs = gy[:, gi * Kg:(gi + 1) * Kg]
        for r in range(R):
            for s in range(S):
                i0, j0 = r * dil[0], s * dil[1]
                win = xs[:, :, i0:i0 + (OH - 1) * st[0] + 1:st[0], j0:j0 + (OW - 1) * st[1] + 1:st[1]]
                gw[gi * Kg:(gi + 1) * Kg, :, r, s] = np.einsum("nkhw,nchw->kc", gs, win)
    return gw


# (N, C, H, W, K, (R, S), stride, padding, dilation, groups): 4-wide kernel rows, P < 128
CASES = [
    (6, 32, 14, 14, 16, (4, 4), (2, 2), (1, 1), (1, 1), 1),   # DCGAN's layer (fewer filters)
    (5, 3, 14, 14, 7, (4, 4), (2, 2), (1, 1), (1, 1), 1),     # 48 taps: a partial panel
    (3, 40, 9, 9, 5, (3, 4), (2, 2), (1, 1), (1, 1), 1),      # 480 taps, odd sizes
    (3, 36, 8, 8, 4, (4, 4), (2, 2), (1, 1), (1, 1), 1),      # 576 taps: two column blocks
    (9, 4, 17, 15, 6, (4, 4), (2, 2), (2, 1), (1, 1), 2),     # groups, unequal padding
    (7, 5, 10, 10, 3, (2, 4), (1, 1), (0, 1), (2, 1), 1),     # stride 1, row dilation
    (8, 6, 13, 12, 5, (4, 4), (3, 3), (1, 2), (1, 1), 1),     # stride 3
    (16, 2, 20, 20, 3, (4, 4), (2, 2), (1, 1), (1, 1), 1),    # many pixels: several K blocks
]


@pytest.mark.parametrize("case", CASES)
def test_wgrad_panels_match_reference(isa, threads, case, rng):
    N, C, H, W, K, (R, S), st, pd, dil, g = case
    OH = (H + 2 * pd[0] - dil[0] * (R - 1) - 1) // st[0] + 1
    OW = (W + 2 * pd[1] - dil[1] * (S - 1) - 1) // st[1] + 1
    assert OH * OW < 128
    x = rng.standard_normal((N, C, H, W))
    gy = rng.standard_normal((N, K, OH, OW))
    wshape = (K, C // g, R, S)
    want = ref_wgrad(x, gy, wshape, st, pd, dil, g)
    f = np.float32
    gw = np.full(wshape, np.nan, f)
    gb = np.full(K, np.nan, f)
    _C.conv2d_backward_weight(x.astype(f), gy.astype(f), gw, gb, wshape, st, pd, dil, g)
    np.testing.assert_allclose(gw, want, rtol=1e-4, atol=1e-4 * np.abs(want).max())
    np.testing.assert_allclose(gb, gy.sum((0, 2, 3)), rtol=1e-4, atol=1e-4)
    # float64 keeps the column tiles: the same reference at its precision
    gw64 = np.empty(wshape)
    _C.conv2d_backward_weight(x, gy, gw64, None, wshape, st, pd, dil, g)
    np.testing.assert_allclose(gw64, want, rtol=1e-10, atol=1e-10)


def test_wgrad_panels_repeatable(rng):
    """The static split and fixed reduction order hold here too: the same bits every call."""
    x = rng.standard_normal((12, 8, 14, 14)).astype(np.float32)
    gy = rng.standard_normal((12, 16, 7, 7)).astype(np.float32)
    args = ((16, 8, 4, 4), (2, 2), (1, 1), (1, 1), 1)
    with_threads = []
    for nt in (1, 2, 2):
        prev = _C.get_num_threads()
        _C.set_num_threads(nt)
        try:
            gw = np.empty((16, 8, 4, 4), np.float32)
            _C.conv2d_backward_weight(x, gy, gw, None, *args)
        finally:
            _C.set_num_threads(prev)
        with_threads.append(gw)
    assert np.array_equal(with_threads[1], with_threads[2])
    np.testing.assert_allclose(with_threads[0], with_threads[1], rtol=1e-5, atol=1e-4)


def test_wgrad_panels_non_finite(rng):
    """An inf in x reaches exactly the weights that multiply it with a nonzero gradient."""
    x = rng.standard_normal((4, 3, 14, 14)).astype(np.float32)
    gy = rng.standard_normal((4, 5, 7, 7)).astype(np.float32)
    x[2, 1, 5, 6] = np.inf
    gw = np.empty((5, 3, 4, 4), np.float32)
    _C.conv2d_backward_weight(x, gy, gw, None, gw.shape, (2, 2), (1, 1), (1, 1), 1)
    bad = ~np.isfinite(gw)
    # (r, s) taps of channel 1 that read x[.., 5, 6]: 5 = 2*oh - 1 + r, 6 = 2*ow - 1 + s
    expect = np.zeros_like(bad)
    for r in range(4):
        for s in range(4):
            if (5 + 1 - r) % 2 == 0 and (6 + 1 - s) % 2 == 0:
                oh, ow = (5 + 1 - r) // 2, (6 + 1 - s) // 2
                if 0 <= oh < 7 and 0 <= ow < 7:
                    expect[:, 1, r, s] = True
    assert np.array_equal(bad, expect)
