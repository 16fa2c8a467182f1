"""GEMM's packed path at the edges of its packing routines and blocks, on every SIMD path at
1 and 2 threads, against the float64 NumPy reference.

The AVX2 path packs with in-register 8 x 8 transposes (op(A) rows into 6-wide panels, op(B)^T
rows into 16-wide panels), 8-row band copies (B into 16-wide panels) and panel-by-panel copies
over 32-row chunks (A^T into 6-wide panels), storing 6-wide rows with full-width stores that
spill into the next row of the panel; its blocks come from the L2 size (KC = 512 or 256).
So: every residue of M mod 6 and N mod 16, K mod 8 tails of 1..7, K across one and two K
blocks, all four transposes, operands that are strided views (a row pitch larger than the
row), and C written into a window of a larger array whose other elements must not change.
Shapes are above the small-product bound (2^18 multiply-adds) so the packed path runs.
"""
import itertools

import numpy as np
import pytest

from dlcore import _C
from test_gemm import check, path, reference  # noqa: F401  (path is a fixture)

SHAPES = [(61, 67, 71), (96, 48, 129), (37, 133, 257), (70, 530, 520), (23, 41, 1030),
          (130, 17, 515), (8, 300, 263), (257, 31, 96)]
EPILOGUES = list(itertools.product([1.0, -0.5], [0.0, 1.0, 0.3],
                                   [0, _C.BIAS_ROW, _C.BIAS_COL],
                                   [_C.ACT_NONE, _C.ACT_RELU, _C.ACT_GELU, _C.ACT_RELU6]))


def padded(rng, rows, cols, pad):
    """A rows x cols float32 view with row pitch cols + pad into a larger array."""
    big = rng.standard_normal((rows + 1, cols + pad)).astype(np.float32)
    return big[1:, pad // 2:pad // 2 + cols]


@pytest.mark.parametrize("ta,tb", [(0, 0), (0, 1), (1, 0), (1, 1)])
def test_packing_edges_strided_operands_and_c_window(path, ta, tb):
    rng = np.random.default_rng(100 + 2 * ta + tb)
    for i, (M, N, K) in enumerate(SHAPES):
        assert M * N * K > 1 << 18
        A = padded(rng, K, M, 5) if ta else padded(rng, M, K, 3)
        B = padded(rng, N, K, 7) if tb else padded(rng, K, N, 9)
        alpha, beta, bias_kind, act = EPILOGUES[(5 * i + 3 * ta + tb) % len(EPILOGUES)]
        big = rng.standard_normal((M + 3, N + 21)).astype(np.float32)
        C = big[1:1 + M, 4:4 + N]
        C0 = C.copy()
        before = big.copy()
        bias = None
        if bias_kind:
            bias = rng.standard_normal(N if bias_kind == _C.BIAS_ROW else M).astype(np.float32)
        expected, scale = reference(A, B, C0, ta, tb, alpha, beta, bias, bias_kind, act)
        if beta == 0:
            C[...] = np.nan   # beta == 0 must not read C
            before[1:1 + M, 4:4 + N] = np.nan
        _C.gemm(A, B, C, bool(ta), bool(tb), alpha, beta, bias, bias_kind, act)
        check(C, expected, scale, K, np.float32)
        outside = np.ones(big.shape, bool)
        outside[1:1 + M, 4:4 + N] = False
        np.testing.assert_array_equal(big[outside], before[outside])


def test_every_row_and_column_residue(path):
    """M = 30..37 and N = 32..48 cover every residue of the 6 x 16 (AVX2), 14 x 32 (AVX-512)
    and 4 x 8 (generic) tiles, with K = 295: a tail of 7 after the 8-wide transposes, and
    every product above the small-product bound."""
    rng = np.random.default_rng(3)
    K = 295
    for M in range(30, 38):
        for N in (32, 33, 38, 40, 47, 48):
            for tb in (False, True):
                A = rng.standard_normal((M, K)).astype(np.float32)
                B = rng.standard_normal((N, K) if tb else (K, N)).astype(np.float32)
                C = np.full((M, N), np.nan, np.float32)
                _C.gemm(A, B, C, False, tb)
                expected, scale = reference(A, B, C, False, tb, 1.0, 0.0, None, 0, 0)
                check(C, expected, scale, K, np.float32)


def test_transposed_a_narrow_panels(path):
    """op(A) = A^T packs into MR-wide panels panel by panel over 32-row chunks (AVX2: one
    8-wide load per row whose extra lanes are the next panel's, masked past M; the store's
    extra lanes spill into the next row, the panel's last row stored masked).  M = 42..49 ends
    the last panel at every residue of 6 and 8, with at least seven panels; K = 70 and 545
    end mid-chunk, the latter across two K blocks; A has a row pitch larger than M, so a load
    past M would read the pad (NaN here) and a spill into the wrong row would change C."""
    rng = np.random.default_rng(17)
    N = 100
    for K in (70, 545):
        for M in range(42, 50):
            big = np.full((K, M + 11), np.nan, np.float32)
            big[:, 3:3 + M] = rng.standard_normal((K, M))
            A = big[:, 3:3 + M]
            B = rng.standard_normal((K, N)).astype(np.float32)
            C = np.full((M, N), np.nan, np.float32)
            _C.gemm(A, B, C, True, False)
            expected, scale = reference(A, B, C, True, False, 1.0, 0.0, None, 0, 0)
            check(C, expected, scale, K, np.float32)
