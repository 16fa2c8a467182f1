"""ONNX If: a condition known at load time folds to the branch taken; a run-time condition
runs the right branch's plan (outer-scope values captured, branch initializers read), checked
against ONNX Runtime; bad subgraphs and hostile nesting raise OnnxError."""
import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")
from onnx import TensorProto as T, helper as h, numpy_helper  # noqa: E402

import dlcore.onnx as dlo  # noqa: E402
from dlcore.onnx.conformance import run_conformance  # noqa: E402


from _onnx_build import graph_model as _model, ort_run as _ort, vi as _vi  # noqa: E402


def _runtime_if_model():
    """y = relu(x * w) if sum(x) > 0 else relu(x - 1 + t); w an outer initializer, t an
    outer node's value, 1 an initializer of the else branch."""
    then_g = h.make_graph([h.make_node("Mul", ["x", "w"], ["t_out"])], "then", [],
                          [_vi("t_out", [2, 3])])
    else_g = h.make_graph([h.make_node("Sub", ["x", "one"], ["d"]),
                           h.make_node("Add", ["d", "t"], ["e_out"])], "else", [],
                          [_vi("e_out", [2, 3])],
                          initializer=[numpy_helper.from_array(np.array(1, np.float32), "one")])
    nodes = [h.make_node("ReduceSum", ["x"], ["s"], keepdims=0),
             h.make_node("Greater", ["s", "zero"], ["c"]),
             h.make_node("Tanh", ["x"], ["t"]),
             h.make_node("If", ["c"], ["y"], then_branch=then_g, else_branch=else_g),
             h.make_node("Relu", ["y"], ["z"])]
    inits = [numpy_helper.from_array(np.arange(6, dtype=np.float32).reshape(2, 3) - 2, "w"),
             numpy_helper.from_array(np.array(0, np.float32), "zero")]
    return _model(nodes, [_vi("x", [2, 3])], [_vi("z", [2, 3])], inits)


@pytest.mark.parametrize("sign", [1.0, -1.0])
def test_runtime_condition_runs_the_right_branch(sign):
    m = _runtime_if_model()
    plan = dlo.load(m)
    x = (sign * (np.abs(np.random.RandomState(0).randn(2, 3)) + 0.1)).astype(np.float32)
    got = plan.run(x)[0]
    np.testing.assert_allclose(got, _ort(m, {"x": x})[0], rtol=1e-6, atol=1e-6)
    # the same plan, the other branch next
    np.testing.assert_allclose(plan.run(-x)[0], _ort(m, {"x": -x})[0], rtol=1e-6, atol=1e-6)


def test_condition_from_shapes_folds_to_one_branch():
    # cond = (dim 0 of x == 4): known once x's shape is; only the branch taken is converted
    then_g = h.make_graph([h.make_node("Neg", ["x"], ["a"])], "then", [], [_vi("a", ["n", 3])])
    else_g = h.make_graph([h.make_node("Exp", ["x"], ["b"])], "else", [], [_vi("b", ["n", 3])])
    nodes = [h.make_node("Shape", ["x"], ["sh"]),
             h.make_node("Gather", ["sh", "i0"], ["n"], axis=0),
             h.make_node("Equal", ["n", "four"], ["c"]),
             h.make_node("If", ["c"], ["y"], then_branch=then_g, else_branch=else_g)]
    inits = [numpy_helper.from_array(np.array(0, np.int64), "i0"),
             numpy_helper.from_array(np.array(4, np.int64), "four")]
    m = _model(nodes, [_vi("x", ["n", 3])], [_vi("y", ["n", 3])], inits)
    plan = dlo.load(m)
    for n in (4, 5):
        x = np.random.RandomState(n).randn(n, 3).astype(np.float32)
        np.testing.assert_allclose(plan.run(x)[0], _ort(m, {"x": x})[0], rtol=1e-6)
        g = plan.graph(x)
        assert [nd.op for nd in g.nodes] == (["Neg"] if n == 4 else ["Exp"])


def test_nested_runtime_ifs():
    inner_then = h.make_graph([h.make_node("Mul", ["x", "x"], ["p"])], "it", [], [_vi("p", [3])])
    inner_else = h.make_graph([h.make_node("Abs", ["x"], ["q"])], "ie", [], [_vi("q", [3])])
    outer_then = h.make_graph(
        [h.make_node("If", ["c2"], ["r"], then_branch=inner_then, else_branch=inner_else)],
        "ot", [], [_vi("r", [3])])
    outer_else = h.make_graph([h.make_node("Neg", ["x"], ["s"])], "oe", [], [_vi("s", [3])])
    m = _model([h.make_node("If", ["c1"], ["y"], then_branch=outer_then, else_branch=outer_else)],
               [_vi("x", [3]), _vi("c1", [], T.BOOL), _vi("c2", [], T.BOOL)], [_vi("y", [3])])
    plan = dlo.load(m)
    x = np.array([-1.5, 2.0, 0.25], np.float32)
    for c1 in (True, False):
        for c2 in (True, False):
            feed = {"x": x, "c1": np.array(c1), "c2": np.array(c2)}
            np.testing.assert_allclose(plan.run(**feed)[0], _ort(m, feed)[0], rtol=1e-6)


def test_runtime_branches_of_different_shapes_are_unsupported():
    then_g = h.make_graph([h.make_node("Identity", ["x"], ["a"])], "t", [], [_vi("a", [3])])
    else_g = h.make_graph([h.make_node("ReduceSum", ["x"], ["b"], keepdims=0)], "e", [],
                          [_vi("b", [])])
    m = _model([h.make_node("If", ["c"], ["y"], then_branch=then_g, else_branch=else_g)],
               [_vi("x", [3]), _vi("c", [], T.BOOL)], [_vi("y", [3])])
    plan = dlo.load(m, check=False)
    with pytest.raises(dlo.UnsupportedOpError, match="same dtype and shape"):
        plan.run(np.ones(3, np.float32), np.array(True))


def test_condition_with_several_values_is_an_error():
    then_g = h.make_graph([h.make_node("Neg", ["x"], ["a"])], "t", [], [_vi("a", [3])])
    else_g = h.make_graph([h.make_node("Abs", ["x"], ["b"])], "e", [], [_vi("b", [3])])
    m = _model([h.make_node("If", ["c"], ["y"], then_branch=then_g, else_branch=else_g)],
               [_vi("x", [3]), _vi("c", [2], T.BOOL)], [_vi("y", [3])])
    plan = dlo.load(m, check=False)
    with pytest.raises(dlo.OnnxError, match="cond must hold one value"):
        plan.run(np.ones(3, np.float32), np.array([True, False]))


def test_condition_of_the_wrong_type_is_an_error():
    then_g = h.make_graph([h.make_node("Neg", ["x"], ["a"])], "t", [], [_vi("a", [3])])
    else_g = h.make_graph([h.make_node("Abs", ["x"], ["b"])], "e", [], [_vi("b", [3])])
    m = _model([h.make_node("If", ["c"], ["y"], then_branch=then_g, else_branch=else_g)],
               [_vi("x", [3]), _vi("c", [], T.FLOAT)], [_vi("y", [3])])
    with pytest.raises(dlo.OnnxError, match="cond must be bool"):
        dlo.load(m, check=False).run(np.ones(3, np.float32), np.array(1.0, np.float32))


def test_branch_reading_an_undefined_name_is_an_error():
    then_g = h.make_graph([h.make_node("Neg", ["nowhere"], ["a"])], "t", [], [_vi("a", [3])])
    else_g = h.make_graph([h.make_node("Abs", ["x"], ["b"])], "e", [], [_vi("b", [3])])
    m = _model([h.make_node("If", ["c"], ["y"], then_branch=then_g, else_branch=else_g)],
               [_vi("x", [3]), _vi("c", [], T.BOOL)], [_vi("y", [3])])
    plan = dlo.load(m, check=False)
    with pytest.raises(dlo.OnnxError, match="'nowhere'"):
        plan.run(np.ones(3, np.float32), np.array(True))


def test_hostile_nesting_depth_is_an_error():
    leaf = h.make_graph([h.make_node("Identity", ["x"], ["o0"])], "g", [], [_vi("o0", [2])])
    inner = leaf
    for d in range(1, 28):
        inner = h.make_graph([h.make_node("If", ["c"], ["o%d" % d], then_branch=inner,
                                          else_branch=leaf)], "g%d" % d, [], [_vi("o%d" % d, [2])])
    m = _model([h.make_node("If", ["c"], ["y"], then_branch=inner, else_branch=leaf)],
               [_vi("x", [2]), _vi("c", [], T.BOOL)], [_vi("y", [2])])
    for check in (True, False):
        with pytest.raises(dlo.OnnxError, match="nest more than"):
            dlo.load(m.SerializeToString(), check=check).run(np.ones(2, np.float32),
                                                             np.array(True))


def test_if_conformance_cases_pass():
    rep = run_conformance(kinds=("node",), pattern=r"^test_if$|^test_affine_grid_.*_expanded$")
    r = rep["node"]
    assert len(r["passed"]) >= 5 and not r["failed"] and not r["unsupported"], r


def test_torch_cond_exported_model_matches_torch(tmp_path):
    torch = pytest.importorskip("torch")

    class Branchy(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = torch.nn.Linear(4, 5)

        def forward(self, x):
            def pos(x):
                return torch.relu(self.lin(x))

            def neg(x):
                return self.lin(x) * 2 - 1
            return torch.cond(x.sum() > 0, pos, neg, (x,))

    torch.manual_seed(0)
    model = Branchy().eval()
    x = torch.randn(3, 4)
    path = str(tmp_path / "cond.onnx")
    try:
        torch.onnx.export(model, (x,), path, dynamo=True, opset_version=18)
    except Exception as e:  # an exporter that cannot write torch.cond here
        pytest.skip("torch.onnx.export of torch.cond failed: %s" % e)
    assert any(n.op_type == "If" for n in onnx.load(path).graph.node)
    plan = dlo.load(path)
    for sign in (1.0, -1.0):
        xs = sign * (x.abs() + 0.1)
        with torch.no_grad():
            want = model(xs).numpy()
        np.testing.assert_allclose(plan.run(xs.numpy())[0], want, rtol=1e-5, atol=1e-6)
