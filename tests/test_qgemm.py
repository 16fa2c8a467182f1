"""int8 GEMM (csrc/qgemm*.c): u8 x s8 integer sums, the dequantize/bias/activation epilogue,
the u8 requantize and the activation quantizer, against NumPy on odd sizes and every ISA path."""
import math

import numpy as np
import pytest

from dlcore import _C

SIZES = [(1, 1, 1), (1, 7, 33), (7, 33, 65), (33, 65, 7), (65, 129, 33), (129, 7, 129),
         (13, 70, 513), (100, 130, 1029)]     # the last two: several K blocks, column groups


def packed_case(rng, M, N, K, extreme=None):
    A = rng.integers(0, 256, (M, K)).astype(np.uint8)
    W = rng.integers(-128, 128, (N, K)).astype(np.int8)
    if extreme == "neg":
        A[:] = 255
        W[:] = -128
    elif extreme == "pos":
        A[:] = 255
        W[:] = 127
    elif extreme == "mixed":      # alternating signs: pairs that cancel inside vpmaddubsw
        A[:] = 255
        W[:, 0::2] = -128
        W[:, 1::2] = 127
    packed, colsum = _C.u8s8_pack(W)
    q = np.zeros((M, _C.u8s8_kpad(K)), np.uint8)
    q[:, :K] = A
    return A, W, q, packed, colsum


def gelu64(x):
    return 0.5 * x * (1.0 + np.vectorize(math.erf)(x / math.sqrt(2.0)))


@pytest.mark.parametrize("M,N,K", SIZES)
def test_integer_sums_exact(M, N, K, isa, rng):
    A, W, q, packed, colsum = packed_case(rng, M, N, K)
    raw = np.empty((M, N), np.int32)
    out = np.empty((M, N), np.float32)
    _C.u8s8_gemm(q, packed, colsum, K, np.ones(M, np.float32), np.zeros(M, np.int32),
                 np.ones(N, np.float32), out=out, raw=raw)
    ref = A.astype(np.int64) @ W.astype(np.int64).T
    np.testing.assert_array_equal(raw, ref)
    np.testing.assert_array_equal(colsum, W.astype(np.int64).sum(1))


@pytest.mark.parametrize("M", range(1, 14))
def test_integer_sums_every_row_tail(M, isa, rng):
    """every tile height 1..6 (the AVX2 tile's rows) and a K past one 256 block"""
    K, N = 301, 37
    A, W, q, packed, colsum = packed_case(rng, M, N, K)
    raw = np.empty((M, N), np.int32)
    _C.u8s8_gemm(q, packed, colsum, K, np.ones(M, np.float32),
                 np.zeros(M, np.int32), np.ones(N, np.float32), out=np.empty((M, N), np.float32),
                 raw=raw)
    np.testing.assert_array_equal(raw, A.astype(np.int64) @ W.astype(np.int64).T)


@pytest.mark.parametrize("extreme", ["neg", "pos", "mixed"])
@pytest.mark.parametrize("K", [1, 2, 4, 5, 64, 257])
def test_integer_sums_at_the_extremes(extreme, K, isa, rng):
    """u8 255 x s8 -128 pairs overflow a saturating s16 (vpmaddubsw): every path must be exact."""
    A, W, q, packed, colsum = packed_case(rng, 7, 19, K, extreme)
    raw = np.empty((7, 19), np.int32)
    _C.u8s8_gemm(q, packed, colsum, K, np.ones(7, np.float32), np.zeros(7, np.int32),
                 np.ones(19, np.float32), out=np.empty((7, 19), np.float32), raw=raw)
    np.testing.assert_array_equal(raw, A.astype(np.int64) @ W.astype(np.int64).T)


@pytest.mark.parametrize("act", ["none", "relu", "gelu"])
@pytest.mark.parametrize("M,N,K", [(1, 7, 33), (7, 33, 65), (65, 129, 33), (100, 130, 1029)])
def test_dequantize_epilogue(M, N, K, act, isa, threads, rng):
    A, W, q, packed, colsum = packed_case(rng, M, N, K)
    a_scale = rng.uniform(1e-3, 2e-2, M).astype(np.float32)
    a_zp = rng.integers(0, 256, M).astype(np.int32)
    a_zp[0] = 255
    w_scale = rng.uniform(1e-3, 2e-2, N).astype(np.float32)
    bias = rng.standard_normal(N).astype(np.float32)
    out = np.full((M, N), np.nan, np.float32)
    _C.u8s8_gemm(q, packed, colsum, K, a_scale, a_zp, w_scale, bias=bias, act=act, out=out)
    xd = (A.astype(np.float64) - a_zp[:, None]) * a_scale[:, None]
    wd = W.astype(np.float64) * w_scale[:, None]
    ref = xd @ wd.T + bias
    ref = {"none": ref, "relu": np.maximum(ref, 0), "gelu": gelu64(ref)}[act]
    scale = np.abs(xd) @ np.abs(wd).T + np.abs(bias)
    assert np.all(np.abs(out - ref) <= 2e-6 * scale + 1e-6)


@pytest.mark.parametrize("M,N,K", [(1, 7, 33), (33, 65, 7), (100, 130, 1029)])
def test_requantize_to_u8(M, N, K, isa, rng):
    A, W, q, packed, colsum = packed_case(rng, M, N, K)
    a_scale = rng.uniform(1e-3, 2e-2, M).astype(np.float32)
    a_zp = rng.integers(0, 256, M).astype(np.int32)
    w_scale = rng.uniform(1e-3, 2e-2, N).astype(np.float32)
    y = np.empty((M, N), np.float32)
    _C.u8s8_gemm(q, packed, colsum, K, a_scale, a_zp, w_scale, act="relu", out=y)
    out_scale, out_zp = float(np.abs(y).max() / 200 + 1e-6), 17
    u8 = np.empty((M, N), np.uint8)
    _C.u8s8_gemm(q, packed, colsum, K, a_scale, a_zp, w_scale, act="relu", out_u8=u8,
                 out_scale=out_scale, out_zp=out_zp)
    ref = np.clip(np.rint(y * np.float32(1.0 / np.float32(out_scale))) + out_zp, 0, 255)
    # y and the fused path round identically except where y sits on a half step
    diff = np.abs(u8.astype(np.int64) - ref.astype(np.int64))
    assert diff.max() <= 1 and np.mean(diff) < 0.01
    assert u8.min() == out_zp                    # relu: zeros map to the zero point


@pytest.mark.parametrize("M,N,K", [(5, 16, 9), (37, 47, 33), (13, 130, 260), (3, 24, 5)])
@pytest.mark.parametrize("act", ["none", "relu"])
@pytest.mark.parametrize("shared", [False, True])
def test_requantize_to_u8_with_bias(M, N, K, act, shared, isa, threads, rng):
    # the one-pass u8 epilogue (whole vectors) and its tail lanes, with a bias; a NaN bias
    # column gives code 0 (a u8 has no NaN), with relu too.  shared: one scale and zero point
    # for every row (a static model's layers), the epilogue with its constants folded per
    # column (epilogue_u8: 16 columns a step on AVX2, then 8, then the scalar tail)
    A, W, q, packed, colsum = packed_case(rng, M, N, K)
    a_scale = rng.uniform(1e-3, 2e-2, M).astype(np.float32)
    a_zp = rng.integers(0, 256, M).astype(np.int32)
    if shared:
        a_scale[:], a_zp[:] = a_scale[0], a_zp[0]
    w_scale = rng.uniform(1e-3, 2e-2, N).astype(np.float32)
    bias = rng.normal(0, 1, N).astype(np.float32)
    bias[N // 2] = np.nan
    y = np.empty((M, N), np.float32)
    _C.u8s8_gemm(q, packed, colsum, K, a_scale, a_zp, w_scale, bias=bias, act=act, out=y)
    out_scale, out_zp = float(np.nanmax(np.abs(y)) / 120 + 1e-6), 131
    u8 = np.empty((M, N), np.uint8)
    _C.u8s8_gemm(q, packed, colsum, K, a_scale, a_zp, w_scale, bias=bias, act=act, out_u8=u8,
                 out_scale=out_scale, out_zp=out_zp)
    ref = np.clip(np.rint(y * np.float32(1.0 / np.float32(out_scale))) + out_zp, 0, 255)
    assert (u8[:, N // 2] == 0).all()
    ok = np.isfinite(ref)
    diff = np.abs(u8[ok].astype(np.int64) - ref[ok].astype(np.int64))
    assert diff.max() <= 1 and np.mean(diff) < 0.01
    if act == "relu":
        assert u8[ok].min() >= out_zp


def quantize_ref(x, per_row):
    rows = x if per_row else x.reshape(1, -1)
    lo = np.minimum(rows.min(1), 0).astype(np.float32)
    hi = np.maximum(rows.max(1), 0).astype(np.float32)
    scale = (hi - lo) / np.float32(255)
    scale = np.where(scale > 0, scale, np.float32(1)).astype(np.float32)
    zp = np.clip(np.rint(-lo / scale), 0, 255).astype(np.int32)
    if not per_row:
        scale = np.repeat(scale, x.shape[0])
        zp = np.repeat(zp, x.shape[0])
    inv = (np.float32(1) / scale).astype(np.float32)
    q = np.clip(np.rint(x * inv[:, None]) + zp[:, None], 0, 255).astype(np.uint8)
    return q, scale, zp


@pytest.mark.parametrize("per_row", [True, False])
@pytest.mark.parametrize("M,K", [(1, 1), (7, 33), (65, 129), (3, 1030)])
def test_quantize_rows(M, K, per_row, isa, rng):
    x = (rng.standard_normal((M, K)) * rng.uniform(0.1, 10, (M, 1))).astype(np.float32)
    x[0, 0] = 0.0
    if M > 2:
        x[1] = np.abs(x[1])          # all >= 0: zero point 0
        x[2] = -np.abs(x[2])         # all <= 0: zero point 255
    q, scale, zp = _C.quantize_rows_u8(x, per_row)
    qr, sr, zr = quantize_ref(x, per_row)
    np.testing.assert_array_equal(scale, sr)
    np.testing.assert_array_equal(zp, zr)
    np.testing.assert_array_equal(q[:, :K], qr)
    assert not q[:, K:].any()          # padding to a multiple of 4 is zero
    # zero is exact; the round trip is within half a step
    deq = (q[:, :K].astype(np.float64) - zp[:, None]) * scale[:, None]
    assert np.all(np.abs(deq - x) <= 0.5001 * scale[:, None])
    if M > 2 and per_row:
        assert zp[1] == 0 and zp[2] == 255


def test_zero_rows_and_nonfinite_rows(isa):
    x = np.zeros((3, 9), np.float32)
    x[1, 3] = np.nan
    x[2] = np.linspace(-1, 1, 9)
    q, scale, zp = _C.quantize_rows_u8(x, True)
    assert scale[0] == 1.0 and zp[0] == 0 and not q[0].any()
    assert np.isnan(scale[1])
    W = np.ones((5, 9), np.int8)
    packed, colsum = _C.u8s8_pack(W)
    out = np.empty((3, 5), np.float32)
    _C.u8s8_gemm(q, packed, colsum, 9, scale, zp, np.ones(5, np.float32), out=out)
    assert np.all(out[0] == 0) and np.all(np.isnan(out[1])) and np.all(np.isfinite(out[2]))
    # per-tensor: one Inf poisons the whole matrix, as a NaN scale
    x[1, 3] = np.inf
    _, scale_t, _ = _C.quantize_rows_u8(x, False)
    assert np.all(np.isnan(scale_t))


def test_argument_errors():
    W = np.ones((5, 9), np.int8)
    packed, colsum = _C.u8s8_pack(W)
    q, s, z = _C.quantize_rows_u8(np.ones((2, 9), np.float32))
    ws = np.ones(5, np.float32)
    out = np.empty((2, 5), np.float32)
    with pytest.raises(TypeError, match="w dtype must be int8"):
        _C.u8s8_pack(W.astype(np.uint8))
    with pytest.raises(TypeError, match="x dtype must be float32"):
        _C.quantize_rows_u8(np.ones((2, 9)))
    with pytest.raises(ValueError, match="q must have shape"):
        _C.u8s8_gemm(q[:, :8], packed, colsum, 9, s, z, ws, out=out)
    with pytest.raises(ValueError, match="packed must have"):
        _C.u8s8_gemm(q, packed[:-1], colsum, 9, s, z, ws, out=out)
    with pytest.raises(ValueError, match="w_scale must have 5"):
        _C.u8s8_gemm(q, packed, colsum, 9, s, z, ws[:4], out=out)
    with pytest.raises(ValueError, match="exactly one of out"):
        _C.u8s8_gemm(q, packed, colsum, 9, s, z, ws)
    with pytest.raises(ValueError, match="activation must be one of"):
        _C.u8s8_gemm(q, packed, colsum, 9, s, z, ws, act="tanh", out=out)
    with pytest.raises(ValueError, match="out_scale must be > 0"):
        _C.u8s8_gemm(q, packed, colsum, 9, s, z, ws, out_u8=np.empty((2, 5), np.uint8),
                     out_scale=0.0)
    with pytest.raises(ValueError, match="K must be at most"):
        _C.u8s8_pack(np.ones((1, _C.QGEMM_MAX_K + 1), np.int8))


def test_kernel_names(isa):
    want = {"generic": "generic", "avx2": "avx2"}.get(isa)
    if want:
        assert _C.u8s8_kernel_name() == want
    else:
        flags = open("/proc/cpuinfo").read() if _cpuinfo_ok() else ""
        if _C.amx_status("int8") == "used":      # AMX tiles above VNNI (tests/test_amx.py)
            assert _C.u8s8_kernel_name() == "amx"
        else:
            assert _C.u8s8_kernel_name() == ("avx512-vnni" if "avx512_vnni" in flags
                                             else "avx2")


def _cpuinfo_ok():
    try:
        open("/proc/cpuinfo").close()
        return True
    except OSError:
        return False


def test_bench_quant_workload_checks_every_dlcore_side(torch):
    from dlcore.bench import quant
    w = quant.workload(quant.cases(quick=True)[0], torch)
    int8_amx, bf16_amx = quant.amx_in_use()     # AMX adds its vector-tile comparison sides
    assert ({"dlcore_fp32", "dlcore_int8", "dlcore_int8+q", "dlcore_int8r7", "dlcore_int8r7+q",
             "dlcore_bf16", "torch_int8", "torch_bf16"} | ({"dlcore_int8_vnni"} if int8_amx else set())
            | ({"dlcore_bf16_vec"} if bf16_amx else set())) == set(w.sides)
    assert w.check() is w
    for fn in w.sides.values():
        fn()


@pytest.mark.parametrize("M,N,K", [(1, 7, 33), (7, 33, 65), (100, 130, 1029)])
def test_relu_epilogue_keeps_nan(M, N, K, isa, rng):
    """A NaN bias makes its column NaN, and relu keeps it NaN (torch: relu(nan) is nan), on
    every ISA's epilogue and its scalar tail; an inf bias stays inf, -inf becomes 0."""
    A, W, q, packed, colsum = packed_case(rng, M, N, K)
    a_scale = np.full(M, 1e-2, np.float32)
    a_zp = np.full(M, 128, np.int32)
    w_scale = np.full(N, 1e-2, np.float32)
    bias = rng.standard_normal(N).astype(np.float32)
    nan_cols = [0, N - 1] + ([N // 2] if N > 2 else [])
    bias[nan_cols] = np.nan
    if N > 4:
        bias[1], bias[2] = np.inf, -np.inf
    out = np.zeros((M, N), np.float32)
    _C.u8s8_gemm(q, packed, colsum, K, a_scale, a_zp, w_scale, bias=bias, act="relu", out=out)
    assert np.all(np.isnan(out[:, nan_cols]))
    finite = np.isfinite(bias)
    assert not np.any(np.isnan(out[:, finite])) and np.all(out[:, finite] >= 0)
    if N > 4:
        assert np.all(out[:, 1] == np.inf) and np.all(out[:, 2] == 0)


@pytest.mark.parametrize("act", ["none", "relu"])
def test_requantize_to_u8_saturates(act, isa, rng):
    """results far past 0..255 (a tiny output scale: up to ~1e12 before the clamp), huge
    biases and a NaN bias clamp to 0 / 255 / 0 on every path (the AVX2 and AVX-512 stores
    convert to int32 and must not wrap)"""
    M, N, K = 9, 37, 45
    A, W, q, packed, colsum = packed_case(rng, M, N, K)
    a_scale = np.full(M, 1e-2, np.float32)
    a_zp = rng.integers(0, 256, M).astype(np.int32)
    w_scale = np.full(N, 1e-2, np.float32)
    bias = rng.standard_normal(N).astype(np.float32)
    bias[3], bias[4], bias[5], bias[6] = np.nan, 3e38, -3e38, np.inf
    y = np.empty((M, N), np.float32)
    _C.u8s8_gemm(q, packed, colsum, K, a_scale, a_zp, w_scale, bias=bias, act=act, out=y)
    u8 = np.empty((M, N), np.uint8)
    _C.u8s8_gemm(q, packed, colsum, K, a_scale, a_zp, w_scale, bias=bias, act=act,
                 out_u8=u8, out_scale=1e-9, out_zp=7)
    with np.errstate(invalid="ignore", over="ignore"):
        ref = np.clip(np.rint(y.astype(np.float64) * 1e9) + 7, 0, 255)
    ref[np.isnan(ref)] = 0
    np.testing.assert_array_equal(u8, ref.astype(np.uint8))
