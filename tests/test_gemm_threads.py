"""GEMM's thread split: every thread count gives the one-thread result bit for bit.

The team cuts C's tiles into runs of equal weight that may end inside a row or column panel
(gemm.c, gemm_tiles); each tile must still be computed exactly as on one thread (the same K
blocks, kernel and epilogue).  Shapes are chosen to reach both tile orders (along rows with B
packed once by the team, down columns when M is much smaller than N), B read in place, runs
ending inside a panel, several K and M blocks, and every epilogue; each is also checked against
the float64 NumPy reference of test_gemm.
"""
import numpy as np
import pytest

from dlcore import _C
from test_gemm import check, reference

SHAPES = [  # M, N, K, transa, transb
    (256, 256, 256, 0, 0),     # along rows, B packed by the team
    (257, 129, 300, 1, 1),     # two K blocks, transposed operands
    (64, 512, 100, 0, 1),      # M*nt <= N: down columns
    (33, 700, 17, 1, 0),       # down columns, B read in place (small K)
    (100, 65, 40, 0, 0),       # few tiles, B in place
    (2100, 40, 30, 0, 1),      # two M blocks (MC = 2016 rows on AVX-512 and generic)
    (4200, 20, 24, 1, 0),      # two M blocks on AVX2 too (MC = 4092 rows)
    (29, 31, 513, 0, 0),       # one row panel or two, three K blocks
]
EPILOGUES = [  # alpha, beta, bias_kind, act
    (1.0, 0.0, 0, 0), (0.5, 1.5, 1, 1), (-1.0, 0.25, 2, 2),
]


@pytest.mark.parametrize("isa", _C.supported_isas())
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_thread_counts_agree_bit_for_bit(isa, dtype):
    prev_isa, prev_nt = _C.get_isa(), _C.get_num_threads()
    rng = np.random.default_rng(5)
    try:
        _C.set_isa(isa)
        for (M, N, K, ta, tb), (alpha, beta, bias_kind, act) in zip(
                SHAPES, EPILOGUES * len(SHAPES)):
            A = rng.standard_normal((K, M) if ta else (M, K)).astype(dtype)
            B = rng.standard_normal((N, K) if tb else (K, N)).astype(dtype)
            C0 = rng.standard_normal((M, N)).astype(dtype)
            bias = None
            if bias_kind:
                bias = rng.standard_normal(N if bias_kind == _C.BIAS_ROW else M).astype(dtype)
            outs = []
            for nt in (1, 2, 3, 5):
                _C.set_num_threads(nt)
                C = C0.copy()
                _C.gemm(A, B, C, ta, tb, alpha, beta, bias, bias_kind, act)
                outs.append(C)
            expected, scale = reference(A, B, C0, ta, tb, alpha, beta, bias, bias_kind, act)
            check(outs[0], expected, scale, K, dtype)
            for nt, C in zip((2, 3, 5), outs[1:]):
                assert np.array_equal(C, outs[0], equal_nan=True), (
                    "%s %dx%dx%d ta=%d tb=%d: %d threads differ from 1 (max %g)"
                    % (isa, M, N, K, ta, tb, nt, np.abs(C - outs[0]).max()))
    finally:
        _C.set_isa(prev_isa)
        _C.set_num_threads(prev_nt)
