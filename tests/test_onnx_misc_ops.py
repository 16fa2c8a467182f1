"""LpPool, LpNormalization, Det, Col2Im and BitCast against ONNX Runtime (or NumPy where ORT
lacks the op) on odd sizes; inputs that do not fit raise OnnxError."""
import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")
from onnx import TensorProto as T, helper as h, numpy_helper  # noqa: E402

import dlcore.onnx as dlo  # noqa: E402


def _model(node, inputs, n_out_dims, inits=(), opset=18, out_type=T.FLOAT):
    outs = [h.make_tensor_value_info(o, out_type, ["d%d" % k for k in range(n_out_dims)])
            for o in node.output]
    g = h.make_graph([node], "m", inputs, outs, initializer=list(inits))
    m = h.make_model(g, opset_imports=[h.make_opsetid("", opset)])
    m.ir_version = 8
    return m


def _vi(name, shape, t=T.FLOAT):
    return h.make_tensor_value_info(name, t, shape)


def _check(m, feed, rtol=1e-5):
    want = ort.InferenceSession(m.SerializeToString(),
                                providers=["CPUExecutionProvider"]).run(None, feed)
    got = dlo.load(m).run(**feed)
    for a, b in zip(got, want):
        np.testing.assert_allclose(a, b, rtol=rtol, atol=1e-5)


@pytest.mark.parametrize("shape,attrs", [
    ((1, 2, 7, 9), dict(kernel_shape=[3, 2], p=2)),
    ((2, 3, 8, 7), dict(kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 0], p=3)),
    ((2, 3, 11), dict(kernel_shape=[4], strides=[3], p=1)),
])
def test_lppool(shape, attrs):
    x = np.random.RandomState(sum(shape)).randn(*shape).astype(np.float32)
    _check(_model(h.make_node("LpPool", ["x"], ["y"], **attrs), [_vi("x", shape)], len(shape)),
           {"x": x})


@pytest.mark.parametrize("axis,p", [(-1, 2), (0, 1), (1, 2)])
def test_lpnormalization(axis, p):
    x = np.random.RandomState(7).randn(3, 5, 4).astype(np.float32)
    m = _model(h.make_node("LpNormalization", ["x"], ["y"], axis=axis, p=p),
               [_vi("x", [3, 5, 4])], 3)
    _check(m, {"x": x})


def test_det():
    x = np.random.RandomState(1).randn(2, 3, 4, 4).astype(np.float32)
    _check(_model(h.make_node("Det", ["x"], ["y"]), [_vi("x", [2, 3, 4, 4])], 2), {"x": x},
           rtol=1e-4)


@pytest.mark.parametrize("image,block,attrs", [
    ((5, 6), (2, 3), {}),
    ((7, 5), (3, 2), dict(strides=[2, 1], pads=[1, 0, 1, 1], dilations=[1, 2])),
])
def test_col2im(image, block, attrs):
    nd = len(image)
    strides = attrs.get("strides", [1] * nd)
    dil = attrs.get("dilations", [1] * nd)
    pads = attrs.get("pads", [0] * 2 * nd)
    L = 1
    for i in range(nd):
        L *= (image[i] + pads[i] + pads[nd + i] - (block[i] - 1) * dil[i] - 1) // strides[i] + 1
    C = 2
    x = np.random.RandomState(2).randn(3, C * int(np.prod(block)), L).astype(np.float32)
    inits = [numpy_helper.from_array(np.array(image, np.int64), "image"),
             numpy_helper.from_array(np.array(block, np.int64), "block")]
    m = _model(h.make_node("Col2Im", ["x", "image", "block"], ["y"], **attrs),
               [_vi("x", list(x.shape))], 4, inits)
    _check(m, {"x": x})


def test_col2im_columns_that_do_not_fit_are_an_error():
    inits = [numpy_helper.from_array(np.array([5, 6], np.int64), "image"),
             numpy_helper.from_array(np.array([2, 3], np.int64), "block")]
    m = _model(h.make_node("Col2Im", ["x", "image", "block"], ["y"]), [_vi("x", [1, 12, 7])],
               4, inits)
    with pytest.raises(dlo.OnnxError, match="must be"):
        dlo.load(m, check=False).run(np.zeros((1, 12, 7), np.float32))


def test_det_of_a_non_square_matrix_is_an_error():
    m = _model(h.make_node("Det", ["x"], ["y"]), [_vi("x", [3, 4])], 0)
    with pytest.raises(dlo.OnnxError, match="M, M"):
        dlo.load(m, check=False).run(np.zeros((3, 4), np.float32))


def test_bitcast_matches_a_numpy_view():
    m = _model(h.make_node("BitCast", ["x"], ["y"], to=T.INT32), [_vi("x", [2, 3])], 2,
               opset=26, out_type=T.INT32)
    x = np.random.RandomState(0).randn(2, 3).astype(np.float32)
    np.testing.assert_array_equal(dlo.load(m).run(x)[0], x.view(np.int32))


def test_bitcast_between_sizes_is_an_error():
    m = _model(h.make_node("BitCast", ["x"], ["y"], to=T.INT64), [_vi("x", [2])], 1,
               opset=26, out_type=T.INT64)
    with pytest.raises(dlo.OnnxError, match="one size"):
        dlo.load(m, check=False).run(np.zeros(2, np.float32))


@pytest.mark.parametrize("last,attrs,n", [(1, dict(axis=1), None), (2, dict(axis=2), 6),
                                          (1, dict(axis=1, onesided=1), None),
                                          (2, dict(axis=1, inverse=1), None)])
def test_dft_opset17(last, attrs, n):
    x = np.random.RandomState(5).randn(2, 7, 5, last).astype(np.float32)
    ins = ["x"]
    inits = []
    if n is not None:
        ins.append("n")
        inits.append(numpy_helper.from_array(np.array(n, np.int64), "n"))
    m = _model(h.make_node("DFT", ins, ["y"], **attrs), [_vi("x", list(x.shape))], 4, inits,
               opset=17)
    _check(m, {"x": x}, rtol=1e-4)


def test_dft_of_a_bad_layout_is_an_error():
    m = _model(h.make_node("DFT", ["x"], ["y"]), [_vi("x", [2, 7, 3])], 3, opset=17)
    with pytest.raises(dlo.OnnxError, match="real or"):
        dlo.load(m, check=False).run(np.zeros((2, 7, 3), np.float32))
