"""AffineGrid (opset 20) in imported ONNX models: ONNX Runtime as the oracle, 2-D and 3-D,
both align_corners, `size` as an initializer and as a graph input (the value then picked up
at run time), and clear errors for a theta that does not fit the size.

A spatial size of 1 with align_corners=1 is where the spec's formula divides by zero: ONNX's
reference evaluator puts the point at -1, ONNX Runtime at +1; dlcore follows torch's
affine_grid (the centre, 0), checked against torch."""
import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")
from onnx import TensorProto, helper  # noqa: E402

import dlcore.onnx as dlonnx  # noqa: E402
from dlcore.onnx.errors import OnnxError  # noqa: E402


def _model(size, theta_shape, align, size_as_input=False):
    k = len(size) - 2
    node = helper.make_node("AffineGrid", ["theta", "size"], ["grid"], align_corners=align)
    ins = [helper.make_tensor_value_info("theta", TensorProto.FLOAT, list(theta_shape))]
    inits = []
    if size_as_input:
        ins.append(helper.make_tensor_value_info("size", TensorProto.INT64, [len(size)]))
    else:
        inits.append(helper.make_tensor("size", TensorProto.INT64, [len(size)], list(size)))
    out = helper.make_tensor_value_info("grid", TensorProto.FLOAT,
                                        [size[0]] + list(size[2:]) + [k])
    g = helper.make_graph([node], "g", ins, [out], initializer=inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 20)])
    m.ir_version = 9
    return m


@pytest.mark.parametrize("size", [(2, 3, 5, 7), (1, 1, 1, 4), (2, 1, 3, 4, 6), (1, 2, 1, 3, 5)])
@pytest.mark.parametrize("align", [0, 1])
@pytest.mark.parametrize("size_as_input", [False, True])
def test_matches_onnxruntime(size, align, size_as_input):
    k = len(size) - 2
    theta = np.random.default_rng(len(size) + align).standard_normal(
        (size[0], k, k + 1)).astype(np.float32)
    m = _model(size, theta.shape, align, size_as_input)
    feeds = {"theta": theta}
    if size_as_input:
        feeds["size"] = np.array(size, np.int64)
    if align and min(size[2:]) == 1:
        torch = pytest.importorskip("torch")
        want = torch.nn.functional.affine_grid(torch.from_numpy(theta), list(size),
                                               align_corners=True).numpy()
        got = np.asarray(dlonnx.load(m)(**feeds))
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
        return
    try:
        want = ort.InferenceSession(m.SerializeToString()).run(None, feeds)[0]
    except Exception as e:  # an onnxruntime without opset 20's AffineGrid
        pytest.skip("onnxruntime cannot run AffineGrid: %s" % str(e)[:80])
    got = np.asarray(dlonnx.load(m)(**feeds))
    assert got.shape == want.shape == (size[0],) + tuple(size[2:]) + (k,)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("size,theta_shape,match", [
    ((2, 3, 5, 7), (2, 3, 4), "theta must have shape"),
    ((2, 3, 5, 7), (3, 2, 3), "theta must have shape"),
    ((2, 3, 0, 7), (2, 2, 3), "spatial entries must be positive"),
    ((2, 3, 5), (2, 2, 3), "size must have 4|Length of input 'size'"),
])
def test_bad_theta_or_size_raises(size, theta_shape, match):
    m = _model(size, theta_shape, 0)
    with pytest.raises(OnnxError, match=match):  # at load or when the plan is made
        dlonnx.load(m)(theta=np.zeros(theta_shape, np.float32))
