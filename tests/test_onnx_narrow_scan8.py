"""Sub-byte integer tensors (INT4/UINT4/INT2/UINT2: packed initializers, graph inputs and
outputs, Cast, QuantizeLinear / DequantizeLinear with blocked int4 weights), the inverse
one-sided DFT (IRFFT), Scan at opset 8 (batch axis, sequence_lens, directions), float16
Softmax in float16 arithmetic, and control-flow subgraph plans following load()'s optimize.
ONNX Runtime is the oracle where its Python API can hand over the types (it cannot return
int4 arrays: ONNX's reference evaluator is the oracle there)."""
import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
ml_dtypes = pytest.importorskip("ml_dtypes")
ort = pytest.importorskip("onnxruntime")
from onnx import TensorProto as T, helper as h, numpy_helper  # noqa: E402
from onnx.reference import ReferenceEvaluator  # noqa: E402

import dlcore.onnx as dlo  # noqa: E402
from dlcore.onnx import narrow  # noqa: E402

from _onnx_build import graph_model, ort_run, vi  # noqa: E402


def _model(*args, opset=21, **kw):
    m = graph_model(*args, opset=opset, **kw)
    m.ir_version = 10
    return m


# ---- packed sub-byte tensors -----------------------------------------------------------------
@pytest.mark.parametrize("name,elem", [("int4", T.INT4), ("uint4", T.UINT4), ("int2", T.INT2),
                                       ("uint2", T.UINT2)])
@pytest.mark.parametrize("n", [1, 3, 7, 8, 17])
def test_unpack_matches_onnx(name, elem, n):
    lo, hi = narrow.value_range(name)
    vals = np.random.RandomState(n).randint(lo, hi + 1, size=n)
    for raw in (False, True):
        t = h.make_tensor("t", elem, (n,), vals.astype(narrow.ml_dtype(name)) if raw
                          else vals.tolist(), raw=raw)
        from dlcore.onnx.reader import tensor_to_array
        got = tensor_to_array(t)
        assert got.dtype == narrow.carrier(name)
        np.testing.assert_array_equal(got, numpy_helper.to_array(t).astype(np.int64))


def test_packed_size_is_checked():
    t = h.make_tensor("t", T.INT4, (5,), [1, 2, 3, 4, 5])
    t.int32_data.append(0)   # 4 packed bytes for 5 nibbles: one too many
    from dlcore.onnx.reader import tensor_to_array
    with pytest.raises(dlo.OnnxError, match="needs 3"):
        tensor_to_array(t)
    t = h.make_tensor("t", T.UINT4, (4,), [1, 2, 3, 4], raw=False)
    del t.int32_data[:]
    t.raw_data = b"\x12"   # 4 nibbles need 2 bytes
    with pytest.raises(dlo.OnnxError, match="raw data has 1 bytes"):
        tensor_to_array(t)


def test_blocked_int4_weights_dequantize_as_onnxruntime():
    rs = np.random.RandomState(0)
    w = rs.randint(-8, 8, size=(5, 7))
    inits = [h.make_tensor("w", T.INT4, (5, 7), w.reshape(-1).tolist()),
             numpy_helper.from_array(rs.rand(5, 3).astype(np.float32) + 0.1, "s"),
             h.make_tensor("z", T.INT4, (5, 3), rs.randint(-8, 8, size=15).tolist())]
    m = _model([h.make_node("DequantizeLinear", ["w", "s", "z"], ["wf"], axis=1, block_size=3),
                h.make_node("MatMul", ["x", "wf"], ["y"])],
               [vi("x", [2, 5])], [vi("y", [2, 7])], inits)
    x = rs.randn(2, 5).astype(np.float32)
    np.testing.assert_allclose(dlo.load(m).run(x)[0], ort_run(m, {"x": x})[0], rtol=1e-5)


@pytest.mark.parametrize("elem,name", [(T.INT4, "int4"), (T.UINT4, "uint4")])
def test_quantize_to_4_bits_saturates_to_their_range(elem, name):
    rs = np.random.RandomState(1)
    scale = np.array([0.1, 0.2, 0.3, 0.4, 0.5], np.float32)
    zp = [0, 3, -8, 7, 1] if name == "int4" else [0, 3, 8, 15, 1]
    inits = [numpy_helper.from_array(scale, "s"), h.make_tensor("z", elem, (5,), zp)]
    m = _model([h.make_node("QuantizeLinear", ["x", "s", "z"], ["q"], axis=1),
                h.make_node("DequantizeLinear", ["q", "s", "z"], ["y"], axis=1)],
               [vi("x", [3, 5])], [vi("q", [3, 5], elem), vi("y", [3, 5])], inits)
    x = (rs.randn(3, 5) * 3).astype(np.float32)
    q, y = dlo.load(m).run(x)
    want_q, want_y = ReferenceEvaluator(m).run(None, {"x": x})
    assert q.dtype == narrow.ml_dtype(name)
    np.testing.assert_array_equal(q.astype(np.int64), want_q.astype(np.int64))
    lo, hi = narrow.value_range(name)
    assert q.astype(np.int64).min() == lo and q.astype(np.int64).max() == hi  # saturated
    # ONNX Runtime cannot hand int4 arrays to Python: its dequantized values are the check
    m2 = _model(list(m.graph.node), [vi("x", [3, 5])], [vi("y", [3, 5])], inits)
    np.testing.assert_allclose(y, ort_run(m2, {"x": x})[0], rtol=1e-6)
    np.testing.assert_allclose(y, want_y, rtol=1e-6)


@pytest.mark.parametrize("to,name", [(T.INT4, "int4"), (T.UINT4, "uint4"), (T.INT2, "int2"),
                                     (T.UINT2, "uint2")])
def test_cast_into_and_out_of_narrow_types(to, name):
    x = np.concatenate([np.arange(-9, 17), [2.5, -2.5, 7.9, -0.4]]).astype(np.float32)
    m = _model([h.make_node("Cast", ["x"], ["q"], to=to),
                h.make_node("Cast", ["q"], ["f"], to=T.FLOAT),
                h.make_node("CastLike", ["f", "q"], ["q2"])],
               [vi("x", [x.size])], [vi("q", [x.size], to), vi("f", [x.size]),
                                     vi("q2", [x.size], to)], opset=25)
    got = dlo.load(m).run(x)
    want = ReferenceEvaluator(m).run(None, {"x": x})
    for g, w in zip(got, want):
        assert g.dtype == w.dtype
        np.testing.assert_array_equal(g.astype(np.float64), w.astype(np.float64))


def test_narrow_graph_input_takes_its_type_or_a_checked_carrier():
    m = _model([h.make_node("Cast", ["q"], ["f"], to=T.FLOAT)], [vi("q", [4], T.INT4)],
               [vi("f", [4])])
    plan = dlo.load(m)
    a = np.array([-8, -1, 0, 7], np.int8)
    np.testing.assert_array_equal(plan.run(a.astype(ml_dtypes.int4))[0], a)
    np.testing.assert_array_equal(plan.run(a)[0], a)
    with pytest.raises(ValueError, match=r"int4 values must lie in \[-8, 7\]"):
        plan.run(np.array([0, 8, 0, 0], np.int8))
    with pytest.raises(TypeError, match="must be int4"):
        plan.run(np.zeros(4, np.float32))


# ---- DFT: inverse one-sided -------------------------------------------------------------------
# 5 bins in: ONNX Runtime and ONNX's reference agree where dft_length keeps (or truncates to
# an even count of) the bins an IRFFT of that length reads; elsewhere (n 5, 7: a truncation
# to an odd length; n 10: zero-padding) they disagree, and dlcore follows the reference
# (NumPy's irfft: the spectrum truncated or zero-padded to n // 2 + 1 bins)
@pytest.mark.parametrize("opset,n,oracle", [(20, None, "ort"), (20, 8, "ort"), (20, 9, "ort"),
                                            (20, 6, "ort"), (17, None, "ort"), (20, 5, "ref"),
                                            (20, 7, "ref"), (20, 10, "ref")])
def test_irfft_matches_onnxruntime(opset, n, oracle):
    bins = 5
    L = 2 * (bins - 1) if n is None else n
    ins = ["x", "n" if n else ""]
    inits = [numpy_helper.from_array(np.array(n or 0, np.int64), "n")] if n else []
    kw = {"inverse": 1, "onesided": 1}
    if opset >= 20:
        ins.append("ax")
        inits.append(numpy_helper.from_array(np.array(1, np.int64), "ax"))
    else:
        kw["axis"] = 1
    m = graph_model([h.make_node("DFT", ins, ["y"], **kw)], [vi("x", [3, bins, 2])],
                    [vi("y", [3, L, 1])], inits, opset=opset)
    x = np.random.RandomState(2).randn(3, bins, 2).astype(np.float32)
    got = dlo.load(m).run(x)[0]
    want = (ort_run(m, {"x": x}) if oracle == "ort" else
            ReferenceEvaluator(m).run(None, {"x": x}))[0]
    assert got.shape == want.shape == (3, L, 1)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


def test_irfft_needs_a_complex_input():
    m = graph_model([h.make_node("DFT", ["x", "", "ax"], ["y"], inverse=1, onesided=1)],
                    [vi("x", [3, 5, 1])], [vi("y", [3, 8, 1])],
                    [numpy_helper.from_array(np.array(1, np.int64), "ax")], opset=20)
    with pytest.raises(dlo.OnnxError, match="complex"):
        dlo.load(m, check=False).run(np.zeros((3, 5, 1), np.float32))


# ---- Scan at opset 8 --------------------------------------------------------------------------
def _scan8(directions, with_lens):
    body = h.make_graph(
        [h.make_node("Mul", ["a", "b"], ["p"]), h.make_node("Add", ["s_in", "p"], ["s_out"]),
         h.make_node("Identity", ["s_out"], ["y1"]), h.make_node("Sub", ["a", "b"], ["y2"])],
        "body", [vi("s_in", [2]), vi("a", [2]), vi("b", [2])],
        [vi("s_out", [2]), vi("y1", [2]), vi("y2", [2])])
    node = h.make_node("Scan", ["L" if with_lens else "", "s0", "A", "B"], ["s", "Y1", "Y2"],
                       body=body, num_scan_inputs=2, directions=list(directions))
    inputs = [vi("s0", [3, 2]), vi("A", [3, 5, 2]), vi("B", [3, 5, 2])]
    if with_lens:
        inputs.insert(0, vi("L", [3], T.INT64))
    m = graph_model([node], inputs, [vi("s", [3, 2]), vi("Y1", [3, 5, 2]), vi("Y2", [3, 5, 2])],
                    opset=8)
    m.ir_version = 3
    return m


@pytest.mark.parametrize("directions", [(0, 0), (0, 1), (1, 1)])
@pytest.mark.parametrize("lens", [None, [5, 3, 1], [2, 5, 4]])
def test_scan8_matches_onnxruntime(directions, lens):
    m = _scan8(directions, lens is not None)
    rs = np.random.RandomState(4)
    feed = {k: rs.randn(*s).astype(np.float32) for k, s in
            (("s0", (3, 2)), ("A", (3, 5, 2)), ("B", (3, 5, 2)))}
    if lens is not None:
        feed["L"] = np.array(lens, np.int64)
    plan = dlo.load(m)
    for g, w in zip(plan.run(**feed), ort_run(m, feed)):
        np.testing.assert_allclose(g, w, rtol=1e-6, atol=1e-6)
    if lens is not None:   # lengths fix the unrolled plan: one per value, the inputs' key
        assert plan.value_inputs == {"L"}


def test_scan8_bad_lengths_are_an_error():
    m = _scan8((0, 0), True)
    feed = {"s0": np.zeros((3, 2), np.float32), "A": np.zeros((3, 5, 2), np.float32),
            "B": np.zeros((3, 5, 2), np.float32), "L": np.array([5, 6, 1], np.int64)}
    with pytest.raises(dlo.OnnxError, match=r"lengths in \[1, 5\]"):
        dlo.load(m).run(**feed)


# ---- float16 softmax --------------------------------------------------------------------------
def test_float16_softmax_rounds_once_from_float32():
    # computed in float32 and rounded once, as ONNX Runtime does: within half a float16 step of
    # the exact value, where ONNX's reference (float16 steps, Softmax-13's function body) can be
    # a few steps off for logits spread by ~10
    x = (np.random.RandomState(5).randn(6, 9) * 4).astype(np.float16)
    m = graph_model([h.make_node("Softmax", ["x"], ["y"], axis=-1)], [vi("x", [6, 9], T.FLOAT16)],
                    [vi("y", [6, 9], T.FLOAT16)], opset=13)
    got = dlo.load(m).run(x)[0]
    assert got.dtype == np.float16
    x64 = x.astype(np.float64)
    e = np.exp(x64 - x64.max(-1, keepdims=True))
    exact = e / e.sum(-1, keepdims=True)
    assert np.all(np.abs(got - exact) <= np.abs(exact.astype(np.float16) - exact) + 1e-7 * exact)
    ref = ReferenceEvaluator(m).run(None, {"x": x})[0]
    assert np.abs(got - exact).max() <= np.abs(ref - exact).max()


def test_new_op_conformance_cases_pass():
    from dlcore.onnx.conformance import run_conformance
    r = run_conformance(kinds=("node",),
                        pattern=r"^test_(scan_sum|"
                                r"dft_irfft(_opset19)?|(de)?quantizelinear_u?int[24]|"
                                r"cast_(FLOAT|U?INT[24])_to_(U?INT[248]|FLOAT))$")["node"]
    assert len(r["passed"]) >= 18 and not r["failed"] and not r["unsupported"], r


# ---- subgraph plans follow optimize= ----------------------------------------------------------
def _runtime_if():
    then_g = h.make_graph([h.make_node("Mul", ["x", "x"], ["a"]),
                           h.make_node("Relu", ["a"], ["t"])],
                          "then", [], [vi("t", [2, 3])])
    else_g = h.make_graph([h.make_node("Neg", ["x"], ["e"])], "else", [], [vi("e", [2, 3])])
    nodes = [h.make_node("ReduceSum", ["x"], ["s"], keepdims=0),
             h.make_node("Greater", ["s", "zero"], ["c"]),
             h.make_node("If", ["c"], ["y"], then_branch=then_g, else_branch=else_g)]
    return graph_model(nodes, [vi("x", [2, 3])], [vi("y", [2, 3])],
                       [numpy_helper.from_array(np.array(0, np.float32), "zero")])


@pytest.mark.parametrize("optimize", [True, False, None])
def test_subgraph_plans_follow_optimize(optimize):
    m = _runtime_if()
    plan = dlo.load(m, optimize=optimize)
    x = np.random.RandomState(6).randn(2, 3).astype(np.float32)
    for v in (np.abs(x), -np.abs(x)):
        np.testing.assert_allclose(plan.run(v)[0], ort_run(m, {"x": v})[0], rtol=1e-6)
    built = next(iter(plan._plans.values()))[0]   # the cached plan both calls ran
    g = built if optimize is None else built.graph
    step = next(n for n in g.nodes if n.op == "PyFunction"
                and n.attrs["kwargs"].get("op") == "If")
    branches = step.attrs["kwargs"]["branches"]
    for br in branches:
        assert br.optimize is optimize
        if optimize is None:
            assert br._plan is None           # the reference interpreter, no plan
        else:
            assert br._plan is not None and br._plan._optimize is optimize


def test_int4_weights_from_external_data(tmp_path):
    rs = np.random.RandomState(8)
    w = rs.randint(-8, 8, size=(3, 5))
    packed = w.reshape(-1).astype(ml_dtypes.int4)
    t = h.make_tensor("w", T.INT4, (3, 5), packed, raw=True)
    data = t.raw_data
    (tmp_path / "w.bin").write_bytes(b"\xff" * 3 + data)   # at an offset
    t.ClearField("raw_data")
    t.data_location = T.EXTERNAL
    for k, v in (("location", "w.bin"), ("offset", "3"), ("length", str(len(data)))):
        e = t.external_data.add()
        e.key, e.value = k, v
    m = _model([h.make_node("Cast", ["w"], ["y"], to=T.FLOAT)], [], [vi("y", [3, 5])], [t])
    path = tmp_path / "m.onnx"
    path.write_bytes(m.SerializeToString())
    assert len(data) == 8                                   # 15 nibbles, packed
    np.testing.assert_array_equal(dlo.load(path).run()[0], w.astype(np.float32))
