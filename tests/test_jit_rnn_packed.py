"""The executor's recurrent step on weights packed once when the plan is made
(csrc/rnn_packed.c): both packed forms, every mode, against eager and a float64 NumPy LSTM."""
import numpy as np
import pytest

import dlcore as dl
from dlcore import _C, nn
from dlcore.bench.rnn import np_lstm
from dlcore.jit import lower_layers
from dlcore.jit.executor import RNN
from dlcore.nn.utils.rnn import pack_padded_sequence
from dlcore.runtime import get_isa, set_isa, supported_isas

RNG = np.random.default_rng(11)


def _forms(plan):
    return [s.ints[9] for s in plan.steps if s.op == RNN]


def _close(got, want, rtol=1e-5):
    scale = max(float(np.abs(want).max()), 1e-30)
    err = float(np.abs(np.asarray(got, np.float64) - want).max()) / scale
    assert err <= rtol, "relative error %.3g" % err


def _plan_vs_eager(m, x, extra=()):
    m.eval()
    t = dl.jit.trace(m, [x, *extra], dynamic_axes=False)
    p = t.plan(x, *extra)
    got = p.run([x, *extra])
    with dl.no_grad():
        out = m(dl.tensor(x), *[dl.tensor(a) for a in extra])
    want = [out[0]] + (list(out[1]) if isinstance(out[1], tuple) else [out[1]])
    assert len(got) == len(want)
    for g, w in zip(got, want):
        _close(g, w.numpy())
    return p


@pytest.fixture
def team_grain():
    prev = _C.rnn_team_grain(1)
    yield
    _C.rnn_team_grain(prev)


@pytest.mark.parametrize("isa", supported_isas())
@pytest.mark.parametrize("cls", [nn.LSTM, nn.GRU, nn.RNN])
@pytest.mark.parametrize("B,H", [(1, 65), (3, 64), (9, 65), (17, 32)])
def test_packed_forms_match_eager(isa, cls, B, H):
    prev = get_isa()
    set_isa(isa)
    try:
        m = cls(7, H, 2, bidirectional=True)
        x = (RNG.standard_normal((5, B, 7)) * 2).astype(np.float32)
        p = _plan_vs_eager(m, x)
    finally:
        set_isa(prev)
    joint = cls is nn.LSTM and B >= lower_layers.RNN_JOINT_MIN_BATCH
    want = lower_layers.RNN_PACK_JOINT if joint else lower_layers.RNN_PACK_SPLIT
    assert _forms(p) == [want] * 4


@pytest.mark.parametrize("B", [1, 12])
def test_packed_lstm_against_float64_numpy(B):
    m = nn.LSTM(9, 48).eval()
    x = (RNG.standard_normal((6, B, 9)) * 2).astype(np.float32)
    w64 = [q.numpy().astype(np.float64) for q in m.parameters()]
    ref = np_lstm(x.astype(np.float64), *w64)
    p = dl.jit.trace(m, [x], dynamic_axes=False).plan(x)
    assert _forms(p) and _forms(p)[0] != 0
    y = p.run([x])[0]
    np.testing.assert_allclose(y, ref, atol=2e-6)


@pytest.mark.parametrize("cls", [nn.LSTM, nn.GRU])
def test_packed_with_initial_state(cls):
    m = cls(5, 33, 2)
    x = RNG.standard_normal((4, 3, 5)).astype(np.float32)
    h0 = RNG.standard_normal((2, 3, 33)).astype(np.float32)
    if cls is nn.LSTM:
        c0 = RNG.standard_normal((2, 3, 33)).astype(np.float32)
        _plan_vs_eager(_WithState(m), x, (h0, c0))
    else:
        _plan_vs_eager(_WithState(m), x, (h0,))


class _WithState(nn.Module):
    def __init__(self, m):
        super().__init__()
        self.m = m

    def forward(self, x, *state):
        return self.m(x, state if len(state) > 1 else state[0])


def test_lstm_with_projection_keeps_the_eager_call():
    m = nn.LSTM(6, 20, proj_size=8)
    x = RNG.standard_normal((5, 2, 6)).astype(np.float32)
    assert _forms(_plan_vs_eager(m, x)) == [0]


def test_joint_form_on_the_thread_team(team_grain):
    """H a multiple of every ISA's panel width: the team's loop runs on the plan's panels."""
    m = nn.LSTM(10, 64)
    x = RNG.standard_normal((6, 16, 10)).astype(np.float32)
    bs = np.full(6, 16, np.int64)
    prev = dl.get_num_threads()
    try:
        dl.set_num_threads(2)
        assert _C.rnn_team_threads(2, bs, 10, 64, 64) == 2
        p = _plan_vs_eager(m, x)
        two = p.run([x])
        one = p.run([x], num_threads=1)
    finally:
        dl.set_num_threads(prev)
    assert _forms(p) == [lower_layers.RNN_PACK_JOINT]
    for a, b in zip(two, one):  # the team sums each column in the one-thread order
        np.testing.assert_array_equal(a, b)


@pytest.mark.skipif(len(supported_isas()) < 2, reason="one ISA on this machine")
def test_plan_keeps_the_isa_it_packed_for():
    """Panels are laid out for the ISA of the plan's making; a later set_isa must not make the
    run read them with another ISA's panel width."""
    isas = supported_isas()
    prev = get_isa()
    m = nn.LSTM(7, 40).eval()
    x = RNG.standard_normal((5, 1, 7)).astype(np.float32)
    with dl.no_grad():
        want = m(dl.tensor(x))[0].numpy()
    try:
        set_isa(isas[-1])
        p = dl.jit.trace(m, [x], dynamic_axes=False).plan(x)
        set_isa(isas[0])
        got = p.run([x])[0]
    finally:
        set_isa(prev)
    _close(got, want)


@pytest.mark.parametrize("isa", supported_isas())
@pytest.mark.parametrize("B", [1, 3])
def test_split_form_on_the_thread_team(team_grain, isa, B):
    """A small-batch LSTM (split form) at two threads: each thread owns whole panels of hidden
    units for every step; the result equals the one-thread loop's bit for bit and eager's."""
    m = nn.LSTM(10, 64, 2, bidirectional=True)
    x = RNG.standard_normal((7, B, 10)).astype(np.float32)
    prev, prev_isa = dl.get_num_threads(), get_isa()
    try:
        set_isa(isa)
        dl.set_num_threads(2)
        p = _plan_vs_eager(m, x)
        two = p.run([x])
        one = p.run([x], num_threads=1)
    finally:
        dl.set_num_threads(prev)
        set_isa(prev_isa)
    assert _forms(p) == [lower_layers.RNN_PACK_SPLIT] * 4
    for a, b in zip(two, one):
        np.testing.assert_array_equal(a, b)


def _plan_two_ways(m, x, threads):
    """The plan's outputs at `threads` threads and at one."""
    prev = dl.get_num_threads()
    try:
        dl.set_num_threads(threads)
        p = _plan_vs_eager(m, x)
        many = p.run([x])
        one = p.run([x], num_threads=1)
    finally:
        dl.set_num_threads(prev)
    return p, many, one


@pytest.mark.parametrize("isa", supported_isas())
@pytest.mark.parametrize("mode", ["gru", "tanh", "relu", "lstm"])
@pytest.mark.parametrize("B", [1, 5, 32])
@pytest.mark.parametrize("threads", [2, 5])
def test_every_mode_on_the_thread_team(team_grain, isa, mode, B, threads):
    """GRU, Elman and LSTM steps on the team (H = 64, a multiple of every ISA's panel width;
    5 threads: more than this machine's cores and than the 2-4 panels of units a gate has):
    equal to the one-thread loop bit for bit, and to eager within rounding."""
    cls = {"gru": nn.GRU, "lstm": nn.LSTM}.get(mode, nn.RNN)
    kw = {"nonlinearity": mode} if cls is nn.RNN else {}
    prev_isa = get_isa()
    try:
        set_isa(isa)
        m = cls(9, 64, 2, bidirectional=True, **kw)
        x = (RNG.standard_normal((6, B, 9)) * 2).astype(np.float32)
        p, many, one = _plan_two_ways(m, x, threads)
    finally:
        set_isa(prev_isa)
    assert all(f != 0 for f in _forms(p))
    for a, b in zip(many, one):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("cls", [nn.GRU, nn.RNN, nn.LSTM])
@pytest.mark.parametrize("H", [33, 47])
def test_odd_hidden_sizes_at_two_threads(cls, H):
    """H not a multiple of the panel width: the plain loop (no team) at two threads."""
    m = cls(5, H, 2)
    x = RNG.standard_normal((7, 12, 5)).astype(np.float32)
    _plan_two_ways(m, x, 2)


@pytest.mark.parametrize("cls", [nn.GRU, nn.RNN, nn.LSTM])
@pytest.mark.parametrize("B", [1, 9])
def test_team_with_initial_state(team_grain, cls, B):
    """A given h0 (and c0) on the team, against eager and the one-thread loop."""
    m = cls(4, 32, 2)
    x = RNG.standard_normal((6, B, 4)).astype(np.float32)
    state = [RNG.standard_normal((2, B, 32)).astype(np.float32)
             for _ in range(2 if cls is nn.LSTM else 1)]
    prev = dl.get_num_threads()
    try:
        dl.set_num_threads(2)
        p = _plan_vs_eager(_WithState(m), x, state)
        many = p.run([x, *state])
        one = p.run([x, *state], num_threads=1)
    finally:
        dl.set_num_threads(prev)
    for a, b in zip(many, one):
        np.testing.assert_array_equal(a, b)


class _Packed(nn.Module):
    """A recurrent layer on a packed batch (lengths baked in): the step's batch shrinks."""

    def __init__(self, m, lengths):
        super().__init__()
        self.m, self.lengths = m, lengths

    def forward(self, x):
        out, h = self.m(pack_padded_sequence(x, self.lengths))
        return out.data, h


def _batch_split(m, B, form):
    bs = np.full(6, B, np.int64)
    mode = {nn.LSTM: 2, nn.GRU: 3}.get(type(m), 0)
    return _C.rnn_split_threads(mode, form, bs, 9, m.hidden_size, m.hidden_size)


@pytest.mark.parametrize("isa", supported_isas())
@pytest.mark.parametrize("mode", ["gru", "tanh", "lstm"])
@pytest.mark.parametrize("B,threads", [(16, 2), (17, 2), (33, 2), (32, 5), (40, 3)])
def test_batch_split_over_the_threads(team_grain, isa, mode, B, threads):
    """From a batch of 2 x 8 rows the threads split the batch, each owning its rows for every
    step (odd batches, odd thread counts, H not a multiple of the panel width): equal to the
    one-thread loop bit for bit and to eager within rounding."""
    cls = {"gru": nn.GRU, "lstm": nn.LSTM}.get(mode, nn.RNN)
    prev_isa = get_isa()
    try:
        set_isa(isa)
        m = cls(9, 37, 2, bidirectional=True)
        x = (RNG.standard_normal((6, B, 9)) * 2).astype(np.float32)
        p, many, one = _plan_two_ways(m, x, threads)
        prev = dl.get_num_threads()
        dl.set_num_threads(threads)
        try:
            forms = _forms(p)
            assert all(_batch_split(m, B, f) == min(threads, B // 8) for f in forms)
        finally:
            dl.set_num_threads(prev)
    finally:
        set_isa(prev_isa)
    for a, b in zip(many, one):
        np.testing.assert_array_equal(a, b)


def test_no_batch_split_below_two_threads_of_rows(team_grain):
    m = nn.LSTM(9, 32)
    prev = dl.get_num_threads()
    try:
        dl.set_num_threads(2)
        assert _batch_split(m, 15, lower_layers.RNN_PACK_JOINT) == 1
        assert _batch_split(m, 16, lower_layers.RNN_PACK_JOINT) == 2
        dl.set_num_threads(1)
        assert _batch_split(m, 32, lower_layers.RNN_PACK_JOINT) == 1
    finally:
        dl.set_num_threads(prev)


@pytest.mark.parametrize("cls", [nn.LSTM, nn.GRU, nn.RNN])
def test_batch_split_of_packed_sequences(team_grain, cls):
    """Rows drop out of the batch step by step: a thread whose rows have all ended idles, the
    others go on, and every row's last state is its own."""
    lengths = [6] * 10 + [4] * 9 + [2] * 7 + [1] * 7
    m = _Packed(cls(9, 48, 2), lengths)
    x = RNG.standard_normal((6, len(lengths), 9)).astype(np.float32)
    _, many, one = _plan_two_ways(m, x, 2)
    for a, b in zip(many, one):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("B,keeps", [(1, False), (8, False), (15, False), (16, True),
                                     (32, True)])
def test_the_batch_split_step_keeps_its_threads_on_a_busy_machine(B, keeps):
    """The load rule shrinks the team for steps that synchronise often; the recurrent step that
    splits its batch joins once and keeps the threads asked for (a step big enough for the team
    at every batch here).  Other steps never do."""
    m = nn.Sequential(nn.Linear(9, 9), _Last(nn.LSTM(9, 64)))
    x = RNG.standard_normal((8, B, 9)).astype(np.float32)
    p = dl.jit.trace(m, [x], dynamic_axes=False).plan(x)
    cp = p.exe.cplan
    flags = cp.load_free_steps()
    ops = [s.op for s in p.steps]
    assert len(flags) == len(ops)
    assert [f for f, op in zip(flags, ops) if op == RNN] == [keeps]
    assert not any(f for f, op in zip(flags, ops) if op != RNN)


class _Last(nn.Module):
    def __init__(self, m):
        super().__init__()
        self.m = m

    def forward(self, x):
        return self.m(x)[0]
