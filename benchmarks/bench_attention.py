"""pytest-benchmark: fused SDPA and LayerNorm vs the NumPy reference (and torch if present).
Run: python -m pytest benchmarks/bench_attention.py --benchmark-only"""
import numpy as np
import pytest

import dlcore as dl
import dlcore.nn.functional as F
from dlcore.bench.attention import _np_sdpa, _np_layernorm

B, H, L, D = 8, 8, 512, 64


@pytest.fixture(scope="module")
def qkv():
    r = np.random.default_rng(0)
    return [r.standard_normal((B, H, L, D)).astype(np.float32) for _ in range(4)]


@pytest.mark.parametrize("causal", [False, True])
def test_sdpa_fwd_dlcore(benchmark, qkv, causal):
    q, k, v, _ = (dl.tensor(a) for a in qkv)
    with dl.no_grad():
        benchmark(F.scaled_dot_product_attention, q, k, v, is_causal=causal)


@pytest.mark.parametrize("causal", [False, True])
def test_sdpa_fwd_numpy(benchmark, qkv, causal):
    q, k, v, _ = qkv
    benchmark(_np_sdpa, q, k, v, causal, None)


@pytest.mark.parametrize("causal", [False, True])
def test_sdpa_fwd_torch(benchmark, qkv, causal):
    torch = pytest.importorskip("torch")
    q, k, v, _ = (torch.from_numpy(a) for a in qkv)
    with torch.no_grad():
        benchmark(torch.nn.functional.scaled_dot_product_attention, q, k, v, is_causal=causal)


@pytest.mark.parametrize("causal", [False, True])
def test_sdpa_fwd_bwd_dlcore(benchmark, qkv, causal):
    def step():
        # wrapped without a copy, as torch.from_numpy does on the torch side
        q, k, v = (dl.from_numpy(a).requires_grad_() for a in qkv[:3])
        F.scaled_dot_product_attention(q, k, v, is_causal=causal).backward(
            dl.from_numpy(qkv[3]))
    benchmark(step)


def test_layernorm_fwd_bwd_dlcore(benchmark):
    r = np.random.default_rng(0)
    x, g = (r.standard_normal((32768, 768)).astype(np.float32) for _ in range(2))
    w, b = np.ones(768, np.float32), np.zeros(768, np.float32)

    def step():
        tx, tw, tb = (dl.from_numpy(a).requires_grad_() for a in (x, w, b))
        F.layer_norm(tx, (768,), tw, tb).backward(dl.from_numpy(g))
    benchmark(step)


def test_layernorm_fwd_bwd_numpy(benchmark):
    r = np.random.default_rng(0)
    x, g = (r.standard_normal((32768, 768)).astype(np.float32) for _ in range(2))
    benchmark(_np_layernorm, x, np.ones(768, np.float32), np.zeros(768, np.float32), g)
