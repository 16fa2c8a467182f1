"""MaxPool's second output (Indices, storage_order 0 and 1) against ONNX Runtime, on odd
sizes, with padding, strides, dilations and ceil mode; ties resolved as ORT does."""
import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")
from onnx import TensorProto as T, helper as h  # noqa: E402

import dlcore.onnx as dlo  # noqa: E402


def _model(shape, **attrs):
    node = h.make_node("MaxPool", ["x"], ["y", "i"], **attrs)
    dims = ["d%d" % k for k in range(len(shape))]
    g = h.make_graph([node], "m", [h.make_tensor_value_info("x", T.FLOAT, shape)],
                     [h.make_tensor_value_info("y", T.FLOAT, dims),
                      h.make_tensor_value_info("i", T.INT64, dims)])
    m = h.make_model(g, opset_imports=[h.make_opsetid("", 17)])
    m.ir_version = 8
    return m


CASES = [
    ((1, 1, 7, 7), dict(kernel_shape=[3, 3])),
    ((2, 3, 9, 8), dict(kernel_shape=[3, 2], strides=[2, 2], pads=[1, 0, 1, 1])),
    ((2, 3, 9, 8), dict(kernel_shape=[3, 2], strides=[2, 2], pads=[1, 0, 1, 1],
                        storage_order=1)),
    ((1, 2, 10, 11), dict(kernel_shape=[2, 3], strides=[3, 2], ceil_mode=1)),
    ((1, 2, 10, 11), dict(kernel_shape=[2, 2], dilations=[2, 3])),
    ((1, 2, 10, 11), dict(kernel_shape=[3, 3], auto_pad="SAME_UPPER", storage_order=1)),
    ((2, 3, 17), dict(kernel_shape=[4], strides=[3], pads=[2, 1])),
]


@pytest.mark.parametrize("shape,attrs", CASES)
def test_maxpool_indices_match_onnxruntime(shape, attrs):
    m = _model(shape, **attrs)
    x = np.random.RandomState(len(shape) + sum(shape)).randn(*shape).astype(np.float32)
    want = ort.InferenceSession(m.SerializeToString(),
                                providers=["CPUExecutionProvider"]).run(None, {"x": x})
    got = dlo.load(m).run(x)
    np.testing.assert_array_equal(got[0], want[0])
    np.testing.assert_array_equal(got[1], want[1])
    assert got[1].dtype == np.int64


def test_ties_take_the_first_element():
    m = _model((1, 1, 4, 4), kernel_shape=[2, 2], strides=[2, 2])
    x = np.zeros((1, 1, 4, 4), np.float32)
    want = ort.InferenceSession(m.SerializeToString(),
                                providers=["CPUExecutionProvider"]).run(None, {"x": x})
    np.testing.assert_array_equal(dlo.load(m).run(x)[1], want[1])


def test_bad_storage_order_is_an_error():
    m = _model((1, 1, 4, 4), kernel_shape=[2, 2], storage_order=3)
    with pytest.raises(dlo.OnnxError, match="storage_order"):
        dlo.load(m, check=False).run(np.zeros((1, 1, 4, 4), np.float32))
