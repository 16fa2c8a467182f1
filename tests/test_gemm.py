"""GEMM (dlcore._C.gemm / gemm_batched) against a float64 NumPy reference.

Every test that computes runs on each SIMD path this CPU has and at 1 and 2 threads.  Sizes are
odd on purpose (1, primes, 257 ...): tiles are 14x32 (AVX-512), 6x16 (AVX2), 4x8 (generic), so
these hit every edge case of the packing and the micro-kernels.  Combinations are sampled with a
fixed seed rather than enumerated, to keep the file fast.
"""
import itertools
import math
import threading

import numpy as np
import pytest

from dlcore import _C

ISA_THREADS = [(isa, nt) for isa in _C.supported_isas() for nt in (1, 2)]


@pytest.fixture(params=ISA_THREADS, ids=["%s-%dT" % p for p in ISA_THREADS])
def path(request):
    """Run the test on one SIMD path at one thread count; restore both afterwards."""
    prev_isa, prev_nt = _C.get_isa(), _C.get_num_threads()
    isa, nt = request.param
    _C.set_isa(isa)
    _C.set_num_threads(nt)
    yield request.param
    _C.set_isa(prev_isa)
    _C.set_num_threads(prev_nt)


_erfc = np.frompyfunc(math.erfc, 1, 1)


def gelu64(x):
    """x * Phi(x) with Phi = erfc(-x / sqrt 2) / 2: accurate in the negative tail."""
    x = np.asarray(x, np.float64)
    with np.errstate(invalid="ignore"):
        r = 0.5 * x * _erfc(-x / math.sqrt(2.0)).astype(np.float64)
    return np.where(x == -np.inf, 0.0, r)


def reference(A, B, C, ta, tb, alpha, beta, bias, bias_kind, act):
    """(expected, error scale): expected in float64; scale bounds each element's rounding."""
    a = (A.T if ta else A).astype(np.float64)
    b = (B.T if tb else B).astype(np.float64)
    v = alpha * (a @ b)
    scale = abs(alpha) * (np.abs(a) @ np.abs(b))
    if beta != 0:
        v = v + beta * C.astype(np.float64)
        scale = scale + np.abs(beta * C.astype(np.float64))
    if bias_kind == _C.BIAS_ROW:
        v = v + bias.astype(np.float64)[None, :]
        scale = scale + np.abs(bias.astype(np.float64))[None, :]
    elif bias_kind == _C.BIAS_COL:
        v = v + bias.astype(np.float64)[:, None]
        scale = scale + np.abs(bias.astype(np.float64))[:, None]
    if act == _C.ACT_RELU:
        v = np.maximum(v, 0)
    elif act == _C.ACT_GELU:
        v = gelu64(v)
        scale = scale * 1.2   # |GELU'| <= 1.13
    elif act == _C.ACT_RELU6:
        v = np.clip(v, 0, 6)
    return v, scale


def check(out, expected, scale, K, dtype):
    eps = np.finfo(dtype).eps
    # worst-case bound of a K-term dot product plus the epilogue's few roundings
    tol = 2.0 * (K + 4) * eps * scale + 10 * np.finfo(dtype).tiny
    err = np.abs(out.astype(np.float64) - expected)
    bad = ~(err <= tol)
    assert not bad.any(), "max error %g (allowed %g at worst element) over %d elements" % (
        err.max(), tol.ravel()[np.argmax((err - tol).ravel())], bad.sum())


def operands(rng, M, N, K, ta, tb, dtype):
    A = rng.standard_normal((K, M) if ta else (M, K)).astype(dtype)
    B = rng.standard_normal((N, K) if tb else (K, N)).astype(dtype)
    return A, B


def run_case(rng, M, N, K, ta, tb, dtype, alpha=1.0, beta=0.0, bias_kind=0, act=0):
    A, B = operands(rng, M, N, K, ta, tb, dtype)
    C = rng.standard_normal((M, N)).astype(dtype)
    bias = None
    if bias_kind:
        bias = rng.standard_normal(N if bias_kind == _C.BIAS_ROW else M).astype(dtype)
    expected, scale = reference(A, B, C, ta, tb, alpha, beta, bias, bias_kind, act)
    if beta == 0:
        C[...] = np.nan   # beta == 0: C must not be read
    out = _C.gemm(A, B, C, ta, tb, alpha, beta, bias, bias_kind, act)
    assert out is C
    check(C, expected, scale, K, dtype)


DIMS = [1, 2, 3, 7, 13, 14, 15, 17, 31, 32, 33, 64, 100, 127, 257]


def sampled_shapes(count, seed):
    rng = np.random.default_rng(seed)
    shapes = [(1, 1, 1), (1, 257, 1), (257, 1, 1), (1, 1, 257), (7, 13, 1), (257, 257, 17),
              (3, 257, 100), (257, 3, 100), (1, 300, 77), (300, 1, 77)]
    while len(shapes) < count:
        M, N, K = (int(rng.choice(DIMS)) for _ in range(3))
        if M * N * K <= 257 * 257 * 64:
            shapes.append((M, N, K))
    return shapes


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_shapes_transposes_and_epilogues(path, dtype):
    """Odd shapes x all four transposes, each with a sampled alpha/beta/bias/activation."""
    rng = np.random.default_rng(7)
    epilogues = list(itertools.product([1.0, -0.5], [0.0, 1.0, 0.3],
                                       [0, _C.BIAS_ROW, _C.BIAS_COL],
                                       [_C.ACT_NONE, _C.ACT_RELU, _C.ACT_GELU, _C.ACT_RELU6]))
    for i, (M, N, K) in enumerate(sampled_shapes(24, 3)):
        for ta, tb in itertools.product((False, True), repeat=2):
            alpha, beta, bk, act = epilogues[(7 * i + 5 * ta + 3 * tb) % len(epilogues)]
            run_case(rng, M, N, K, ta, tb, dtype, alpha, beta, bk, act)


@pytest.mark.parametrize("alpha,beta,bias_kind,act", list(itertools.product(
    [1.0, 2.5], [0.0, 1.0, -0.7], [0, 1, 2], [0, 1, 2, 3])))
def test_every_epilogue(alpha, beta, bias_kind, act):
    """The full epilogue grid on the default path, on an edge-heavy shape."""
    rng = np.random.default_rng(11)
    for ta, tb in itertools.product((False, True), repeat=2):
        run_case(rng, 31, 45, 29, ta, tb, np.float32, alpha, beta, bias_kind, act)
        run_case(rng, 1, 45, 29, ta, tb, np.float32, alpha, beta, bias_kind, act)
        run_case(rng, 31, 1, 29, ta, tb, np.float64, alpha, beta, bias_kind, act)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_relu6_epilogue(path, dtype):
    """The clip to [0, 6] on every path: full and edge register tiles, the small-product and
    matrix-vector paths, values on both sides of 6 (alpha 2.5 on sums of up to 300 terms)."""
    rng = np.random.default_rng(13)
    for (M, N, K), (ta, tb) in zip([(31, 45, 29), (14, 32, 17), (1, 45, 29), (4, 100, 33),
                                    (40, 33, 300), (13, 7, 3)],
                                   [(0, 0), (0, 1), (1, 0), (1, 1), (0, 0), (0, 1)]):
        run_case(rng, M, N, K, bool(ta), bool(tb), dtype, 2.5, 0.0, _C.BIAS_ROW, _C.ACT_RELU6)
        run_case(rng, M, N, K, bool(ta), bool(tb), dtype, 2.5, 1.0, _C.BIAS_COL, _C.ACT_RELU6)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_blocking_boundaries(path, dtype):
    """Shapes that cross the cache blocks (KC = 256 / 128, MC ~ 1008, NC ~ 512) with a small
    third dimension, so every block loop runs more than once."""
    rng = np.random.default_rng(5)
    # the last two: split along M at 2 threads, B packed once for the team (several blocks)
    for (M, N, K), (ta, tb) in zip([(1030, 9, 300), (9, 1100, 300), (70, 530, 520),
                                    (200, 40, 600), (300, 1100, 520), (301, 700, 300)],
                                   [(0, 0), (1, 1), (0, 1), (1, 0), (0, 1), (1, 0)]):
        run_case(rng, M, N, K, bool(ta), bool(tb), dtype, 0.5, 0.5, _C.BIAS_COL, _C.ACT_RELU)


def test_large_k_error_within_openblas(path):
    """float32 error against float64 stays within 2x of what OpenBLAS shows on the same data."""
    isa, nt = path
    rng = np.random.default_rng(3)
    K = 8192 if isa != "generic" else 3000
    A = rng.standard_normal((37, K)).astype(np.float32)
    B = rng.standard_normal((K, 45)).astype(np.float32)
    exact = A.astype(np.float64) @ B.astype(np.float64)
    ours = _C.gemm(A, B, np.empty((37, 45), np.float32))
    theirs = A @ B
    e_ours = np.abs(ours - exact).max()
    e_blas = np.abs(theirs - exact).max()
    assert e_ours <= 2 * e_blas + 1e-6 * np.abs(exact).max(), (e_ours, e_blas)
    # the matrix-vector path too (batch-1 inference)
    x = A[:1]
    exact = x.astype(np.float64) @ B.astype(np.float64)
    ours = _C.gemm(x, B, np.empty((1, 45), np.float32))
    e_ours, e_blas = np.abs(ours - exact).max(), np.abs(x @ B - exact).max()
    assert e_ours <= 2 * e_blas + 1e-6 * np.abs(exact).max(), (e_ours, e_blas)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_strided_and_transposed_views(path, dtype):
    """Slices with a row stride, transposed (column-major) views and a column-major C are read
    and written in place, and nothing outside C's view changes."""
    rng = np.random.default_rng(9)
    M, N, K = 37, 29, 23
    bigA = rng.standard_normal((2 * M + 3, 3 * K)).astype(dtype)
    bigB = rng.standard_normal((3 * N, 2 * K + 1)).astype(dtype)
    A = bigA[3:3 + M, K:2 * K]            # row stride 3K
    Bt = bigB[N:2 * N, 1:K + 1]           # B stored as N x K: B = Bt.T, a column-major view
    B = Bt.T
    for c_layout in ("row", "strided", "transposed"):
        big = rng.standard_normal((2 * M + 1, 2 * N + 5)).astype(dtype)
        before = big.copy()
        if c_layout == "row":
            holder = np.zeros((M, N), dtype)
            C = holder
        elif c_layout == "strided":
            C = big[1:1 + M, 2:2 + N]
        else:
            big = rng.standard_normal((2 * N + 1, 2 * M + 5)).astype(dtype)
            before = big.copy()
            C = big[1:1 + N, 2:2 + M].T
        C0 = C.copy()
        bias = rng.standard_normal(N).astype(dtype)
        _C.gemm(A, B, C, False, False, 1.5, 0.5, bias, _C.BIAS_ROW, _C.ACT_NONE)
        expected, scale = reference(A, B, C0, False, False, 1.5, 0.5, bias, 1, 0)
        check(C, expected, scale, K, dtype)
        if c_layout != "row":
            mask = np.ones(big.shape, bool)
            if c_layout == "strided":
                mask[1:1 + M, 2:2 + N] = False
            else:
                mask[1:1 + N, 2:2 + M] = False
            np.testing.assert_array_equal(big[mask], before[mask])
        # the same product through transposed flags on transposed views
        C2 = np.empty((M, N), dtype)
        _C.gemm(A.T, B.T, C2, True, True)
        expected, scale = reference(A, B, C2, False, False, 1.0, 0.0, None, 0, 0)
        check(C2, expected, scale, K, dtype)


def test_nan_and_inf_propagate(path):
    """IEEE semantics: no zero-skipping in the K loop, NaN/Inf reach the output, and beta == 0
    ignores a C full of NaN."""
    isa, nt = path
    for dtype in (np.float32, np.float64):
        for M, N, K in [(33, 40, 19), (1, 70, 33), (70, 1, 33)]:
            rng = np.random.default_rng(1)
            A = rng.standard_normal((M, K)).astype(dtype)
            B = rng.standard_normal((K, N)).astype(dtype)
            A[M // 2, 3] = np.inf
            B[3, :] = 0.0                       # inf * 0 = NaN: the whole row M//2 is NaN
            A[0, 5] = np.nan                    # NaN * anything: row 0 is NaN
            B[7, N - 1] = np.inf                # column N-1 is +-inf (or NaN)
            for act in (_C.ACT_NONE, _C.ACT_RELU, _C.ACT_GELU, _C.ACT_RELU6):
                C = np.full((M, N), np.nan, dtype)
                _C.gemm(A, B, C, act=act)
                with np.errstate(invalid="ignore", over="ignore"):
                    ref = A.astype(np.float64) @ B.astype(np.float64)
                    if act == _C.ACT_RELU:
                        ref = np.where(ref < 0, 0.0, ref)
                    elif act == _C.ACT_GELU:
                        ref = gelu64(ref)
                    elif act == _C.ACT_RELU6:
                        ref = np.clip(ref, 0, 6)
                np.testing.assert_array_equal(np.isnan(C), np.isnan(ref))
                np.testing.assert_array_equal(np.isposinf(C), np.isposinf(ref))
                np.testing.assert_array_equal(np.isneginf(C), np.isneginf(ref))
            # NaN in C with beta != 0 reaches the output; with beta == 0 it does not
            A2 = rng.standard_normal((M, K)).astype(dtype)
            B2 = rng.standard_normal((K, N)).astype(dtype)
            C = np.ones((M, N), dtype)
            C[0, 0] = np.nan
            _C.gemm(A2, B2, C, beta=1.0)
            assert np.isnan(C[0, 0]) and np.isfinite(C).sum() == M * N - 1


def test_small_batch_linear(path):
    """M = 2..4 rows against a transposed weight (the small-batch inference path), with
    strided rows, every epilogue, and sizes around the 64-column thread split."""
    rng = np.random.default_rng(12)
    for i, (M, N, K) in enumerate([(2, 5, 1), (3, 64, 7), (4, 131, 100), (2, 200, 33),
                                   (4, 129, 300), (3, 2, 17)]):
        for dtype in (np.float32, np.float64):
            bk, act = [(0, 0), (1, 1), (2, 2), (1, 2), (2, 1), (1, 0)][i]
            run_case(rng, M, N, K, False, True, dtype, 0.7, 0.4 * (i % 2), bk, act)
        big = rng.standard_normal((M, K + 9)).astype(np.float32)
        A = big[:, 4:4 + K]
        W = rng.standard_normal((N, K)).astype(np.float32)
        C = np.zeros((M, N + 3), np.float32)[:, 1:N + 1]
        _C.gemm(A, W, C, False, True)
        expected, scale = reference(A, W, C, False, True, 1.0, 0.0, None, 0, 0)
        check(C, expected, scale, K, np.float32)


def test_k_equals_one_and_empty(path):
    rng = np.random.default_rng(2)
    for dtype in (np.float32, np.float64):
        for M, N in [(1, 1), (13, 1), (1, 13), (29, 67)]:
            for ta, tb in itertools.product((False, True), repeat=2):
                run_case(rng, M, N, 1, ta, tb, dtype, 1.0, 0.5, _C.BIAS_ROW, _C.ACT_RELU)
        # K == 0: C = act(beta * C + bias)
        C = np.full((3, 4), 2.0, dtype)
        _C.gemm(np.empty((3, 0), dtype), np.empty((0, 4), dtype), C, beta=0.5,
                bias=np.arange(4, dtype=dtype), bias_kind=_C.BIAS_ROW)
        np.testing.assert_array_equal(C, 1.0 + np.arange(4, dtype=dtype)[None, :].repeat(3, 0))
        C = np.full((3, 4), np.nan, dtype)
        _C.gemm(np.empty((3, 0), dtype), np.empty((0, 4), dtype), C)
        np.testing.assert_array_equal(C, 0)
        # M == 0 or N == 0: nothing to do, nothing touched
        _C.gemm(np.empty((0, 5), dtype), np.ones((5, 4), dtype), np.empty((0, 4), dtype))
        _C.gemm(np.ones((3, 5), dtype), np.ones((5, 0), dtype), np.empty((3, 0), dtype))


def test_gelu_exact_erf_kernels(path):
    """The micro-kernels' vector GELU (erfc-based) against float64, including the far
    negative tail where it must keep relative accuracy, and the special values."""
    x = np.concatenate([np.linspace(-6, 6, 301), -np.geomspace(6, 13.5, 40),
                        np.geomspace(1e-30, 1e-3, 20), -np.geomspace(1e-30, 1e-3, 20),
                        [0.0, 30.0, 1e30, -25.0, -1e30]]).astype(np.float32)
    for M in (20, 3):            # 20: blocked kernel path; 3: edge rows
        C = np.empty((M, x.size), np.float32)
        _C.gemm(np.ones((M, 1), np.float32), x.reshape(1, -1), C, act=_C.ACT_GELU)
        ref = gelu64(x.astype(np.float64))
        # Phi(x) ~ exp(-x^2/2): rounding x / sqrt 2 to float alone costs up to x^2 * 1.2e-7
        # relative; results below FLT_MIN (x < -13) may flush to zero
        rtol = 3e-6 + 1.5e-7 * x.astype(np.float64) ** 2
        bad = ~(np.abs(C - ref) <= rtol * np.abs(ref) + 1e-37)
        assert not bad.any(), x[bad.any(0)]
    C = np.empty((20, 4), np.float32)
    _C.gemm(np.ones((20, 1), np.float32), np.array([[np.nan, np.inf, -np.inf, -0.0]],
                                                   np.float32), C, act=_C.ACT_GELU)
    assert np.isnan(C[:, 0]).all() and (C[:, 1] == np.inf).all()
    assert (C[:, 2] == 0).all() and (C[:, 3] == 0).all()


def test_gelu_exact_erf():
    x = np.linspace(-6, 6, 97).astype(np.float32).reshape(1, -1)
    C = np.empty_like(x)
    _C.gemm(np.ones((1, 1), np.float32), x, C, act=_C.ACT_GELU)
    np.testing.assert_allclose(C, gelu64(x.astype(np.float64)), rtol=2e-6, atol=1e-7)
    x64 = x.astype(np.float64).reshape(-1, 1)
    C = np.empty((97, 1))
    _C.gemm(x64, np.ones((1, 1)), C, act=_C.ACT_GELU)
    np.testing.assert_allclose(C, gelu64(x64), rtol=1e-14, atol=1e-300)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_batched(path, dtype):
    rng = np.random.default_rng(4)
    for (batch, M, N, K), (ta, tb) in zip([(5, 17, 33, 9), (3, 1, 40, 70), (7, 64, 64, 64),
                                           (2, 130, 7, 300)],
                                          [(0, 0), (0, 1), (1, 0), (1, 1)]):
        A = rng.standard_normal((batch,) + ((K, M) if ta else (M, K))).astype(dtype)
        B = rng.standard_normal((batch,) + ((N, K) if tb else (K, N))).astype(dtype)
        C = rng.standard_normal((batch, M, N)).astype(dtype)
        C0 = C.copy()
        _C.gemm_batched(A, B, C, bool(ta), bool(tb), 0.5, 2.0)
        for b in range(batch):
            expected, scale = reference(A[b], B[b], C0[b], ta, tb, 0.5, 2.0, None, 0, 0)
            check(C[b], expected, scale, K, dtype)
    # a strided batch (every other matrix), a broadcast B (batch stride 0) and transposed views
    A = rng.standard_normal((8, 20, 30)).astype(dtype)[::2]
    B = np.broadcast_to(rng.standard_normal((30, 11)).astype(dtype), (4, 30, 11))
    Cbig = np.zeros((4, 11, 25), dtype)
    C = Cbig[:, :, 3:23].transpose(0, 2, 1)     # (4, 20, 11), column-major matrices
    _C.gemm_batched(A, B, C)
    for b in range(4):
        expected, scale = reference(A[b], B[b], C[b], 0, 0, 1.0, 0.0, None, 0, 0)
        check(C[b], expected, scale, 30, dtype)
    assert not Cbig[:, :, :3].any() and not Cbig[:, :, 23:].any()


def test_threads_argument_and_python_threads():
    """An explicit thread cap, and concurrent calls from Python threads (each has its own
    packing buffers)."""
    rng = np.random.default_rng(8)
    A = rng.standard_normal((300, 200)).astype(np.float32)
    B = rng.standard_normal((200, 170)).astype(np.float32)
    expected, scale = reference(A, B, None, 0, 0, 1.0, 0.0, None, 0, 0)
    for t in (1, 2, 16):
        C = _C.gemm(A, B, np.empty((300, 170), np.float32), threads=t)
        check(C, expected, scale, 200, np.float32)
    results = [None] * 4

    def work(i):
        C = np.empty((300, 170), np.float32)
        for _ in range(5):
            _C.gemm(A, B, C)
        results[i] = C

    ts = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    for C in results:
        check(C, expected, scale, 200, np.float32)


def test_errors_name_the_argument():
    f32 = np.ones((3, 4), np.float32)
    g = _C.gemm
    with pytest.raises(ValueError, match="inner dimensions"):
        g(f32, f32, np.empty((3, 4), np.float32))
    with pytest.raises(ValueError, match="C must be 3x5"):
        g(f32, np.ones((4, 5), np.float32), np.empty((3, 4), np.float32))
    with pytest.raises(TypeError, match="share a dtype"):
        g(f32, np.ones((4, 5)), np.empty((3, 5), np.float32))
    with pytest.raises(TypeError, match="float32 or float64"):
        g(np.ones((3, 4), int), np.ones((4, 5), int), np.empty((3, 5), int))
    with pytest.raises(ValueError, match="2-D"):
        g(np.ones(4, np.float32), np.ones((4, 5), np.float32), np.empty((3, 5), np.float32))
    with pytest.raises(TypeError):
        g(None, f32, f32)
    with pytest.raises(TypeError):
        g([[1.0]], f32, f32)
    ro = np.empty((3, 5), np.float32)
    ro.flags.writeable = False
    with pytest.raises(ValueError, match="writeable"):
        g(f32, np.ones((4, 5), np.float32), ro)
    with pytest.raises(ValueError, match="share memory"):
        sq = np.ones((4, 4), np.float32)
        g(sq, sq, sq)
    with pytest.raises(ValueError, match="bias must have 5"):
        g(f32, np.ones((4, 5), np.float32), np.empty((3, 5), np.float32),
          bias=np.ones(3, np.float32), bias_kind=_C.BIAS_ROW)
    with pytest.raises(ValueError, match="bias is None"):
        g(f32, np.ones((4, 5), np.float32), np.empty((3, 5), np.float32), bias_kind=1)
    with pytest.raises(TypeError, match="bias dtype"):
        g(f32, np.ones((4, 5), np.float32), np.empty((3, 5), np.float32),
          bias=np.ones(5), bias_kind=1)
    with pytest.raises(ValueError, match="act"):
        g(f32, np.ones((4, 5), np.float32), np.empty((3, 5), np.float32), act=7)
    with pytest.raises(ValueError, match="bias_kind"):
        g(f32, np.ones((4, 5), np.float32), np.empty((3, 5), np.float32), bias_kind=-1)
    with pytest.raises(ValueError, match="A .*strides"):
        g(np.ones((6, 8), np.float32)[::2, ::2], np.ones((4, 5), np.float32),
          np.empty((3, 5), np.float32))
    with pytest.raises(ValueError, match="B .*strides"):
        g(f32, np.ones((4, 5), np.float32)[::-1], np.empty((3, 5), np.float32))
    with pytest.raises(ValueError, match="overlapping rows"):
        g(f32, np.ones((4, 5), np.float32),
          np.lib.stride_tricks.as_strided(np.zeros(5, np.float32), (3, 5), (0, 4)))
    with pytest.raises(ValueError, match="threads"):
        g(f32, np.ones((4, 5), np.float32), np.empty((3, 5), np.float32), threads=-1)
    gb = _C.gemm_batched
    a3 = np.ones((2, 3, 4), np.float32)
    with pytest.raises(ValueError, match="3-D"):
        gb(f32, a3, a3)
    with pytest.raises(ValueError, match="batch sizes"):
        gb(a3, np.ones((3, 4, 5), np.float32), np.empty((2, 3, 5), np.float32))
    with pytest.raises(ValueError, match="do not chain"):
        gb(a3, a3, np.empty((2, 3, 5), np.float32))
    with pytest.raises(ValueError, match="overlap"):
        gb(a3, np.ones((2, 4, 5), np.float32),
           np.lib.stride_tricks.as_strided(np.zeros((3, 5), np.float32), (2, 3, 5),
                                           (0, 20, 4)))
