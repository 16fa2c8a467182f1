"""The planned executor: every reference model runs fully in C and matches eager within 1e-5
relative (float32); each op lowering on odd sizes against the reference interpreter; the
memory plan; Python fallback; several threads on one plan; per-call thread counts; ISAs."""
import threading

import numpy as np
import pytest

import dlcore as dl
from dlcore import nn
from dlcore.autograd import Function
from dlcore.jit import Graph, build_plan, reference
from dlcore.jit.executor import PlanError
from dlcore.jit.tracer import flatten
from dlcore.models.gpt import GPT, GPTConfig
from dlcore.models.lenet import LeNet5
from dlcore.models.mobilenet import MobileNetV2
from dlcore.models.resnet import resnet_small
from dlcore.ops.conv import conv_algorithm
from dlcore.runtime import get_isa, set_isa, supported_isas
from _lambda_module import Lambda as _Lambda

RNG = np.random.default_rng(7)


def _t(*shape):
    return dl.tensor(RNG.standard_normal(shape).astype(np.float32))


def _close(got, want, rtol=1e-5):
    got, want = np.asarray(got), np.asarray(want)
    assert got.shape == want.shape and got.dtype == want.dtype
    scale = max(float(np.abs(want).max()), 1e-30) if want.size else 1.0
    err = float(np.abs(got.astype(np.float64) - want).max()) / scale if want.size else 0.0
    assert err <= rtol, "relative error %.3g" % err


def _check_model(model, xs, xs2=None, **kw):
    model.eval()
    t = dl.jit.trace(model, xs, **kw)
    for inp in (xs, xs2 if xs2 is not None else xs):
        inp = inp if isinstance(inp, tuple) else (inp,)
        with dl.no_grad():
            want, _ = flatten(model(*inp))
        got, _ = flatten(t(*inp))
        for g, w in zip(got, want):
            _close(g.numpy(), w.numpy())
    p = t.plan(*(xs2 if isinstance(xs2, tuple) else (xs2,))) if xs2 is not None else \
        t.plan(*(xs if isinstance(xs, tuple) else (xs,)))
    return t, p


def test_mlp_and_lenet_run_fully_in_c():
    mlp = nn.Sequential(nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 128), nn.ReLU(),
                        nn.Linear(128, 10))
    t, p = _check_model(mlp, _t(2, 784), _t(5, 784))
    assert p.n_python_steps == 0 and len(p.steps) == 3
    assert "3 steps, 3 in C" in str(p) and "+Relu" in str(p)
    assert p.workspace_bytes == 0
    t, p = _check_model(LeNet5(), _t(1, 1, 28, 28), _t(3, 1, 28, 28))
    assert p.n_python_steps == 0 and len(p.steps) == 7


def test_cnns_with_batchnorm_residuals_and_relu6():
    _, p = _check_model(resnet_small(), _t(1, 1, 28, 28), _t(2, 1, 28, 28))
    assert p.n_python_steps == 0
    assert p.arena_bytes <= p.eager_peak_bytes + p.workspace_bytes
    _, p = _check_model(MobileNetV2(num_classes=10, width_mult=0.5), _t(1, 3, 32, 32),
                        _t(2, 3, 32, 32))
    assert p.n_python_steps == 0 and "BATCHNORM" not in str(p)


def test_transformer_encoder_and_gpt_dynamic_seq():
    enc = nn.TransformerEncoder(nn.TransformerEncoderLayer(32, 4, 64, batch_first=True,
                                                           dropout=0.0), 2)
    _, p = _check_model(enc, _t(2, 9, 32), _t(3, 5, 32), dynamic_axes={0: "batch", 1: "seq"})
    assert p.n_python_steps == 0 and "ATTENTION" in str(p) and "SKIP_LAYERNORM" in str(p)
    g = GPT(GPTConfig(vocab_size=40, block_size=16, n_layer=2, n_head=2, n_embd=32))
    ids, ids2 = dl.tensor(RNG.integers(0, 40, (1, 16))), dl.tensor(RNG.integers(0, 40, (2, 7)))
    t, p = _check_model(g, ids, ids2, dynamic_axes={0: "batch", 1: "seq"})
    assert p.n_python_steps == 0
    assert len(t._plans) == 2  # one plan per set of sizes, cached


def test_norm_first_encoder_and_gelu():
    enc = nn.TransformerEncoderLayer(16, 2, 24, batch_first=True, norm_first=True,
                                     activation="gelu", dropout=0.0)
    _, p = _check_model(enc, _t(2, 6, 16), _t(1, 3, 16), dynamic_axes={0: "b", 1: "s"})
    assert p.n_python_steps == 0


@pytest.mark.parametrize("cls", [nn.LSTM, nn.GRU, nn.RNN])
def test_recurrent_layers(cls):
    m = cls(5, 7, 2, bidirectional=True)
    _, p = _check_model(m, _t(6, 2, 5), _t(4, 3, 5), dynamic_axes={0: "seq", 1: "batch"})
    assert p.n_python_steps == 0
    h0 = _t(4, 3, 7)
    m2 = cls(5, 7, 2)
    if cls is nn.LSTM:
        model = _Lambda(lambda s, x, h, c: s.m(x, (h, c)), m=m2)
        _check_model(model, (_t(4, 3, 5), h0[:2], _t(2, 3, 7)), dynamic_axes=False)
    else:
        model = _Lambda(lambda s, x, h: s.m(x, h), m=m2)
        _check_model(model, (_t(4, 3, 5), h0[:2]), dynamic_axes=False)


# ---- op lowerings against the reference interpreter -------------------------------------------
def _plan_vs_reference(g, inputs, rtol=1e-5):
    g.check()
    want = reference.run_graph(g, inputs)
    p = build_plan(g, {}, optimize=False)
    got = p.run([np.ascontiguousarray(a) for a in inputs])
    for a, b in zip(got, want):
        if np.asarray(b).dtype.kind == "f":
            _close(a, b, rtol)
        else:
            np.testing.assert_array_equal(a, b)
    return p


def _one(op, in_arrays, attrs, out_shape, out_dtype=np.float32, n_out=1, consts=()):
    g = Graph()
    ins = []
    for k, a in enumerate(in_arrays):
        if k in consts:
            ins.append(None if a is None else g.const(a))
        else:
            ins.append(g.add_input("x%d" % k, a.shape, a.dtype))
    node = g.add_node(op, ins, attrs, [(out_shape, out_dtype)] * n_out)
    g.outputs = list(node.outputs)
    return g, [a for k, a in enumerate(in_arrays) if k not in consts]


def _a(*shape):
    return RNG.standard_normal(shape).astype(np.float32)


@pytest.mark.parametrize("op", ["Add", "Sub", "Mul", "Div", "Max", "Min"])
@pytest.mark.parametrize("shapes", [((7, 33), (7, 33)), ((5, 1, 17), (1, 3, 17)), ((17,), ()),
                                    ((2, 3, 4, 5, 6), (3, 1, 5, 1)), ((1,), (100001,))])
def test_binary_broadcasting(op, shapes):
    a, b = _a(*shapes[0]), _a(*shapes[1])
    if op == "Div":
        b = np.where(np.abs(b) < 0.1, 0.5, b).astype(np.float32)
    out = np.broadcast_shapes(a.shape, b.shape)
    g, ins = _one(op, [a, b], {}, out)
    _plan_vs_reference(g, ins)


@pytest.mark.parametrize("op", ["Neg", "Exp", "Log", "Sqrt", "Abs", "Sin", "Cos", "Log1p"])
def test_unary(op):
    a = np.abs(_a(3, 17)) + 0.1 if op in ("Log", "Sqrt", "Log1p") else _a(3, 17)
    g, ins = _one(op, [a.astype(np.float32)], {}, (3, 17))
    _plan_vs_reference(g, ins)


@pytest.mark.parametrize("op,attrs", [("Relu", {}), ("LeakyRelu", {"alpha": 0.2}),
                                      ("Sigmoid", {}), ("Tanh", {}),
                                      ("Gelu", {"approximate": "none"}),
                                      ("Gelu", {"approximate": "tanh"}), ("Silu", {}),
                                      ("Elu", {"alpha": 1.5, "scale": 1.0, "input_scale": 1.0}),
                                      ("Softplus", {"beta": 2.0, "threshold": 20.0}),
                                      ("HardSwish", {}), ("HardSigmoid", {}), ("Mish", {}),
                                      ("Clip", {"min": -0.5, "max": None})])
def test_activations(op, attrs):
    g, ins = _one(op, [_a(5, 33)], attrs, (5, 33))
    _plan_vs_reference(g, ins)


def test_softmax_layernorm_and_reductions():
    g, ins = _one("Softmax", [_a(3, 7, 5)], {"axis": 1}, (3, 7, 5))
    _plan_vs_reference(g, ins)
    g, ins = _one("LogSoftmax", [_a(4, 33)], {"axis": 1}, (4, 33))
    _plan_vs_reference(g, ins)
    g, ins = _one("LayerNormalization", [_a(5, 3, 17), _a(3, 17), _a(3, 17)],
                  {"axis": -2, "epsilon": 1e-5}, (5, 3, 17), consts=(1, 2))
    _plan_vs_reference(g, ins)
    g, ins = _one("RMSNormalization", [_a(5, 17), _a(17)], {"axis": -1, "epsilon": 1e-6},
                  (5, 17), consts=(1,))
    _plan_vs_reference(g, ins)
    for op in ("ReduceSum", "ReduceMean", "ReduceMax", "ReduceMin"):
        g, ins = _one(op, [_a(3, 4, 5, 6)], {"axes": (1, 2), "keepdims": 0}, (3, 6))
        _plan_vs_reference(g, ins)


def test_skip_layernorm_with_sum_output():
    g = Graph()
    a, b = g.add_input("a", (6, 16), np.float32), g.add_input("b", (6, 16), np.float32)
    n = g.add_node("SkipLayerNormalization", [a, b, g.const(_a(16)), g.const(_a(16))],
                   {"axis": -1, "epsilon": 1e-5}, [((6, 16), np.float32)] * 2)
    g.outputs = list(n.outputs)
    _plan_vs_reference(g, [_a(6, 16), _a(6, 16)])


def test_conv_pool_resize_batchnorm():
    x = _a(2, 6, 9, 11)
    g, ins = _one("Conv", [x, _a(4, 3, 3, 2), _a(4)],
                  {"strides": (2, 1), "pads": (1, 0, 1, 0), "dilations": (1, 2), "group": 2,
                   "activation": "Clip", "activation_attrs": {"min": 0.0, "max": 6.0}},
                  (2, 4, 5, 9), consts=(1, 2))
    _plan_vs_reference(g, ins)
    g, ins = _one("ConvTranspose", [_a(2, 4, 5, 5), _a(4, 3, 3, 3), _a(3)],
                  {"strides": (2, 2), "pads": (1, 1), "dilations": (1, 1), "group": 1},
                  (2, 3, 9, 9), consts=(1, 2))
    _plan_vs_reference(g, ins)
    g, ins = _one("MaxPool", [x], {"kernel_shape": (3, 3), "strides": (2, 2), "pads": (1, 1),
                                   "dilations": (1, 1)}, (2, 6, 5, 6))
    _plan_vs_reference(g, ins)
    g, ins = _one("AveragePool", [x], {"kernel_shape": (2, 3), "strides": (2, 2),
                                       "pads": (1, 1), "count_include_pad": 0, "divisor": 0},
                  (2, 6, 5, 6))
    _plan_vs_reference(g, ins)
    for op, shape in (("GlobalAveragePool", (2, 6, 1, 1)), ("AdaptiveMaxPool", (2, 6, 4, 5))):
        g, ins = _one(op, [x], {"output_size": shape[2:]}, shape)
        _plan_vs_reference(g, ins)
    g, ins = _one("Resize", [x], {"mode": "bilinear", "align_corners": 0,
                                  "steps": (9 / 18, 11 / 22)}, (2, 6, 18, 22))
    _plan_vs_reference(g, ins)
    var = np.abs(_a(6)) + 0.5
    g, ins = _one("BatchNormalization", [x, _a(6), _a(6), _a(6), var], {"epsilon": 1e-5},
                  x.shape, consts=(1, 2, 3, 4))
    _plan_vs_reference(g, ins)


def test_matmul_batched_broadcast_and_transposed():
    for sa, sb, ta, tb in (((3, 5, 7), (7, 4), 0, 0), ((2, 1, 5, 7), (3, 4, 7), 0, 1),
                           ((2, 7, 5), (2, 7, 4), 1, 0), ((5, 7), (6, 2, 7, 3), 0, 0)):
        a, b = _a(*sa), _a(*sb)
        A = np.swapaxes(a, -1, -2) if ta else a
        B = np.swapaxes(b, -1, -2) if tb else b
        out = np.matmul(A, B).shape
        g, ins = _one("MatMul", [a, b], {"transA": ta, "transB": tb}, out)
        _plan_vs_reference(g, ins)


def test_attention_strided_inputs_and_masks():
    q, k, v = _a(2, 3, 5, 8), _a(2, 3, 7, 8), _a(2, 3, 7, 4)
    for mask in (None, RNG.random((5, 7)) < 0.7, _a(3, 1, 7)):
        arrays = [q, k, v] + ([] if mask is None else [np.asarray(mask)])
        g, ins = _one("Attention", arrays, {"is_causal": 0, "scale": 0.3}, (2, 3, 5, 4),
                      consts=(3,))
        _plan_vs_reference(g, ins)
    g, ins = _one("Attention", [q, k, v], {"is_causal": 1, "scale": 0.3}, (2, 3, 5, 4))
    _plan_vs_reference(g, ins)


def test_data_movement_ops():
    x = _a(3, 4, 5)
    g = Graph()
    xi = g.add_input("x", x.shape, np.float32)
    t = g.add_node("Transpose", [xi], {"perm": (2, 0, 1)}, [((5, 3, 4), np.float32)]).outputs[0]
    s = g.add_node("Slice", [t], {"starts": (1, 0, 3), "ends": (5, 3, -1), "steps": (2, 1, -2)},
                   [((2, 3, 2), np.float32)]).outputs[0]
    c = g.add_node("Concat", [s, g.const(_a(2, 1, 2)), s], {"axis": 1},
                   [((2, 7, 2), np.float32)]).outputs[0]
    pd = g.add_node("Pad", [c], {"pads": ((1, 0), (0, -2), (2, 1)), "value": 1.5},
                    [((3, 5, 5), np.float32)]).outputs[0]
    tl = g.add_node("Tile", [pd], {"repeats": (2, 1, 3)}, [((6, 5, 15), np.float32)]).outputs[0]
    r = g.add_node("Reshape", [tl], {"shape": (30, 15)}, [((30, 15), np.float32)]).outputs[0]
    e = g.add_node("Expand", [g.const(_a(1, 15))], {"shape": (30, 15)},
                   [((30, 15), np.float32)]).outputs[0]
    w = g.add_node("Where", [g.const(RNG.random((30, 1)) < 0.5), r, e], {},
                   [((30, 15), np.float32)]).outputs[0]
    g.outputs = [w, t]
    _plan_vs_reference(g, [x])


def test_gather_cast_and_bad_index():
    table = _a(11, 6)
    idx = RNG.integers(-11, 11, (3, 4))
    g, ins = _one("Gather", [table, idx], {"axis": 0}, (3, 4, 6), consts=(0,))
    p = _plan_vs_reference(g, ins)
    with pytest.raises(PlanError, match="index out of range \\(index 11\\)"):
        p.run([np.full((3, 4), 11, np.int64)])
    g, ins = _one("Gather", [_a(3, 5, 2), np.array([4, 0, 4])], {"axis": 1}, (3, 3, 2),
                  consts=(1,))
    _plan_vs_reference(g, ins)
    g, ins = _one("Cast", [RNG.integers(-5, 5, (7,))], {"to": "float32"}, (7,))
    _plan_vs_reference(g, ins)


# ---- fallback, memory, threads, ISAs -----------------------------------------------------------
class _Cube(Function):
    def forward(self, x):
        return x * x * x

    def backward(self, g):  # pragma: no cover
        raise NotImplementedError


def test_python_fallback_is_marked_and_correct():
    m = _Lambda(lambda s, x: s.fc(_Cube.apply(s.fc(x).relu())), fc=nn.Linear(6, 6))
    t, p = _check_model(m, _t(2, 6), _t(3, 6))
    assert p.n_python_steps == 1
    text = str(p)
    assert "1 in Python (PyFunction)" in text and "[py]" in text


def test_memory_plan_reuses_buffers_and_works_in_place():
    m = nn.Sequential(*[nn.Sequential(nn.Linear(64, 64), nn.Sigmoid()) for _ in range(6)])
    t = dl.jit.trace(m, _t(4, 64))
    p = t.plan(_t(4, 64))
    # six Gemm+Sigmoid pairs: two live buffers at a time are enough
    assert p.arena_bytes <= 2 * 4 * 64 * 4 + 128
    assert p.unshared_bytes > p.arena_bytes and p.eager_peak_bytes >= p.arena_bytes
    enc = nn.Sequential(nn.Linear(8, 8), nn.Tanh(), nn.Tanh(), nn.Linear(8, 2))
    p = dl.jit.trace(enc, _t(2, 8)).plan(_t(2, 8))
    acts = [s for s in p.steps if s.label == "Tanh"]
    assert len(acts) == 1  # the first Tanh went into the Gemm
    assert acts[0].operands[0].buf is acts[0].operands[1].buf  # in place


def test_threads_share_one_plan_and_per_call_thread_counts():
    m = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.Flatten(),
                      nn.Linear(8 * 16 * 16, 10)).eval()
    t = dl.jit.trace(m, _t(2, 3, 16, 16))
    xs = [_t(2, 3, 16, 16) for _ in range(6)]
    with dl.no_grad():
        want = [m(x).numpy() for x in xs]
    for nt in (1, 2):
        _close(t(xs[0], num_threads=nt).numpy(), want[0])
    errors = []

    def worker(k):
        try:
            for _ in range(20):
                _close(t(xs[k], num_threads=1 + k % 2).numpy(), want[k])
        except Exception as e:  # pragma: no cover - reported below
            errors.append(e)
    threads = [threading.Thread(target=worker, args=(k,)) for k in range(6)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert not errors, errors


@pytest.mark.parametrize("isa", supported_isas())
def test_every_isa(isa):
    prev = get_isa()
    set_isa(isa)
    try:
        enc = nn.TransformerEncoderLayer(16, 2, 24, batch_first=True, dropout=0.0)
        _check_model(enc, _t(2, 5, 16))
        _check_model(resnet_small(), _t(2, 1, 12, 12))
        g, ins = _one("Add", [_a(3, 37), _a(37)], {"activation": "Relu"}, (3, 37))
        _plan_vs_reference(g, ins)
    finally:
        set_isa(prev)


@pytest.mark.parametrize("stride,pad,k,size,act", [
    (1, 1, 3, (13, 17), "Clip"), (2, 1, 3, (13, 17), "Clip"), (2, 2, 5, (12, 9), "Relu"),
    (2, 1, 3, (40, 41), "Clip"), ((2, 1), 1, 3, (9, 10), None), ((1, 2), 2, 5, (9, 10), "Relu"),
    (3, 0, 3, (11, 10), None), (2, 0, 3, (8, 8), "Sigmoid"), (1, 2, 5, (5, 33), None)])
def test_depthwise_conv_kernel(stride, pad, k, size, act):
    C = 7
    x = _a(2, C, *size)
    sh, sw = stride if isinstance(stride, tuple) else (stride, stride)
    OH = (size[0] + 2 * pad - k) // sh + 1
    OW = (size[1] + 2 * pad - k) // sw + 1
    attrs = {"strides": (sh, sw), "pads": (pad, pad, pad, pad), "dilations": (1, 1),
             "group": C}
    if act == "Clip":
        attrs.update(activation="Clip", activation_attrs={"min": 0.0, "max": 6.0})
    elif act:
        attrs.update(activation=act, activation_attrs={})
    for bias in (_a(C), None):
        arrays = [x, _a(C, 1, k, k)] + ([bias] if bias is not None else [])
        g, ins = _one("Conv", arrays, attrs, (2, C, OH, OW), consts=(1, 2))
        _plan_vs_reference(g, ins)


def test_plan_cache_is_bounded():
    m = nn.Sequential(nn.Linear(3, 2))
    t = dl.jit.trace(m, _t(1, 3))
    for b in range(1, t.MAX_PLANS + 5):
        x = _t(b, 3)
        with dl.no_grad():
            _close(t(x).numpy(), m(x).numpy())
    assert len(t._plans) == t.MAX_PLANS


@pytest.mark.parametrize("act", [None, "Relu", "Clip", "Silu"])
@pytest.mark.parametrize("bias", [True, False])
def test_conv_gemm_tiles_prepacked_weights_and_epilogue(act, bias):
    # 64 channels x 3x3 on 20x21: more than one im2col tile; and a pointwise conv
    for shape, k, stride, pad in (((2, 64, 20, 21), 3, 1, 1), ((2, 24, 9, 7), 1, 1, 0),
                                  ((1, 5, 17, 15), 3, 2, 1)):
        x = _a(*shape)
        C = shape[1]
        OH = (shape[2] + 2 * pad - k) // stride + 1
        OW = (shape[3] + 2 * pad - k) // stride + 1
        attrs = {"strides": (stride, stride), "pads": (pad,) * 4, "dilations": (1, 1),
                 "group": 1}
        if act == "Clip":
            attrs.update(activation="Clip", activation_attrs={"min": 0.0, "max": 6.0})
        elif act:
            attrs.update(activation=act, activation_attrs={})
        arrays = [x, _a(11, C, k, k)] + ([_a(11)] if bias else [])
        g, ins = _one("Conv", arrays, attrs, (shape[0], 11, OH, OW), consts=(1, 2))
        # the plan's im2col GEMM against the eager im2col path: Winograd F(4x4), which eager
        # may pick for the 3x3 case, is only within ~1e-5 of max |y| before the Clip
        with conv_algorithm("im2col"):
            p = _plan_vs_reference(g, ins)
        assert "CONV_GEMM" in str(p)


@pytest.mark.parametrize("k,s,p,size,oh", [(3, 2, 1, (13, 16), None), (3, 1, 1, (7, 9), None),
                                           (3, 2, 0, (10, 11), 5), (5, 3, 2, (17, 17), None),
                                           (2, 2, 0, (9, 8), None)])
def test_maxpool_windows_and_nan(k, s, p, size, oh):
    x = _a(2, 3, *size)
    x[0, 1, 2, 3] = np.nan
    OH = oh or (size[0] + 2 * p - k) // s + 1
    OW = oh or (size[1] + 2 * p - k) // s + 1
    if oh:  # ceil_mode: one more window than floor mode gives
        OW = (size[1] + 2 * p - k + s - 1) // s + 1
    g, ins = _one("MaxPool", [x], {"kernel_shape": (k, k), "strides": (s, s), "pads": (p, p),
                                   "dilations": (1, 1)}, (2, 3, OH, OW))
    want = reference.run_graph(g, ins)[0]
    got = build_plan(g, {}, optimize=False).run(ins)[0]
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
    np.testing.assert_array_equal(np.nan_to_num(got), np.nan_to_num(want))


class _BertHidden(nn.Module):
    def __init__(self, m):
        super().__init__()
        self.m = m

    def forward(self, ids, types):
        return self.m(ids, None, types)[0]


def test_bert_traces_through_its_no_grad_shortcut():
    # BertModel multiplies raw arrays under no_grad (an inference shortcut the tracer cannot
    # see); trace runs with autograd on, so the model takes its op path and the graph is whole
    from dlcore.models.bert import BertModel
    m = _BertHidden(BertModel(vocab_size=50, hidden_size=16, num_hidden_layers=2,
                              num_attention_heads=2, intermediate_size=32,
                              add_pooling_layer=False))
    ids, types = RNG.integers(0, 50, (2, 7)), np.zeros((2, 7), np.int64)
    t, p = _check_model(m, (dl.tensor(ids), dl.tensor(types)), dynamic_axes=False)
    assert p.n_python_steps == 0 and str(p).count("ATTENTION") == 2
