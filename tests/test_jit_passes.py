"""Each optimizing pass on its own: what it rewrites, what it must leave alone, and that the
graph still computes the same outputs (by the reference interpreter)."""
import numpy as np
import pytest

import dlcore as dl
from dlcore import nn
from dlcore.jit import Graph, passes, reference
from dlcore.jit.passes import (dead_nodes, eliminate_transposes, fold_batchnorm, fold_constants,
                               fuse_add_layernorm, fuse_attention, fuse_epilogue, identity)
from _lambda_module import Lambda as _Lambda

RNG = np.random.default_rng(1)


def _t(*shape):
    return dl.tensor(RNG.standard_normal(shape).astype(np.float32))


def _graph(model, *xs):
    """(concrete traced graph, input arrays, its reference outputs)."""
    if hasattr(model, "eval"):
        model.eval()
    t = dl.jit.trace(model, xs, dynamic_axes=False, optimize=None)
    g = t.graph.concretize({})
    arrays = [x.numpy() for x in xs]
    return g, arrays, reference.run_graph(g, arrays)


def _same(g, arrays, ref, rtol=1e-5, atol=1e-6):
    g.check()
    got = reference.run_graph(g, arrays)
    for a, b in zip(got, ref):
        np.testing.assert_allclose(a, b, rtol=rtol, atol=atol)


def _ops(g):
    return [n.op for n in g.nodes]


def test_identity_drops_identity_dropout_and_noop_shapes():
    g = Graph()
    x = g.add_input("x", (2, 3), np.float32)
    a = g.add_node("Identity", [x], {}, [((2, 3), np.float32)]).outputs[0]
    b = g.add_node("Dropout", [a], {"p": 0.1}, [((2, 3), np.float32)]).outputs[0]
    c = g.add_node("Reshape", [b], {"shape": (2, 3)}, [((2, 3), np.float32)]).outputs[0]
    d = g.add_node("Transpose", [c], {"perm": (0, 1)}, [((2, 3), np.float32)]).outputs[0]
    e = g.add_node("Relu", [d], {}, [((2, 3), np.float32)]).outputs[0]
    f = g.add_node("Reshape", [e], {"shape": (3, 2)}, [((3, 2), np.float32)]).outputs[0]
    g.outputs = [f]
    xs = [RNG.standard_normal((2, 3)).astype(np.float32)]
    ref = reference.run_graph(g, xs)
    assert identity.run(g) == 4
    assert _ops(g) == ["Relu", "Reshape"] and g.nodes[0].inputs[0] is x
    _same(g, xs, ref)


def test_fold_constants_evaluates_weight_slices_and_dead_nodes_go():
    w = nn.Parameter(RNG.standard_normal((6, 4)).astype(np.float32))
    m = _Lambda(lambda s, x: dl.nn.functional.linear(x, s.w[2:5]), w=nn.Module())
    m.w = w
    g, xs, ref = _graph(m, _t(3, 4))
    assert _ops(g) == ["Slice", "Gemm"]
    assert fold_constants.run(g) == 1
    assert _ops(g) == ["Gemm"] and g.nodes[0].inputs[1].is_const
    np.testing.assert_array_equal(g.nodes[0].inputs[1].data, w.numpy()[2:5])
    _same(g, xs, ref)
    # a node nobody reads
    extra = g.add_node("Relu", [g.inputs[0]], {}, [((3, 4), np.float32)])
    assert dead_nodes.run(g) == 1 and extra not in g.nodes


def test_fold_batchnorm_into_conv_and_linear():
    conv = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU())
    bn = conv[1]
    bn.running_mean._data[:] = RNG.standard_normal(8)
    bn.running_var._data[:] = RNG.uniform(0.5, 2.0, 8)
    bn.weight._data[:] = RNG.standard_normal(8)
    bn.bias._data[:] = RNG.standard_normal(8)
    g, xs, ref = _graph(conv, _t(2, 3, 7, 7))
    assert fold_batchnorm.run(g) == 1
    assert _ops(g) == ["Conv", "Relu"]
    _same(g, xs, ref, rtol=1e-5, atol=1e-5)
    lin = nn.Sequential(nn.Linear(5, 4, bias=False), nn.BatchNorm1d(4))
    lin[1].running_var._data[:] = RNG.uniform(0.5, 2.0, 4)
    lin[1].running_mean._data[:] = RNG.standard_normal(4)
    g, xs, ref = _graph(lin, _t(3, 5))
    assert fold_batchnorm.run(g) == 1 and _ops(g) == ["Gemm"]
    _same(g, xs, ref, atol=1e-5)


def test_fold_batchnorm_leaves_a_shared_conv_output():
    m = _Lambda(lambda s, x: s.bn(s.conv(x)) + s.conv(x), conv=nn.Conv2d(2, 2, 1),
                bn=nn.BatchNorm2d(2))
    g, xs, ref = _graph(m, _t(1, 2, 3, 3))
    conv_out = g.nodes[0].outputs[0]
    # the traced graph has two Convs (the model calls it twice); make them share one
    g.replace_uses(g.nodes[2].outputs[0], conv_out)
    dead_nodes.run(g)
    assert fold_batchnorm.run(g) == 0 and "BatchNormalization" in _ops(g)
    _same(g, xs, ref)


def test_fuse_epilogue_activation_bias_and_matmul_add():
    m = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU6(), nn.Flatten(), nn.Linear(4 * 25, 6),
                      nn.GELU())
    g, xs, ref = _graph(m, _t(2, 3, 7, 7))
    assert fuse_epilogue.run(g) == 2
    assert _ops(g) == ["Conv", "Reshape", "Gemm"]
    assert g.nodes[0].attrs["activation"] == "Clip" and g.nodes[0].attrs["activation_attrs"] == \
        {"min": 0.0, "max": 6.0}
    assert g.nodes[2].attrs["activation"] == "Gelu"
    _same(g, xs, ref)
    w = dl.tensor(RNG.standard_normal((5, 3)).astype(np.float32))
    b = dl.tensor(RNG.standard_normal(3).astype(np.float32))
    g, xs, ref = _graph(_Lambda(lambda s, x: (x @ w + b).relu()), _t(2, 4, 5))
    assert fuse_epilogue.run(g) == 2
    assert _ops(g) == ["Gemm"] and g.nodes[0].attrs["transB"] == 0
    _same(g, xs, ref)


def test_fuse_epilogue_keeps_values_read_twice():
    m = _Lambda(lambda s, x: s.fc(x).relu() + s.fc(x), fc=nn.Linear(4, 4))
    g, xs, ref = _graph(m, _t(2, 4))
    y = g.nodes[0].outputs[0]
    g.replace_uses(g.nodes[2].outputs[0], y)
    dead_nodes.run(g)
    assert _ops(g) == ["Gemm", "Relu", "Add"]
    assert fuse_epilogue.run(g) == 0
    _same(g, xs, ref)


def test_fuse_add_layernorm_post_and_pre_norm():
    ln = nn.LayerNorm(8)
    post = _Lambda(lambda s, a, b: s.ln(a + b), ln=ln)
    g, xs, ref = _graph(post, _t(3, 8), _t(3, 8))
    assert fuse_add_layernorm.run(g) == 1
    assert _ops(g) == ["SkipLayerNormalization"] and len(g.nodes[0].outputs) == 1
    _same(g, xs, ref)
    pre = _Lambda(lambda s, a, b: (s.ln(a + b), (a + b) * 2.0), ln=ln)
    g, xs, ref = _graph(pre, _t(3, 8), _t(3, 8))
    s_node = g.nodes[0]
    g.replace_uses(g.nodes[2].outputs[0], s_node.outputs[0])
    dead_nodes.run(g)
    assert fuse_add_layernorm.run(g) == 1
    assert _ops(g) == ["SkipLayerNormalization", "Mul"] and len(g.nodes[0].outputs) == 2
    _same(g, xs, ref)
    # broadcasting adds stay as they are
    g, xs, ref = _graph(post, _t(3, 8), _t(1, 8))
    assert fuse_add_layernorm.run(g) == 0


def test_fuse_attention_composed_pattern_with_and_without_mask():
    def attn(s, q, k, v):
        return ((q @ k.transpose(-2, -1)) * 0.25).softmax(-1) @ v
    xs = [_t(2, 3, 5, 16), _t(2, 3, 7, 16), _t(2, 3, 7, 8)]
    g, arrays, ref = _graph(_Lambda(attn), *xs)
    assert fuse_attention.run(g) == 1
    assert _ops(g) == ["Attention"] and g.nodes[0].attrs["scale"] == 0.25
    _same(g, arrays, ref)
    mask = dl.tensor(np.where(RNG.random((5, 7)) < 0.3, -1e9, 0.0).astype(np.float32))

    def masked(s, q, k, v):
        return ((q @ k.transpose(-2, -1)) / 4.0 + mask).softmax(-1) @ v
    g, arrays, ref = _graph(_Lambda(masked), *xs)
    assert fuse_attention.run(g) == 1 and g.nodes[0].inputs[3].is_const
    _same(g, arrays, ref)

    def with_weights(s, q, k, v):
        p = ((q @ k.transpose(-2, -1)) * 0.25).softmax(-1)
        return p @ v, p
    g, arrays, ref = _graph(_Lambda(with_weights), *xs)
    assert fuse_attention.run(g) == 0


def test_eliminate_transposes_cancels_and_folds_into_matmul():
    def f(s, a, b):
        return (a.transpose(0, 1).transpose(0, 1) @ b.transpose(-2, -1)).relu()
    g, xs, ref = _graph(_Lambda(f), _t(4, 6), _t(5, 6))
    assert eliminate_transposes.run(g) >= 2
    assert _ops(g) == ["MatMul", "Relu"] and g.nodes[0].attrs["transB"] == 1
    assert g.nodes[0].inputs[0] is g.inputs[0]
    _same(g, xs, ref)


def test_eliminate_transposes_moves_a_transpose_below_gemm():
    m = _Lambda(lambda s, x: s.fc(x.transpose(0, 1)), fc=nn.Linear(6, 3))
    g, xs, ref = _graph(m, _t(4, 5, 6))
    eliminate_transposes.run(g)
    assert _ops(g) == ["Gemm", "Transpose"] and g.nodes[0].inputs[0] is g.inputs[0]
    _same(g, xs, ref)


@pytest.mark.parametrize("name", ["mlp", "resnet", "encoder"])
def test_whole_pipeline_keeps_outputs(name):
    from dlcore.models.resnet import resnet_small
    if name == "mlp":
        m, xs = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Dropout(0.5), nn.Linear(16, 3)), \
            (_t(2, 8),)
    elif name == "resnet":
        m, xs = resnet_small(), (_t(2, 1, 8, 8),)
    else:
        m, xs = nn.TransformerEncoder(nn.TransformerEncoderLayer(16, 2, 32, batch_first=True),
                                      2), (_t(2, 5, 16),)
    g, arrays, ref = _graph(m, *xs)
    log = []
    passes.optimize(g, log)
    assert "BatchNormalization" not in _ops(g) and "Dropout" not in _ops(g)
    _same(g, arrays, ref, atol=1e-5)


def test_merge_gemms_joins_projections_of_one_input():
    from dlcore.jit.passes import merge_gemms
    m = _Lambda(lambda s, x: (s.q(x) * s.k(x) + s.v(x), s.o(x.relu())),
                q=nn.Linear(6, 4), k=nn.Linear(6, 4), v=nn.Linear(6, 4), o=nn.Linear(6, 3))
    g, xs, ref = _graph(m, _t(2, 3, 6))
    assert merge_gemms.run(g) == 1
    gemms = [n for n in g.nodes if n.op == "Gemm"]
    assert len(gemms) == 2 and gemms[0].outputs[0].shape == (2, 3, 12)
    assert _ops(g).count("Slice") == 3
    _same(g, xs, ref)
