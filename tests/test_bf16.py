"""bfloat16/float16 conversions and the bf16 GEMM (csrc/bf16*.c) against NumPy, every ISA path."""
import math

import numpy as np
import pytest

from dlcore import _C


def bf16_ref(x):
    """Round-to-nearest-even float32 -> bf16 on the bits; NaN quiet with its sign."""
    b = np.ascontiguousarray(x, np.float32).view(np.uint32).astype(np.uint64)
    r = ((b + 0x7FFF + ((b >> 16) & 1)) >> 16).astype(np.uint16)
    nan = (b & 0x7FFFFFFF) > 0x7F800000
    r[nan] = ((b[nan] >> 16) | 0x40).astype(np.uint16)
    return r


def special_floats(rng, n):
    x = (rng.standard_normal(n) * 10.0 ** rng.integers(-40, 39, n)).astype(np.float32)
    extra = np.array([0.0, -0.0, np.inf, -np.inf, np.nan, -np.nan, 1e-45, -1e-45, 1e-39,
                      np.finfo(np.float32).max, -np.finfo(np.float32).max,
                      np.finfo(np.float32).tiny, 65504, 65519.99, 65520, 6e-8, 3e-8, 2.98e-8,
                      1.0 + 2.0 ** -8, 1.0 + 3 * 2.0 ** -8, 1.0 + 2.0 ** -11,
                      1.0 + 3 * 2.0 ** -11], np.float32)
    ties = (np.arange(1, 200, dtype=np.uint32) << 16 | 0x8000).view(np.float32)
    return np.concatenate([x, extra, ties, ties * 3.0])


@pytest.mark.parametrize("n", [1, 7, 33, 1000])
def test_f32_to_bf16_round_to_nearest_even(n, isa, rng):
    x = special_floats(rng, n)
    got = _C.f32_to_bf16(x)
    np.testing.assert_array_equal(got, bf16_ref(x))
    back = _C.bf16_to_f32(got)
    fin = np.isfinite(x)
    np.testing.assert_array_equal(back.view(np.uint32), got.astype(np.uint32) << 16)
    assert np.all(np.isnan(back[np.isnan(x)]))
    big = np.abs(x) < 3e38
    rel = np.abs(back[big & fin].astype(np.float64) - x[big & fin]) / np.maximum(
        np.abs(x[big & fin]), np.finfo(np.float32).tiny)
    assert rel.max() <= 2.0 ** -8


@pytest.mark.parametrize("n", [1, 7, 33, 1000])
def test_f16_conversions_match_numpy(n, isa, rng):
    x = special_floats(rng, n)
    got = _C.f32_to_f16(x)
    with np.errstate(over="ignore"):
        want = x.astype(np.float16)
    nan = np.isnan(x)
    np.testing.assert_array_equal(got.view(np.uint16)[~nan], want.view(np.uint16)[~nan])
    assert np.all(np.isnan(got[nan]))
    h = np.arange(65536, dtype=np.uint32).astype(np.uint16).view(np.float16)
    back = _C.f16_to_f32(h)
    wantb = h.astype(np.float32)
    hn = np.isnan(wantb)
    np.testing.assert_array_equal(back.view(np.uint32)[~hn], wantb.view(np.uint32)[~hn])
    assert np.all(np.isnan(back[hn]))


def gelu64(x):
    return 0.5 * x * (1.0 + np.vectorize(math.erf)(x / math.sqrt(2.0)))


@pytest.mark.parametrize("act", ["none", "relu", "gelu"])
@pytest.mark.parametrize("M,N,K", [(1, 1, 1), (1, 7, 33), (7, 33, 65), (33, 65, 7),
                                   (65, 129, 33), (129, 7, 129), (13, 70, 257), (100, 130, 301)])
def test_bf16_gemm_matches_numpy(M, N, K, act, isa, threads, rng):
    a = _C.f32_to_bf16(rng.standard_normal((M, K)).astype(np.float32))
    w = _C.f32_to_bf16(rng.standard_normal((N, K)).astype(np.float32))
    bias = rng.standard_normal(N).astype(np.float32)
    out = np.full((M, N), np.nan, np.float32)
    _C.bf16_gemm(a, _C.bf16_pack(w), N, bias=bias, act=act, out=out)
    af = _C.bf16_to_f32(a).astype(np.float64)
    wf = _C.bf16_to_f32(w).astype(np.float64)
    ref = af @ wf.T + bias
    ref = {"none": ref, "relu": np.maximum(ref, 0), "gelu": gelu64(ref)}[act]
    tol = 1e-6 * (np.abs(af) @ np.abs(wf).T + np.abs(bias)) * max(1.0, math.log2(K + 1)) + 1e-6
    assert np.all(np.abs(out - ref) <= tol)


def test_bf16_gemm_nan_and_inf_propagate(isa):
    a = np.zeros((3, 5), np.float32)
    a[1, 4] = np.nan          # the last k of an odd K: the paired-with-zero tail
    a[2, 0] = np.inf
    w = np.ones((17, 5), np.float32)
    out = _C.bf16_gemm(_C.f32_to_bf16(a), _C.bf16_pack(_C.f32_to_bf16(w)), 17)
    assert np.all(out[0] == 0) and np.all(np.isnan(out[1])) and np.all(np.isposinf(out[2]))


def test_bf16_argument_errors():
    w = np.zeros((4, 6), np.uint16)
    packed = _C.bf16_pack(w)
    with pytest.raises(TypeError, match="a dtype must be uint16"):
        _C.bf16_gemm(np.zeros((2, 6), np.float32), packed, 4)
    with pytest.raises(ValueError, match="packed must have"):
        _C.bf16_gemm(np.zeros((2, 7), np.uint16), packed, 4)
    with pytest.raises(ValueError, match="out must have shape"):
        _C.bf16_gemm(np.zeros((2, 6), np.uint16), packed, 4, out=np.empty((2, 5), np.float32))
    with pytest.raises(TypeError, match="x dtype must be float16"):
        _C.f16_to_f32(np.zeros(3, np.uint16))


def test_signalling_nan_stays_nan_in_bfloat16(isa):
    """A NaN whose payload sits in the low 16 bits (0x7f800001) truncates to the bits of inf
    unless the conversion sets the quiet bit (found by tools/mutate.py: bf16-nan-not-quieted)."""
    from dlcore.ops.qmatmul import to_bfloat16, from_bfloat16
    x = np.array([0x7f800001, 0xff800001, 0x7fc00000, 0x7f800000, 0xff800000],
                 np.uint32).view(np.float32)
    got = from_bfloat16(to_bfloat16(x))
    assert np.isnan(got[:3]).all() and np.array_equal(got[3:], [np.inf, -np.inf])
    assert np.signbit(got[1])
