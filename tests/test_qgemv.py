"""Fused dequantising matrix products (csrc/qgemv*.c) against NumPy dequantise + matmul."""
import numpy as np
import pytest

from dlcore import _C
from dlcore.weights.quant import dequantize, BLOCK_BYTES

KINDS = ["Q4_0", "Q4_1", "Q8_0"]


def random_blocks(rng, kind, n_rows, K):
    """Rows of random ggml blocks with finite float16 scales (and minimums for Q4_1)."""
    nb = K // 32
    bb = BLOCK_BYTES[kind]
    raw = rng.integers(0, 256, size=(n_rows, nb, bb), dtype=np.uint8)
    d = (rng.standard_normal((n_rows, nb)) * 0.05).astype("<f2")
    raw[:, :, 0:2] = d.view(np.uint8).reshape(n_rows, nb, 2)
    if kind == "Q4_1":
        m = (rng.standard_normal((n_rows, nb)) * 0.1).astype("<f2")
        raw[:, :, 2:4] = m.view(np.uint8).reshape(n_rows, nb, 2)
    return raw.reshape(n_rows, nb * bb)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("M,N,K", [(1, 1, 32), (1, 7, 64), (1, 17, 96), (1, 100, 32 * 7),
                                   (3, 33, 160), (5, 1, 32), (2, 45, 576), (7, 19, 96),
                                   (8, 17, 1536), (9, 33, 64), (13, 5, 608), (16, 21, 96),
                                   (17, 7, 96), (33, 3, 64)])
def test_qgemm_matches_numpy(kind, M, N, K, isa, threads, rng):
    raw = random_blocks(rng, kind, N, K)
    W = dequantize(raw, kind, (N, K)).astype(np.float64)
    x = rng.standard_normal((M, K)).astype(np.float32)
    out = np.full((M, N), np.nan, np.float32)
    _C.qgemm(_C.QGEMV_KINDS[kind], x, raw, out)
    ref = x.astype(np.float64) @ W.T
    tol = 1e-5 * (np.abs(x).astype(np.float64) @ np.abs(W).T) + 1e-6
    assert np.all(np.abs(out - ref) <= tol)


@pytest.mark.parametrize("kind", KINDS)
def test_short_prompt_kernel_agrees_with_the_decoding_kernel(kind, isa, rng):
    raw = random_blocks(rng, kind, 11, 64)
    W = dequantize(raw, kind, (11, 64)).astype(np.float64)
    x = rng.standard_normal((6, 64)).astype(np.float32)
    out = np.full((6, 11), np.nan, np.float32)
    _C.qgemm(_C.QGEMV_KINDS[kind], x, raw, out)
    ref = x.astype(np.float64) @ W.T
    assert np.all(np.abs(out - ref) <= 1e-5 * (np.abs(x) @ np.abs(W).T) + 1e-6)
    # each row alone (the decoding kernel) agrees with the short-prompt kernel
    for i in range(6):
        one = np.empty((1, 11), np.float32)
        _C.qgemm(_C.QGEMV_KINDS[kind], x[i:i + 1].copy(), raw, one)
        np.testing.assert_allclose(one[0], out[i], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("M", [1, 6, 19])
def test_qgemm_accumulates_into_out(kind, M, isa, threads, rng):
    raw = random_blocks(rng, kind, 37, 96)
    W = dequantize(raw, kind, (37, 96)).astype(np.float64)
    x = rng.standard_normal((M, 96)).astype(np.float32)
    out = rng.standard_normal((M, 37)).astype(np.float32)
    ref = out.astype(np.float64) + x.astype(np.float64) @ W.T
    _C.qgemm(_C.QGEMV_KINDS[kind], x, raw, out, True)
    assert np.all(np.abs(out - ref) <= 1e-5 * (np.abs(x) @ np.abs(W).T + np.abs(ref)) + 1e-6)


@pytest.mark.parametrize("kind", KINDS)
def test_qdequant_matches_numpy(kind, isa, threads, rng):
    raw = random_blocks(rng, kind, 19, 96)
    np.testing.assert_array_equal(_C.qdequant(_C.QGEMV_KINDS[kind], raw, 96),
                                  dequantize(raw, kind, (19, 96)))


def test_half_scales_special_values(isa, rng):
    # subnormal, zero and negative float16 scales go through the same conversion as NumPy's
    raw = random_blocks(rng, "Q8_0", 4, 64)
    scales = np.array([[6e-8, -0.0], [1e-5, -2.5], [65504.0, 0.0], [-6.1e-5, 1.0]], "<f2")
    r = raw.reshape(4, 2, 34)
    r[:, :, 0:2] = scales.view(np.uint8).reshape(4, 2, 2)
    np.testing.assert_array_equal(_C.qdequant(8, raw, 64), dequantize(raw, "Q8_0", (4, 64)))


def test_nan_propagates(isa):
    raw = np.zeros((2, 20), np.uint8)
    x = np.ones((1, 32), np.float32)
    x[0, 5] = np.nan
    out = np.zeros((1, 2), np.float32)
    _C.qgemm(3, x, raw, out)
    assert np.isnan(out).all()


def test_qgemm_argument_errors(rng):
    raw = random_blocks(rng, "Q4_1", 4, 64)
    x = np.ones((1, 64), np.float32)
    out = np.empty((1, 4), np.float32)
    with pytest.raises(ValueError, match="unknown block kind"):
        _C.qgemm(5, x, raw, out)
    with pytest.raises(ValueError, match="multiple of 32"):
        _C.qgemm(3, np.ones((1, 40), np.float32), raw, out)
    with pytest.raises(ValueError, match="must hold 40 bytes"):
        _C.qgemm(3, x, np.ascontiguousarray(raw[:, :20]), out)
    with pytest.raises(ValueError, match="out must have shape"):
        _C.qgemm(3, x, raw, np.empty((1, 5), np.float32))
    with pytest.raises(TypeError):
        _C.qgemm(3, x.astype(np.float64), raw, out)
    with pytest.raises(TypeError, match="uint8"):
        _C.qgemm(3, x, raw.astype(np.int16), out)
