"""ONNX Loop and Scan against ONNX Runtime: unrolled when the trip count / sequence length is
known at load time, a Loop whose condition turns on data run as its body's plan at run time;
hostile trip counts and sequence lengths raise OnnxError instead of hanging or allocating."""
import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")
from onnx import TensorProto as T, helper as h, numpy_helper  # noqa: E402

import dlcore.onnx as dlo  # noqa: E402
from dlcore.onnx import control_run  # noqa: E402


from _onnx_build import graph_model as _model, ort_run as _ort, vi as _vi  # noqa: E402


def _accumulate_body():
    """acc = acc * w + x_i (w captured from the outer graph); scan output acc, cond kept."""
    return h.make_graph(
        [h.make_node("Identity", ["cond_in"], ["cond_out"]),
         h.make_node("Mul", ["acc_in", "w"], ["m"]),
         h.make_node("Cast", ["i"], ["fi"], to=T.FLOAT),
         h.make_node("Add", ["m", "fi"], ["acc_out"]),
         h.make_node("Identity", ["acc_out"], ["scan_out"])],
        "body", [_vi("i", [], T.INT64), _vi("cond_in", [], T.BOOL), _vi("acc_in", [3])],
        [_vi("cond_out", [], T.BOOL), _vi("acc_out", [3]), _vi("scan_out", [3])])


def test_loop_with_constant_trip_count_is_unrolled():
    inits = [numpy_helper.from_array(np.array(5, np.int64), "M"),
             numpy_helper.from_array(np.array([0.5, -1.0, 2.0], np.float32), "w")]
    m = _model([h.make_node("Loop", ["M", "", "x"], ["acc", "all"], body=_accumulate_body())],
               [_vi("x", [3])], [_vi("acc", [3]), _vi("all", [5, 3])], inits)
    plan = dlo.load(m)
    x = np.array([1.0, 2.0, -3.0], np.float32)
    want = _ort(m, {"x": x})
    got = plan.run(x)
    for a, b in zip(got, want):
        np.testing.assert_allclose(a, b, rtol=1e-6)
    assert "Loop" not in str(plan.graph(x))


def test_loop_trip_count_from_an_input_is_fixed_per_value():
    m = _model([h.make_node("Loop", ["M", "", "x"], ["acc", "all"], body=_accumulate_body())],
               [_vi("M", [], T.INT64), _vi("x", [3])], [_vi("acc", [3]), _vi("all", ["n", 3])],
               [numpy_helper.from_array(np.array([0.5, -1.0, 2.0], np.float32), "w")])
    plan = dlo.load(m)
    x = np.array([1.0, 2.0, -3.0], np.float32)
    for n in (0, 1, 4):
        feed = {"M": np.array(n, np.int64), "x": x}
        for a, b in zip(plan.run(**feed), _ort(m, feed)):
            np.testing.assert_allclose(a, b, rtol=1e-6)


def _doubling_model():
    """while sum(x) < limit: x = 2 x (the condition depends on the data)."""
    body = h.make_graph(
        [h.make_node("Mul", ["x_in", "two"], ["x_out"]),
         h.make_node("ReduceSum", ["x_out"], ["s"], keepdims=0),
         h.make_node("Less", ["s", "limit"], ["cond_out"])],
        "body", [_vi("i", [], T.INT64), _vi("cond_in", [], T.BOOL), _vi("x_in", [4])],
        [_vi("cond_out", [], T.BOOL), _vi("x_out", [4])])
    inits = [numpy_helper.from_array(np.array(2, np.float32), "two"),
             numpy_helper.from_array(np.array(100, np.float32), "limit")]
    nodes = [h.make_node("ReduceSum", ["x"], ["s0"], keepdims=0),
             h.make_node("Less", ["s0", "limit"], ["c0"]),
             h.make_node("Loop", ["", "c0", "x"], ["y"], body=body)]
    return _model(nodes, [_vi("x", [4])], [_vi("y", [4])], inits)


def test_loop_with_a_data_dependent_condition_runs_at_run_time():
    m = _doubling_model()
    plan = dlo.load(m)
    for x in (np.array([0.1, 0.2, 0.3, 0.4], np.float32), np.array([50, 60, 1, 2], np.float32),
              np.array([1, 1, 1, 1], np.float32)):
        np.testing.assert_allclose(plan.run(x)[0], _ort(m, {"x": x})[0], rtol=1e-6)


def test_run_time_loop_that_never_ends_is_an_error(monkeypatch):
    monkeypatch.setattr(control_run, "MAX_LOOP_ITERATIONS", 50)
    m = _doubling_model()
    plan = dlo.load(m)
    with pytest.raises(dlo.OnnxError, match="without its condition turning false"):
        plan.run(np.zeros(4, np.float32))   # 0 * 2 never reaches the limit


def test_hostile_trip_count_is_an_error():
    m = _model([h.make_node("Loop", ["M", "", "x"], ["acc", "all"], body=_accumulate_body())],
               [_vi("M", [], T.INT64), _vi("x", [3])], [_vi("acc", [3]), _vi("all", ["n", 3])],
               [numpy_helper.from_array(np.array([0.5, -1.0, 2.0], np.float32), "w")])
    with pytest.raises(dlo.OnnxError, match="over the limit"):
        dlo.load(m).run(np.array(1 << 62, np.int64), np.ones(3, np.float32))


def test_loop_that_changes_a_carried_shape_at_run_time_is_unsupported():
    body = h.make_graph(
        [h.make_node("Concat", ["x_in", "x_in"], ["x_out"], axis=0),
         h.make_node("ReduceSum", ["x_out"], ["s"], keepdims=0),
         h.make_node("Less", ["s", "limit"], ["cond_out"])],
        "body", [_vi("i", [], T.INT64), _vi("cond_in", [], T.BOOL), _vi("x_in", None)],
        [_vi("cond_out", [], T.BOOL), _vi("x_out", None)])
    m = _model([h.make_node("Loop", ["", "c", "x"], ["y"], body=body)],
               [_vi("x", [2]), _vi("c", [], T.BOOL)], [_vi("y", None)],
               [numpy_helper.from_array(np.array(100, np.float32), "limit")])
    with pytest.raises(dlo.UnsupportedOpError, match="keep their shapes"):
        dlo.load(m, check=False).run(np.ones(2, np.float32), np.array(True))


def test_loop_trip_count_of_the_wrong_type_is_an_error():
    m = _model([h.make_node("Loop", ["M", "", "x"], ["acc", "all"], body=_accumulate_body())],
               [_vi("M", [], T.FLOAT), _vi("x", [3])], [_vi("acc", [3]), _vi("all", ["n", 3])],
               [numpy_helper.from_array(np.array([0.5, -1.0, 2.0], np.float32), "w")])
    with pytest.raises(dlo.OnnxError, match="M must be int64"):
        dlo.load(m, check=False).run(np.array(3.0, np.float32), np.ones(3, np.float32))


def _scan_model(directions=(0, 1), out_axes=(0, 1)):
    """state s = s + a_t * b_t over two scan inputs; outputs s and (s, a_t - b_t) per step."""
    body = h.make_graph(
        [h.make_node("Mul", ["a", "b"], ["p"]), h.make_node("Add", ["s_in", "p"], ["s_out"]),
         h.make_node("Identity", ["s_out"], ["y1"]), h.make_node("Sub", ["a", "b"], ["y2"])],
        "body", [_vi("s_in", [2]), _vi("a", [2]), _vi("b", [2])],
        [_vi("s_out", [2]), _vi("y1", [2]), _vi("y2", [2])])
    node = h.make_node("Scan", ["s0", "A", "B"], ["s", "Y1", "Y2"], body=body,
                       num_scan_inputs=2, scan_input_axes=[0, 1],
                       scan_input_directions=list(directions),
                       scan_output_axes=list(out_axes), scan_output_directions=[1, 0])
    return _model([node], [_vi("s0", [2]), _vi("A", [5, 2]), _vi("B", [2, 5])],
                  [_vi("s", [2]), _vi("Y1", None), _vi("Y2", None)])


@pytest.mark.parametrize("directions,out_axes", [((0, 0), (0, 0)), ((0, 1), (0, 1)),
                                                 ((1, 0), (1, -1))])
def test_scan_matches_onnxruntime(directions, out_axes):
    m = _scan_model(directions, out_axes)
    rs = np.random.RandomState(3)
    feed = {"s0": rs.randn(2).astype(np.float32), "A": rs.randn(5, 2).astype(np.float32),
            "B": rs.randn(2, 5).astype(np.float32)}
    for a, b in zip(dlo.load(m, check=False).run(**feed), _ort(m, feed)):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_hostile_scan_length_is_an_error():
    m = _scan_model()
    feed = {"s0": np.zeros(2, np.float32), "A": np.zeros((100000, 2), np.float32),
            "B": np.zeros((2, 100000), np.float32)}
    m.graph.input[1].CopyFrom(_vi("A", ["n", 2]))
    m.graph.input[2].CopyFrom(_vi("B", [2, "n"]))
    with pytest.raises(dlo.OnnxError, match="unrolled"):
        dlo.load(m, check=False).run(**feed)


def test_loop_and_scan_conformance_cases_pass():
    from dlcore.onnx.conformance import run_conformance
    r = run_conformance(kinds=("node",),
                        pattern=r"^test_(loop11|scan9_sum|range_(?!bfloat).*_expanded|"
                                r"linear_attention_.*_expanded)$")["node"]
    assert len(r["passed"]) >= 10 and not r["failed"] and not r["unsupported"], r
