"""GEMM's small-product path (float32, M*N*K <= 2**18 on AVX-512 and AVX2: A read in place).

Checked against the float64 NumPy reference on odd sizes, both transposes and every epilogue,
and bit for bit against the packed, blocked path: the same rows computed as part of a product
too large for the small path (rows are independent and the K blocks are the same) must give the
same bits (gemm.c computes each tile identically on both paths).
"""
import numpy as np
import pytest

from dlcore import _C
from test_gemm import check, reference

SMALL_MNK = 1 << 18
# M >= 5 and N >= 2: M == 1 / N == 1 (matrix-vector) and M <= 4 with op(B) = B^T (row dots)
# have direct paths of their own, which sum in another order.
SHAPES = [(5, 2, 3), (13, 17, 5), (14, 32, 8), (15, 33, 64), (29, 47, 100), (64, 64, 64),
          (7, 300, 100), (100, 20, 30), (5, 5, 700), (41, 16, 257)]
EPILOGUES = [(1.0, 0.0, 0, 0), (0.5, 1.5, 1, 1), (-1.0, 0.25, 2, 2), (2.0, 1.0, 1, 0)]


@pytest.mark.parametrize("isa", _C.supported_isas())
@pytest.mark.parametrize("ta,tb", [(0, 0), (1, 0), (0, 1), (1, 1)])
def test_small_path_matches_reference_and_blocked_path(isa, ta, tb):
    prev_isa, prev_nt = _C.get_isa(), _C.get_num_threads()
    rng = np.random.default_rng(11 + 2 * ta + tb)
    try:
        _C.set_isa(isa)
        _C.set_num_threads(1)
        for (M, N, K), (alpha, beta, bias_kind, act) in zip(SHAPES, EPILOGUES * len(SHAPES)):
            assert M * N * K <= SMALL_MNK
            big_M = SMALL_MNK // (N * K) + 15          # enough rows for the blocked path
            Abig = rng.standard_normal((K, big_M) if ta else (big_M, K)).astype(np.float32)
            A = Abig[:, :M] if ta else Abig[:M]
            B = rng.standard_normal((N, K) if tb else (K, N)).astype(np.float32)
            Cbig = rng.standard_normal((big_M, N)).astype(np.float32)
            C0 = Cbig[:M].copy()
            bias = None
            if bias_kind == _C.BIAS_ROW:
                bias = rng.standard_normal(N).astype(np.float32)
            elif bias_kind == _C.BIAS_COL:
                bias = rng.standard_normal(big_M).astype(np.float32)
            small_bias = bias[:M] if bias_kind == _C.BIAS_COL else bias
            C = C0.copy()
            _C.gemm(np.ascontiguousarray(A), B, C, ta, tb, alpha, beta, small_bias, bias_kind,
                    act)
            expected, scale = reference(A, B, C0, ta, tb, alpha, beta, small_bias, bias_kind,
                                        act)
            check(C, expected, scale, K, np.float32)
            _C.gemm(Abig, B, Cbig, ta, tb, alpha, beta, bias, bias_kind, act)
            assert np.array_equal(C, Cbig[:M], equal_nan=True), (
                "%s %dx%dx%d ta=%d tb=%d: small path differs from the blocked path (max %g)"
                % (isa, M, N, K, ta, tb, np.abs(C - Cbig[:M]).max()))
    finally:
        _C.set_isa(prev_isa)
        _C.set_num_threads(prev_nt)


def test_small_path_reads_a_in_place_from_views():
    """A strided view (row stride larger than K, or a transposed view) is read where it is."""
    rng = np.random.default_rng(2)
    base = rng.standard_normal((40, 70)).astype(np.float32)
    B = rng.standard_normal((30, 20)).astype(np.float32)
    for A, ta in ((base[3:20, 5:35], 0), (base[5:35, 3:20], 1)):
        C = np.full((17, 20), np.nan, np.float32)
        _C.gemm(A, B, C, ta, 0)
        expected, scale = reference(A, B, None, ta, 0, 1.0, 0.0, None, 0, 0)
        check(C, expected, scale, 30, np.float32)
