"""Einsum, GridSample and CumProd in imported ONNX models (ONNX's conformance cases skipped
them as unimplemented): ONNX Runtime as the oracle on random inputs, dynamic shapes included,
and the einsum shape rules against NumPy."""
import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")
from onnx import TensorProto, helper  # noqa: E402

import dlcore.onnx as dlonnx  # noqa: E402
from dlcore.onnx.ops_extra import einsum_output_shape  # noqa: E402


def _model(node, inputs, out_rank, opset=17):
    ins = [helper.make_tensor_value_info(n, TensorProto.FLOAT, ["d%d_%d" % (i, j)
                                                                for j in range(len(s))])
           for i, (n, s) in enumerate(inputs)]
    outs = [helper.make_tensor_value_info("y", TensorProto.FLOAT,
                                          ["o%d" % j for j in range(out_rank)])]
    g = helper.make_graph([node], "g", ins, outs)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])
    m.ir_version = 8
    return m


def _both(m, feeds):
    want = ort.InferenceSession(m.SerializeToString()).run(None, feeds)[0]
    got = dlonnx.load(m)(**feeds)
    got = got[0] if isinstance(got, (list, tuple)) else got
    return np.asarray(got), want


@pytest.mark.parametrize("eq,shapes", [
    ("bij,bjk->bik", [(2, 3, 4), (2, 4, 5)]),
    ("...ij,...jk", [(3, 1, 4, 5), (1, 2, 5, 3)]),
    ("ij->", [(3, 4)]),
    ("ii->i", [(4, 4)]),
    ("bhqd,bhkd->bhqk", [(1, 2, 3, 8), (1, 2, 5, 8)]),
    ("i,j", [(3,), (4,)]),
])
def test_einsum_matches_ort(eq, shapes):
    rng = np.random.default_rng(0)
    names = ["x%d" % i for i in range(len(shapes))]
    feeds = {n: rng.standard_normal(s).astype(np.float32) for n, s in zip(names, shapes)}
    m = _model(helper.make_node("Einsum", names, ["y"], equation=eq), list(zip(names, shapes)),
               np.einsum(eq, *feeds.values()).ndim, opset=12)
    got, want = _both(m, feeds)
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)
    assert einsum_output_shape(eq, shapes) == np.einsum(eq, *feeds.values()).shape


def test_einsum_shape_errors_name_the_problem():
    with pytest.raises(ValueError, match="2 operand terms for 1"):
        einsum_output_shape("ij,jk->ik", [(2, 3)])
    with pytest.raises(ValueError, match="label 'j' has sizes 3 and 4"):
        einsum_output_shape("ij,jk->ik", [(2, 3), (4, 5)])
    with pytest.raises(ValueError, match="output label 'z'"):
        einsum_output_shape("ij->z", [(2, 3)])
    with pytest.raises(ValueError, match="does not fit"):
        einsum_output_shape("ij->i", [(2, 3, 4)])


@pytest.mark.parametrize("mode,opset", [("bilinear", 16), ("nearest", 16), ("bicubic", 16),
                                        ("linear", 20), ("cubic", 20)])
@pytest.mark.parametrize("pad", ["zeros", "border", "reflection"])
@pytest.mark.parametrize("align", [0, 1])
def test_grid_sample_matches_ort(mode, opset, pad, align):
    rng = np.random.default_rng(1)
    x = rng.standard_normal((2, 3, 5, 6)).astype(np.float32)
    grid = rng.uniform(-1.3, 1.3, (2, 4, 7, 2)).astype(np.float32)
    m = _model(helper.make_node("GridSample", ["x", "g"], ["y"], mode=mode, padding_mode=pad,
                                align_corners=align), [("x", x.shape), ("g", grid.shape)],
               4, opset=opset)
    got, want = _both(m, {"x": x, "g": grid})
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)


def test_grid_sample_refuses_what_it_cannot_do():
    m = _model(helper.make_node("GridSample", ["x", "g"], ["y"], mode="cubic"),
               [("x", (1, 1, 2, 3, 4)), ("g", (1, 2, 2, 2, 3))], 5, opset=20)
    plan = dlonnx.load(m)
    with pytest.raises(dlonnx.UnsupportedOpError, match="cubic sampling of a 5-D input"):
        plan(x=np.zeros((1, 1, 2, 3, 4), np.float32), g=np.zeros((1, 2, 2, 2, 3), np.float32))
