"""RNN / LSTM / GRU: fused cell kernels vs NumPy on every ISA path, parity with torch (outputs,
final states, every gradient) over the option combinations, packed sequences, gradcheck,
padding invariance, and clear errors on bad input."""
import itertools

import numpy as np
import pytest

import dlcore as dl
from dlcore import _C
from dlcore.nn.utils.rnn import (PackedSequence, pack_padded_sequence, pad_packed_sequence,
                                 pack_sequence, pad_sequence)

# torch's own LSTM-with-projection warning (it falls back from oneDNN) is not ours
pytestmark = pytest.mark.filterwarnings("ignore:LSTM with projections")


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


# ---------------------------------------------------------------- fused cell kernels vs NumPy

CELL_SIZES = [(1, 1), (3, 7), (5, 17), (2, 33), (33, 40)]


@pytest.mark.parametrize("n,H", CELL_SIZES)
def test_lstm_cell_kernels(isa, threads, n, H, rng):
    g0 = rng.standard_normal((n, 4 * H)).astype(np.float32) * 3
    c0 = rng.standard_normal((n, H)).astype(np.float32)
    g, c = g0.copy(), c0.copy()
    tc, h = np.empty_like(c), np.empty_like(c)
    _C.lstm_cell_fwd(g, c, tc, h)
    gd = g0.astype(np.float64)
    i, f, gg, o = (sigmoid(gd[:, :H]), sigmoid(gd[:, H:2 * H]), np.tanh(gd[:, 2 * H:3 * H]),
                   sigmoid(gd[:, 3 * H:]))
    cn = f * c0 + i * gg
    np.testing.assert_allclose(g, np.concatenate([i, f, gg, o], 1), atol=2e-6)
    np.testing.assert_allclose(c, cn, atol=5e-6)
    np.testing.assert_allclose(tc, np.tanh(cn), atol=2e-6)
    np.testing.assert_allclose(h, o * np.tanh(cn), atol=2e-6)

    dh = rng.standard_normal((n, H)).astype(np.float32)
    dc0 = rng.standard_normal((n, H)).astype(np.float32)
    dc, dg = dc0.copy(), np.empty((n, 4 * H), np.float32)
    _C.lstm_cell_bwd(g, tc, c0, dh, dc, dg)
    i, f, gg, o = (g[:, :H].astype(np.float64), g[:, H:2 * H], g[:, 2 * H:3 * H], g[:, 3 * H:])
    t = tc.astype(np.float64)
    dct = dc0 + dh * o * (1 - t * t)
    ref = np.concatenate([dct * gg * i * (1 - i), dct * c0 * f * (1 - f),
                          dct * i * (1 - gg * gg), dh * t * o * (1 - o)], 1)
    np.testing.assert_allclose(dg, ref, atol=2e-5)
    np.testing.assert_allclose(dc, dct * f, atol=2e-5)


@pytest.mark.parametrize("n,H", CELL_SIZES)
@pytest.mark.parametrize("form", ["g+hg", "g+hg nokeep", "hg+bias", "hg+bias nokeep",
                                  "hg nokeep", "g+hg+bias"])
def test_lstm_cell_kernel_split_preactivations(isa, threads, n, H, form, rng):
    """The time loop's forms: pre-activations as a sum of parts (input g, recurrent hg, bias),
    h written twice, gates kept only for training (else g must stay untouched)."""
    parts = form.split()[0].split("+")
    keep = "nokeep" not in form
    g0 = rng.standard_normal((n, 4 * H)).astype(np.float32) * 3
    hg = rng.standard_normal((n, 4 * H)).astype(np.float32) * 3
    bias = rng.standard_normal(4 * H).astype(np.float32)
    c0 = rng.standard_normal((n, H)).astype(np.float32)
    g, c = g0.copy(), c0.copy()
    h, h2 = np.empty_like(c), np.full_like(c, np.nan)
    gates = np.full_like(g0, np.nan) if keep and "g" not in parts else None
    _C.lstm_cell_fwd(g if "g" in parts else None, c, None, h, hg=hg, h2=h2, keep=keep,
                     bias=bias if "bias" in parts else None, gates=gates)
    pre = hg.astype(np.float64)
    if "g" in parts:
        pre = pre + g0
    if "bias" in parts:
        pre = pre + bias
    i, f, gg, o = (sigmoid(pre[:, :H]), sigmoid(pre[:, H:2 * H]), np.tanh(pre[:, 2 * H:3 * H]),
                   sigmoid(pre[:, 3 * H:]))
    cn = f * c0 + i * gg
    if keep:
        np.testing.assert_allclose(g if gates is None else gates,
                                   np.concatenate([i, f, gg, o], 1), atol=2e-6)
    if gates is not None or not keep:
        np.testing.assert_array_equal(g, g0)
    np.testing.assert_allclose(c, cn, atol=5e-6)
    np.testing.assert_allclose(h, o * np.tanh(cn), atol=2e-6)
    np.testing.assert_array_equal(h2, h)


@pytest.mark.parametrize("T,B,I,H", [(3, 1, 2, 1), (4, 3, 5, 7), (9, 2, 3, 33), (4, 5, 17, 40),
                                     (17, 1, 1, 7), (3, 15, 4, 17)])
def test_lstm_layer_float32_every_isa(isa, threads, T, B, I, H, rng):
    """The float32 time loop (inference and training forward, backward) against the NumPy
    reference on odd sizes, every ISA path, 1 and 2 threads; under 16 rows in all the weights
    are multiplied unpacked, from 16 on packed (both sides are here), and batches 1, 2, 5 and 15
    take every row-tile size of the packed product (8/6/4, 4, 2, 1)."""
    from dlcore.bench.rnn import np_lstm
    m = dl.nn.LSTM(I, H)
    x = (rng.standard_normal((T, B, I)) * 2).astype(np.float32)
    ref = np_lstm(x.astype(np.float64), *[p.numpy().astype(np.float64) for p in m.parameters()])
    with dl.no_grad():
        y, (hn, cn) = m(dl.tensor(x))
    np.testing.assert_allclose(y.numpy(), ref, atol=2e-6)
    np.testing.assert_allclose(hn.numpy()[0], ref[-1], atol=2e-6)
    xt = dl.tensor(x, requires_grad=True)
    y2 = m(xt)[0]
    np.testing.assert_allclose(y2.numpy(), ref, atol=2e-6)
    gout = rng.standard_normal((T, B, H))
    y2.backward(dl.tensor(gout.astype(np.float32)))
    _, dx, dw_ih, dw_hh, db = np_lstm(x.astype(np.float64), *[
        p.numpy().astype(np.float64) for p in m.parameters()], grad=gout)
    for ours, theirs in ((xt.grad, dx), (m.weight_ih_l0.grad, dw_ih),
                         (m.weight_hh_l0.grad, dw_hh), (m.bias_ih_l0.grad, db)):
        np.testing.assert_allclose(ours.numpy(), theirs, atol=2e-5, rtol=1e-4)


# ---------------------------------------------------------------- LSTM forward on a thread team
# At several threads the LSTM forward (no projection) runs its whole time loop in one parallel
# region, each thread owning a slice of hidden units.  It engages above a work grain that the
# tests lower, so that small sizes take it.

@pytest.fixture
def team_grain():
    prev = _C.rnn_team_grain(1)
    yield
    _C.rnn_team_grain(prev)


def _team_threads(T, B, I, H):
    return _C.rnn_team_threads(2, np.full(T, B, np.int64), I, H, H)


@pytest.mark.parametrize("B", [1, 5, 32])
@pytest.mark.parametrize("H", [1, 7, 33, 65])
def test_lstm_team_against_numpy(isa, threads, team_grain, B, H, rng):
    """The team's forward (inference and training) and the backward from its saved state against
    the NumPy reference, every ISA path, 1 and 2 threads, odd sizes (H = 1, and 7 on the vector
    paths: one column panel per gate, so the plain loop; 33, 65: the team at 2 threads)."""
    from dlcore.bench.rnn import np_lstm
    T, I = max(3, 16 // B + 1), 5
    if H == 65:  # more than one panel of every gate on every ISA path
        assert _team_threads(T, B, I, H) == threads
    m = dl.nn.LSTM(I, H)
    x = (rng.standard_normal((T, B, I)) * 2).astype(np.float32)
    w64 = [p.numpy().astype(np.float64) for p in m.parameters()]
    ref = np_lstm(x.astype(np.float64), *w64)
    with dl.no_grad():
        y, (hn, cn) = m(dl.tensor(x))
    np.testing.assert_allclose(y.numpy(), ref, atol=2e-6)
    np.testing.assert_allclose(hn.numpy()[0], ref[-1], atol=2e-6)
    xt = dl.tensor(x, requires_grad=True)
    y2, (hn2, cn2) = m(xt)
    np.testing.assert_array_equal(y2.numpy(), y.numpy())
    np.testing.assert_array_equal(cn2.numpy(), cn.numpy())
    gout = rng.standard_normal((T, B, H))
    y2.backward(dl.tensor(gout.astype(np.float32)))
    _, dx, dw_ih, dw_hh, db = np_lstm(x.astype(np.float64), *w64, grad=gout)
    for ours, theirs in ((xt.grad, dx), (m.weight_ih_l0.grad, dw_ih),
                         (m.weight_hh_l0.grad, dw_hh), (m.bias_ih_l0.grad, db)):
        np.testing.assert_allclose(ours.numpy(), theirs, atol=2e-5, rtol=1e-4)


def _lstm_run(m, x, hx, lengths, w):
    """Outputs, final states and every gradient of a packed bidirectional run with hx."""
    xo = dl.tensor(x, requires_grad=True)
    hxo = tuple(dl.tensor(a, requires_grad=True) for a in hx)
    m.zero_grad()
    out, (hn, cn) = m(pack_padded_sequence(xo, lengths), hxo)
    (out.data * dl.tensor(w)).sum().backward()
    with dl.no_grad():
        inf = m(pack_padded_sequence(dl.tensor(x), lengths), tuple(dl.tensor(a) for a in hx))
    return ([out.data.numpy(), hn.numpy(), cn.numpy(), xo.grad.numpy()]
            + [a.grad.numpy() for a in hxo] + [p.grad.numpy() for p in m.parameters()]
            + [inf[0].data.numpy(), inf[1][0].numpy(), inf[1][1].numpy()])


def test_lstm_team_bitwise_equal_and_repeatable(isa, team_grain, rng):
    """Packed (the batch shrinks forward, grows in reverse), bidirectional, with an initial
    state: the team at 2 threads gives the 1-thread results bit for bit, run after run."""
    I, H, lengths = 6, 65, [9, 6, 6, 2, 1]
    batch_sizes = np.array([5, 4, 3, 3, 3, 3, 1, 1, 1], np.int64)
    m = dl.nn.LSTM(I, H, bidirectional=True)
    x = rng.standard_normal((9, 5, I)).astype(np.float32)
    hx = [rng.standard_normal((2, 5, H)).astype(np.float32) for _ in range(2)]
    w = rng.standard_normal((sum(lengths), 2 * H)).astype(np.float32)
    prev = dl.get_num_threads()
    try:
        runs = []
        for n in (1, 2, 2):
            dl.set_num_threads(n)
            assert _C.rnn_team_threads(2, batch_sizes, I, H, H) == n
            runs.append(_lstm_run(m, x, hx, lengths, w))
    finally:
        dl.set_num_threads(prev)
    for other in runs[1:]:
        for a, b in zip(runs[0], other):
            np.testing.assert_array_equal(a, b)


def test_lstm_team_parity_with_torch(torch, isa, team_grain, rng):
    """The team at 2 threads against torch: padded batch with an initial state, float32."""
    o, t = _pair(torch, "LSTM", 11, 65, dtype=np.float32, bidirectional=True)
    x = rng.standard_normal((7, 4, 11)).astype(np.float32)
    hx = [rng.standard_normal((2, 4, 65)).astype(np.float32) for _ in range(2)]
    prev = dl.get_num_threads()
    try:
        dl.set_num_threads(2)
        assert _team_threads(7, 4, 11, 65) == 2
        _compare(torch, o, t, "LSTM", x, hx, atol=2e-5, rtol=1e-4)
    finally:
        dl.set_num_threads(prev)


@pytest.mark.parametrize("n,H", CELL_SIZES)
def test_gru_cell_kernels(isa, threads, n, H, rng):
    xg0 = rng.standard_normal((n, 3 * H)).astype(np.float32) * 2
    hg = rng.standard_normal((n, 3 * H)).astype(np.float32) * 2
    hp = rng.standard_normal((n, H)).astype(np.float32)
    xg, h, hgn = xg0.copy(), hp.copy(), np.empty((n, H), np.float32)
    _C.gru_cell_fwd(xg, hg, h, hgn)
    r = sigmoid(xg0[:, :H] + hg[:, :H].astype(np.float64))
    z = sigmoid(xg0[:, H:2 * H] + hg[:, H:2 * H].astype(np.float64))
    nn_ = np.tanh(xg0[:, 2 * H:] + r * hg[:, 2 * H:])
    np.testing.assert_allclose(xg, np.concatenate([r, z, nn_], 1), atol=3e-6)
    np.testing.assert_allclose(h, (1 - z) * nn_ + z * hp, atol=3e-6)
    np.testing.assert_array_equal(hgn, hg[:, 2 * H:])

    dh = rng.standard_normal((n, H)).astype(np.float32)
    dxg, dhg, dhp = (np.empty((n, 3 * H), np.float32), np.empty((n, 3 * H), np.float32),
                     np.empty((n, H), np.float32))
    _C.gru_cell_bwd(xg, hgn, hp, dh, dxg, dhg, dhp)
    r, z, nn_ = (xg[:, :H].astype(np.float64), xg[:, H:2 * H], xg[:, 2 * H:])
    dn = dh * (1 - z) * (1 - nn_ * nn_)
    dr = dn * hgn * r * (1 - r)
    dz = dh * (hp - nn_) * z * (1 - z)
    np.testing.assert_allclose(dxg, np.concatenate([dr, dz, dn], 1), atol=2e-5)
    np.testing.assert_allclose(dhg, np.concatenate([dr, dz, dn * r], 1), atol=2e-5)
    np.testing.assert_allclose(dhp, dh * z, atol=2e-6)


@pytest.mark.parametrize("relu", [False, True])
@pytest.mark.parametrize("n,H", CELL_SIZES)
def test_elman_cell_kernels(isa, threads, n, H, relu, rng):
    g0 = rng.standard_normal((n, H)).astype(np.float32) * 2
    g, h = g0.copy(), np.empty((n, H), np.float32)
    _C.rnn_cell_fwd(g, h, relu)
    ref = np.maximum(g0, 0) if relu else np.tanh(g0.astype(np.float64))
    np.testing.assert_allclose(g, ref, atol=2e-6)
    np.testing.assert_array_equal(h, g)
    dh = rng.standard_normal((n, H)).astype(np.float32)
    dg = np.empty_like(dh)
    _C.rnn_cell_bwd(g, dh, dg, relu)
    ref = dh * (g > 0) if relu else dh * (1 - g.astype(np.float64) ** 2)
    np.testing.assert_allclose(dg, ref, atol=2e-6)


def test_cell_kernels_propagate_nan(isa):
    g = np.full((1, 4 * 17), np.nan, np.float32)
    c, tc, h = (np.zeros((1, 17), np.float32) for _ in range(3))
    _C.lstm_cell_fwd(g, c, tc, h)
    assert np.isnan(h).all() and np.isnan(c).all()
    c, h = np.zeros((1, 17), np.float32), np.zeros((1, 17), np.float32)
    hg = np.zeros((1, 4 * 17), np.float32)
    hg[0, ::5] = np.nan
    _C.lstm_cell_fwd(np.zeros_like(hg), c, None, h, hg=hg, keep=False)
    bad = np.isnan(hg).reshape(4, 17).any(0)
    assert np.isnan(h[0, bad]).all() and not np.isnan(h[0, ~bad]).any()
    g = np.full((2, 9), np.nan, np.float32)
    _C.rnn_cell_fwd(g, np.empty_like(g), True)
    assert np.isnan(g).all()


# ---------------------------------------------------------------- parity with torch

def _load(ours, theirs):
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})


def _pair(torch, kind, I, H, dtype=np.float64, **kw):
    torch.manual_seed(0)
    tdt = torch.float64 if dtype == np.float64 else torch.float32
    t = getattr(torch.nn, kind)(I, H, **kw).to(tdt)
    o = getattr(dl.nn, kind)(I, H, dtype=dtype, **kw)
    _load(o, t)
    return o, t


def _states(kind, out):
    return list(out[1]) if kind == "LSTM" else [out[1]]


def _compare(torch, o, t, kind, x, hx=None, atol=1e-10, rtol=1e-7):
    """Forward outputs, final states, and every gradient (input, states, params) match."""
    xt = torch.tensor(x, requires_grad=True)
    xo = dl.tensor(x, requires_grad=True)
    hxt = hxo = None
    if hx is not None:
        hxt = tuple(torch.tensor(a, requires_grad=True) for a in hx)
        hxo = tuple(dl.tensor(a, requires_grad=True) for a in hx)
    if kind != "LSTM" and hx is not None:
        outt, outo = t(xt, hxt[0]), o(xo, hxo[0])
    else:
        outt, outo = t(xt, hxt), o(xo, hxo)
    yt, yo = outt[0], outo[0]
    np.testing.assert_allclose(yo.numpy(), yt.detach().numpy(), atol=atol, rtol=rtol)
    st, so = _states(kind, outt), _states(kind, outo)
    for a, b in zip(so, st):
        np.testing.assert_allclose(a.numpy(), b.detach().numpy(), atol=atol, rtol=rtol)
    rng = np.random.default_rng(5)
    ws = [rng.standard_normal(tuple(a.shape)) for a in [yt] + st]
    lt = sum((a * torch.tensor(w, dtype=a.dtype)).sum() for a, w in zip([yt] + st, ws))
    lo = sum((a * dl.tensor(w.astype(a.dtype))).sum() for a, w in zip([yo] + so, ws))
    lt.backward()
    lo.backward()
    np.testing.assert_allclose(xo.grad.numpy(), xt.grad.numpy(), atol=atol * 10, rtol=rtol * 10)
    if hx is not None:
        for a, b in zip(hxo, hxt):
            np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), atol=atol * 10,
                                       rtol=rtol * 10)
    po = dict(o.named_parameters())
    for name, p in t.named_parameters():
        np.testing.assert_allclose(po[name].grad.numpy(), p.grad.numpy(), atol=atol * 10,
                                   rtol=rtol * 10, err_msg=name)


KINDS = [("RNN", {}), ("RNN", {"nonlinearity": "relu"}), ("LSTM", {}), ("GRU", {}),
         ("LSTM", {"proj_size": 3})]
OPTIONS = list(itertools.product([1, 2], [False, True], [False, True], [False, True]))


@pytest.mark.parametrize("kind,extra", KINDS, ids=lambda v: str(v))
@pytest.mark.parametrize("layers,bidir,batch_first,with_hx", OPTIONS)
def test_parity_with_torch(torch, kind, extra, layers, bidir, batch_first, with_hx, rng):
    I, H, T, B = 4, 5, 6, 3
    o, t = _pair(torch, kind, I, H, num_layers=layers, bidirectional=bidir,
                 batch_first=batch_first, **extra)
    x = rng.standard_normal((B, T, I) if batch_first else (T, B, I))
    hx = None
    if with_hx:
        D = 2 if bidir else 1
        P = extra.get("proj_size", 0) or H
        hx = [rng.standard_normal((layers * D, B, P))]
        if kind == "LSTM":
            hx.append(rng.standard_normal((layers * D, B, H)))
    _compare(torch, o, t, kind, x, hx)


@pytest.mark.parametrize("kind,extra", KINDS, ids=lambda v: str(v))
def test_parity_no_bias_and_unbatched(torch, kind, extra, rng):
    o, t = _pair(torch, kind, 3, 4, bias=False, num_layers=2, **extra)
    assert "bias_ih_l0" not in dict(o.named_parameters())
    _compare(torch, o, t, kind, rng.standard_normal((5, 2, 3)))
    o, t = _pair(torch, kind, 3, 4, bidirectional=True, **extra)
    P = extra.get("proj_size", 0) or 4
    hx = [rng.standard_normal((2, P))] + ([rng.standard_normal((2, 4))] if kind == "LSTM" else [])
    _compare(torch, o, t, kind, rng.standard_normal((5, 3)), hx)


@pytest.mark.parametrize("extra", [{}, {"proj_size": 5}], ids=["plain", "proj"])
def test_lstm_float32_parity_every_isa(torch, isa, threads, extra, rng):
    """float32 LSTM (the fused per-step GEMM, with and without projection) against torch on
    every ISA path, 1 and 2 threads, odd sizes, padded and packed batches."""
    o, t = _pair(torch, "LSTM", 11, 33, dtype=np.float32, **extra)
    x = rng.standard_normal((7, 3, 11)).astype(np.float32)
    _compare(torch, o, t, "LSTM", x, atol=2e-5, rtol=1e-4)
    # packed: the batch shrinks step by step (and grows in the reverse direction)
    o, t = _pair(torch, "LSTM", 11, 33, dtype=np.float32, bidirectional=True, **extra)
    lengths = [7, 5, 5, 2, 1]
    x = rng.standard_normal((7, 5, 11)).astype(np.float32)
    xt, xo = torch.tensor(x, requires_grad=True), dl.tensor(x, requires_grad=True)
    outt = t(torch.nn.utils.rnn.pack_padded_sequence(xt, lengths))
    outo = o(pack_padded_sequence(xo, lengths))
    np.testing.assert_allclose(outo[0].data.numpy(), outt[0].data.detach().numpy(), atol=2e-5)
    for a, b in zip(outo[1], outt[1]):
        np.testing.assert_allclose(a.numpy(), b.detach().numpy(), atol=2e-5)
    w = rng.standard_normal(tuple(outt[0].data.shape)).astype(np.float32)
    (outt[0].data * torch.tensor(w)).sum().backward()
    (outo[0].data * dl.tensor(w)).sum().backward()
    np.testing.assert_allclose(xo.grad.numpy(), xt.grad.numpy(), atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize("kind,extra", KINDS, ids=lambda v: str(v))
def test_parity_float32_wide(torch, kind, extra, rng):
    """float32 on the SIMD paths with sizes that leave vector tails (H = 37)."""
    o, t = _pair(torch, kind, 19, 37, dtype=np.float32, bidirectional=True, **extra)
    x = rng.standard_normal((9, 5, 19)).astype(np.float32)
    _compare(torch, o, t, kind, x, atol=2e-5, rtol=1e-4)


def test_state_dict_names_and_shapes_match_torch(torch):
    for kind, kw in [("LSTM", {"proj_size": 2, "num_layers": 2, "bidirectional": True}),
                     ("GRU", {"num_layers": 2}), ("RNN", {"bidirectional": True})]:
        t = getattr(torch.nn, kind)(3, 5, **kw)
        o = getattr(dl.nn, kind)(3, 5, **kw)
        assert list(o.state_dict()) == list(t.state_dict())
        for k, v in t.state_dict().items():
            assert tuple(o.state_dict()[k].shape) == tuple(v.shape), k


def test_init_range():
    m = dl.nn.LSTM(10, 16)
    for p in m.parameters():
        a = np.abs(p.numpy())
        assert a.max() <= 0.25 and a.max() > 0.2  # uniform(-1/sqrt(16), 1/sqrt(16))


# ---------------------------------------------------------------- packed sequences

@pytest.mark.parametrize("kind,extra", KINDS, ids=lambda v: str(v))
@pytest.mark.parametrize("enforce_sorted,bidir,with_hx", [(True, False, False),
                                                          (False, True, True),
                                                          (False, False, True),
                                                          (True, True, False)])
def test_packed_parity_with_torch(torch, kind, extra, enforce_sorted, bidir, with_hx, rng):
    I, H, T = 3, 4, 6
    lengths = [6, 4, 4, 1] if enforce_sorted else [2, 6, 1, 4]
    B = len(lengths)
    o, t = _pair(torch, kind, I, H, num_layers=2, bidirectional=bidir, **extra)
    x = rng.standard_normal((T, B, I))
    D = 2 if bidir else 1
    P = extra.get("proj_size", 0) or H
    hx = None
    if with_hx:
        hx = [rng.standard_normal((2 * D, B, P))]
        if kind == "LSTM":
            hx.append(rng.standard_normal((2 * D, B, H)))
    xt, xo = torch.tensor(x, requires_grad=True), dl.tensor(x, requires_grad=True)
    pt = torch.nn.utils.rnn.pack_padded_sequence(xt, lengths, enforce_sorted=enforce_sorted)
    po = pack_padded_sequence(xo, lengths, enforce_sorted=enforce_sorted)
    np.testing.assert_array_equal(po.batch_sizes.numpy(), pt.batch_sizes.numpy())
    np.testing.assert_allclose(po.data.numpy(), pt.data.detach().numpy())
    hxt = hxo = None
    if hx is not None:
        hxt = tuple(torch.tensor(a, requires_grad=True) for a in hx)
        hxo = tuple(dl.tensor(a, requires_grad=True) for a in hx)
        if kind != "LSTM":
            hxt, hxo = hxt[0], hxo[0]
    outt, outo = t(pt, hxt), o(po, hxo)
    assert isinstance(outo[0], PackedSequence)
    yt, lt_ = torch.nn.utils.rnn.pad_packed_sequence(outt[0])
    yo, lo_ = pad_packed_sequence(outo[0])
    np.testing.assert_array_equal(lo_.numpy(), lt_.numpy())
    np.testing.assert_allclose(yo.numpy(), yt.detach().numpy(), atol=1e-10)
    st, so = _states(kind, outt), _states(kind, outo)
    for a, b in zip(so, st):
        np.testing.assert_allclose(a.numpy(), b.detach().numpy(), atol=1e-10)
    ws = [rng.standard_normal(tuple(a.shape)) for a in [yt] + st]
    sum((a * torch.tensor(w)).sum() for a, w in zip([yt] + st, ws)).backward()
    sum((a * dl.tensor(w)).sum() for a, w in zip([yo] + so, ws)).backward()
    np.testing.assert_allclose(xo.grad.numpy(), xt.grad.numpy(), atol=1e-9)
    if hx is not None:
        pairs = zip(hxo, hxt) if kind == "LSTM" else [(hxo, hxt)]
        for a, b in pairs:
            np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), atol=1e-9)
    pd = dict(o.named_parameters())
    for name, p in t.named_parameters():
        np.testing.assert_allclose(pd[name].grad.numpy(), p.grad.numpy(), atol=1e-9,
                                   err_msg=name)


def test_padding_never_changes_results(rng):
    """Each sequence of a packed batch gives what it gives alone, whatever the padding holds."""
    m = dl.nn.LSTM(3, 5, num_layers=2, bidirectional=True, dtype=dl.float64)
    lengths = [5, 3, 2]
    x = rng.standard_normal((5, 3, 3))
    x2 = x.copy()
    for b, n in enumerate(lengths):
        x2[n:, b] = 1e3  # garbage in the padding
    for data in (x, x2):
        out, (hn, cn) = m(pack_padded_sequence(dl.tensor(data), lengths))
        y, _ = pad_packed_sequence(out)
        for b, n in enumerate(lengths):
            alone, (h1, c1) = m(dl.tensor(x[:n, b:b + 1]))
            np.testing.assert_allclose(y.numpy()[:n, b], alone.numpy()[:, 0], atol=1e-12)
            assert np.all(y.numpy()[n:, b] == 0)
            np.testing.assert_allclose(hn.numpy()[:, b], h1.numpy()[:, 0], atol=1e-12)
            np.testing.assert_allclose(cn.numpy()[:, b], c1.numpy()[:, 0], atol=1e-12)


def test_pack_sequence_and_pad_sequence(torch, rng):
    seqs = [rng.standard_normal((n, 2)) for n in (2, 5, 3)]
    po = pack_sequence([dl.tensor(s) for s in seqs], enforce_sorted=False)
    pt = torch.nn.utils.rnn.pack_sequence([torch.tensor(s) for s in seqs], enforce_sorted=False)
    np.testing.assert_allclose(po.data.numpy(), pt.data.numpy())
    np.testing.assert_array_equal(po.sorted_indices.numpy(), pt.sorted_indices.numpy())
    np.testing.assert_array_equal(po.unsorted_indices.numpy(), pt.unsorted_indices.numpy())
    padded = pad_sequence([dl.tensor(s) for s in seqs], batch_first=True, padding_value=-1)
    ref = torch.nn.utils.rnn.pad_sequence([torch.tensor(s) for s in seqs], batch_first=True,
                                          padding_value=-1)
    np.testing.assert_allclose(padded.numpy(), ref.numpy())
    y, lens = pad_packed_sequence(po, batch_first=True, total_length=6)
    assert tuple(y.shape) == (3, 6, 2) and lens.tolist() == [2, 5, 3]


# ---------------------------------------------------------------- cells

@pytest.mark.parametrize("kind", ["RNNCell", "LSTMCell", "GRUCell"])
def test_cells_match_torch(torch, kind, rng):
    torch.manual_seed(0)
    t = getattr(torch.nn, kind)(4, 6).double()
    o = getattr(dl.nn, kind)(4, 6, dtype=dl.float64)
    _load(o, t)
    x = rng.standard_normal((3, 4))
    hx = [rng.standard_normal((3, 6)) for _ in range(2 if kind == "LSTMCell" else 1)]
    xt, xo = torch.tensor(x, requires_grad=True), dl.tensor(x, requires_grad=True)
    ht = [torch.tensor(a, requires_grad=True) for a in hx]
    ho = [dl.tensor(a, requires_grad=True) for a in hx]
    arg_t = tuple(ht) if kind == "LSTMCell" else ht[0]
    arg_o = tuple(ho) if kind == "LSTMCell" else ho[0]
    rt, ro = t(xt, arg_t), o(xo, arg_o)
    rt = list(rt) if kind == "LSTMCell" else [rt]
    ro = list(ro) if kind == "LSTMCell" else [ro]
    for a, b in zip(ro, rt):
        np.testing.assert_allclose(a.numpy(), b.detach().numpy(), atol=1e-12)
    sum((a * (i + 1.5)).sum() for i, a in enumerate(rt)).backward()
    sum((a * (i + 1.5)).sum() for i, a in enumerate(ro)).backward()
    np.testing.assert_allclose(xo.grad.numpy(), xt.grad.numpy(), atol=1e-12)
    for a, b in zip(ho, ht):
        np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), atol=1e-12)
    pd = dict(o.named_parameters())
    for name, p in t.named_parameters():
        np.testing.assert_allclose(pd[name].grad.numpy(), p.grad.numpy(), atol=1e-12)
    # unbatched input and no state
    r1 = o(dl.tensor(x[0]))
    r1 = r1[0] if kind == "LSTMCell" else r1
    assert tuple(r1.shape) == (6,)


# ---------------------------------------------------------------- gradcheck, dropout

@pytest.mark.parametrize("kind", ["RNN", "LSTM", "GRU"])
def test_gradcheck(kind, rng):
    """float64 finite differences: input and initial states by gradcheck, then a sample of
    every parameter's entries against the loss's central difference."""
    kw = {"proj_size": 2} if kind == "LSTM" else {}
    m = getattr(dl.nn, kind)(2, 3, num_layers=2, bidirectional=True, dtype=dl.float64, **kw)
    P = 2 if kind == "LSTM" else 3
    x = dl.tensor(rng.standard_normal((3, 2, 2)), requires_grad=True)
    h0 = dl.tensor(rng.standard_normal((4, 2, P)), requires_grad=True)
    if kind == "LSTM":
        c0 = dl.tensor(rng.standard_normal((4, 2, 3)), requires_grad=True)
        inputs = (x, h0, c0)

        def fn(x, h0, c0):
            y, (h, c) = m(x, (h0, c0))
            return y, h, c
    else:
        inputs = (x, h0)

        def fn(x, h0):
            return m(x, h0)
    assert dl.autograd.gradcheck(fn, inputs)

    def loss():
        return sum((o * o).sum() for o in fn(*inputs))
    for p in m.parameters():
        p.grad = None
    loss().backward()
    eps = 1e-6
    for name, p in m.named_parameters():
        flat = p._data.reshape(-1)
        for k in rng.choice(flat.size, size=min(4, flat.size), replace=False):
            old = flat[k]
            flat[k] = old + eps
            with dl.no_grad():
                up = float(loss().item())
            flat[k] = old - eps
            with dl.no_grad():
                down = float(loss().item())
            flat[k] = old
            num = (up - down) / (2 * eps)
            np.testing.assert_allclose(p.grad._data.reshape(-1)[k], num, rtol=1e-5, atol=1e-7,
                                       err_msg=name)


def test_dropout_between_layers():
    dl.manual_seed(0)
    m = dl.nn.GRU(3, 8, num_layers=2, dropout=0.5)
    x = dl.randn(4, 2, 3)
    a, _ = m(x)
    b, _ = m(x)
    assert not np.allclose(a.numpy(), b.numpy())  # different masks in training
    m.eval()
    c, _ = m(x)
    d, _ = m(x)
    np.testing.assert_array_equal(c.numpy(), d.numpy())
    a.sum().backward()
    assert m.weight_ih_l0.grad is not None


def test_no_grad_and_two_threads_agree(rng):
    m = dl.nn.LSTM(7, 20, num_layers=2, bidirectional=True)
    x = dl.tensor(rng.standard_normal((6, 9, 7)).astype(np.float32))
    prev = dl.get_num_threads()
    try:
        outs = []
        for n in (1, 2):
            dl.set_num_threads(n)
            with dl.no_grad():
                outs.append(m(x)[0].numpy())
        np.testing.assert_allclose(outs[0], outs[1], atol=1e-5)
    finally:
        dl.set_num_threads(prev)


# ---------------------------------------------------------------- bad input

def test_errors():
    m = dl.nn.LSTM(4, 5, num_layers=2)
    with pytest.raises(ValueError, match="3-D"):
        m(dl.randn(2, 3, 4, 1))
    with pytest.raises(ValueError, match="input_size=4"):
        m(dl.randn(3, 2, 6))
    with pytest.raises(ValueError, match=r"h_0 of shape \(2, 2, 5\)"):
        m(dl.randn(3, 2, 4), (dl.zeros(1, 2, 5), dl.zeros(2, 2, 5)))
    with pytest.raises(ValueError, match=r"c_0 of shape \(2, 2, 5\)"):
        m(dl.randn(3, 2, 4), (dl.zeros(2, 2, 5), dl.zeros(2, 3, 5)))
    with pytest.raises(TypeError, match="tuple"):
        m(dl.randn(3, 2, 4), dl.zeros(2, 2, 5))
    with pytest.raises(TypeError, match="dtype"):
        m(dl.randn(3, 2, 4).double())
    with pytest.raises(ValueError, match="empty"):
        m(dl.randn(0, 2, 4))
    g = dl.nn.GRU(4, 5)
    with pytest.raises(ValueError, match="h_0"):
        g(dl.randn(3, 2, 4), dl.zeros(1, 5))
    x = dl.randn(4, 3, 2)
    with pytest.raises(RuntimeError, match="decreasing"):
        pack_padded_sequence(x, [2, 4, 1])
    with pytest.raises(ValueError, match="exceeds"):
        pack_padded_sequence(x, [5, 4, 1])
    with pytest.raises(ValueError, match="> 0"):
        pack_padded_sequence(x, [4, 0, 0])
    with pytest.raises(ValueError, match="one entry per sequence"):
        pack_padded_sequence(x, [4, 2])
    with pytest.raises(ValueError, match="proj_size"):
        dl.nn.LSTM(3, 4, proj_size=4)
    with pytest.raises(ValueError, match="proj_size"):
        dl.nn.GRU(3, 4, proj_size=2)
    with pytest.raises(ValueError, match="nonlinearity"):
        dl.nn.RNN(3, 4, nonlinearity="sigmoid")
    with pytest.raises(ValueError, match="dropout"):
        dl.nn.RNN(3, 4, dropout=1.5)
    with pytest.raises(ValueError, match="input_size=4"):
        dl.nn.LSTMCell(4, 3)(dl.randn(2, 5))
    with pytest.raises(ValueError, match="h_0"):
        dl.nn.GRUCell(4, 3)(dl.randn(2, 4), dl.zeros(3, 3))


def test_kernel_wrapper_rejects_bad_batch_sizes():
    x = np.zeros((6, 2), np.float32)
    w_ih, w_hh = np.zeros((4, 2), np.float32), np.zeros((4, 4), np.float32)
    out, hn = np.zeros((6, 4), np.float32), np.zeros((2, 4), np.float32)
    with pytest.raises(ValueError, match="non-increasing"):
        _C.rnn_forward(0, x, np.array([2, 3, 1], np.int64), w_ih, w_hh, None, None, None,
                       None, None, out, hn, None, None)
    with pytest.raises(ValueError, match="shape"):
        _C.rnn_forward(0, x, np.array([3, 3, 1], np.int64), w_ih, w_hh, None, None, None,
                       None, None, out, hn, None, None)


@pytest.mark.parametrize("kind", ["LSTM", "GRU"])
def test_benchmark_numpy_reference_matches(kind, rng):
    """The benchmark's NumPy reference computes the same layer (so its timings compare)."""
    from dlcore.bench.rnn import np_lstm, np_gru
    m = getattr(dl.nn, kind)(3, 5, dtype=dl.float64)
    x = rng.standard_normal((4, 2, 3))
    g = rng.standard_normal((4, 2, 5))
    xd = dl.tensor(x, requires_grad=True)
    y = m(xd)[0]
    y.backward(dl.tensor(g))
    out, dx, dw_ih, dw_hh, db = (np_lstm if kind == "LSTM" else np_gru)(
        x, *[p.numpy() for p in m.parameters()], grad=g)
    np.testing.assert_allclose(out, y.numpy(), atol=1e-12)
    np.testing.assert_allclose(dx, xd.grad.numpy(), atol=1e-12)
    np.testing.assert_allclose(dw_ih, m.weight_ih_l0.grad.numpy(), atol=1e-12)
    np.testing.assert_allclose(dw_hh, m.weight_hh_l0.grad.numpy(), atol=1e-12)
    np.testing.assert_allclose(db, m.bias_ih_l0.grad.numpy(), atol=1e-12)
