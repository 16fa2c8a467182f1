"""Static int8 CNN kernels (csrc/qconv*.c): grouped / depthwise / 1x1 convolution with zero
points, requantize and fused relu, the residual add and max pooling on NHWC u8 codes, against
a NumPy int64 reference on odd sizes and every ISA path."""
import numpy as np
import pytest

from dlcore import _C
from dlcore.ops import qconv as Q
from dlcore.ops.qtensor import QTensor


def ref_conv(x, zp, w, xs, ws, bias, stride, pads, dil, groups, ys, yz, relu):
    """int64 sums of (x - zp) * w, then the float32 requantize the kernels do."""
    N, H, W, C = x.shape
    OC, cg, KH, KW = w.shape
    pt, pl, pb, pr = pads
    xp = np.full((N, H + pt + pb, W + pl + pr, C), zp, np.int64)
    xp[:, pt:pt + H, pl:pl + W] = x
    xp -= zp
    OH = (H + pt + pb - dil[0] * (KH - 1) - 1) // stride[0] + 1
    OW = (W + pl + pr - dil[1] * (KW - 1) - 1) // stride[1] + 1
    acc = np.zeros((N, OH, OW, OC), np.int64)
    og = OC // groups
    for g in range(groups):
        for kh in range(KH):
            for kw in range(KW):
                h0, w0 = kh * dil[0], kw * dil[1]
                patch = xp[:, h0:h0 + stride[0] * (OH - 1) + 1:stride[0],
                           w0:w0 + stride[1] * (OW - 1) + 1:stride[1], g * cg:(g + 1) * cg]
                acc[..., g * og:(g + 1) * og] += patch @ w[g * og:(g + 1) * og, :, kh, kw].T.astype(
                    np.int64)
    v = acc.astype(np.float32) * (np.float32(xs) * ws)
    if bias is not None:
        v = v + bias
    q = np.rint(v * np.float32(1.0 / ys)) + yz
    q = np.clip(q, yz if relu else 0, 255)
    return acc, q.astype(np.uint8)


CASES = [  # N, H, W, C, OC, K, stride, pads, dil, groups
    (1, 7, 9, 3, 5, 3, (1, 1), (1, 1, 1, 1), (1, 1), 1),
    (2, 11, 6, 8, 17, 1, (1, 1), (0, 0, 0, 0), (1, 1), 1),       # direct 1x1 path
    (1, 9, 9, 7, 33, 1, (2, 2), (0, 0, 0, 0), (1, 1), 1),        # strided 1x1 (im2col)
    (1, 13, 10, 6, 4, 3, (2, 1), (1, 0, 2, 1), (1, 1), 2),       # groups, asymmetric pads
    (2, 8, 8, 17, 17, 3, (1, 1), (1, 1, 1, 1), (1, 1), 17),      # depthwise
    (1, 15, 9, 70, 70, 5, (2, 2), (2, 2, 2, 2), (1, 1), 70),     # depthwise 5x5, C > block
    (1, 9, 9, 5, 7, 3, (1, 1), (2, 2, 2, 2), (2, 2), 1),         # dilation
    (1, 5, 5, 65, 9, 3, (1, 1), (1, 1, 1, 1), (1, 1), 1),        # K not a multiple of 4
    (1, 11, 10, 9, 9, 3, (1, 2), (2, 2, 2, 2), (2, 2), 9),       # dilated depthwise
    (1, 7, 6, 4, 8, 3, (2, 2), (1, 1, 1, 1), (1, 1), 4),         # channel multiplier 2
    # K = 2304: im2col in chunks of 96 rows (QC_CHUNK_BYTES), 143 rows = 2 chunks, the last
    # partial; grouped, each group's chunks through the group buffer
    (1, 13, 11, 256, 19, 3, (1, 1), (1, 1, 1, 1), (1, 1), 1),
    (1, 11, 13, 512, 6, 3, (1, 1), (1, 1, 1, 1), (1, 1), 2),
]


def _case(rng, N, H, W, C, OC, K, groups):
    x = rng.integers(0, 256, (N, H, W, C)).astype(np.uint8)
    w = rng.integers(-128, 128, (OC, C // groups, K, K)).astype(np.int8)
    ws = rng.uniform(0.5, 2.0, OC).astype(np.float32) / 64
    b = rng.normal(0, 1, OC).astype(np.float32)
    return x, w, ws, b


@pytest.mark.parametrize("relu", [False, True])
@pytest.mark.parametrize("case", CASES)
def test_qconv_matches_int64_reference(case, relu, isa, rng):
    N, H, W, C, OC, K, stride, pads, dil, groups = case
    x, w, ws, b = _case(rng, N, H, W, C, OC, K, groups)
    xs, zp, yz = 0.02, int(rng.integers(0, 256)), int(rng.integers(0, 256))
    acc, want = ref_conv(x, zp, w, xs, ws, b, stride, pads, dil, groups, 1.0, 0, relu)
    # pick an output scale that spreads the results over the u8 range
    v = acc.astype(np.float64) * (xs * ws) + b
    ys = float(max(np.abs(v).max(), 1e-3) / 100)
    _, want = ref_conv(x, zp, w, xs, ws, b, stride, pads, dil, groups, ys, yz, relu)
    wt = Q.Int8ConvWeight(w, ws, groups)
    got = Q.qconv2d(QTensor(x, xs, zp, nhwc=True), wt, b, stride, pads, dil, ys, yz, relu)
    assert got.codes.shape == want.shape
    diff = np.abs(got.codes.astype(int) - want.astype(int))
    # float rounding of the requantize (an FMA here or there) may move a tie by one code
    assert diff.max() <= 1
    assert (diff == 0).mean() > 0.97


@pytest.mark.parametrize("groups,C", [(1, 5), (5, 5)])
def test_qconv_saturates_at_extremes(groups, C, isa):
    x = np.full((1, 6, 6, C), 255, np.uint8)
    for wv, want in ((-128, 0), (127, 255)):
        w = np.full((C, C // groups, 3, 3), wv, np.int8)
        wt = Q.Int8ConvWeight(w, np.ones(C, np.float32), groups)
        got = Q.qconv2d(QTensor(x, 1.0, 0, nhwc=True), wt, None, 1, 1, 1, 0.5, 128)
        assert (got.codes == want).all()
        # relu clamps at the zero point, not at 0
        got = Q.qconv2d(QTensor(x, 1.0, 0, nhwc=True), wt, None, 1, 1, 1, 0.5, 128, relu=True)
        assert (got.codes == max(want, 128)).all()


@pytest.mark.parametrize("C", [35, 48])
@pytest.mark.parametrize("K", [3, 7, 8])
def test_depthwise_sums_exact_at_the_largest_products(C, K, isa, rng):
    # taps at |(x - zp) w| up to 255 * 128 (the vector kernel carries the sums in float:
    # exact while they stay below 2^24; 7x7 is its largest window, 8x8 takes the int32 loop);
    # channel 0 has the largest sum there is, -255 * 128 * K * K.  With x_scale 2^-14 and
    # bias 2^-15 every result is (2 acc + 1) 2^-15, exact in float32 and never a rounding
    # tie, so the codes must be the int64 reference's exactly
    x = np.where(rng.random((1, K + 3, K + 2, C)) < 0.5, 0, 255).astype(np.uint8)
    w = np.where(rng.random((C, 1, K, K)) < 0.5, -128, 127).astype(np.int8)
    x[..., 0], w[0] = 255, -128
    b = np.full(C, 2.0 ** -15, np.float32)
    for zp in (0, 255):
        acc, want = ref_conv(x, zp, w, 2.0 ** -14, np.ones(C, np.float32), b, (1, 1),
                             (K // 2,) * 4, (1, 1), C, 1.0, 128, False)
        assert zp or acc.min() == -255 * 128 * K * K
        got = Q.qconv2d(QTensor(x, 2.0 ** -14, zp, nhwc=True),
                        Q.Int8ConvWeight(w, np.ones(C, np.float32), C), b, 1, K // 2, 1, 1.0,
                        128)
        np.testing.assert_array_equal(got.codes, want)


def test_qconv_padding_stands_for_zero(isa):
    # x is all the zero point (real 0): every output is the bias alone, borders included
    x = np.full((1, 5, 5, 4), 77, np.uint8)
    w = np.random.default_rng(0).integers(-128, 128, (3, 4, 3, 3)).astype(np.int8)
    b = np.array([1.0, -2.0, 0.5], np.float32)
    got = Q.qconv2d(QTensor(x, 0.1, 77, nhwc=True), Q.Int8ConvWeight(w, np.ones(3, np.float32)),
                    b, 1, 1, 1, 0.5, 10)
    assert (got.codes[..., 0] == 12).all() and (got.codes[..., 1] == 6).all()
    assert (got.codes[..., 2] == 11).all()


@pytest.mark.parametrize("n", [2, 15, 16, 17, 1000, 70001])
@pytest.mark.parametrize("relu", [False, True])
def test_qadd(n, relu, isa, rng):
    a = rng.integers(0, 256, n).astype(np.uint8)
    b = rng.integers(0, 256, n).astype(np.uint8)
    a[:2], b[:2] = (0, 255), (0, 255)
    sa, za, sb, zb, sy, zy = 0.03, 100, 0.05, 3, 0.04, 120
    v = np.float32(sa) * (a.astype(np.float32) - za) + np.float32(sb) * (b.astype(np.float32) - zb)
    want = np.clip(np.rint(v * np.float32(1 / sy)) + zy, zy if relu else 0, 255)
    got = _C.qadd_u8(a, b, sa, za, sb, zb, sy, zy, relu)
    diff = np.abs(got.astype(int) - want.astype(int))
    assert diff.max() <= 1 and (diff == 0).mean() > 0.99
    assert got[1] == 255            # saturation at the top
    with pytest.raises(ValueError, match="b must have shape"):
        _C.qadd_u8(a, b[:-1], sa, za, sb, zb, sy, zy)


@pytest.mark.parametrize("shape,k,s,p", [((1, 7, 9, 3), 3, 2, 1), ((2, 12, 12, 65), 2, 2, 0),
                                         ((1, 5, 4, 17), 3, 1, 1)])
def test_qmaxpool(shape, k, s, p, isa, rng):
    x = rng.integers(0, 256, shape).astype(np.uint8)
    N, H, W, C = shape
    xp = np.zeros((N, H + 2 * p, W + 2 * p, C), np.int64) - 1
    xp[:, p:p + H, p:p + W] = x
    OH, OW = (H + 2 * p - k) // s + 1, (W + 2 * p - k) // s + 1
    want = np.full((N, OH, OW, C), -1, np.int64)
    for i in range(k):
        for j in range(k):
            want = np.maximum(want, xp[:, i:i + s * (OH - 1) + 1:s, j:j + s * (OW - 1) + 1:s])
    got = Q.qmax_pool2d(QTensor(x, 0.1, 5, nhwc=True), k, s, p)
    assert np.array_equal(got.codes, want.astype(np.uint8))
    assert got.scale == 0.1 and got.zero_point == 5


def test_bad_arguments():
    x = QTensor(np.zeros((1, 4, 4, 3), np.uint8), 1.0, 0, nhwc=True)
    wt = Q.Int8ConvWeight(np.zeros((2, 4, 1, 1), np.int8), np.ones(2, np.float32))
    with pytest.raises(ValueError, match="input has 3 channels"):
        Q.qconv2d(x, wt)
    with pytest.raises(TypeError, match="must be a QTensor"):
        Q.qconv2d(np.zeros((1, 3, 4, 4), np.float32), wt)
    with pytest.raises(ValueError, match="zero_point must be in 0..255"):
        Q.qconv2d(QTensor(np.zeros((1, 4, 4, 4), np.uint8), 1.0, 0, nhwc=True), wt,
                  zero_point=300)
    with pytest.raises(ValueError, match="geometry"):
        _C.qconv2d_u8(np.zeros((1, 4, 4, 4), np.uint8), wt.packed, wt.colsum, wt.scale, None,
                      (1, 2), 1.0, 0, 1.0, 0)


@pytest.mark.parametrize("groups", [1, 4, 32])
def test_qconv_threads_agree(groups, threads, rng):
    # big enough for the im2col, GEMM and depthwise loops to split over threads
    x, w, ws, b = _case(rng, 2, 33, 31, 32, 32, 3, groups)
    wt = Q.Int8ConvWeight(w, ws, groups)
    args = (wt, b, 1, 1, 1, 0.5, 100, True)
    got = Q.qconv2d(QTensor(x, 0.02, 128, nhwc=True), *args).codes
    _, want = ref_conv(x, 128, w, 0.02, ws, b, (1, 1), (1, 1, 1, 1), (1, 1), groups, 0.5, 100,
                       True)
    d = np.abs(got.astype(int) - want.astype(int))
    assert d.max() <= 1 and (d == 0).mean() > 0.97
    a = rng.integers(0, 256, 100001).astype(np.uint8)
    y = _C.qadd_u8(a, a[::-1].copy(), 0.1, 3, 0.2, 250, 0.3, 7)
    want = np.clip(np.rint((np.float32(0.1) * (a.astype(np.float32) - 3) + np.float32(0.2) * (
        a[::-1].astype(np.float32) - 250)) * np.float32(1 / 0.3)) + 7, 0, 255)
    assert np.abs(y.astype(int) - want.astype(int)).max() <= 1


@pytest.mark.parametrize("K,stride", [(3, 1), (3, 2), (5, 1), (5, 2)])
@pytest.mark.parametrize("relu", [False, True])
def test_depthwise_wide_rows_match_int64_reference(K, stride, relu, isa, rng):
    # rows wide enough that the AVX-512 kernel runs interior columns in blocks (8 at stride 1,
    # 4 at stride 2) with a remainder and both borders; 35 channels: two whole vectors and a
    # 3-channel tail.  x_scale 2^-14, bias 2^-15 and output scale 1 keep every result off a
    # rounding tie, so the codes must equal the int64 reference's exactly
    C, H, W = 35, 9, 37
    x = rng.integers(0, 256, (1, H, W, C)).astype(np.uint8)
    w = rng.integers(-128, 128, (C, 1, K, K)).astype(np.int8)
    b = np.full(C, 2.0 ** -15, np.float32)
    ws = np.ones(C, np.float32)
    for zp in (0, 91):
        _, want = ref_conv(x, zp, w, 2.0 ** -14, ws, b, (stride, stride), (K // 2,) * 4,
                           (1, 1), C, 1.0, 128, relu)
        got = Q.qconv2d(QTensor(x, 2.0 ** -14, zp, nhwc=True), Q.Int8ConvWeight(w, ws, C), b,
                        stride, K // 2, 1, 1.0, 128, relu)
        np.testing.assert_array_equal(got.codes, want)
