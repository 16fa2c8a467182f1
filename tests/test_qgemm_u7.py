"""The int8 GEMM's 7-bit activation mode (reduce_range; csrc/qgemm_tile_u7.h): codes quantized
to 0..127 and the AVX2 vpmaddubsw tile.  Its sums must equal NumPy's int64 product bit for bit
on odd sizes and every ISA path, and a code above 127 must never reach vpmaddubsw (the tile
checks its rows and takes the full-range tile), whatever the caller's hint says."""
import numpy as np
import pytest

from dlcore import _C

SIZES = [(1, 1, 1), (1, 7, 33), (7, 33, 65), (33, 65, 7), (5, 17, 31), (65, 129, 33),
         (129, 7, 129), (13, 70, 513), (100, 130, 1029)]


def case(rng, M, N, K, amax=127, extreme=None):
    A = rng.integers(0, amax + 1, (M, K)).astype(np.uint8)
    W = rng.integers(-128, 128, (N, K)).astype(np.int8)
    if extreme is not None:
        A[:] = amax
        if extreme == "neg":
            W[:] = -128
        elif extreme == "pos":
            W[:] = 127
        else:                   # alternating signs: pairs that cancel inside vpmaddubsw
            W[:, 0::2] = -128
            W[:, 1::2] = 127
    packed, colsum = _C.u8s8_pack(W)
    q = np.zeros((M, _C.u8s8_kpad(K)), np.uint8)
    q[:, :K] = A
    return A, W, q, packed, colsum


def sums(q, packed, colsum, K, reduce_range=True):
    M, N = q.shape[0], colsum.shape[0]
    raw = np.empty((M, N), np.int32)
    _C.u8s8_gemm(q, packed, colsum, K, np.ones(M, np.float32), np.zeros(M, np.int32),
                 np.ones(N, np.float32), out=np.empty((M, N), np.float32), raw=raw,
                 reduce_range=reduce_range)
    return raw


def exact(A, W):
    return A.astype(np.int64) @ W.astype(np.int64).T


@pytest.mark.parametrize("M,N,K", SIZES)
def test_u7_sums_exact(M, N, K, isa, threads, rng):
    A, W, q, packed, colsum = case(rng, M, N, K)
    np.testing.assert_array_equal(sums(q, packed, colsum, K), exact(A, W))


@pytest.mark.parametrize("M", range(1, 10))
def test_u7_sums_every_row_tail(M, isa, rng):
    """tile heights 1..3 (the 7-bit tile's rows) and several K blocks"""
    A, W, q, packed, colsum = case(rng, M, 37, 301)
    np.testing.assert_array_equal(sums(q, packed, colsum, 301), exact(A, W))


@pytest.mark.parametrize("extreme", ["neg", "pos", "mixed"])
@pytest.mark.parametrize("K", [1, 2, 4, 5, 64, 257])
def test_u7_sums_at_the_extremes(extreme, K, isa, rng):
    """127 x -128 pairs reach -32512, the most a saturating s16 pair may hold exactly"""
    A, W, q, packed, colsum = case(rng, 7, 19, K, extreme=extreme)
    np.testing.assert_array_equal(sums(q, packed, colsum, K), exact(A, W))


@pytest.mark.parametrize("K", [3, 29, 32, 36, 61, 256, 301, 1029])
def test_codes_above_127_never_reach_the_7_bit_tile(K, isa, threads, rng):
    """One code of 255 anywhere (first or last row of a tile, the first byte, a masked tail
    word, a later K block) against -128 weights would saturate vpmaddubsw: with the
    reduce_range hint the sums must still be exact (the tile falls back)."""
    M, N = 9, 21
    A, W, q, packed, colsum = case(rng, M, N, K, extreme="neg")
    A[:] = 127
    for i, k in {(0, 0), (3, K - 1), (4, K // 2), (8, K - 1), (5, min(K - 1, 300))}:
        a = A.copy()
        a[i, k] = 255
        qa = q.copy()
        qa[:, :K] = a
        np.testing.assert_array_equal(sums(qa, packed, colsum, K), exact(a, W))
    # random full-range codes with the hint: exact too
    A2, W2, q2, p2, c2 = case(rng, M, N, K, amax=255)
    np.testing.assert_array_equal(sums(q2, p2, c2, K), exact(A2, W2))


def test_the_hint_changes_no_result(isa, rng):
    """reduce_range picks a tile, never an answer: float and u8 outputs are bit-equal with and
    without it, on 7-bit and on full-range codes"""
    M, N, K = 37, 45, 203
    for amax in (127, 255):
        A, W, q, packed, colsum = case(rng, M, N, K, amax=amax)
        a_s = rng.uniform(1e-3, 2e-2, M).astype(np.float32)
        a_zp = rng.integers(0, amax + 1, M).astype(np.int32)
        w_s = rng.uniform(1e-3, 2e-2, N).astype(np.float32)
        bias = rng.standard_normal(N).astype(np.float32)
        outs = []
        for rr in (False, True):
            f = np.empty((M, N), np.float32)
            u = np.empty((M, N), np.uint8)
            _C.u8s8_gemm(q, packed, colsum, K, a_s, a_zp, w_s, bias=bias, act="gelu", out=f,
                         reduce_range=rr)
            _C.u8s8_gemm(q, packed, colsum, K, a_s, a_zp, w_s, bias=bias, act="relu",
                         out_u8=u, out_scale=0.05, out_zp=3, reduce_range=rr)
            outs.append((f, u))
        np.testing.assert_array_equal(outs[0][0], outs[1][0])
        np.testing.assert_array_equal(outs[0][1], outs[1][1])


def quantize_ref(x, per_row, top):
    """the C quantizer's arithmetic on codes 0..top, in NumPy float32"""
    def params(lo, hi):
        lo, hi = np.float32(min(lo, 0.0)), np.float32(max(hi, 0.0))
        s = np.float32((hi - lo) / np.float32(top))
        if not s > 0:
            return np.float32(1.0), 0
        return s, int(np.clip(np.rint(-lo / s), 0, top))
    if per_row:
        ps = [params(r.min(), r.max()) for r in x]
    else:
        ps = [params(x.min(), x.max())] * x.shape[0]
    scale = np.array([p[0] for p in ps], np.float32)
    zp = np.array([p[1] for p in ps], np.int32)
    inv = (np.float32(1) / scale).astype(np.float32)
    q = np.clip(np.rint(x * inv[:, None]) + zp[:, None], 0, top).astype(np.uint8)
    return q, scale, zp


@pytest.mark.parametrize("per_row", [True, False])
@pytest.mark.parametrize("M,K", [(1, 1), (7, 33), (65, 129), (3, 1030)])
def test_quantize_rows_to_7_bits(M, K, per_row, isa, rng):
    x = (rng.standard_normal((M, K)) * rng.uniform(0.1, 10, (M, 1))).astype(np.float32)
    x[0, 0] = 0.0
    if M > 2:
        x[1] = np.abs(x[1])
        x[2] = -np.abs(x[2])
    q, scale, zp = _C.quantize_rows_u8(x, per_row, True)
    qr, sr, zr = quantize_ref(x, per_row, 127)
    np.testing.assert_array_equal(scale, sr)
    np.testing.assert_array_equal(zp, zr)
    np.testing.assert_array_equal(q[:, :K], qr)
    assert q.max() <= 127 and not q[:, K:].any()
    deq = (q[:, :K].astype(np.float64) - zp[:, None]) * scale[:, None]
    assert np.all(np.abs(deq - x) <= 0.5001 * scale[:, None])
    if M > 2 and per_row:
        assert zp[1] == 0 and zp[2] == 127


def test_quantize_rows_never_exceed_127(isa, rng):
    """rint(hi / s) + rint(-lo / s) can reach 128 when both halves round up: the clamp holds"""
    x = np.empty((400, 8), np.float32)
    x[:, 0] = -rng.uniform(0.1, 3, 400)
    x[:, 1] = x[:, 0] + 127 * rng.uniform(0.01, 0.05, 400)
    x[:, 1] = np.maximum(x[:, 1], 1e-3)
    x[:, 2:] = rng.uniform(-1, 1, (400, 6)) * np.abs(x[:, :1])
    q, scale, zp = _C.quantize_rows_u8(x, True, True)
    assert q.max() <= 127 and zp.max() <= 127


def test_kernel_names(isa):
    name = _C.u8s8_kernel_name(True)
    if isa == "avx2":
        assert name == "avx2-u7" and _C.u8s8_kernel_name(False) == "avx2"
    elif isa == "generic":
        assert name == "generic"
    else:                       # AVX-512: its own tiles (VNNI / AMX, or the byte-split one)
        assert name == _C.u8s8_kernel_name(False)
