"""The residual sum fused into the pointwise convolution that makes one of its terms
(dlcore/jit/passes/fuse_residual.py, csrc/plan_pointwise.c): the fused plan against the
unfused one and eager, on maps run as the usual product and as the transposed one, with the
skip's buffer taken over or copied (a graph input, a value read again later); and the cases
the pass must leave alone."""
import numpy as np
import pytest

import dlcore as dl
from dlcore import nn
from dlcore.jit import passes, reference
from dlcore.jit.executor import BINARY, CONV_GEMM, COPY
from dlcore.jit.passes import fuse_residual
from dlcore.runtime import get_isa, set_isa, supported_isas
from _lambda_module import Lambda

RNG = np.random.default_rng(5)


def _x(*shape):
    return RNG.standard_normal(shape).astype(np.float32)


def _bn(n):
    bn = nn.BatchNorm2d(n)
    bn.running_mean.data[:] = _x(n) * 0.1
    bn.running_var.data[:] = 1.0 + np.abs(_x(n))
    return bn


def _body(C, E):
    """MobileNetV2's inverted residual without its sum: expand, depthwise, project."""
    return nn.Sequential(nn.Conv2d(C, E, 1), _bn(E), nn.ReLU6(),
                         nn.Conv2d(E, E, 3, padding=1, groups=E), _bn(E), nn.ReLU6(),
                         nn.Conv2d(E, C, 1), _bn(C))


def _stem_block(C, E):
    """A stem conv, the block, a head conv: the skip is an arena value that dies at the sum."""
    return Lambda(lambda s, x: (lambda h: s.head(s.body(h) + h))(s.stem(x)),
                  stem=nn.Sequential(nn.Conv2d(3, C, 3, padding=1), nn.ReLU6()),
                  body=_body(C, E), head=nn.Conv2d(C, 8, 1)).eval()


def _unfused(monkeypatch):
    monkeypatch.setattr(passes, "PIPELINE",
                        tuple(p for p in passes.PIPELINE if p[0] != "fuse_residual"))


def _plan(m, x):
    return dl.jit.trace(m, [x], dynamic_axes=False).plan(x)


def _eager(m, x):
    with dl.no_grad():
        return m(dl.tensor(x)).numpy()


def _close(got, want, rel=1e-5):
    assert got.shape == want.shape
    scale = max(float(np.abs(want).max()), 1e-30)
    assert float(np.abs(got - want).max()) <= rel * scale


def _against_unfused(m, x, monkeypatch, copies):
    p = _plan(m, x)
    assert sum(s.ints[21] == 1 for s in p.steps if s.op == CONV_GEMM) == 1
    assert not any(s.op == BINARY and s.label == "Add" for s in p.steps)
    assert sum(s.op == COPY for s in p.steps) == copies
    want = _eager(m, x)
    got = [p.run([x], nt)[0] for nt in (1, 2)]
    for g in got:
        _close(g, want)
    with monkeypatch.context() as mp:
        _unfused(mp)
        q = _plan(m, x)
        assert any(s.op == BINARY and s.label == "Add" for s in q.steps)
        assert all(s.ints[21] == 0 for s in q.steps if s.op == CONV_GEMM)
        for g, nt in zip(got, (1, 2)):
            _close(g, q.run([x], nt)[0])


@pytest.mark.parametrize("isa", supported_isas())
@pytest.mark.parametrize("C,E,hw,N", [(24, 144, 28, 1), (32, 96, 14, 3), (160, 960, 7, 1),
                                      (17, 40, 5, 2), (96, 576, 9, 1), (64, 384, 14, 1)])
def test_fused_block_matches_unfused_and_eager(isa, C, E, hw, N, monkeypatch):
    """The skip dies at the sum: the projection writes into its buffer, no copy, no Add;
    7x7 and 9x9 maps run the transposed product, 28x28 the usual one (14x14: per ISA)."""
    prev = get_isa()
    set_isa(isa)
    try:
        _against_unfused(_stem_block(C, E), _x(N, 3, hw, hw), monkeypatch, copies=0)
    finally:
        set_isa(prev)


@pytest.mark.parametrize("isa", supported_isas())
def test_skip_kept_alive_is_copied_not_overwritten(isa, monkeypatch):
    """A skip that is the graph's input, or is read again after the sum, is copied into the
    output first: the fused step must not write over a value someone still reads."""
    prev = get_isa()
    set_isa(isa)
    try:
        body = _body(24, 72)
        m = Lambda(lambda s, x: s.body(x) + x, body=body).eval()
        _against_unfused(m, _x(2, 24, 12, 12), monkeypatch, copies=1)
        m = Lambda(lambda s, x: (lambda h: (s.body(h) + h) * h)(s.stem(x)),
                   stem=nn.Conv2d(3, 24, 3, padding=1), body=body).eval()
        _against_unfused(m, _x(1, 3, 7, 7), monkeypatch, copies=1)
        _against_unfused(m, _x(1, 3, 16, 16), monkeypatch, copies=1)
    finally:
        set_isa(prev)


def _graph(m, x):
    g = dl.jit.trace(m, [dl.tensor(x)], dynamic_axes=False).graph.concretize({})
    passes.optimize(g)
    return g


def test_pass_fuses_and_reference_agrees():
    m, x = _stem_block(16, 48), _x(2, 3, 9, 9)
    g = _graph(m, x)
    fused = [n for n in g.nodes if n.attrs.get("residual")]
    assert len(fused) == 1 and len(fused[0].inputs) == 4
    assert "Add" not in [n.op for n in g.nodes]
    _close(reference.run_graph(g, [x])[0], _eager(m, x))


@pytest.mark.parametrize("case", ["control", "conv_read_twice", "relu_after_sum",
                                  "three_by_three", "skip_after_conv", "skip_is_conv_input",
                                  "strided", "activation_on_conv"])
def test_pass_leaves_alone(case):
    """Where the sum cannot go into the conv: the conv's output read elsewhere too, an
    activation after the sum (ResNet's blocks) or on the conv, a 3x3 or strided conv, a skip
    computed after the conv, the conv's own input as the skip.  `control` is the same graph
    shape the pass does fuse."""
    F = nn.functional

    def two(s, x):   # h (the skip) and a (the conv's input), both before the conv
        return s.o(x), s.p(x)
    fns = {
        "control": lambda s, x: (lambda h, a: s.c1(a) + h)(*two(s, x)),
        "conv_read_twice": lambda s, x: (lambda h, a: (lambda y: (y + h) * y)(s.c1(a)))(
            *two(s, x)),
        "relu_after_sum": lambda s, x: (lambda h, a: (s.c1(a) + h).relu())(*two(s, x)),
        "three_by_three": lambda s, x: (lambda h, a: s.c3(a) + h)(*two(s, x)),
        "skip_after_conv": lambda s, x: s.c1(x) + s.o(x),
        "skip_is_conv_input": lambda s, x: (lambda h: s.c1(h) + h)(s.o(x)),
        "strided": lambda s, x: (lambda h, a: F.conv2d(a, s.c1.weight, s.c1.bias, stride=2) +
                                 h[:, :, ::2, ::2])(*two(s, x)),
        "activation_on_conv": lambda s, x: (lambda h, a: s.c1(a).relu() + h)(*two(s, x)),
    }
    m = Lambda(fns[case], c1=nn.Conv2d(8, 8, 1), c3=nn.Conv2d(8, 8, 3, padding=1),
               o=nn.Conv2d(8, 8, 3, padding=1), p=nn.Conv2d(8, 8, 3, padding=1)).eval()
    x = _x(1, 8, 6, 6)
    g = _graph(m, x)
    fused = sum(bool(n.attrs.get("residual")) for n in g.nodes)
    assert fused == (case == "control")
    assert ("Add" in [n.op for n in g.nodes]) == (case != "control")
    _close(reference.run_graph(g, [x])[0], _eager(m, x))
    p = dl.jit.trace(m, [x], dynamic_axes=False).plan(x)
    _close(p.run([x])[0], _eager(m, x))
