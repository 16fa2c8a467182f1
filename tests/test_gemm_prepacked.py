"""Products by a right operand packed once (csrc/gemm_prepacked.c, the plan's Linear/MatMul
weights): against a float64 NumPy reference on odd sizes, every ISA, both layouts of B, every
epilogue, one and two threads."""
import math

import numpy as np
import pytest

import dlcore as dl
from dlcore import _C
from dlcore.runtime import get_isa, set_isa, supported_isas

RNG = np.random.default_rng(5)
_erfc = np.frompyfunc(math.erfc, 1, 1)


def _ref(A, Bop, bias, kind, act, alpha, beta, C0):
    v = alpha * (A.astype(np.float64) @ Bop.astype(np.float64))
    if beta:
        v += beta * C0
    if kind == _C.BIAS_ROW:
        v += bias[None, :]
    elif kind == _C.BIAS_COL:
        v += bias[:, None]
    if act == _C.ACT_RELU:
        v = np.maximum(v, 0)
    elif act == _C.ACT_GELU:
        v = 0.5 * v * _erfc(-v / math.sqrt(2.0)).astype(np.float64)
    elif act == _C.ACT_RELU6:
        v = np.clip(v, 0, 6)
    return v


@pytest.mark.parametrize("M,N,K", [(1, 7, 3), (4, 33, 17), (5, 17, 33), (7, 100, 1),
                                   (17, 65, 300), (64, 96, 257), (33, 513, 40),
                                   (130, 31, 520)])
@pytest.mark.parametrize("transb", [True, False])
@pytest.mark.parametrize("threads", [1, 2])
def test_matches_numpy(isa, M, N, K, transb, threads):
    A = RNG.standard_normal((M, K)).astype(np.float32)
    Bop = RNG.standard_normal((K, N)).astype(np.float32)
    B = np.ascontiguousarray(Bop.T) if transb else Bop
    pk = _C.SgemmPackedB(B, transb)
    scale = np.abs(A).astype(np.float64) @ np.abs(Bop).astype(np.float64) + 1.0
    for kind, act, alpha, beta in [(_C.BIAS_NONE, _C.ACT_NONE, 1.0, 0.0),
                                   (_C.BIAS_ROW, _C.ACT_RELU, 0.5, 1.0),
                                   (_C.BIAS_COL, _C.ACT_GELU, 1.0, 1.0),
                                   (_C.BIAS_ROW, _C.ACT_RELU6, 4.0, 0.0)]:
        bias = None if kind == _C.BIAS_NONE else \
            RNG.standard_normal(N if kind == _C.BIAS_ROW else M).astype(np.float32)
        C0 = RNG.standard_normal((M, N)).astype(np.float32)
        C = C0.copy() if beta else np.full((M, N), np.nan, np.float32)
        got = pk.run(A, bias, act, alpha, beta, C, bias_kind=kind if bias is not None else None,
                     nthreads=threads)
        want = _ref(A, Bop, bias, kind, act, alpha, beta, C0.astype(np.float64))
        err = np.abs(got - want) / scale
        assert err.max() < 1e-5, (kind, act, float(err.max()))


def test_packed_for_one_isa_runs_after_set_isa():
    """Panels keep the ISA they were packed for, whatever set_isa says at the run."""
    isas = supported_isas()
    A = RNG.standard_normal((20, 37)).astype(np.float32)
    B = RNG.standard_normal((45, 37)).astype(np.float32)
    prev = get_isa()
    try:
        set_isa(isas[-1])
        pk = _C.SgemmPackedB(B, True)
        set_isa(isas[0])
        got = pk.run(A)
    finally:
        set_isa(prev)
    np.testing.assert_allclose(got, A.astype(np.float64) @ B.T, rtol=1e-5, atol=1e-4)


def test_nan_propagates_and_bad_input_raises():
    A = RNG.standard_normal((9, 8)).astype(np.float32)
    A[3, 2] = np.nan
    pk = _C.SgemmPackedB(RNG.standard_normal((8, 10)).astype(np.float32), False)
    for act in (_C.ACT_RELU, _C.ACT_RELU6):
        got = pk.run(A, None, act)
        assert np.isnan(got[3]).all() and not np.isnan(np.delete(got, 3, 0)).any()
    with pytest.raises(ValueError, match="A must be"):
        pk.run(A[:, :7].copy())
    with pytest.raises(ValueError, match="B must be"):
        _C.SgemmPackedB(np.zeros((3, 4)), True)


@pytest.mark.parametrize("act", [dl.nn.GELU, dl.nn.SiLU, dl.nn.Tanh])
@pytest.mark.parametrize("rows", [3, 23])
def test_plan_linear_steps_match_eager(isa, act, rows):
    """A planned MLP runs its GEMMs on packed weights (above the few-row paths); an activation
    the GEMM epilogue lacks runs on each finished strip of C (600 columns: two strips)."""
    m = dl.nn.Sequential(dl.nn.Linear(37, 600), act(), dl.nn.Linear(600, 9)).eval()
    x = RNG.standard_normal((rows, 37)).astype(np.float32)
    p = dl.jit.trace(m, [x], dynamic_axes=False).plan(x)
    with dl.no_grad():
        want = m(dl.tensor(x)).numpy()
    for nt in (1, 2):
        np.testing.assert_allclose(p.run([x], nt)[0], want, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("M,seg,K,N,lda_pad,gap", [
    (49, 49, 160, 96, 0, 0),      # one 7x7 image
    (21, 7, 33, 17, 0, 0),        # three images, panels across images
    (17, 7, 300, 65, 3, 5),       # a partial last image, row and block gaps
    (147, 49, 520, 33, 0, 11),    # two K blocks, three images
    (3, 1, 40, 31, 0, 2),         # a few rows: the direct path, one row per block
    (4, 3, 17, 7, 1, 0),          # the direct path across two blocks
    (1, 5, 9, 16, 0, 0),          # one row
    (62, 31, 1, 40, 0, 0)])       # K = 1
@pytest.mark.parametrize("threads", [1, 2])
def test_channel_major_a_matches_numpy(isa, M, seg, K, N, lda_pad, gap, threads):
    """op(A) read channel-major (dl_sgemm_packed_b_run_cm): the columns of K x seg blocks as
    rows, NCHW planes as a pointwise conv's rows; the gaps between rows and blocks hold NaN,
    so any element read outside op(A) shows in the result."""
    lda, G = seg + lda_pad, (M + seg - 1) // seg
    gstride = K * lda + gap
    buf = np.full(G * gstride, np.nan, np.float32)
    Aop = RNG.standard_normal((M, K)).astype(np.float32)
    for r in range(M):
        g, off = divmod(r, seg)
        buf[g * gstride + off:g * gstride + K * lda:lda] = Aop[r]
    if gap == 0 and lda_pad == 0:
        buf = buf[:(G - 1) * gstride + (K - 1) * lda + M - (G - 1) * seg].copy()
    Bop = RNG.standard_normal((K, N)).astype(np.float32)
    pk = _C.SgemmPackedB(np.ascontiguousarray(Bop.T), True)
    scale = np.abs(Aop).astype(np.float64) @ np.abs(Bop).astype(np.float64) + 1.0
    for kind, act, beta in [(_C.BIAS_NONE, _C.ACT_NONE, 0.0), (_C.BIAS_ROW, _C.ACT_RELU6, 1.0),
                            (_C.BIAS_COL, _C.ACT_RELU, 0.0)]:
        bias = None if kind == _C.BIAS_NONE else \
            RNG.standard_normal(N if kind == _C.BIAS_ROW else M).astype(np.float32)
        C0 = RNG.standard_normal((M, N)).astype(np.float32)
        C = C0.copy() if beta else np.full((M, N), np.nan, np.float32)
        got = pk.run_cm(buf, M, seg, gstride, lda, bias, act, 1.0, beta, C,
                        bias_kind=kind if bias is not None else None, nthreads=threads)
        want = _ref(Aop, Bop, bias, kind, act, 1.0, beta, C0.astype(np.float64))
        err = np.abs(got - want) / scale
        assert err.max() < 1e-5, (kind, act, float(err.max()))


def test_channel_major_a_bad_input_raises():
    pk = _C.SgemmPackedB(RNG.standard_normal((8, 10)).astype(np.float32), False)
    x = RNG.standard_normal(2 * 8 * 7).astype(np.float32)
    assert pk.run_cm(x, 14, 7, 56).shape == (14, 10)
    with pytest.raises(ValueError, match="past A"):
        pk.run_cm(x, 15, 7, 56)
    with pytest.raises(ValueError, match="past A"):
        pk.run_cm(x, 14, 7, 57)
    with pytest.raises(ValueError, match="seg >= 1"):
        pk.run_cm(x, 14, 0, 56)
    with pytest.raises(ValueError, match="lda >= seg"):
        pk.run_cm(x, 14, 7, 56, lda=6)
    with pytest.raises(ValueError, match="float32"):
        pk.run_cm(x.astype(np.float64), 14, 7, 56)
