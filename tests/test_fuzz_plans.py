"""Property-based fuzzing of the inference plans (dl.jit) and the quantized kernels (hypothesis).

Small random models are drawn (convolutions with random strides, paddings, depthwise groups and
channel multipliers, 1x1 pointwise convolutions, BatchNorm with random running statistics,
ReLU/ReLU6/Tanh, pooling, Linear stacks, LSTM/GRU/RNN layers with a Linear head), traced with
dl.jit.trace (dynamic batch) and run at batch sizes 1, odd and even, at 1 and 2 kernel threads
(2 threads and an even batch run the batch-sliced plan) on a drawn ISA.  Each plan output must
lie within 1e-4 of the largest eager output (float32, relative to max |eager|).  That reaches
the planned depthwise convolution (plan_dw_simd.c), pointwise + ReLU6, the packed recurrent
step (rnn_packed.c), the plan's prepacked GEMM (gemm_prepacked.c) and batch-sliced runs
(plan_split.c).  Also drawn: quantize_dynamic'd MLPs, whose plans run native int8 steps and
must equal the eager quantized model bit for bit; the prepacked GEMM called directly against a
float64 reference; and quantized LSTM/GRU layers (csrc/qrnn.c) against the float layer on the
dequantized weights, within the bound stated in _QuantBound.

Profiles as tests/test_fuzz_ops.py: quick by default (a few examples per test, derandomized);
`DLCORE_FUZZ=long` draws fresh examples per test (DLCORE_FUZZ_PLAN_N of them, default 500) and
DLCORE_FUZZ_REPORT=path writes the counts to path + ".plans.json".
"""
import json
import math
import os
import time

import numpy as np
import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import given  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

import dlcore as dl  # noqa: E402
from dlcore import _C, nn  # noqa: E402
from dlcore.runtime import get_isa, get_num_threads, set_isa, set_num_threads  # noqa: E402
from fuzz_profile import fuzz_settings  # noqa: E402

SETTINGS = fuzz_settings(6, "DLCORE_FUZZ_PLAN_N", 500)
RTOL = 1e-4
STATS = {"calls": 0, "matched": 0, "both_raised": 0, "dl_raised_only": 0, "crashes": 0,
         "plan_steps": {}, "sliced_runs": 0, "quant_max_err_over_bound": 0.0}
_START = time.time()


def _write_report():
    STATS["seconds"] = round(time.time() - _START, 1)
    path = os.environ.get("DLCORE_FUZZ_REPORT")
    if path:
        with open(path + ".plans.json", "w") as f:
            json.dump(STATS, f, indent=1, sort_keys=True)


@pytest.fixture(autouse=True)
def _engine_restored():
    isa, nt = get_isa(), get_num_threads()
    yield
    set_isa(isa)
    set_num_threads(nt)
    _write_report()


def _fuzz_test(test):
    """A property test: drawing from st.data() under SETTINGS, RuntimeWarnings ignored."""
    return pytest.mark.filterwarnings("ignore::RuntimeWarning")(SETTINGS(given(st.data())(test)))


def _seeded(data):
    """data's draw function, after seeding dlcore's generator from a draw."""
    dl.manual_seed(data.draw(st.integers(0, 2 ** 16)))
    return data.draw


def _isa(draw):
    return draw(st.sampled_from(list(_C.supported_isas())))


def _batch(draw):
    return draw(st.sampled_from([1, 2, 3, 4, 5, 7, 8]))


def _close_to_eager(got, want, what):
    got, want = np.asarray(got, np.float64), np.asarray(want, np.float64)
    assert got.shape == want.shape, "%s: plan shape %s, eager %s" % (what, got.shape, want.shape)
    scale = max(float(np.abs(want).max(initial=0.0)), 1e-30)
    err = float(np.abs(got - want).max(initial=0.0))
    assert err <= RTOL * scale, "%s: plan differs from eager by %.3g (max |eager| %.3g)" % (
        what, err, scale)


def _eager(m, x):
    with dl.no_grad():
        y = m(dl.tensor(x))
    return (y[0] if isinstance(y, tuple) else y).numpy()


def _count_steps(plan):
    for s in plan.steps:
        STATS["plan_steps"][str(s.op)] = STATS["plan_steps"].get(str(s.op), 0) + 1


def _plan_equals_eager(draw, traced, m, x, what):
    """The plan for x, run at a drawn thread count, equals m(x) run eagerly, bit for bit."""
    plan = traced.plan(x)
    _count_steps(plan)
    STATS["calls"] += 1
    np.testing.assert_array_equal(plan.run([x], draw(st.sampled_from([1, 2])))[0], _eager(m, x),
                                  err_msg=what)
    STATS["matched"] += 1
    return plan


def _plan_matches_eager(draw, m, example, shapes, what):
    """Trace m on `example`, then for each input shape: plan output == eager, at a drawn
    thread count (and the batch-sliced plan where 2 threads split the batch evenly)."""
    m.eval()
    traced = dl.jit.trace(m, [example])
    for shape in shapes:
        x = (np.random.default_rng(draw(st.integers(0, 2 ** 16))).standard_normal(shape)
             * draw(st.sampled_from([1.0, 3.0]))).astype(np.float32)
        want = _eager(m, x)
        plan = traced.plan(x)
        _count_steps(plan)
        for nt in sorted({1, draw(st.sampled_from([1, 2]))}):
            STATS["calls"] += 1
            if nt > 1 and plan.slice_plan(nt) is not None:
                STATS["sliced_runs"] += 1
            got = plan.run([x], nt)[0]
            _close_to_eager(got, want, "%s x%s at %d threads" % (what, shape, nt))
            STATS["matched"] += 1


# ---- image models: conv / depthwise / pointwise / bn / relu6 / pool / linear ------------------
class _Head(nn.Module):
    """features, then flatten and a Linear stack (the plan's prepacked GEMM)"""

    def __init__(self, features, n_flat, widths):
        super().__init__()
        self.features = features
        layers, n = [], n_flat
        for i, w in enumerate(widths):
            layers.append(nn.Linear(n, w))
            if i + 1 < len(widths):
                layers.append(nn.ReLU())
            n = w
        self.fc = nn.Sequential(*layers)

    def forward(self, x):
        y = self.features(x)
        return self.fc(y.reshape(y.shape[0], -1)) if len(self.fc) else y


def _bn(draw, c):
    bn = nn.BatchNorm2d(c)
    rng = np.random.default_rng(draw(st.integers(0, 99)))
    bn.running_mean._data[...] = rng.standard_normal(c).astype(np.float32)
    bn.running_var._data[...] = rng.uniform(0.3, 2.0, c).astype(np.float32)
    bn.weight._data[...] = rng.standard_normal(c).astype(np.float32)
    bn.bias._data[...] = rng.standard_normal(c).astype(np.float32)
    return bn


def _out(n, k, s, p, d=1):
    return (n + 2 * p - d * (k - 1) - 1) // s + 1


def _image_model(draw, acts=(None, nn.ReLU, nn.ReLU6, nn.ReLU6, nn.Tanh),
                 pools=(nn.MaxPool2d, nn.AvgPool2d)):
    """(model, (C, H, W) of its input); every layer keeps the map at least 1 x 1."""
    c = draw(st.sampled_from([1, 2, 3, 4, 8]))
    h, w = draw(st.integers(3, 17)), draw(st.integers(3, 17))
    c0, h0, w0 = c, h, w
    layers = []
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["conv", "depthwise", "depthwise", "pointwise", "pool"]))
        if kind == "pool":
            k, s = draw(st.integers(2, 3)), draw(st.integers(1, 2))
            if min(h, w) < k:
                continue
            layers.append(draw(st.sampled_from(list(pools)))(k, s))
            h, w = _out(h, k, s, 0), _out(w, k, s, 0)
            continue
        k = 1 if kind == "pointwise" else draw(st.sampled_from([1, 3, 3, 5]))
        sh, sw = (1, 1) if kind == "pointwise" else (draw(st.integers(1, 3)),
                                                     draw(st.integers(1, 3)))
        pad = 0 if kind == "pointwise" else draw(st.integers(0, k // 2))
        if _out(h, k, sh, pad) < 1 or _out(w, k, sw, pad) < 1:
            continue
        if kind == "depthwise":
            oc, groups = c * draw(st.sampled_from([1, 1, 2])), c
        else:
            oc, groups = draw(st.sampled_from([1, 3, 4, 8, 16])), 1
        layers.append(nn.Conv2d(c, oc, k, (sh, sw), pad, groups=groups,
                                bias=draw(st.booleans())))
        c, h, w = oc, _out(h, k, sh, pad), _out(w, k, sw, pad)
        if draw(st.booleans()):
            layers.append(_bn(draw, c))
        act = draw(st.sampled_from(list(acts)))
        if act is not None:
            layers.append(act())
    widths = draw(st.sampled_from([[], [5], [9, 3], [16, 7, 2]]))
    return _Head(nn.Sequential(*layers), c * h * w, widths), (c0, h0, w0)


@_fuzz_test
def test_fuzz_image_plans_match_eager(data):
    draw = _seeded(data)
    m, chw = _image_model(draw)
    set_isa(_isa(draw))
    b0, b1 = _batch(draw), _batch(draw)
    _plan_matches_eager(draw, m, np.zeros((b0,) + chw, np.float32), [(b0,) + chw, (b1,) + chw],
                        "image model %s" % (m,))


# ---- recurrent models: LSTM (packed step) / GRU / RNN with a Linear head -------------------------
class _Recurrent(nn.Module):
    def __init__(self, cls, i, h, layers, bidir, out):
        super().__init__()
        self.rnn = cls(i, h, layers, bidirectional=bidir)
        self.fc = nn.Linear(h * (2 if bidir else 1), out)

    def forward(self, x):
        y, _ = self.rnn(x)
        return self.fc(y)


@_fuzz_test
def test_fuzz_recurrent_plans_match_eager(data):
    draw = _seeded(data)
    cls = draw(st.sampled_from([nn.LSTM, nn.LSTM, nn.GRU, nn.RNN]))
    i, h = draw(st.integers(1, 9)), draw(st.sampled_from([1, 3, 8, 16, 17, 33]))
    m = _Recurrent(cls, i, h, draw(st.integers(1, 2)), draw(st.booleans()),
                   draw(st.integers(1, 5)))
    set_isa(_isa(draw))
    T = draw(st.integers(1, 6))
    b0, b1 = _batch(draw), draw(st.sampled_from([1, 3, 9, 17]))
    # the batch is axis 1 of (T, B, I): trace with it dynamic
    m.eval()
    traced = dl.jit.trace(m, [np.zeros((T, b0, i), np.float32)], dynamic_axes={1: "batch"})
    for b in (b0, b1):
        x = np.random.default_rng(draw(st.integers(0, 2 ** 16))).standard_normal(
            (T, b, i)).astype(np.float32) * 2
        want = _eager(m, x)
        plan = traced.plan(x)
        _count_steps(plan)
        nt = draw(st.sampled_from([1, 2]))
        STATS["calls"] += 1
        _close_to_eager(plan.run([x], nt)[0], want, "%s T=%d B=%d at %d threads" % (
            m, T, b, nt))
        STATS["matched"] += 1


# ---- quantize_dynamic'd MLPs: native int8 plan steps ---------------------------------------------
@_fuzz_test
def test_fuzz_int8_plans_equal_eager_quantized(data):
    draw = _seeded(data)
    sizes = [draw(st.integers(1, 40)) for _ in range(draw(st.integers(2, 4)))]
    layers = []
    for a, b in zip(sizes, sizes[1:]):
        layers += [nn.Linear(a, b), draw(st.sampled_from([nn.ReLU, nn.GELU, nn.Tanh]))()]
    q = dl.quantization.quantize_dynamic(nn.Sequential(*layers[:-1]).eval())
    set_isa(_isa(draw))
    traced = dl.jit.trace(q, np.zeros((_batch(draw), sizes[0]), np.float32))
    for b in (_batch(draw), draw(st.sampled_from([1, 33, 101]))):
        x = np.random.default_rng(draw(st.integers(0, 2 ** 16))).standard_normal(
            (b, sizes[0])).astype(np.float32)
        plan = _plan_equals_eager(draw, traced, q, x, "int8 plan of %s, batch %d" % (q, b))
        assert plan.n_python_steps == 0


@_fuzz_test
def test_fuzz_static_int8_plans_equal_eager_quantized(data):
    """quantize_static'd image models (QUANTIZE, QCONV, QMAXPOOL, QLINEAR steps)"""
    draw = _seeded(data)
    m, chw = _image_model(draw, acts=(None, nn.ReLU), pools=(nn.MaxPool2d,))
    m.eval()
    rng = np.random.default_rng(draw(st.integers(0, 2 ** 16)))
    calib = [rng.standard_normal((2,) + chw).astype(np.float32) for _ in range(2)]
    qm = dl.quantization.quantize_static(m, calib)
    set_isa(_isa(draw))
    traced = dl.jit.trace(qm, np.zeros((_batch(draw),) + chw, np.float32))
    for b in (_batch(draw), _batch(draw)):
        x = rng.standard_normal((b,) + chw).astype(np.float32)
        _plan_equals_eager(draw, traced, qm, x, "static int8 plan of %s, batch %d" % (qm, b))


# ---- the prepacked GEMM (csrc/gemm_prepacked.c) against float64 ------------------------------------
_ERF = np.frompyfunc(math.erf, 1, 1)


@_fuzz_test
def test_fuzz_prepacked_gemm_matches_float64(data):
    draw = data.draw
    dims = [1, 2, 3, 4, 5, 7, 16, 17, 33, 64, 65, 130, 257, 300]
    M, N, K = (draw(st.sampled_from(dims)) for _ in range(3))
    transb = draw(st.booleans())
    rng = np.random.default_rng(draw(st.integers(0, 2 ** 16)))
    A = rng.standard_normal((M, K)).astype(np.float32)
    B = rng.standard_normal((N, K) if transb else (K, N)).astype(np.float32)
    alpha = draw(st.sampled_from([1.0, 0.5, -2.0]))
    beta = draw(st.sampled_from([0.0, 0.0, 1.0, -0.5]))
    C0 = rng.standard_normal((M, N)).astype(np.float32)
    bias_kind = draw(st.sampled_from([None, "row", "col"]))
    bias = None if bias_kind is None else rng.standard_normal(
        N if bias_kind == "row" else M).astype(np.float32)
    act = draw(st.sampled_from([0, 1, 2]))
    set_isa(_isa(draw))
    nt = draw(st.sampled_from([1, 2]))
    pb = _C.SgemmPackedB(np.ascontiguousarray(B), transb)
    kw = {} if bias_kind is None else {
        "bias_kind": _C.BIAS_ROW if bias_kind == "row" else _C.BIAS_COL}
    STATS["calls"] += 1
    got = pb.run(A, bias, act, alpha, beta, C0.copy() if beta else None, nthreads=nt, **kw)
    Bm = (B.T if transb else B).astype(np.float64)
    want = alpha * (A.astype(np.float64) @ Bm) + beta * C0
    mag = abs(alpha) * (np.abs(A) @ np.abs(Bm)) + abs(beta) * np.abs(C0)
    if bias is not None:
        bb = bias[None, :] if bias_kind == "row" else bias[:, None]
        want, mag = want + bb, mag + np.abs(bb)
    if act == 1:
        want = np.maximum(want, 0)
    elif act == 2:
        want = 0.5 * want * (1 + _ERF(want / math.sqrt(2)).astype(np.float64))
    # float32 accumulation: (K + 3) roundings of terms bounded by mag; the GELU kernel's own
    # approximation (relative 1e-6) on top
    tol = (K + 3) * 2 ** -23 * 1.5 * mag + 2e-6 * np.abs(want) + 1e-30
    bad = np.abs(got - want) > tol
    assert not bad.any(), "prepacked %dx%dx%d transb=%s act=%d alpha=%s beta=%s bias=%s at %d " \
        "threads: max excess %.3g" % (M, N, K, transb, act, alpha, beta, bias_kind, nt,
                                      float((np.abs(got - want) - tol).max()))
    STATS["matched"] += 1


# ---- quantized LSTM/GRU against the float layer on the dequantized weights -----------------------
class _QuantBound:
    """The float64 recurrence on the dequantized int8 weights, and beside it an elementwise
    bound on how far the quantized layer may lie from it.

    The quantized layer differs from this reference only by quantizing its activations: each
    row of x (T*B rows) and each row of the state h at each step is rounded to 255 steps of
    s = (max(row, 0) - min(row, 0)) / 255, an error of at most s/2 per element (taken as
    0.5005 s: the zero point's own rounding can add a hair at the clip), so a gate's
    pre-activation, sum_k W[g, k] v[k], moves by at most sum_k |W[g, k]| (dv[k] + s/2).  From
    there the bound follows the cell with the reference values: sigmoid moves at most 1/4 of
    its argument's move, tanh at most 1 (and neither beyond its range); a product a b moves by
    |a| db + |b| da + da db.  A later layer sees the earlier layer's bound on its input, and
    the step s of a row the layer quantizes is bounded with the row's own error.  Float32
    arithmetic adds SLACK per step.  Every output must be within its bound."""

    SLACK = 2e-5

    def __init__(self, mode, layer_weights, bidir):
        self.mode, self.layers, self.bidir = mode, layer_weights, bidir

    @staticmethod
    def _step(v, dv):
        """s / 2 of each row's quantization (s bounded with the row's error)"""
        lo = np.minimum((v - dv).min(1), 0)
        hi = np.maximum((v + dv).max(1), 0)
        return 0.5005 * (hi - lo) / 255

    def run(self, x):
        x = x.astype(np.float64)
        dx = np.zeros_like(x)
        T, B, _ = x.shape
        for dirs in self.layers:
            outs, douts = [], []
            for d, (wih, whh, bih, bhh) in enumerate(dirs):
                H = whh.shape[1]
                x2, dx2 = x.reshape(T * B, -1), dx.reshape(T * B, -1)
                xg = (x2 @ wih.T + bih).reshape(T, B, -1)
                e_ih = (np.abs(wih) @ (dx2 + self._step(x2, dx2)[:, None]).T).T.reshape(
                    T, B, -1)
                h, dh = np.zeros((B, H)), np.zeros((B, H))
                c, dc = np.zeros((B, H)), np.zeros((B, H))
                out, dout = np.zeros((T, B, H)), np.zeros((T, B, H))
                for t in (range(T - 1, -1, -1) if d else range(T)):
                    hh = h @ whh.T + bhh
                    e_hh = (dh + self._step(h, dh)[:, None]) @ np.abs(whh).T + self.SLACK
                    if self.mode == "LSTM":
                        h, dh, c, dc = self._lstm(xg[t] + hh, e_ih[t] + e_hh, c, dc, H)
                    else:
                        h, dh = self._gru(xg[t], hh, e_ih[t], e_hh, h, dh, H)
                    out[t], dout[t] = h, dh
                outs.append(out)
                douts.append(dout)
            x, dx = np.concatenate(outs, 2), np.concatenate(douts, 2)
        return x, dx

    @staticmethod
    def _sig(v):
        return 1 / (1 + np.exp(-v))

    def _lstm(self, g, e, c, dc, H):
        sl = [slice(k * H, (k + 1) * H) for k in range(4)]
        i, f, gg, o = self._sig(g[:, sl[0]]), self._sig(g[:, sl[1]]), np.tanh(g[:, sl[2]]), \
            self._sig(g[:, sl[3]])
        di, df = np.minimum(e[:, sl[0]] / 4, 1), np.minimum(e[:, sl[1]] / 4, 1)
        dg, do = np.minimum(e[:, sl[2]], 2), np.minimum(e[:, sl[3]] / 4, 1)
        c_new = f * c + i * gg
        dc_new = np.abs(f) * dc + np.abs(c) * df + df * dc + np.abs(i) * dg + np.abs(gg) * di \
            + di * dg + self.SLACK
        tc, dtc = np.tanh(c_new), np.minimum(dc_new, 2)
        h = o * tc
        dh = np.minimum(np.abs(o) * dtc + np.abs(tc) * do + do * dtc + self.SLACK, 2)
        return h, dh, c_new, dc_new

    def _gru(self, xg, hh, e_ih, e_hh, h, dh, H):
        sl = [slice(k * H, (k + 1) * H) for k in range(3)]
        r = self._sig(xg[:, sl[0]] + hh[:, sl[0]])
        z = self._sig(xg[:, sl[1]] + hh[:, sl[1]])
        dr = np.minimum((e_ih[:, sl[0]] + e_hh[:, sl[0]]) / 4, 1)
        dz = np.minimum((e_ih[:, sl[1]] + e_hh[:, sl[1]]) / 4, 1)
        a, da = hh[:, sl[2]], e_hh[:, sl[2]]
        n = np.tanh(xg[:, sl[2]] + r * a)
        dn = np.minimum(e_ih[:, sl[2]] + np.abs(r) * da + np.abs(a) * dr + dr * da, 2)
        h_new = (1 - z) * n + z * h
        dh_new = np.abs(1 - z) * dn + np.abs(n) * dz + dz * dn + np.abs(z) * dh \
            + np.abs(h) * dz + dz * dh + self.SLACK
        return h_new, np.minimum(dh_new, 2)


def _dequantized(q, mode, layers, bidir):
    """[[(w_ih, w_hh, b_ih, b_hh) per direction] per layer] of a quantized layer, float64"""
    sd = {k: v.numpy() for k, v in q.state_dict().items()}
    out = []
    for layer in range(layers):
        dirs = []
        for d in range(2 if bidir else 1):
            sfx = "_l%d%s" % (layer, "_reverse" if d else "")
            w = [sd["weight_%s%s" % (k, sfx)].astype(np.float64)
                 * sd["weight_%s%s_scale" % (k, sfx)].astype(np.float64)[:, None]
                 for k in ("ih", "hh")]
            b = [sd.get("bias_%s%s" % (k, sfx)) for k in ("ih", "hh")]
            b = [np.zeros(w[0].shape[0]) if v is None else v.astype(np.float64) for v in b]
            dirs.append((w[0], w[1], b[0], b[1]))
        out.append(dirs)
    return out


@_fuzz_test
def test_fuzz_quantized_rnn_within_bound_of_dequantized_float(data):
    draw = _seeded(data)
    mode = draw(st.sampled_from(["LSTM", "GRU"]))
    i, h = draw(st.integers(1, 12)), draw(st.sampled_from([1, 2, 5, 16, 17, 33, 64]))
    layers, bidir = draw(st.integers(1, 2)), draw(st.booleans())
    f = getattr(nn, mode)(i, h, layers, bias=draw(st.booleans()), bidirectional=bidir)
    q = dl.quantization.quantize_dynamic(nn.Sequential(f), {getattr(nn, mode)})[0]
    set_isa(_isa(draw))
    set_num_threads(draw(st.sampled_from([1, 2])))
    T, B = draw(st.integers(1, 6)), draw(st.sampled_from([1, 2, 3, 5, 8, 33]))
    x = (np.random.default_rng(draw(st.integers(0, 2 ** 16))).standard_normal((T, B, i))
         * draw(st.sampled_from([0.1, 1.0, 3.0]))).astype(np.float32)
    STATS["calls"] += 1
    with dl.no_grad():
        got = q(dl.tensor(x))[0].numpy().astype(np.float64)
    want, bound = _QuantBound(mode, _dequantized(q, mode, layers, bidir), bidir).run(x)
    assert got.shape == want.shape
    err = np.abs(got - want)
    STATS["quant_max_err_over_bound"] = max(STATS["quant_max_err_over_bound"],
                                            float((err / bound).max(initial=0.0)))
    assert (err <= bound).all(), "quantized %s(%d, %d, layers=%d, bidir=%s) T=%d B=%d: error " \
        "%.3g beyond its bound %.3g" % (mode, i, h, layers, bidir, T, B,
                                         float(err.max()), float(bound.flat[np.argmax(err - bound)]))
    STATS["matched"] += 1
