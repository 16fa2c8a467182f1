"""How GEMM's team divides a product, at 2 and 3 threads on every SIMD path: each way gives the
one-thread result bit for bit and the float64 reference's value, with strided operands, C a
window of a larger array (nothing outside it written), beta and every epilogue.

The choices (gemm.c, gemm_run and gemm_tiles) are:
  - tiles along rows (threads split M) or down columns (M * threads <= N: they split N);
  - along rows, each thread packs all of B itself when it has >= 64 rows, otherwise the team
    packs B once into a shared buffer;
  - a run spanning at most 256 columns (16 AVX2 tiles) reads A (not transposed, float32) in
    place instead of packing it; transposed A is always packed.
The shapes below reach each of these at 2 or 3 threads while one thread takes another branch
(e.g. packs A where the threads read it in place), so bit equality checks that both ways do
the same arithmetic.  All are above the small-product bound (2^18 multiply-adds).
"""
import numpy as np
import pytest

from dlcore import _C
from test_gemm import check, reference
from test_gemm_packing_edges import padded

SHAPES = [  # M, N, K, transa, transb, what it reaches at 2 / 3 threads
    (301, 523, 613, 0, 0),   # rows, B packed by each thread (>= 64 rows each), two K blocks
    (131, 41, 701, 0, 1),    # rows, A in place (3 column tiles); 2T own B, 3T shared B
    (97, 77, 260, 1, 0),     # rows, B shared (< 64 rows each), transposed A packed
    (53, 533, 259, 0, 0),    # columns: 2T runs of 17 tiles pack A, 3T runs of 12 read it in place
    (37, 500, 129, 0, 1),    # columns: one thread packs A (32 tiles), 2T and 3T read it in place
    (44, 610, 300, 1, 1),    # columns, transposed A packed by every thread
    (255, 250, 77, 0, 0),    # rows, in place (16 column tiles), runs ending inside a row panel
]
EPILOGUES = [  # alpha, beta, bias_kind, act
    (1.0, 0.0, 0, _C.ACT_NONE), (0.5, 1.5, _C.BIAS_ROW, _C.ACT_RELU),
    (-1.0, 0.25, _C.BIAS_COL, _C.ACT_GELU), (2.0, 1.0, _C.BIAS_ROW, _C.ACT_RELU6),
]


@pytest.mark.parametrize("isa", _C.supported_isas())
@pytest.mark.parametrize("case", range(len(SHAPES)))
def test_split_matches_one_thread_and_reference(isa, case):
    M, N, K, ta, tb = SHAPES[case]
    rng = np.random.default_rng(40 + case)
    prev_isa, prev_nt = _C.get_isa(), _C.get_num_threads()
    try:
        _C.set_isa(isa)
        for e, (alpha, beta, bias_kind, act) in enumerate(EPILOGUES):
            A = padded(rng, K, M, 5) if ta else padded(rng, M, K, 3)
            B = padded(rng, N, K, 7) if tb else padded(rng, K, N, 9)
            big0 = rng.standard_normal((M + 3, N + 21)).astype(np.float32)
            C0 = big0[1:1 + M, 4:4 + N].copy()
            bias = None
            if bias_kind:
                n = N if bias_kind == _C.BIAS_ROW else M
                bias = rng.standard_normal(n).astype(np.float32)
            expected, scale = reference(A, B, C0, ta, tb, alpha, beta, bias, bias_kind, act)
            outs = []
            for nt in (1, 2, 3):
                _C.set_num_threads(nt)
                big = big0.copy()
                C = big[1:1 + M, 4:4 + N]
                if beta == 0:
                    C[...] = np.nan   # beta == 0 must not read C
                _C.gemm(A, B, C, bool(ta), bool(tb), alpha, beta, bias, bias_kind, act)
                outside = np.ones(big.shape, bool)
                outside[1:1 + M, 4:4 + N] = False
                np.testing.assert_array_equal(big[outside], big0[outside])
                outs.append(C.copy())
            check(outs[0], expected, scale, K, np.float32)
            for nt, C in zip((2, 3), outs[1:]):
                assert np.array_equal(C, outs[0], equal_nan=True), (
                    "%s %dx%dx%d ta=%d tb=%d epilogue %d: %d threads differ from 1 (max %g)"
                    % (isa, M, N, K, ta, tb, e, nt, np.abs(C - outs[0]).max()))
    finally:
        _C.set_isa(prev_isa)
        _C.set_num_threads(prev_nt)
