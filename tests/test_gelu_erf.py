"""The exact (erf) GELU kernel and its slope against float64 on dense grids, every SIMD path:
relative error elementwise, the negative tail included (csrc/simd_normal.h states the bounds),
and the special values."""
import math

import numpy as np
import pytest

from dlcore import _C

_erfc = np.vectorize(math.erfc, otypes=[np.float64])


def _refs(x):
    """GELU, its slope and the slope's scale |Phi| + |x phi| in float64 at the float32 x."""
    xd = x.astype(np.float64)
    cdf = 0.5 * _erfc(-xd / math.sqrt(2))
    xpdf = xd * np.exp(-0.5 * xd * xd) / math.sqrt(2 * math.pi)
    return xd * cdf, cdf + xpdf, np.abs(cdf) + np.abs(xpdf)


def _run(x):
    y = np.empty_like(x)
    gx = np.empty_like(x)
    _C.act_forward(_C.AF_GELU, x, y)
    _C.act_backward(_C.AF_GELU, x, None, np.ones_like(x), gx)
    return y, gx


def test_gelu_dense_grid_relative_error(isa, rng):
    # odd length (a masked tail), the whole range where GELU is a normal float, and random
    # values; the AVX2 path flushes below x = -13.2 (|GELU| < 6e-39), so the grid stops at -13
    x = np.concatenate([np.linspace(-13.0, 9.0, 300007),
                        np.clip(rng.standard_normal(20001) * 4, -13, 9)]).astype(np.float32)
    y, gx = _run(x)
    ref, dref, scale = _refs(x)
    normal = np.abs(ref) >= np.finfo(np.float32).tiny     # denormal results carry fewer digits
    rel = np.where(normal, np.abs(y - ref) / np.maximum(np.abs(ref), 1e-300), 0.0)
    # 4.3e-7 measured (Phi's rational fit, e^r and the roundings); 0 and tiny x are exact
    assert rel.max() <= 6e-7, (rel.max(), x[np.argmax(rel)])
    err = np.abs(gx - dref) / scale
    assert err.max() <= 5e-7, (err.max(), x[np.argmax(err)])


def test_gelu_tail_keeps_relative_precision(isa):
    # where 0.5 x (1 + erf(x / sqrt 2)) has cancelled to 0 or garbage in float32
    x = np.array([-5.5, -7.0, -9.0, -11.0, -12.9] * 5, np.float32)
    y, gx = _run(x)
    ref, dref, _ = _refs(x)
    np.testing.assert_allclose(y, ref, rtol=6e-7, atol=0)
    np.testing.assert_allclose(gx, dref, rtol=1e-6, atol=0)


def test_gelu_special_values(isa):
    big = np.float32(3.4e38)
    x = np.array([np.nan, np.inf, -np.inf, 0.0, -0.0, 1e-30, -1e-30, 30.0, 1e20, big,
                  -14.5, -30.0, -1e20, -big, 2.0, -2.0, 5.0], np.float32)
    y, gx = _run(x)
    assert np.isnan(y[0]) and np.isnan(gx[0])
    assert y[1] == np.inf                            # +inf stays +inf
    assert np.isnan(y[2])                            # -inf * Phi(-inf) = -inf * 0, as torch
    assert y[3] == 0 and not np.signbit(y[3]) and y[4] == 0 and np.signbit(y[4])
    np.testing.assert_array_equal(y[5:7], x[5:7] * np.float32(0.5))
    np.testing.assert_array_equal(y[7:10], x[7:10])  # Phi = 1 exactly: GELU(x) = x
    np.testing.assert_array_equal(gx[7:10], 1.0)
    # below float's range (the generic path's double erfc may leave a denormal)
    assert (np.abs(y[10:14]) <= 1e-44).all() and (np.abs(gx[10:14]) <= 1e-44).all()
    assert np.isfinite(y[3:]).all() and np.isfinite(gx[3:]).all()
    np.testing.assert_array_equal(gx[3:7], 0.5)


def test_gelu_float64_kernel_matches_erfc(rng):
    x = np.concatenate([np.linspace(-30, 12, 10001), rng.standard_normal(999) * 5])
    y = np.empty_like(x)
    gx = np.empty_like(x)
    _C.act_forward(_C.AF_GELU, x, y)
    _C.act_backward(_C.AF_GELU, x, None, np.ones_like(x), gx)
    ref, dref, scale = _refs(x)
    np.testing.assert_allclose(y, ref, rtol=1e-12, atol=0)
    assert (np.abs(gx - dref) / scale).max() <= 1e-12


@pytest.mark.parametrize("n", [1, 15, 16, 17, 63, 65, 1000])
def test_gelu_tails_match_whole_vectors(n, isa, rng):
    # a masked partial vector gives exactly what the same values give inside a full vector
    x = (rng.standard_normal(n) * 3).astype(np.float32)
    y, gx = _run(x)
    xl = np.concatenate([x, np.zeros(64 - n % 64 if n % 64 else 0, np.float32)])
    yl, gxl = _run(xl)
    np.testing.assert_array_equal(y, yl[:n])
    np.testing.assert_array_equal(gx, gxl[:n])
