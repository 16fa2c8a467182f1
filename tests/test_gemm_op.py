"""dlcore.ops.matmul.gemm: the checked array-level GEMM (out=, transposes, fused bias and
activation) against a float64 NumPy reference on odd sizes, every SIMD path, 1 and 2 threads."""
import math

import numpy as np
import pytest

import dlcore as dl
from dlcore.ops.matmul import gemm

SHAPES = [(1, 1, 1), (7, 17, 5), (33, 100, 17), (100, 33, 257), (3, 0, 4)]


def _ref(a, b, bias, activation):
    v = a.astype(np.float64) @ b.astype(np.float64)
    if bias is not None:
        v = v + bias.astype(np.float64)
    if activation == "relu":
        v = np.maximum(v, 0)
    elif activation == "gelu":
        v = v * 0.5 * (1 + np.vectorize(math.erf)(v / math.sqrt(2)))
    return v


@pytest.mark.parametrize("M,K,N", SHAPES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_gemm_matches_numpy(isa, threads, M, K, N, dtype):
    rng = np.random.default_rng(M * 1000 + K * 10 + N)
    a = rng.standard_normal((M, K)).astype(dtype)
    w = rng.standard_normal((N, K)).astype(dtype)        # nn.Linear layout
    bias = rng.standard_normal(N).astype(dtype)
    tol = (1e-5 if dtype == np.float32 else 1e-12) * math.sqrt(max(K, 1))
    out = np.full((M, N), np.nan, dtype)
    for trans_a in (False, True):
        aa = np.ascontiguousarray(a.T) if trans_a else a
        for activation in (None, "relu", "gelu"):
            for b_ in (None, bias):
                got = gemm(aa, w, out, transpose_a=trans_a, transpose_b=True, bias=b_,
                           activation=activation)
                assert got is out
                np.testing.assert_allclose(got, _ref(a, w.T, b_, activation), rtol=tol,
                                           atol=tol)
    # b as stored (K, N), a fresh output
    fresh = gemm(a, np.ascontiguousarray(w.T))
    assert fresh.shape == (M, N) and fresh.dtype == dtype
    np.testing.assert_allclose(fresh, _ref(a, w.T, None, None), rtol=tol, atol=tol)


def test_gemm_is_what_linear_computes():
    rng = np.random.default_rng(0)
    lin = dl.nn.Linear(13, 9)
    x = rng.standard_normal((6, 13)).astype(np.float32)
    with dl.no_grad():
        want = dl.relu(lin(dl.tensor(x))).numpy()
    got = gemm(x, lin.weight.numpy(), transpose_b=True, bias=lin.bias.numpy(),
               activation="relu")
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-6)


def test_gemm_errors_name_the_argument():
    a = np.ones((3, 4), np.float32)
    b = np.ones((4, 5), np.float32)
    with pytest.raises(TypeError, match="a and b must be NumPy arrays, got Tensor"):
        gemm(dl.tensor(a), b)
    with pytest.raises(TypeError, match="float32 or both float64.*float32 and float64"):
        gemm(a, b.astype(np.float64))
    with pytest.raises(TypeError, match="native byte order"):
        gemm(a, b.astype(">f4"))                         # would be read as garbage otherwise
    with pytest.raises(TypeError, match="int64"):
        gemm(a.astype(np.int64), b.astype(np.int64))
    with pytest.raises(ValueError, match="activation must be None, 'relu' or 'gelu', got 'tanh'"):
        gemm(a, b, activation="tanh")
    with pytest.raises(ValueError, match="2-D"):
        gemm(a[0], b)
    with pytest.raises(ValueError, match="inner dimensions differ"):
        gemm(a, b, transpose_b=True, out=np.empty((3, 4), np.float32))
    with pytest.raises(ValueError, match="must be 3x5"):
        gemm(a, b, np.empty((5, 3), np.float32))
    with pytest.raises(TypeError, match="out must be a NumPy array of dtype float32"):
        gemm(a, b, np.empty((3, 5), np.float64))
    with pytest.raises(TypeError, match="bias must be a 1-D NumPy array"):
        gemm(a, b, bias=np.ones((1, 5), np.float32))
    with pytest.raises(TypeError, match="bias must be a 1-D NumPy array"):
        gemm(a, b, bias=np.ones(5, ">f4"))
    with pytest.raises(ValueError, match="bias must have 5 elements"):
        gemm(a, b, bias=np.ones(4, np.float32))
    buf = np.ones((4, 4), np.float32)
    with pytest.raises(ValueError, match="share memory"):
        gemm(buf, buf, buf)
    ro = np.empty((3, 5), np.float32)
    ro.flags.writeable = False
    with pytest.raises(ValueError, match="writeable"):
        gemm(a, b, ro)
