"""pytest-benchmark: quantised matrix-vector products (SmolLM2's MLP shape, 3072 x 576) — the
fused dequantising kernel on Q4_1 / Q8_0 blocks vs float32 GEMV (dlcore and NumPy) on the
dequantised weights.  Run: python -m pytest benchmarks/bench_qgemv.py --benchmark-only"""
import numpy as np
import pytest

from dlcore import _C  # qgemm: until the quantized GEMV has its op in dlcore.ops
from dlcore.ops.matmul import gemm
from dlcore.weights.quant import dequantize, BLOCK_BYTES

N, K = 3072, 576


def _blocks(kind):
    r = np.random.default_rng(0)
    nb, bb = K // 32, BLOCK_BYTES[kind]
    raw = r.integers(0, 256, size=(N, nb, bb), dtype=np.uint8)
    raw[:, :, 0:2] = (r.standard_normal((N, nb)) * 0.05).astype("<f2").view(np.uint8).reshape(
        N, nb, 2)
    if kind == "Q4_1":
        raw[:, :, 2:4] = (r.standard_normal((N, nb)) * 0.1).astype("<f2").view(
            np.uint8).reshape(N, nb, 2)
    return raw.reshape(N, nb * bb)


@pytest.mark.parametrize("kind", ["Q4_1", "Q8_0"])
def test_qgemv_dlcore(benchmark, kind):
    raw = _blocks(kind)
    x = np.random.default_rng(1).standard_normal((1, K)).astype(np.float32)
    out = np.empty((1, N), np.float32)
    benchmark(_C.qgemm, _C.QGEMV_KINDS[kind], x, raw, out)


def test_gemv_f32_dlcore(benchmark):
    W = dequantize(_blocks("Q4_1"), "Q4_1", (N, K))
    x = np.random.default_rng(1).standard_normal((1, K)).astype(np.float32)
    out = np.empty((1, N), np.float32)
    benchmark(gemm, x, W, out, transpose_b=True)


def test_gemv_f32_numpy(benchmark):
    W = dequantize(_blocks("Q4_1"), "Q4_1", (N, K))
    x = np.random.default_rng(1).standard_normal((1, K)).astype(np.float32)
    benchmark(np.matmul, x, W.T)
