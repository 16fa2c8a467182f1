"""The packed quantised GEMM with 8-bit activations (csrc/qgemv_packed_gemm*.c), prompt
processing: each row of x rounded to int8 per 32-block, integer code sums over the 16-row
interleaved copy of the blocks.  Checked against a NumPy reference of the same block-quantised
product (tight: only float32 rounding of the scaling differs) and against the exact float64
product within the rounding bound of csrc/include/dlcore/qgemv.h, on odd sizes, every tile
the CPU has, 1 and 2 threads."""
import numpy as np
import pytest

from dlcore import _C
from dlcore.weights.quant import dequantize

from qpacked_paths import PATHS, on_path, outputs_on_every_path
from test_qgemv import KINDS, random_blocks

SIZES = [(1, 7, 32), (2, 17, 64), (3, 33, 160), (5, 1, 32), (7, 45, 576), (8, 19, 96),
         (9, 100, 224), (13, 5, 608), (16, 21, 96), (17, 31, 64), (24, 15, 1536), (37, 50, 96)]


@pytest.fixture(params=PATHS)
def path(request):
    """Runs the test once per tile the CPU has: each ISA, and AVX-512 with and without VNNI."""
    yield from on_path(request.param, _C.qgemm_packed_kernel_name)


def quantise_rows(x):
    """x's int8 codes and scales per 32-block as the kernel forms them (float32 arithmetic,
    rounding half to even): q = rint(x * (127 / amax)), s = amax / 127."""
    M, K = x.shape
    xb = x.reshape(M, K // 32, 32)
    amax = np.abs(xb).max(2)
    with np.errstate(divide="ignore"):
        inv = np.where(amax > 0, np.float32(127) / amax, np.float32(0)).astype(np.float32)
    q = np.rint(xb * inv[..., None]).astype(np.float64)
    s = (amax / np.float32(127)).astype(np.float32).astype(np.float64)
    return q, s


def block_reference(raw, kind, x):
    """float64 y of the block-quantised product: the dequantised weights times x's codes
    scaled per block (every kind's offset term included: the rounded x's own product)."""
    N, K, M = raw.shape[0], x.shape[1], x.shape[0]
    W = dequantize(raw, kind, (N, K)).astype(np.float64)
    q, s = quantise_rows(x)
    return (q * s[..., None]).reshape(M, K) @ W.T


def exact(raw, kind, x):
    N, K = raw.shape[0], x.shape[1]
    W = dequantize(raw, kind, (N, K)).astype(np.float64)
    return W, x.astype(np.float64) @ W.T


def rounding_bound(W, x):
    """Each x_k moves by at most s_b / 2 (s_b = max|x_b| / 127), plus float32 sums."""
    M, K = x.shape
    N = W.shape[0]
    s = np.abs(x.astype(np.float64)).reshape(M, K // 32, 32).max(2) / 127
    absw = np.abs(W).reshape(N, K // 32, 32).sum(2)         # (N, nb)
    return (s / 2) @ absw.T + 1e-5 * (np.abs(x).astype(np.float64) @ np.abs(W).T) + 1e-6


def packed_gemm(kind, raw, x, out=None, accumulate=False):
    code, N, K = _C.QGEMV_KINDS[kind], raw.shape[0], x.shape[1]
    P = _C.qpack(code, raw, K)
    if out is None:
        out = np.full((x.shape[0], N), np.nan, np.float32)
    return _C.qgemm_packed(code, x, P, N, out, accumulate)


def scale_tol(raw, kind, x):
    """float32 rounding of the per-block scaling and the block sums: a few ulps of the sum of
    |terms|."""
    N, K = raw.shape[0], x.shape[1]
    W = dequantize(raw, kind, (N, K)).astype(np.float64)
    return 4e-6 * (np.abs(x).astype(np.float64) @ np.abs(W).T) + 1e-6


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("M,N,K", SIZES)
def test_packed_gemm_matches_the_block_quantised_reference(kind, M, N, K, path, threads, rng):
    raw = random_blocks(rng, kind, N, K)
    x = rng.standard_normal((M, K)).astype(np.float32)
    out = packed_gemm(kind, raw, x)
    ref = block_reference(raw, kind, x)
    assert np.all(np.abs(out - ref) <= scale_tol(raw, kind, x))
    W, want = exact(raw, kind, x)
    assert np.all(np.abs(out - want) <= rounding_bound(W, x))


@pytest.mark.parametrize("kind", KINDS)
def test_the_int8_rounding_is_what_moves_the_result(kind, rng):
    # not the exact product: the error is of the size int8 rounding gives (a kernel that kept x
    # in float would be ~1e-6 off), and within the bound
    raw = random_blocks(rng, kind, 64, 256)
    x = rng.standard_normal((9, 256)).astype(np.float32)
    out = packed_gemm(kind, raw, x)
    W, want = exact(raw, kind, x)
    rel = np.abs(out - want).max() / np.abs(want).max()
    assert 1e-4 < rel < 2e-2


@pytest.mark.parametrize("kind", KINDS)
def test_each_block_and_row_has_its_own_scale(kind, path, rng):
    bb = {"Q4_0": 18, "Q4_1": 20, "Q8_0": 34}[kind]
    raw = random_blocks(rng, kind, 19, 64)
    raw[:, :bb] = 0                                     # first block of every row: zero weights
    x = np.concatenate([rng.standard_normal((3, 32)) * 1e4,
                        rng.standard_normal((3, 32)) * 1e-4], axis=1).astype(np.float32)
    x[1] *= 1e-3                                        # a row far smaller than the others
    out = packed_gemm(kind, raw, x)
    W, want = exact(raw, kind, x)
    b = rounding_bound(W, x)
    assert np.all(np.abs(out - want) <= b)
    # (one scale per row, ~1e4 / 127, would round the small block to 0: out = 0)
    assert np.linalg.norm(out - want) < 0.1 * np.linalg.norm(want)


@pytest.mark.parametrize("kind", KINDS)
def test_packed_gemm_accumulates(kind, path, threads, rng):
    raw = random_blocks(rng, kind, 37, 96)
    x = rng.standard_normal((11, 96)).astype(np.float32)
    y0 = rng.standard_normal((11, 37)).astype(np.float32)
    out = packed_gemm(kind, raw, x, y0.copy(), accumulate=True)
    ref = y0 + block_reference(raw, kind, x)
    assert np.all(np.abs(out - ref) <= scale_tol(raw, kind, x) + 1e-6 * np.abs(ref))


@pytest.mark.parametrize("kind", KINDS)
def test_isa_paths_give_the_same_integer_sums(kind, rng):
    raw = random_blocks(rng, kind, 33, 160)
    x = rng.standard_normal((10, 160)).astype(np.float32)
    outs, names = outputs_on_every_path(lambda: packed_gemm(kind, raw, x),
                                        _C.qgemm_packed_kernel_name)
    assert "generic" in names
    for o in outs[1:]:
        np.testing.assert_allclose(o, outs[0], rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("special", [np.nan, np.inf, -np.inf])
def test_rows_with_nan_or_inf_take_the_exact_loop(kind, special, path, threads, rng):
    # that row: the IEEE result of the float product (+-Inf where the weight at the Inf is
    # nonzero, NaN where it is zero or x is NaN); the other rows: the int8 product as usual
    raw = random_blocks(rng, kind, 21, 64)
    x = rng.standard_normal((10, 64)).astype(np.float32)
    x[3, 40] = special
    out = packed_gemm(kind, raw, x)
    with np.errstate(invalid="ignore"):
        W, want = exact(raw, kind, x)
    np.testing.assert_array_equal(np.isnan(out), np.isnan(want))
    np.testing.assert_array_equal(np.isinf(out), np.isinf(want))
    inf = np.isinf(want)
    np.testing.assert_array_equal(np.sign(out[inf]), np.sign(want[inf]))
    assert not np.isfinite(want[3]).all()
    ok = np.arange(10) != 3
    ref = block_reference(raw, kind, x[ok])
    assert np.all(np.abs(out[ok] - ref) <= scale_tol(raw, kind, x[ok]))


@pytest.mark.parametrize("kind", KINDS)
def test_tiny_and_zero_rows(kind, path, rng):
    raw = random_blocks(rng, kind, 18, 96)
    x = rng.standard_normal((4, 96)).astype(np.float32)
    x[1] *= np.float32(1e-30)                   # below 2^-60: that row takes the exact loop
    x[1, 32:64] = 0.0
    x[2] = 0.0
    x[3, :32] = 0.0                             # a zero block in an ordinary row
    W, want = exact(raw, kind, x)
    out = packed_gemm(kind, raw, x)
    fl = 1e-5 * (np.abs(x[1]).astype(np.float64) @ np.abs(W).T)
    assert np.all(np.abs(out[1] - want[1]) <= fl)
    assert np.all(out[1][want[1] != 0] != 0)
    np.testing.assert_array_equal(out[2], 0.0)
    assert np.all(np.abs(out[[0, 3]] - want[[0, 3]]) <= rounding_bound(W, x[[0, 3]]))


def test_packed_gemm_argument_errors(rng):
    raw = random_blocks(rng, "Q4_1", 20, 64)
    P = _C.qpack(3, raw, 64)
    x = rng.standard_normal((3, 64)).astype(np.float32)
    out = np.empty((3, 20), np.float32)
    with pytest.raises(ValueError, match="unknown block kind 5"):
        _C.qgemm_packed(5, x, P, 20, out)
    with pytest.raises(ValueError, match="K must be a multiple of 32"):
        _C.qgemm_packed(3, np.zeros((3, 40), np.float32), P, 20, out)
    with pytest.raises(ValueError, match="packed must be the 1-D uint8 array"):
        _C.qgemm_packed(3, x, P[:-1], 20, out)
    with pytest.raises(ValueError, match="packed must be the 1-D uint8 array"):
        _C.qgemm_packed(3, x, P, 40, out)
    with pytest.raises(ValueError, match="2-D"):
        _C.qgemm_packed(3, x[0], P, 20, out)
    with pytest.raises((TypeError, ValueError), match="out"):
        _C.qgemm_packed(3, x, P, 20, np.empty((3, 19), np.float32))
    with pytest.raises((TypeError, ValueError), match="x"):
        _C.qgemm_packed(3, x.astype(np.float64), P, 20, out)
    # empty rows: nothing written, no error
    _C.qgemm_packed(3, np.zeros((0, 64), np.float32), P, 20, np.empty((0, 20), np.float32))
