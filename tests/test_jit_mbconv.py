"""The inverted-residual block fused into one step (dlcore/jit/passes/fuse_mbconv.py,
csrc/plan_mbconv_simd.c): the fused plan against eager on odd sizes, strides, filters,
strip heights and thread counts on every SIMD path; MobileNetV2 and EfficientNet-Lite0 whole;
and the graphs the pass must leave alone."""
import numpy as np
import pytest

import dlcore as dl
from dlcore import nn
from dlcore.jit import lower_mbconv, passes, reference
from dlcore.jit.executor import MBCONV
from dlcore.jit.passes import fuse_mbconv
from _lambda_module import Lambda

RNG = np.random.default_rng(17)
F = nn.functional


def _x(*shape):
    return RNG.standard_normal(shape).astype(np.float32)


def _bn(n):
    bn = nn.BatchNorm2d(n)
    bn.weight.data[:] = 1.0 + 0.2 * _x(n)
    bn.bias.data[:] = 0.2 * _x(n)
    bn.running_mean.data[:] = _x(n) * 0.1
    bn.running_var.data[:] = 1.0 + np.abs(_x(n))
    return bn


def _block(C, E, O, k=3, stride=1, residual=False, expand_act=nn.ReLU6, dw_act=nn.ReLU6):
    body = nn.Sequential(nn.Conv2d(C, E, 1, bias=False), _bn(E), expand_act(),
                         nn.Conv2d(E, E, k, stride=stride, padding=k // 2, groups=E,
                                   bias=False), _bn(E), dw_act(),
                         nn.Conv2d(E, O, 1, bias=False), _bn(O))
    if residual:
        return Lambda(lambda s, x: s.body(x) + x, body=body).eval()
    return body.eval()


def _eager(m, x):
    with dl.no_grad():
        y = m(dl.tensor(x))
    return tuple(t.numpy() for t in y) if isinstance(y, tuple) else y.numpy()


def _close(got, want, rel=1e-5):
    assert got.shape == want.shape
    scale = max(float(np.abs(want).max()), 1e-30)
    assert float(np.abs(got - want).max()) <= rel * scale


def _plan(m, x):
    return dl.jit.trace(m, [x], dynamic_axes=False).plan(x)


def _fused(p):
    return sum(s.op == MBCONV for s in p.steps)


@pytest.fixture
def always(monkeypatch):
    """The fusion on any map size (the planner's size rule off)."""
    monkeypatch.setattr(fuse_mbconv, "MIN_EXPANDED_BYTES", 0)


CASES = [  # C, E, O, k, stride, residual, N, H, W
    (16, 96, 24, 3, 2, False, 1, 30, 34),
    (24, 144, 24, 3, 1, True, 1, 21, 17),
    (5, 31, 7, 3, 1, False, 2, 13, 11),
    (5, 31, 7, 3, 2, False, 2, 13, 11),
    (8, 40, 8, 5, 1, True, 1, 17, 19),
    (8, 40, 16, 5, 2, False, 3, 9, 30),
    (4, 12, 6, 7, 2, False, 1, 15, 8),
    (6, 18, 6, 7, 1, True, 1, 10, 9),
    # a strip too tall for dl_plan_dw_same at 5x5 stride 1 (over 1024 outputs a plane): the
    # kernel's own padded-grid sums
    (4, 12, 4, 5, 1, True, 1, 20, 60),
    (3, 7, 3, 3, 1, True, 1, 1, 1),
    (3, 9, 5, 3, 2, False, 1, 2, 1),
]


@pytest.mark.parametrize("strip", ["default", "one_row", "two_rows"])
@pytest.mark.parametrize("case", CASES)
def test_fused_block_matches_eager(isa, always, monkeypatch, case, strip):
    """Every strip height (one output row, a few, the whole map), odd sizes and channel counts,
    3x3 / 5x5 / 7x7 filters at stride 1 and 2, with and without the residual sum, 1 and 2
    threads (the strips split between them)."""
    C, E, O, k, st, res, N, H, W = case
    if strip != "default":
        rows = 1 if strip == "one_row" else 2
        monkeypatch.setattr(lower_mbconv, "rows_per_strip", lambda *a: rows)
    m = _block(C, E, O, k, st, res)
    x = _x(N, C, H, W)
    p = _plan(m, x)
    assert _fused(p) == 1
    want = _eager(m, x)
    for nt in (1, 2):
        _close(p.run([x], nt)[0], want)


def test_fused_block_other_activations(isa, always):
    """Relu on the expand conv (the GEMM epilogue's other activation), and a depthwise
    activation applied after the sums (SiLU) or clipped in them (Relu)."""
    for ea, da in ((nn.ReLU, nn.SiLU), (nn.ReLU, nn.ReLU), (nn.ReLU6, nn.Hardswish)):
        m = _block(6, 20, 7, 3, 2, False, ea, da)
        x = _x(2, 6, 11, 13)
        p = _plan(m, x)
        assert _fused(p) == 1
        _close(p.run([x])[0], _eager(m, x))


def test_skip_read_again_is_kept(always):
    """The skip is the block's input and read after the block too: the fused step's output
    is a copy of it, the input itself unchanged."""
    body = _block(8, 24, 8, 3, 1, False)
    m = Lambda(lambda s, x: (s.body(x) + x) * x, body=body).eval()
    x = _x(1, 8, 12, 12)
    p = _plan(m, x)
    assert _fused(p) == 1
    _close(p.run([x])[0], _eager(m, x))


def test_size_rule():
    """Without the override only large expanded maps are fused: MobileNetV2's 112x112 and
    56x56 blocks (three), not its 28x28 and smaller ones."""
    m = dl.models.mobilenet_v2().eval()
    x = _x(1, 3, 224, 224)
    p = _plan(m, x)
    assert _fused(p) == 3
    _close(p.run([x])[0], _eager(m, x))
    small = _block(24, 144, 24, 3, 1, True)
    assert _fused(_plan(small, _x(1, 24, 28, 28))) == 0


def test_mobilenet_v2_all_blocks(always):
    m = dl.models.mobilenet_v2().eval()
    x = _x(2, 3, 64, 48)
    p = _plan(m, x)
    assert _fused(p) >= 10
    want = _eager(m, x)
    for nt in (1, 2):
        _close(p.run([x], nt)[0], want)


def test_efficientnet_lite0(always):
    """Its blocks are the same pattern (3x3 and 5x5; the TF-SAME stride-2 ones, padded more
    at the end than the start, are left to the separate steps)."""
    m = dl.models.efficientnet_lite0().eval()
    x = _x(1, 3, 64, 64)
    p = _plan(m, x)
    assert _fused(p) >= 5
    _close(p.run([x])[0], _eager(m, x))


def _graph(m, x):
    g = dl.jit.trace(m, [dl.tensor(x)], dynamic_axes=False).graph.concretize({})
    passes.optimize(g)
    return g


def test_pass_fuses_and_reference_agrees(always):
    m, x = _block(8, 24, 8, 5, 2, False), _x(2, 8, 9, 11)
    g = _graph(m, x)
    assert [n.op for n in g.nodes] == ["MBConv"]
    _close(reference.run_graph(g, [x])[0], _eager(m, x))


def _conv(s, x, stride=1, padding=1, dilation=1, groups=None):
    return F.conv2d(x, s.dw.weight, s.dw.bias, stride=stride, padding=padding,
                    dilation=dilation, groups=s.dw.weight.shape[0] if groups is None else groups)


@pytest.mark.parametrize("case", [
    "control", "expanded_read_twice", "dw_read_twice", "expanded_is_output",
    "weight_not_constant", "dilated", "not_depthwise", "no_padding", "stride3",
    "even_filter", "act_on_project", "expand_act_silu", "expand_3x3"])
def test_pass_leaves_alone(always, case):
    """What the fused step does not do: the intermediates read elsewhere (or returned), weights
    that are inputs, a dilated / grouped-but-not-depthwise / unpadded / stride-3 / even
    depthwise filter, an activation on the project conv, an expand activation the GEMM
    epilogue lacks, a 3x3 expand conv.  `control` is the same graph shape, fused."""
    def relu6(t):
        return F.hardtanh(t, 0.0, 6.0)

    def body(s, x, e=None, d=None):
        e = relu6(s.ex(x)) if e is None else e
        d = relu6(_conv(s, e)) if d is None else d
        return s.pr(d)
    fns = {
        "control": body,
        "expanded_read_twice": lambda s, x: (lambda e: body(s, x, e=e) + e[:, :8])(
            relu6(s.ex(x))),
        "dw_read_twice": lambda s, x: (lambda d: body(s, x, d=d) + d[:, :8])(
            relu6(_conv(s, relu6(s.ex(x))))),
        "expanded_is_output": lambda s, x: (lambda e: (body(s, x, e=e), e))(relu6(s.ex(x))),
        "weight_not_constant": lambda s, x: s.pr(relu6(F.conv2d(
            relu6(s.ex(x)), s.dw.weight * (1.0 + x.mean()), groups=24, padding=1))),
        "dilated": lambda s, x: s.pr(relu6(_conv(s, relu6(s.ex(x)), padding=2, dilation=2))),
        "not_depthwise": lambda s, x: s.pr(relu6(F.conv2d(
            relu6(s.ex(x)), s.g2.weight, padding=1, groups=2))),
        "no_padding": lambda s, x: s.pr(relu6(_conv(s, relu6(s.ex(x)), padding=0))),
        "stride3": lambda s, x: s.pr(relu6(_conv(s, relu6(s.ex(x)), stride=3))),
        "even_filter": lambda s, x: s.pr(relu6(F.conv2d(
            relu6(s.ex(x)), s.d4.weight, padding=1, groups=24))),
        "act_on_project": lambda s, x: body(s, x).relu(),
        "expand_act_silu": lambda s, x: s.pr(relu6(_conv(s, F.silu(s.ex(x))))),
        "expand_3x3": lambda s, x: s.pr(relu6(_conv(s, relu6(s.e3(x))))),
    }
    m = Lambda(fns[case], ex=nn.Conv2d(8, 24, 1), e3=nn.Conv2d(8, 24, 3, padding=1),
               dw=nn.Conv2d(24, 24, 3, padding=1, groups=24),
               g2=nn.Conv2d(24, 24, 3, padding=1, groups=2),
               d4=nn.Conv2d(24, 24, 4, padding=1, groups=24), pr=nn.Conv2d(24, 8, 1)).eval()
    x = _x(1, 8, 9, 9)
    g = _graph(m, x)
    assert ("MBConv" in [n.op for n in g.nodes]) == (case == "control")
    want = _eager(m, x)
    got = reference.run_graph(g, [x])
    p = dl.jit.trace(m, [x], dynamic_axes=False).plan(x)
    out = p.run([x])
    for a, b, c in zip(got, out, want if isinstance(want, tuple) else (want,)):
        _close(a, np.asarray(c))
        _close(b, np.asarray(c))
