"""The int8 GEMM whose float result is quantized again per row (csrc/qgemm_rows.c,
dl_u8s8_gemm_qrows): its codes, scales and zero points must equal the unfused path's (the
product to float32, then quantize_rows_u8 per row) bit for bit, on odd sizes, every ISA path,
1 and 2 threads, work buffers of one row up to the whole matrix, and rows holding NaN."""
import numpy as np
import pytest

from dlcore import _C

SIZES = [(1, 1, 1), (1, 7, 33), (7, 33, 65), (33, 65, 7), (100, 130, 29), (197, 70, 41)]


def case(rng, M, N, K, rr):
    W = rng.integers(-127, 128, (N, K)).astype(np.int8)
    packed, colsum = _C.u8s8_pack(W)
    x = rng.standard_normal((M, K)).astype(np.float32)
    q, s, z = _C.quantize_rows_u8(x, True, rr)
    ws = rng.uniform(0.001, 0.02, N).astype(np.float32)
    bias = rng.standard_normal(N).astype(np.float32)
    return q, packed, colsum, s, z, ws, bias


def unfused(q, packed, colsum, K, s, z, ws, bias, act, rr, out_rr):
    out = np.empty((q.shape[0], colsum.shape[0]), np.float32)
    _C.u8s8_gemm(q, packed, colsum, K, s, z, ws, bias, act, out, reduce_range=rr)
    return _C.quantize_rows_u8(out, True, out_rr)


@pytest.mark.parametrize("M,N,K", SIZES)
@pytest.mark.parametrize("act", ["none", "relu", "gelu"])
@pytest.mark.parametrize("rr", [False, True])
def test_rows_equal_the_unfused_path(M, N, K, act, rr, isa, threads, rng):
    q, packed, colsum, s, z, ws, bias = case(rng, M, N, K, rr)
    want = unfused(q, packed, colsum, K, s, z, ws, bias, act, rr, rr)
    for work_rows in (0, 1, 3, M):
        got = _C.u8s8_gemm_qrows(q, packed, colsum, K, s, z, ws, bias, act, reduce_range=rr,
                                 out_reduce_range=rr, work_rows=work_rows)
        for g, w in zip(got, want):
            np.testing.assert_array_equal(g, w)
    codes = got[0]
    assert codes.shape == (M, _C.u8s8_kpad(N))
    assert (codes[:, N:] == 0).all()                   # the padding the next product reads
    assert codes.max() <= (127 if rr else 255)


def test_rows_without_bias_and_mixed_ranges(isa, rng):
    """7-bit input codes with 8-bit output rows and the reverse"""
    q, packed, colsum, s, z, ws, _ = case(rng, 45, 37, 19, True)
    for out_rr in (False, True):
        want = unfused(q, packed, colsum, 19, s, z, ws, None, "gelu", True, out_rr)
        got = _C.u8s8_gemm_qrows(q, packed, colsum, 19, s, z, ws, None, "gelu",
                                 reduce_range=True, out_reduce_range=out_rr, work_rows=7)
        for g, w in zip(got, want):
            np.testing.assert_array_equal(g, w)


def test_a_nan_row_stays_its_own(isa, rng):
    q, packed, colsum, s, z, ws, bias = case(rng, 9, 21, 11, False)
    s = s.copy()
    s[4] = np.nan                                      # a row whose input held NaN or Inf
    codes, scale, zp = _C.u8s8_gemm_qrows(q, packed, colsum, 11, s, z, ws, bias, work_rows=2)
    assert np.isnan(scale[4]) and (codes[4] == 0).all()
    assert np.isfinite(np.delete(scale, 4)).all()
    want = unfused(q, packed, colsum, 11, s, z, ws, bias, "none", False, False)
    np.testing.assert_array_equal(codes, want[0])


def test_bad_arguments_raise(rng):
    q, packed, colsum, s, z, ws, bias = case(rng, 3, 5, 7, False)
    with pytest.raises(ValueError):
        _C.u8s8_gemm_qrows(q[:, :4], packed, colsum, 7, s, z, ws)
    with pytest.raises(ValueError):
        _C.u8s8_gemm_qrows(q, packed, colsum, 7, s[:2], z, ws)
    with pytest.raises(ValueError):
        _C.u8s8_gemm_qrows(q, packed, colsum, 7, s, z, ws, act="tanh")
    empty = _C.u8s8_gemm_qrows(q[:0], packed, colsum, 7, s[:0], z[:0], ws)
    assert empty[0].shape == (0, _C.u8s8_kpad(5))
