"""Precision of the float32 softmax kernels where float32 rounding is easy to amplify.

The softmax backward is y * (g - s) with s = sum(g * y): where g is close to s (a weight near 1,
or every g alike) the subtraction cancels, and the error of s (float chunk sums, s rounded to
float) reached 5 ulp of the result on an attention row with |g| ~ 8, enough to put
nn.MultiheadAttention's float32 in_proj_weight gradient outside torch's own float32 error.
The weights themselves carry e^x's error, which the backward multiplies by |g - s|.
References are float64 NumPy on the same float32 inputs, on every ISA path the CPU has.
"""
import numpy as np
import pytest

import dlcore as dl
from dlcore import _C


def _ulps(actual, exact):
    """|actual - exact| in units of the float32 spacing at exact."""
    spacing = np.spacing(np.abs(exact).astype(np.float32)).astype(np.float64)
    return np.abs(actual.astype(np.float64) - exact) / spacing


def _cancelling_rows(rng, rows, n):
    """softmax weights with one dominant entry and output gradients near their weighted mean
    (|g| ~ 8): y * (g - s) is a small difference of large numbers."""
    x = rng.standard_normal((rows, n)) * 3
    x[np.arange(rows), rng.integers(0, n, rows)] += 4
    e = np.exp(x - x.max(1, keepdims=True))
    y = (e / e.sum(1, keepdims=True)).astype(np.float32)
    g = (-8 + rng.standard_normal((rows, n)) * 0.7).astype(np.float32)
    return y, g


@pytest.mark.parametrize("n", [4, 7, 33, 300])
@pytest.mark.parametrize("layout", ["rows", "columns"])
def test_softmax_backward_is_within_an_ulp_or_two_where_g_cancels_s(isa, n, layout, rng):
    y, g = _cancelling_rows(rng, 257, n)
    y64, g64 = y.astype(np.float64), g.astype(np.float64)
    exact = y64 * (g64 - (y64 * g64).sum(1, keepdims=True))
    if layout == "rows":
        gx = np.empty_like(y)
        _C.softmax_backward(y, g, gx, y.shape[0], n, 1, False)
    else:   # the same rows stored down columns: (outer=1, dim=n, inner=rows)
        yt, gt = np.ascontiguousarray(y.T), np.ascontiguousarray(g.T)
        gxt = np.empty_like(yt)
        _C.softmax_backward(yt, gt, gxt, 1, n, y.shape[0], False)
        gx = gxt.T
    # g - hi exact or nearly, lo's rounding, then the product's: under 2 ulp (a float s: ~5)
    tiny = np.abs(exact) < 1e-30
    assert _ulps(gx, exact)[~tiny].max() < 2.0
    assert np.abs(gx[tiny]).max(initial=0.0) < 1e-30


def test_log_softmax_backward_keeps_the_row_sum_digits(isa, rng):
    # g - e^y * s with s = sum(g) large and e^y near 1 at the row's maximum
    y, g = _cancelling_rows(rng, 129, 9)
    ly = np.log(y)
    g64 = g.astype(np.float64)
    exact = g64 - np.exp(ly.astype(np.float64)) * g64.sum(1, keepdims=True)
    gx = np.empty_like(ly)
    _C.softmax_backward(ly, g, gx, ly.shape[0], ly.shape[1], 1, True)
    # e^y's own error (about an ulp of e^y) times |s| ~ 72 bounds the difference
    bound = 2.5 * np.spacing(np.float32(1.0)) * np.abs(g64.sum(1, keepdims=True)) * np.exp(ly)
    assert (np.abs(gx - exact) <= bound + 2 * np.spacing(np.abs(exact).astype(np.float32))).all()


def test_softmax_exp_is_within_about_an_ulp(isa):
    # The log-softmax backward with g = (1, 0) and y = (0, x) writes -e^x exactly: it reads the
    # kernel's e^x (for x <= 0) over the whole range.  Taylor coefficients gave 2.7 ulp.
    x = np.concatenate([np.linspace(-87.0, 0.0, 400_001),
                        np.linspace(-0.35, 0.0, 100_001)]).astype(np.float32)
    y = np.ascontiguousarray(np.stack([np.zeros_like(x), x], 1))
    g = np.ascontiguousarray(np.stack([np.ones_like(x), np.zeros_like(x)], 1))
    gx = np.empty_like(y)
    _C.softmax_backward(y, g, gx, x.size, 2, 1, True)
    err = _ulps(-gx[:, 1], np.exp(x.astype(np.float64)))
    assert err.max() < 1.05
    assert err.mean() < 0.3


def test_softmax_forward_and_backward_nan_and_inf_unchanged(isa):
    # the lo part of an infinite or NaN sum is 0, so inf/NaN mean what they meant before
    y = np.array([[0.5, 0.5, 0.0, 0.0]], np.float32)
    for g, expect_nan in (([np.inf, 1.0, 1.0, 1.0], True), ([np.nan, 0.0, 0.0, 0.0], True),
                          ([1.0, 2.0, 3.0, 4.0], False)):
        g = np.array([g], np.float32)
        gx = np.empty_like(y)
        _C.softmax_backward(y, g, gx, 1, 4, 1, False)
        with np.errstate(invalid="ignore"):
            ref = y * (g - np.float32((y.astype(np.float64) * g).sum()))
        np.testing.assert_array_equal(np.isnan(gx), np.isnan(ref))
        assert np.isnan(gx).any() == expect_nan
        np.testing.assert_allclose(gx[~np.isnan(gx)], ref[~np.isnan(ref)], rtol=1e-6)

