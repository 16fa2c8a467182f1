"""The packed decoding product (csrc/qgemv_packed*.c): x split into two int16 parts per 32-block,
integer code sums over a 16-row interleaved copy of the blocks, against NumPy's dequantise +
matmul in float64 with the bound the split allows plus float32 rounding
(csrc/include/dlcore/qgemv.h)."""
import numpy as np
import pytest

from dlcore import _C
from dlcore.weights.quant import dequantize

from qpacked_paths import PATHS, on_path, outputs_on_every_path
from test_qgemv import KINDS, random_blocks



@pytest.fixture(params=PATHS)
def path(request):
    """Runs the test once per tile the CPU has: each ISA, and AVX-512 with and without VNNI."""
    yield from on_path(request.param, _C.qgemv_packed_kernel_name)


def reference(raw, kind, x):
    N, K = raw.shape[0], x.shape[1]
    W = dequantize(raw, kind, (N, K)).astype(np.float64)
    return W, x.astype(np.float64) @ W.T


def bound(W, x):
    """x's split: |x_k - s_b (xq_k + xl_k 2^-15)| <= s_b 2^-16 with s_b = max|x_b| / 32767, so
    the product moves by at most sum_b s_b 2^-16 sum_{k in b} |w_jk|; plus float32 sums (the
    same allowance as the float kernel's test in test_qgemv.py)."""
    N, K = W.shape
    s = np.abs(x.astype(np.float64)).reshape(-1, 32).max(1) / 32767
    rounding = (np.abs(W).reshape(N, K // 32, 32).sum(2) * s / 65536).sum(1)
    return rounding + 1e-5 * (np.abs(x).astype(np.float64) @ np.abs(W).T) + 1e-6


def packed_product(kind, raw, x, out=None, accumulate=False):
    code, N, K = _C.QGEMV_KINDS[kind], raw.shape[0], x.shape[1]
    P = _C.qpack(code, raw, K)
    if out is None:
        out = np.full((1, N), np.nan, np.float32)
    return _C.qgemv_packed(code, x, P, N, out, accumulate)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("N,K", [(1, 32), (7, 64), (15, 96), (16, 32), (17, 96), (33, 576),
                                 (100, 32 * 7), (45, 1536)])
def test_packed_gemv_matches_numpy_within_the_rounding_bound(kind, N, K, path, threads, rng):
    raw = random_blocks(rng, kind, N, K)
    x = rng.standard_normal((1, K)).astype(np.float32)
    W, ref = reference(raw, kind, x)
    out = packed_product(kind, raw, x)
    assert np.all(np.abs(out - ref) <= bound(W, x))


@pytest.mark.parametrize("kind", KINDS)
def test_each_block_of_x_has_its_own_scale(kind, path, rng):
    # x: a block of large values, then one of small values; W: zero in the first block, so the
    # product is the small block's alone.  One scale for all of x (max ~3e4 / 32767) would
    # round the small block to 0; its own scale keeps it to the bound.
    bb = {"Q4_0": 18, "Q4_1": 20, "Q8_0": 34}[kind]
    raw = random_blocks(rng, kind, 19, 64)
    raw[:, :bb] = 0                                    # d = m = 0, codes 0: zero weights
    x = np.concatenate([rng.standard_normal(32) * 1e4, rng.standard_normal(32) * 1e-4])
    x = x.astype(np.float32)[None]
    W, ref = reference(raw, kind, x)
    assert np.all(W[:, :32] == 0)
    out = packed_product(kind, raw, x)
    assert np.all(np.abs(out - ref) <= bound(W, x))
    # (a kernel that zeroed the small block, out = 0, would miss the bound on most rows)
    assert np.mean(np.abs(ref) > bound(W, x)) > 0.9


@pytest.mark.parametrize("kind", KINDS)
def test_packed_gemv_accumulates(kind, path, threads, rng):
    raw = random_blocks(rng, kind, 37, 96)
    x = rng.standard_normal((1, 96)).astype(np.float32)
    y0 = rng.standard_normal((1, 37)).astype(np.float32)
    W, ref = reference(raw, kind, x)
    out = packed_product(kind, raw, x, y0.copy(), accumulate=True)
    assert np.all(np.abs(out - (y0 + ref)) <= bound(W, x) + 1e-6 * np.abs(y0 + ref))


@pytest.mark.parametrize("kind", KINDS)
def test_isa_paths_agree(kind, rng):
    raw = random_blocks(rng, kind, 33, 160)
    x = rng.standard_normal((1, 160)).astype(np.float32)
    outs, names = outputs_on_every_path(lambda: packed_product(kind, raw, x),
                                        _C.qgemv_packed_kernel_name)
    assert "generic" in names
    # the same integer sums on every path; only float32 rounding of the scaling differs
    for o in outs[1:]:
        np.testing.assert_allclose(o, outs[0], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("special", [np.nan, np.inf, -np.inf])
def test_nan_and_inf_in_x_give_the_ieee_result(kind, special, path, rng):
    # as the float64 product of the dequantised weights: +-Inf where the weight at the Inf is
    # nonzero, NaN where it is zero (0 * Inf) or the input is NaN
    raw = random_blocks(rng, kind, 21, 64)
    x = rng.standard_normal((1, 64)).astype(np.float32)
    x[0, 40] = special
    out = packed_product(kind, raw, x)
    with np.errstate(invalid="ignore"):
        _, want = reference(raw, kind, x)
    np.testing.assert_array_equal(np.isnan(out), np.isnan(want))
    np.testing.assert_array_equal(np.isinf(out), np.isinf(want))
    fin = np.isfinite(want)
    np.testing.assert_array_equal(np.sign(out[~fin & ~np.isnan(want)]),
                                  np.sign(want[~fin & ~np.isnan(want)]))
    assert not fin.all()


@pytest.mark.parametrize("kind", KINDS)
def test_tiny_and_zero_x(kind, path, rng):
    raw = random_blocks(rng, kind, 18, 96)
    x = (rng.standard_normal((1, 96)) * 1e-30).astype(np.float32)   # below 2^-60: exact path
    x[0, 32:64] = 0.0
    W, ref = reference(raw, kind, x)
    out = packed_product(kind, raw, x)
    assert np.all(np.abs(out - ref) <= 1e-5 * (np.abs(x).astype(np.float64) @ np.abs(W).T))
    assert np.all(out[ref != 0] != 0)
    zero = packed_product(kind, raw, np.zeros((1, 96), np.float32))
    np.testing.assert_array_equal(zero, 0.0)


@pytest.mark.parametrize("kind", KINDS)
def test_pack_layout_size_and_padding(kind, rng):
    code = _C.QGEMV_KINDS[kind]
    raw = random_blocks(rng, kind, 17, 64)
    P = _C.qpack(code, raw, 64)
    per_block = {"Q8_0": 32 + 512}.get(kind, 64 + 256)
    assert P.shape == (2 * 2 * per_block,)              # 2 tiles of 16 rows, 2 blocks each
    # row 16 alone packs to the second tile with the 15 rows after it zero
    P16 = _C.qpack(code, raw[16:17].copy(), 64)
    np.testing.assert_array_equal(P16, P[2 * per_block:])
    x = rng.standard_normal((1, 64)).astype(np.float32)
    a = packed_product(kind, raw, x)
    b = packed_product(kind, raw[16:17].copy(), x)
    assert a[0, 16] == b[0, 0]


def test_packed_gemv_argument_errors(rng):
    raw = random_blocks(rng, "Q4_1", 4, 64)
    P = _C.qpack(3, raw, 64)
    x = np.ones((1, 64), np.float32)
    out = np.empty((1, 4), np.float32)
    with pytest.raises(ValueError, match="unknown block kind"):
        _C.qgemv_packed(5, x, P, 4, out)
    with pytest.raises(ValueError, match="unknown block kind"):
        _C.qpack(5, raw, 64)
    with pytest.raises(ValueError, match="x must be"):
        _C.qgemv_packed(3, np.ones((2, 64), np.float32), P, 4, np.empty((2, 4), np.float32))
    with pytest.raises(ValueError, match="multiple of 32"):
        _C.qgemv_packed(3, np.ones((1, 40), np.float32), P, 4, out)
    with pytest.raises(ValueError, match="packed must be"):
        _C.qgemv_packed(3, x, P[:-1].copy(), 4, out)
    with pytest.raises(ValueError, match="packed must be"):
        _C.qgemv_packed(8, x, P, 4, out)                 # packed for another kind
    with pytest.raises(ValueError, match="out must have shape"):
        _C.qgemv_packed(3, x, P, 4, np.empty((1, 5), np.float32))
    with pytest.raises(TypeError):
        _C.qgemv_packed(3, x.astype(np.float64), P, 4, out)
    with pytest.raises(TypeError):
        _C.qgemv_packed(3, x, None, 4, out)
