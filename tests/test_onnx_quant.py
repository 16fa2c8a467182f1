"""ONNX quantized ops (dlcore/onnx/ops_quant.py): single-op models against ONNX Runtime, and
an MLP and a small CNN quantized by onnxruntime.quantization (quantize_dynamic; quantize_static
in the QDQ and QOperator formats) run by dl.onnx.load against ONNX Runtime on the same file."""
import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

import dlcore as dl  # noqa: E402
from _cpu_flags import int8_pairs_saturate  # noqa: E402

_NP = {np.dtype(np.float32): TensorProto.FLOAT, np.dtype(np.uint8): TensorProto.UINT8,
       np.dtype(np.int8): TensorProto.INT8, np.dtype(np.int32): TensorProto.INT32}


def _model(nodes, inputs, outputs, inits, opset=19):
    g = helper.make_graph(
        nodes, "t", [helper.make_tensor_value_info(n, _NP[np.dtype(a.dtype)], a.shape)
                     for n, a in inputs],
        [helper.make_tensor_value_info(n, dt, shape) for n, dt, shape in outputs],
        [numpy_helper.from_array(np.asarray(a), n) for n, a in inits])
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])


# Where ONNX Runtime's integer sums saturate (_cpu_flags), the oracle for models with integer
# products is onnx's reference evaluator.
_ORT_INT_PRODUCTS_EXACT = not int8_pairs_saturate()
_INT_PRODUCT_OPS = {"MatMulInteger", "ConvInteger", "QLinearConv", "QLinearMatMul"}


def _has_int_products(model):
    """Integer products ONNX Runtime runs on MLAS's u8 x s8 kernels: the integer ops, and in
    QDQ files a product fed by DequantizeLinear (which ONNX Runtime fuses into one)."""
    ops = {n.op_type for n in model.graph.node}
    return bool(ops & _INT_PRODUCT_OPS) or (
        "DequantizeLinear" in ops and bool(ops & {"MatMul", "Conv", "Gemm"}))


def _want(model, feeds):
    if not _ORT_INT_PRODUCTS_EXACT and _has_int_products(model):
        from onnx.reference import ReferenceEvaluator
        from onnx.version_converter import convert_version
        # the evaluator has DequantizeLinear from opset 19 (17's is the same op for these types)
        opset = max(o.version for o in model.opset_import if o.domain in ("", "ai.onnx"))
        return ReferenceEvaluator(convert_version(model, 21) if opset < 19 else model).run(
            None, dict(feeds))
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return sess.run(None, dict(feeds))


def _both(model, feeds):
    data = model.SerializeToString()
    want = _want(model, feeds)
    plan = dl.onnx.load(data)
    got = plan(*[a for _, a in feeds])
    got = [g.numpy() for g in (got if isinstance(got, (list, tuple)) else [got])]
    return got, want, plan


def _steps(plan, feeds):
    g = plan.graph(*[a for _, a in feeds])
    return [n.attrs["kwargs"]["op"] if n.op == "PyFunction" else n.op for n in g.nodes]


@pytest.mark.parametrize("dtype", [np.uint8, np.int8])
@pytest.mark.parametrize("per_axis", [False, True])
def test_quantize_dequantize_linear(dtype, per_axis):
    rng = np.random.default_rng(0)
    x = rng.normal(0, 3, (2, 3, 5)).astype(np.float32)
    x[0, 0, :4] = [0.5, 1.5, -0.5, -2.5]            # ties round to even
    x[1, 1, :2] = [1e9, -1e9]                         # saturation
    s = np.array([0.5, 0.25, 1.0], np.float32) if per_axis else np.array(0.5, np.float32)
    z = (np.array([3, -4, 0], dtype) if dtype == np.int8 else np.array([3, 200, 0], dtype)) \
        if per_axis else np.array(7, dtype)
    m = _model([helper.make_node("QuantizeLinear", ["x", "s", "z"], ["q"], axis=1),
                helper.make_node("DequantizeLinear", ["q", "s", "z"], ["y"], axis=1)],
               [("x", x)], [("q", _NP[np.dtype(dtype)], x.shape), ("y", TensorProto.FLOAT, x.shape)],
               [("s", s), ("z", z)])
    got, want, _ = _both(m, [("x", x)])
    assert got[0].dtype == dtype and np.array_equal(got[0], want[0])
    assert np.array_equal(got[1], want[1])


def test_dynamic_quantize_linear():
    x = np.random.default_rng(1).normal(0.5, 2, (4, 33)).astype(np.float32)
    m = _model([helper.make_node("DynamicQuantizeLinear", ["x"], ["y", "s", "z"])], [("x", x)],
               [("y", TensorProto.UINT8, x.shape), ("s", TensorProto.FLOAT, []),
                ("z", TensorProto.UINT8, [])], [])
    got, want, _ = _both(m, [("x", x)])
    assert np.array_equal(got[0], want[0])
    assert got[1] == pytest.approx(float(want[1]), rel=1e-7) and got[2] == want[2]


@pytest.mark.parametrize("wdtype,wz", [(np.int8, None), (np.int8, 0), (np.uint8, 131),
                                        (np.int8, -3)])
@pytest.mark.parametrize("adtype", [np.uint8, np.int8])
def test_matmul_integer(wdtype, wz, adtype):
    rng = np.random.default_rng(2)
    lo, hi = (0, 256) if adtype == np.uint8 else (-128, 128)
    a = rng.integers(lo, hi, (7, 37)).astype(adtype)
    a[0] = hi - 1
    w = rng.integers(-128, 128, (37, 13)).astype(wdtype) if wdtype == np.int8 else \
        rng.integers(0, 256, (37, 13)).astype(np.uint8)
    w[:, 0] = -128 if wdtype == np.int8 else 0
    ins, inits = ["a", "w", "az"], [("w", w), ("az", np.array(5, adtype))]
    if wz is not None:
        ins.append("wz")
        inits.append(("wz", np.array(wz, wdtype)))
    m = _model([helper.make_node("MatMulInteger", ins, ["y"])], [("a", a)],
               [("y", TensorProto.INT32, (7, 13))], inits)
    got, want, plan = _both(m, [("a", a)])
    assert np.array_equal(got[0], want[0])
    # constant symmetric int8 weights run on the int8 GEMM
    lowered = wdtype == np.int8 and not wz
    assert ("MatMulIntegerInt8" in _steps(plan, [("a", a)])) == lowered


@pytest.mark.parametrize("wdtype,wz", [(np.uint8, 100), (np.int8, 0)])
@pytest.mark.parametrize("dil", [1, 2])
def test_conv_integer(wdtype, wz, dil):
    rng = np.random.default_rng(3)
    x = rng.integers(0, 256, (2, 4, 9, 9)).astype(np.uint8)
    w = rng.integers(0, 256, (6, 2, 3, 3)).astype(np.uint8) if wdtype == np.uint8 else \
        rng.integers(-128, 128, (6, 2, 3, 3)).astype(np.int8)
    oh, ow = (9 + 2 - 2 * dil - 1) // 2 + 1, (9 + 2 - 2 * dil - 1) + 1
    m = _model([helper.make_node("ConvInteger", ["x", "w", "xz", "wz"], ["y"], group=2,
                                 pads=[1, 0, 1, 2], strides=[2, 1], dilations=[dil, dil])],
               [("x", x)], [("y", TensorProto.INT32, (2, 6, oh, ow))],
               [("w", w), ("xz", np.array(17, np.uint8)), ("wz", np.array(wz, wdtype))])
    got, want, plan = _both(m, [("x", x)])
    assert np.array_equal(got[0], want[0])
    assert ("ConvIntegerInt8" in _steps(plan, [("x", x)])) == (wdtype == np.int8)


def _qlinear_conv_model(rng, x, wdtype, group, per_channel, wz=0):
    OC, cg = 6, x.shape[1] // group
    w = rng.integers(-127, 128, (OC, cg, 3, 3)).astype(np.int8) if wdtype == np.int8 else \
        rng.integers(0, 256, (OC, cg, 3, 3)).astype(np.uint8)
    ws = rng.uniform(0.002, 0.01, OC if per_channel else 1).astype(np.float32)
    wzv = np.full(ws.shape, wz, wdtype)
    B = rng.integers(-2000, 2000, OC).astype(np.int32)
    xz = np.array(100 if x.dtype == np.uint8 else -20, x.dtype)
    yz = np.array(120 if x.dtype == np.uint8 else 5, x.dtype)
    inits = [("xs", np.array(0.05, np.float32)), ("xz", xz), ("w", w),
             ("ws", ws.reshape(-1) if per_channel else ws.reshape(())),
             ("wz", wzv.reshape(-1) if per_channel else wzv.reshape(())),
             ("ys", np.array(0.04, np.float32)), ("yz", yz), ("B", B)]
    node = helper.make_node("QLinearConv", ["x", "xs", "xz", "w", "ws", "wz", "ys", "yz", "B"],
                            ["y"], group=group, pads=[1, 1, 1, 1], strides=[1, 2])
    N, _, H, W = x.shape
    return _model([node], [("x", x)], [("y", _NP[x.dtype], (N, OC, H, (W + 1) // 2))], inits)


@pytest.mark.parametrize("xdtype", [np.uint8, np.int8])
@pytest.mark.parametrize("group,per_channel", [(1, False), (1, True), (2, True), (6, True)])
def test_qlinear_conv_int8_path(xdtype, group, per_channel, isa):
    rng = np.random.default_rng(4)
    lo, hi = (0, 256) if xdtype == np.uint8 else (-128, 128)
    x = rng.integers(lo, hi, (2, 6, 9, 11)).astype(xdtype)
    m = _qlinear_conv_model(rng, x, np.int8, group, per_channel)
    got, want, plan = _both(m, [("x", x)])
    assert "QLinearConvInt8" in _steps(plan, [("x", x)])
    d = np.abs(got[0].astype(int) - want[0].astype(int))
    assert d.max() <= 1 and (d == 0).mean() > 0.98


def test_qlinear_conv_reference_path_for_uint8_weights():
    rng = np.random.default_rng(5)
    x = rng.integers(0, 256, (1, 4, 6, 6)).astype(np.uint8)
    m = _qlinear_conv_model(rng, x, np.uint8, 2, True, wz=128)
    got, want, plan = _both(m, [("x", x)])
    assert "QLinearConv" in _steps(plan, [("x", x)])
    d = np.abs(got[0].astype(int) - want[0].astype(int))
    assert d.max() <= 1 and (d == 0).mean() > 0.98


@pytest.mark.parametrize("wdtype,wz", [(np.int8, 0), (np.uint8, 128)])
def test_qlinear_matmul(wdtype, wz):
    rng = np.random.default_rng(6)
    a = rng.integers(0, 256, (5, 40)).astype(np.uint8)
    w = rng.integers(-127, 128, (40, 9)).astype(np.int8) if wdtype == np.int8 else \
        rng.integers(0, 256, (40, 9)).astype(np.uint8)
    inits = [("as", np.array(0.02, np.float32)), ("az", np.array(128, np.uint8)), ("w", w),
             ("ws", np.array(0.01, np.float32)), ("wz", np.array(wz, wdtype)),
             ("ys", np.array(0.05, np.float32)), ("yz", np.array(110, np.uint8))]
    m = _model([helper.make_node("QLinearMatMul", ["a", "as", "az", "w", "ws", "wz", "ys", "yz"],
                                 ["y"])], [("a", a)], [("y", TensorProto.UINT8, (5, 9))], inits)
    got, want, plan = _both(m, [("a", a)])
    assert ("QLinearMatMulInt8" in _steps(plan, [("a", a)])) == (wdtype == np.int8)
    d = np.abs(got[0].astype(int) - want[0].astype(int))
    assert d.max() <= 1 and (d == 0).mean() > 0.98


# ---- whole models quantized by onnxruntime.quantization -------------------------------------
def _mlp(rng):
    W1, b1 = rng.normal(0, 0.3, (20, 33)), rng.normal(0, 0.1, 33)
    W2, b2 = rng.normal(0, 0.3, (33, 7)), rng.normal(0, 0.1, 7)
    inits = [(n, a.astype(np.float32)) for n, a in (("W1", W1), ("b1", b1), ("W2", W2),
                                                       ("b2", b2))]
    nodes = [helper.make_node("MatMul", ["x", "W1"], ["h0"]),
             helper.make_node("Add", ["h0", "b1"], ["h1"]), helper.make_node("Relu", ["h1"], ["h2"]),
             helper.make_node("MatMul", ["h2", "W2"], ["h3"]),
             helper.make_node("Add", ["h3", "b2"], ["y"])]
    return _model(nodes, [("x", np.zeros((4, 20), np.float32))],
                  [("y", TensorProto.FLOAT, (4, 7))], inits, opset=17), (4, 20)


def _cnn(rng):
    inits = [("w1", rng.normal(0, 0.3, (8, 3, 3, 3))), ("c1", rng.normal(0, 0.1, 8)),
             ("w2", rng.normal(0, 0.2, (12, 8, 3, 3))), ("c2", rng.normal(0, 0.1, 12)),
             ("dw", rng.normal(0, 0.3, (12, 1, 3, 3))), ("W", rng.normal(0, 0.2, (12 * 16, 5))),
             ("b", rng.normal(0, 0.1, 5))]
    inits = [(n, a.astype(np.float32)) for n, a in inits] + [("shape", np.array([0, -1]))]
    nodes = [helper.make_node("Conv", ["x", "w1", "c1"], ["a1"], pads=[1, 1, 1, 1]),
             helper.make_node("Relu", ["a1"], ["r1"]),
             helper.make_node("MaxPool", ["r1"], ["p1"], kernel_shape=[2, 2], strides=[2, 2]),
             helper.make_node("Conv", ["p1", "w2", "c2"], ["a2"], pads=[1, 1, 1, 1],
                              strides=[2, 2]),
             helper.make_node("Relu", ["a2"], ["r2"]),
             helper.make_node("Conv", ["r2", "dw"], ["d"], pads=[1, 1, 1, 1], group=12),
             helper.make_node("Reshape", ["d", "shape"], ["f"]),
             helper.make_node("MatMul", ["f", "W"], ["m"]),
             helper.make_node("Add", ["m", "b"], ["y"])]
    return _model(nodes, [("x", np.zeros((1, 3, 16, 16), np.float32))],
                  [("y", TensorProto.FLOAT, (1, 5))], inits, opset=17), (1, 3, 16, 16)


def _ort_quantized(tmp_path, make, how, act_type="QUInt8", per_channel=True):
    from onnxruntime.quantization import (CalibrationDataReader, QuantFormat, QuantType,
                                          quantize_dynamic, quantize_static)
    rng = np.random.default_rng(7)
    model, shape = make(rng)
    src, dst = str(tmp_path / "f.onnx"), str(tmp_path / "q.onnx")
    onnx.save(model, src)
    if how == "dynamic":
        quantize_dynamic(src, dst)
    else:
        batches = iter([{"x": rng.normal(size=shape).astype(np.float32)} for _ in range(8)])

        class Reader(CalibrationDataReader):
            def get_next(self):
                return next(batches, None)
        quantize_static(src, dst, Reader(), per_channel=per_channel,
                        quant_format=QuantFormat.QDQ if how == "QDQ" else QuantFormat.QOperator,
                        activation_type=getattr(QuantType, act_type),
                        weight_type=QuantType.QInt8, op_types_to_quantize=["Conv", "MatMul"])
    return onnx.load(dst), shape


@pytest.mark.parametrize("make", [_mlp, _cnn], ids=["mlp", "cnn"])
@pytest.mark.parametrize("how,act,per_channel", [
    ("dynamic", "QUInt8", True), ("QDQ", "QUInt8", True), ("QDQ", "QInt8", True),
    ("QDQ", "QUInt8", False), ("QOperator", "QUInt8", True), ("QOperator", "QInt8", True),
    ("QOperator", "QInt8", False)])
def test_onnxruntime_quantized_models(make, how, act, per_channel, tmp_path):
    import logging
    logging.getLogger().setLevel(logging.ERROR)
    model, shape = _ort_quantized(tmp_path, make, how, act, per_channel)
    ops = {n.op_type for n in model.graph.node}
    assert ops & {"QLinearConv", "QLinearMatMul", "MatMulInteger", "ConvInteger",
                  "QuantizeLinear"}
    x = np.random.default_rng(8).normal(size=shape).astype(np.float32)
    got, want, plan = _both(model, [("x", x)])
    # within one quantization step of the output (measured: equal on these models)
    assert np.abs(got[0] - want[0]).max() <= 0.02 * np.abs(want[0]).max()
    steps = _steps(plan, [("x", x)])
    if how in ("QOperator", "QDQ"):     # both formats run on the int8 kernels
        assert "QLinearMatMulInt8" in steps and "MatMul" not in steps
        if make is _cnn:
            assert "QLinearConvInt8" in steps
    if how == "dynamic":
        assert "MatMulIntegerInt8" in steps and "MatMulInteger" not in steps
        assert "ConvInteger" not in steps


def test_qdq_weight_codes_recovered():
    from dlcore.onnx.qdq import int8_codes
    rng = np.random.default_rng(9)
    q = rng.integers(-127, 128, (6, 10)).astype(np.int8)
    q[0, 0] = 127
    s = np.float32(0.0123)
    codes, scale = int8_codes(q.astype(np.float32) * s)       # per tensor
    assert np.array_equal(codes, q) and np.allclose(scale, s)
    q[:, 1] = -127
    sc = rng.uniform(0.01, 0.02, 6).astype(np.float32)
    codes, scale = int8_codes(q.astype(np.float32) * sc[:, None])  # per channel
    assert np.array_equal(codes, q) and np.allclose(scale, sc)
    w = rng.normal(size=(6, 10)).astype(np.float32)            # no grid: fresh quantization
    codes, scale = int8_codes(w)
    assert np.abs(codes * scale[:, None] - w).max() <= scale.max() / 2 + 1e-6
