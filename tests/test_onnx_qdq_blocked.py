"""Blocked QuantizeLinear / DequantizeLinear (opset 21 block_size) and output_dtype against
ONNX Runtime on odd sizes (a last block shorter than block_size), with scale / zero point
shapes that do not fit raising OnnxError."""
import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")
from onnx import TensorProto as T, helper as h, numpy_helper  # noqa: E402

import dlcore.onnx as dlo  # noqa: E402


def _model(op, x_shape, x_type, out_type, s, zp, opset=21, **attrs):
    inits = [numpy_helper.from_array(s, "s")]
    ins = ["x", "s"]
    if zp is not None:
        inits.append(numpy_helper.from_array(zp, "zp"))
        ins.append("zp")
    g = h.make_graph([h.make_node(op, ins, ["y"], **attrs)], "m",
                     [h.make_tensor_value_info("x", x_type, x_shape)],
                     [h.make_tensor_value_info("y", out_type, x_shape)], initializer=inits)
    m = h.make_model(g, opset_imports=[h.make_opsetid("", opset)])
    m.ir_version = 10
    return m


def _ort(m, x):
    s = ort.InferenceSession(m.SerializeToString(), providers=["CPUExecutionProvider"])
    return s.run(None, {"x": x})[0]


@pytest.mark.parametrize("shape,axis,bs", [((5, 7), 1, 3), ((6, 4), 0, 4), ((2, 9, 3), 1, 2)])
@pytest.mark.parametrize("qtype", [np.uint8, np.int8])
def test_blocked_quantize_and_dequantize_match_onnxruntime(shape, axis, bs, qtype):
    rs = np.random.RandomState(sum(shape) + bs)
    sshape = list(shape)
    sshape[axis] = -(-shape[axis] // bs)
    s = (rs.rand(*sshape) * 0.1 + 0.01).astype(np.float32)
    lo, hi = np.iinfo(qtype).min, np.iinfo(qtype).max
    zp = rs.randint(lo // 4 + hi // 4, hi // 2, size=sshape).astype(qtype)
    x = (rs.randn(*shape) * 3).astype(np.float32)
    tt = T.UINT8 if qtype == np.uint8 else T.INT8
    q = _model("QuantizeLinear", shape, T.FLOAT, tt, s, zp, axis=axis, block_size=bs)
    got = dlo.load(q).run(x)[0]
    np.testing.assert_array_equal(got, _ort(q, x))
    dq = _model("DequantizeLinear", shape, tt, T.FLOAT, s, zp, axis=axis, block_size=bs)
    np.testing.assert_allclose(dlo.load(dq).run(got)[0], _ort(dq, got), rtol=1e-6, atol=0)


def test_dequantize_output_dtype_float16():
    s = np.array([0.5, 0.25, 2.0], np.float32)
    m = _model("DequantizeLinear", [2, 3], T.INT8, T.FLOAT16, s, None, opset=23, axis=1,
               output_dtype=T.FLOAT16)
    x = np.array([[1, -2, 3], [127, -128, 0]], np.int8)
    got = dlo.load(m).run(x)[0]
    assert got.dtype == np.float16
    np.testing.assert_array_equal(got, (x * s).astype(np.float16))


def test_blocked_scale_of_the_wrong_shape_is_an_error():
    s = np.ones((5, 2), np.float32)   # x (5, 7) in blocks of 3 along axis 1 needs (5, 3)
    m = _model("QuantizeLinear", [5, 7], T.FLOAT, T.UINT8, s, None, axis=1, block_size=3)
    with pytest.raises(dlo.OnnxError, match=r"needs a scale of shape \(5, 3\)"):
        dlo.load(m, check=False).run(np.zeros((5, 7), np.float32))


def test_negative_block_size_is_an_error():
    s = np.ones((5, 3), np.float32)
    m = _model("DequantizeLinear", [5, 7], T.UINT8, T.FLOAT, s, None, axis=1, block_size=-3)
    with pytest.raises(dlo.OnnxError, match="block_size"):
        dlo.load(m, check=False).run(np.zeros((5, 7), np.uint8))
