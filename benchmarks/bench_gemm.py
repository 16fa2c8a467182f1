"""pytest-benchmark suite for GEMM: dlcore vs numpy.matmul (OpenBLAS) and torch, float32.

    python -m pytest benchmarks/bench_gemm.py --benchmark-group-by=param:case,param:threads

Each case is timed for every side at 1 and 2 threads (numpy's BLAS pool limited with
threadpoolctl, torch with set_num_threads).  Shapes are M x K x N; Linear-shaped cases keep the
weight as nn.Linear stores it, (N, K), and multiply by its transpose.  The plain table with
ratios is `python -m dlcore.bench.gemm` (or `dlcore bench gemm`).
"""
import numpy as np
import pytest

from dlcore import _C

CASES = [("square", n, n, n) for n in (64, 128, 256, 512, 1024)] + [
    ("linear", 64, 784, 512), ("linear", 1, 768, 3072), ("linear", 512, 768, 768),
    ("linear", 2048, 512, 128), ("linear+bias+relu", 512, 768, 768)]
IDS = ["%s-%dx%dx%d" % c for c in CASES]


@pytest.fixture(params=[1, 2], ids=["1T", "2T"])
def nthreads(request):
    prev = _C.get_num_threads()
    _C.set_num_threads(request.param)
    try:
        from threadpoolctl import threadpool_limits
        ctx = threadpool_limits(limits=request.param, user_api="blas")
    except ImportError:
        ctx = None
    yield request.param
    if ctx is not None:
        ctx.restore_original_limits()
    _C.set_num_threads(prev)


def _operands(kind, M, K, N):
    rng = np.random.default_rng(0)
    A = rng.standard_normal((M, K), dtype=np.float32)
    W = rng.standard_normal((N, K) if kind != "square" else (K, N), dtype=np.float32)
    bias = rng.standard_normal(N, dtype=np.float32)
    return A, W, bias, np.empty((M, N), np.float32)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_dlcore(benchmark, case, nthreads):
    kind, M, K, N = case
    A, W, bias, C = _operands(kind, M, K, N)
    tb = kind != "square"
    benchmark.group = "%s %dx%dx%d %dT" % (kind, M, K, N, nthreads)
    if kind == "linear+bias+relu":
        benchmark(_C.gemm, A, W, C, False, tb, 1.0, 0.0, bias, _C.BIAS_ROW, _C.ACT_RELU)
    else:
        benchmark(_C.gemm, A, W, C, False, tb)
    ref = A @ (W.T if tb else W)
    if kind == "linear+bias+relu":
        ref = np.maximum(ref + bias, 0)
    np.testing.assert_allclose(C, ref, rtol=1e-3, atol=1e-3 * np.sqrt(K))


@pytest.mark.parametrize("case", [c for c in CASES if c[0] == "linear+bias+relu"],
                         ids=[i for c, i in zip(CASES, IDS) if c[0] == "linear+bias+relu"])
def test_dlcore_unfused(benchmark, case, nthreads):
    """The same as the fused case, but GEMM then a separate bias + ReLU pass."""
    kind, M, K, N = case
    A, W, bias, C = _operands(kind, M, K, N)
    benchmark.group = "%s %dx%dx%d %dT" % (kind, M, K, N, nthreads)

    def unfused():
        _C.gemm(A, W, C, False, True)
        np.add(C, bias, out=C)
        np.maximum(C, 0, out=C)
    benchmark(unfused)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_numpy(benchmark, case, nthreads):
    kind, M, K, N = case
    A, W, bias, C = _operands(kind, M, K, N)
    B = W.T if kind != "square" else W
    benchmark.group = "%s %dx%dx%d %dT" % (kind, M, K, N, nthreads)
    if kind == "linear+bias+relu":
        def f():
            np.matmul(A, B, out=C)
            np.add(C, bias, out=C)
            np.maximum(C, 0, out=C)
        benchmark(f)
    else:
        benchmark(np.matmul, A, B, out=C)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_torch(benchmark, case, nthreads):
    torch = pytest.importorskip("torch")
    kind, M, K, N = case
    A, W, bias, C = _operands(kind, M, K, N)
    prev = torch.get_num_threads()
    torch.set_num_threads(nthreads)
    tA, tW, tC, tbias = (torch.from_numpy(x) for x in (A, W, C, bias))
    tB = tW.t() if kind != "square" else tW
    benchmark.group = "%s %dx%dx%d %dT" % (kind, M, K, N, nthreads)
    try:
        with torch.no_grad():
            if kind == "linear+bias+relu":
                def f():
                    torch.addmm(tbias, tA, tB, out=tC)
                    tC.relu_()
                benchmark(f)
            else:
                benchmark(torch.matmul, tA, tB, out=tC)
    finally:
        torch.set_num_threads(prev)
