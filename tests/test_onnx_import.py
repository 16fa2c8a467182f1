"""dl.onnx.load on small hand-built models: the callable plan's input handling and errors,
inputs that shape the graph by value, the exported-GELU pattern, recurrent layouts and
directions against ONNX Runtime, and that `import dlcore` does not import onnx."""
import os
import subprocess
import sys

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

import dlcore as dl  # noqa: E402

RNG = np.random.default_rng(0)


def _vi(name, shape, t=TensorProto.FLOAT):
    return helper.make_tensor_value_info(name, t, shape)


def _model(nodes, inputs, outputs, inits=(), opset=17):
    g = helper.make_graph(nodes, "m", inputs, outputs, initializer=list(inits))
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])


def _f32(*shape):
    return RNG.standard_normal(shape).astype(np.float32)


def _ort(model, feeds):
    ort = pytest.importorskip("onnxruntime")
    so = ort.SessionOptions()
    so.log_severity_level = 3
    s = ort.InferenceSession(model.SerializeToString(), so, providers=["CPUExecutionProvider"])
    return s.run(None, feeds)


def _two_input_model():
    w = numpy_helper.from_array(_f32(4, 3), "w")
    return _model([helper.make_node("MatMul", ["a", "w"], ["h"]),
                   helper.make_node("Add", ["h", "b"], ["y"]),
                   helper.make_node("Relu", ["y"], ["r"])],
                  [_vi("a", ["n", 4]), _vi("b", ["n", 3])], [_vi("y", ["n", 3]),
                                                             _vi("r", ["n", 3])], [w])


def test_inputs_by_position_name_or_tensor_and_several_outputs():
    m = _two_input_model()
    plan = dl.onnx.load(m)
    assert plan.input_names == ["a", "b"] and plan.output_names == ["y", "r"]
    a, b = _f32(5, 4), _f32(5, 3)
    want = a @ numpy_helper.to_array(m.graph.initializer[0]) + b
    y, r = plan(a, b)
    assert isinstance(y, dl.Tensor)
    np.testing.assert_allclose(y.numpy(), want, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(r.numpy(), np.maximum(want, 0), rtol=1e-5, atol=1e-6)
    y2, _ = plan(b=dl.tensor(b), a=a)
    np.testing.assert_array_equal(y2.numpy(), y.numpy())
    y3, _ = plan(a, b=b)
    np.testing.assert_array_equal(y3.numpy(), y.numpy())


def test_input_errors_name_the_input():
    plan = dl.onnx.load(_two_input_model())
    a, b = _f32(5, 4), _f32(5, 3)
    with pytest.raises(TypeError, match="input 'a' must be float32, got float64"):
        plan(a.astype(np.float64), b)
    with pytest.raises(ValueError, match=r"input 'b' must be 2-D \(n, 3\), got shape \(5,\)"):
        plan(a, b[:, 0])
    with pytest.raises(ValueError, match=r"input 'a' must have size 4 in dim 1"):
        plan(_f32(5, 5), b)
    with pytest.raises(ValueError, match="dim 'n' is 5 in one input and 6 in input 'b'"):
        plan(a, _f32(6, 3))
    with pytest.raises(TypeError, match="missing input 'b'"):
        plan(a)
    with pytest.raises(TypeError, match="no input named 'c'"):
        plan(a, b, c=b)
    with pytest.raises(TypeError, match="takes 2 inputs"):
        plan(a, b, b)


def test_plans_are_cached_per_shape_and_print():
    plan = dl.onnx.load(_two_input_model())
    p1 = plan.plan(_f32(2, 4), _f32(2, 3))
    assert plan.plan(_f32(2, 4), _f32(2, 3)) is p1
    assert plan.plan(_f32(3, 4), _f32(3, 3)) is not p1
    text = str(p1)
    assert "Gemm" in text or "MatMul" in text
    assert p1.n_python_steps == 0


def test_shape_arguments_from_inputs_fix_the_plan_by_value():
    m = _model([helper.make_node("Reshape", ["x", "s"], ["y"])],
               [_vi("x", [2, 6]), _vi("s", [2], TensorProto.INT64)], [_vi("y", None)])
    plan = dl.onnx.load(m, check=False)
    x = _f32(2, 6)
    y1 = plan.run(x, np.array([3, 4], np.int64))[0]
    y2 = plan.run(x, np.array([4, -1], np.int64))[0]
    assert y1.shape == (3, 4) and y2.shape == (4, 3)
    np.testing.assert_array_equal(y2.reshape(-1), x.reshape(-1))
    assert plan.value_inputs == {"s"}


def test_exported_erf_gelu_becomes_one_op():
    c = [numpy_helper.from_array(np.array(v, np.float32), n)
         for n, v in (("r2", 1.4142135), ("one", 1.0), ("half", 0.5))]
    m = _model([helper.make_node("Div", ["x", "r2"], ["d"]), helper.make_node("Erf", ["d"], ["e"]),
                helper.make_node("Add", ["e", "one"], ["p"]),
                helper.make_node("Mul", ["x", "p"], ["q"]),
                helper.make_node("Mul", ["q", "half"], ["y"])],
               [_vi("x", ["n", 8])], [_vi("y", ["n", 8])], c)
    plan = dl.onnx.load(m)
    x = _f32(3, 8) * 3
    assert [n.op for n in plan.graph(x).nodes] == ["Gelu"]
    np.testing.assert_allclose(plan.run(x)[0], _ort(m, {"x": x})[0], rtol=1e-5, atol=1e-6)
    # a standalone Erf runs as a NumPy step with erf's values
    m2 = _model([helper.make_node("Erf", ["x"], ["y"])], [_vi("x", [4, 5])], [_vi("y", [4, 5])])
    x2 = np.concatenate([_f32(3, 5) * 3, [[0.0, -0.0, 1e-8, 6.0, -np.inf]]]).astype(np.float32)
    np.testing.assert_allclose(dl.onnx.load(m2).run(x2)[0], _ort(m2, {"x": x2})[0], rtol=2e-7,
                               atol=1e-7)


@pytest.mark.parametrize("op,direction,layout", [("LSTM", "reverse", 0),
                                                 ("LSTM", "bidirectional", 1),
                                                 ("GRU", "forward", 1),
                                                 ("GRU", "bidirectional", 0),
                                                 ("RNN", "reverse", 0)])
def test_recurrent_ops_match_onnxruntime(op, direction, layout):
    T, B, I, H = 5, 3, 4, 6
    D = 2 if direction == "bidirectional" else 1
    G = {"LSTM": 4, "GRU": 3, "RNN": 1}[op]
    inits = [numpy_helper.from_array(_f32(D, G * H, I) * 0.5, "W"),
             numpy_helper.from_array(_f32(D, G * H, H) * 0.5, "R"),
             numpy_helper.from_array(_f32(D, 2 * G * H) * 0.5, "B")]
    xshape = [B, T, I] if layout else [T, B, I]
    hshape = [B, D, H] if layout else [D, B, H]
    ins = ["X", "W", "R", "B", "", "h0"] + (["c0"] if op == "LSTM" else [])
    attrs = dict(hidden_size=H, direction=direction, layout=layout)
    if op == "GRU":
        attrs["linear_before_reset"] = 1
    outs = ["Y", "Y_h"] + (["Y_c"] if op == "LSTM" else [])
    inputs = [_vi("X", xshape), _vi("h0", hshape)] + ([_vi("c0", hshape)] if op == "LSTM"
                                                       else [])
    yshape = [B, T, D, H] if layout else [T, D, B, H]
    m = _model([helper.make_node(op, ins, outs, **attrs)], inputs,
               [_vi("Y", yshape)] + [_vi(o, hshape) for o in outs[1:]], inits)
    feeds = {"X": _f32(*xshape), "h0": _f32(*hshape) * 0.3}
    if op == "LSTM":
        feeds["c0"] = _f32(*hshape) * 0.3
    plan = dl.onnx.load(m)
    got = plan.run(**feeds)
    if layout:  # ONNX Runtime has no batch-first recurrent ops: ONNX's reference evaluator
        from onnx.reference import ReferenceEvaluator
        want = ReferenceEvaluator(m).run(None, feeds)
    else:
        want = _ort(m, feeds)
    for g, w in zip(got, want):
        assert g.shape == w.shape
        np.testing.assert_allclose(g, w, rtol=1e-4, atol=1e-5)
    assert plan.plan(**feeds).n_python_steps == 0


@pytest.mark.parametrize("op,attrs,lens", [
    ("GRU", dict(direction="bidirectional"), [5, 3, 1]),          # linear_before_reset=0
    ("LSTM", dict(clip=0.7, activations=["HardSigmoid", "Tanh", "Softsign"]), None),
    ("RNN", dict(direction="reverse", activations=["Relu"]), [2, 5, 4])])
def test_recurrent_forms_outside_the_kernel_run_in_numpy(op, attrs, lens):
    T, B, I, H = 5, 3, 4, 6
    D = 2 if attrs.get("direction") == "bidirectional" else 1
    G = {"LSTM": 4, "GRU": 3, "RNN": 1}[op]
    inits = [numpy_helper.from_array(_f32(D, G * H, I) * 0.5, "W"),
             numpy_helper.from_array(_f32(D, G * H, H) * 0.5, "R"),
             numpy_helper.from_array(_f32(D, 2 * G * H) * 0.5, "B")]
    if op == "LSTM":
        inits.append(numpy_helper.from_array(_f32(D, 3 * H), "P"))
    if lens is not None:
        inits.append(numpy_helper.from_array(np.array(lens, np.int32), "L"))
    ins = ["X", "W", "R", "B", "L" if lens is not None else "", "h0"] + \
        (["", "P"] if op == "LSTM" else [])
    outs = ["Y", "Y_h"]
    m = _model([helper.make_node(op, ins, outs, hidden_size=H, **attrs)],
               [_vi("X", [T, B, I]), _vi("h0", [D, B, H])],
               [_vi("Y", [T, D, B, H]), _vi("Y_h", [D, B, H])], inits)
    feeds = {"X": _f32(T, B, I), "h0": _f32(D, B, H) * 0.3}
    plan = dl.onnx.load(m)
    for g, w in zip(plan.run(**feeds), _ort(m, feeds)):
        np.testing.assert_allclose(g, w, rtol=1e-4, atol=1e-5)
    assert plan.plan(**feeds).fallbacks == ["PyFunction"]


def test_cast_to_uint8_keeps_values():
    m = _model([helper.make_node("Cast", ["x"], ["y"], to=TensorProto.UINT8)],
               [_vi("x", [6])], [_vi("y", [6], TensorProto.UINT8)])
    x = np.array([0, 1, 2.7, 13, 200, 255], np.float32)
    np.testing.assert_array_equal(dl.onnx.load(m).run(x)[0], x.astype(np.uint8))


def test_supported_ops_cover_the_issue_list():
    ops = dl.onnx.supported_ops()
    for op in ("Gemm", "MatMul", "Conv", "ConvTranspose", "MaxPool", "AveragePool",
               "GlobalAveragePool", "BatchNormalization", "LayerNormalization", "Relu",
               "Sigmoid", "Tanh", "Gelu", "Erf", "Softmax", "LogSoftmax", "Add", "Equal",
               "Reshape", "Transpose", "Concat", "Slice", "Gather", "Unsqueeze", "Squeeze",
               "Expand", "Where", "Shape", "ConstantOfShape", "Range", "Cast", "Split",
               "ReduceMean", "ReduceSum", "ReduceMax", "LSTM", "GRU"):
        assert op in ops, op


def test_import_dlcore_does_not_import_onnx():
    root = os.path.dirname(os.path.dirname(os.path.abspath(dl.__file__)))
    code = ("import sys, dlcore; assert 'onnx' not in sys.modules and 'dlcore.onnx' not in "
            "sys.modules; import dlcore as dl; dl.onnx; assert 'onnx' in sys.modules")
    subprocess.run([sys.executable, "-c", code], cwd=root, check=True, timeout=120)
