"""pytest-benchmark: quantised matrix-vector products (SmolLM2's MLP shape, 3072 x 576) — the
fused dequantising kernel on Q4_1 / Q8_0 blocks (dlcore.ops.quantized.quantized_linear, as
nn.QuantizedLinear calls it) vs float32 GEMV (dlcore and NumPy) on the dequantised weights.  Run: python -m pytest benchmarks/bench_qgemv.py --benchmark-only"""
import numpy as np
import pytest

import dlcore as dl
from dlcore.bench import assert_close
from dlcore.ops.matmul import gemm
from dlcore.ops.quantized import quantized_linear
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
    xt, wt = dl.tensor(x), dl.tensor(raw)
    with dl.no_grad():
        # checked against the NumPy dequantisation (dlcore.weights.quant) before timing
        assert_close("qgemv " + kind, "output", quantized_linear(xt, wt, kind),
                     x.astype(np.float64) @ dequantize(raw, kind, (N, K)).T, 1e-5)
        benchmark(quantized_linear, xt, wt, kind)


def test_gemv_f32_dlcore(benchmark):
    W = dequantize(_blocks("Q4_1"), "Q4_1", (N, K))
    x = np.random.default_rng(1).standard_normal((1, K)).astype(np.float32)
    out = np.empty((1, N), np.float32)
    benchmark(gemm, x, W, out, transpose_b=True)


def test_gemv_f32_numpy(benchmark):
    W = dequantize(_blocks("Q4_1"), "Q4_1", (N, K))
    x = np.random.default_rng(1).standard_normal((1, K)).astype(np.float32)
    benchmark(np.matmul, x, W.T)
