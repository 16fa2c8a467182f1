"""More hostile ONNX files, each loaded and run in a child capped at 1 GiB of address space
(test_onnx_hostile.py's harness): sub-byte integer tensors that declare terabytes, point
past their external file or hold non-bytes in int32_data; Scan-8 with a hostile length or
sequence_lens; ops whose result size comes from constants (Resize scales, Tile repeats,
Range, Pad, ConvTranspose strides, TopK's K, Gather indices); a node reading its own output;
an If without branches.  Each must fail with a clear OnnxError / UnsupportedOpError naming
the problem before anything of the declared size is allocated."""
import re

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
from onnx import TensorProto as T, helper as h, numpy_helper as nh  # noqa: E402

from test_onnx_hostile import _model, _save, _vi, run_cases  # noqa: E402


def _ints(a, name):
    return nh.from_array(np.array(a, np.int64), name)


def _floats(a, name):
    return nh.from_array(np.array(a, np.float32), name)


def _raw(name, elem, dims, data):
    t = T()
    t.name, t.data_type = name, elem
    t.dims.extend(dims)
    t.raw_data = data
    return t


def _cast_of(init, opset=21):
    return _model([h.make_node("Cast", [init.name], ["y"], to=T.FLOAT)], [],
                  [_vi("y", list(init.dims))], [init], opset=opset)


def _cases(d):
    cases = []

    def add(name, m, feed, etype, pattern):
        cases.append((name, _save(m, d / (re.sub(r"\W+", "_", name) + ".onnx")), feed, etype,
                      pattern))

    add("int4 declaring a terabyte", _cast_of(_raw("w", T.INT4, [1 << 20, 1 << 20], b"\0" * 16)),
        None, "OnnxError", r"shape \[1048576, 1048576\] needs 1,099,511,627,776 bytes")
    add("int4 shorter than its dims", _cast_of(_raw("w", T.UINT4, [1000], b"\0" * 16)), None,
        "OnnxError", "raw data has 16 bytes; its shape \\[1000\\] of uint4 needs 500")
    ext = T()
    ext.name, ext.data_type, ext.data_location = "w", T.UINT4, T.EXTERNAL
    ext.dims.extend([1 << 31])
    for k, v in (("location", "w4.bin"), ("offset", "0"), ("length", str(1 << 30))):
        e = ext.external_data.add()
        e.key, e.value = k, v
    with open(d / "w4.bin", "wb") as f:
        f.write(b"\0" * 16)
    add("uint4 external reference past its file", _cast_of(ext), None, "OnnxError",
        "asks for 1,073,741,824 bytes at offset 0 of 'w4.bin', which has 16 bytes")
    bad = T()
    bad.name, bad.data_type = "w", T.INT4
    bad.dims.extend([3])
    bad.int32_data.extend([1 << 20, 3])
    add("int4 int32_data holding more than bytes", _cast_of(bad), None, "OnnxError",
        r"int32_data of a packed int4 tensor must hold bytes")

    body = h.make_graph([h.make_node("Add", ["s", "a"], ["s2"]),
                         h.make_node("Identity", ["s2"], ["o"])], "b",
                        [_vi("s", [2]), _vi("a", [2])], [_vi("s2", [2]), _vi("o", [2])])
    scan = _model([h.make_node("Scan", ["", "s0", "A"], ["s", "Y"], body=body,
                               num_scan_inputs=1)],
                  [_vi("s0", [1, 2]), _vi("A", [1, "n", 2])],
                  [_vi("s", [1, 2]), _vi("Y", [1, "n", 2])], opset=8)
    add("Scan-8 of 100000 steps", scan, {"s0": [[1, 2], "float32"], "A": [[1, 100000, 2],
                                                                           "float32"]},
        "UnsupportedOpError", "a Scan of 100000 steps over a 2-node body")
    lens = _model([h.make_node("Scan", ["L", "s0", "A"], ["s", "Y"], body=body,
                               num_scan_inputs=1)],
                  [_vi("s0", [1, 2]), _vi("A", [1, 4, 2])],
                  [_vi("s", [1, 2]), _vi("Y", [1, 4, 2])], [_ints([-5], "L")], opset=8)
    add("Scan-8 negative sequence_lens", lens, {"s0": [[1, 2], "float32"],
                                                "A": [[1, 4, 2], "float32"]},
        "OnnxError", r"sequence_lens \[-5\] must hold 1 lengths in \[1, 4\]")

    x22 = {"x": [[1, 1, 2, 2], "float32"]}
    add("Resize by a million", _model([h.make_node("Resize", ["x", "", "s"], ["y"])],
                                      [_vi("x", [1, 1, 2, 2])], [_vi("y", list("abcd"))],
                                      [_floats([1, 1, 1e6, 1e6], "s")]),
        x22, "OnnxError", r"Resize.*needs 16,000,000,000,000 bytes")
    add("Tile by 2^20 x 2^20", _model([h.make_node("Tile", ["x", "r"], ["y"])],
                                      [_vi("x", [2, 2])], [_vi("y", list("ab"))],
                                      [_ints([1 << 20, 1 << 20], "r")]),
        {"x": [[2, 2], "float32"]}, "OnnxError", "Tile: a result of shape")
    add("Range of 10^12", _model([h.make_node("Range", ["a", "b", "c"], ["y"])], [],
                                 [_vi("y", ["n"])],
                                 [_floats(0, "a"), _floats(1e12, "b"), _floats(1, "c")]),
        {}, "OnnxError", "Range: a result of shape")
    add("Pad by 2^20", _model([h.make_node("Pad", ["x", "p"], ["y"])], [_vi("x", [2, 2])],
                              [_vi("y", list("ab"))], [_ints([0, 0, 1 << 20, 1 << 20], "p")]),
        {"x": [[2, 2], "float32"]}, "OnnxError", "Pad: a result of shape")
    add("ConvTranspose stride 2^15", _model(
        [h.make_node("ConvTranspose", ["x", "w"], ["y"], strides=[1 << 15, 1 << 15])],
        [_vi("x", [1, 1, 4, 4])], [_vi("y", list("abcd"))],
        [_floats(np.ones((1, 1, 3, 3)), "w")]),
        {"x": [[1, 1, 4, 4], "float32"]}, "OnnxError", "ConvTranspose: a result of shape")
    add("TopK of 2^40", _model([h.make_node("TopK", ["x", "k"], ["v", "i"])], [_vi("x", [4])],
                               [_vi("v", ["k"]), _vi("i", ["k"], T.INT64)],
                               [_ints([1 << 40], "k")]),
        {"x": [[4], "float32"]}, "OnnxError",
        "K=1099511627776 is out of range|shape_inference rejects")
    add("Gather past the end", _model([h.make_node("Gather", ["x", "i"], ["y"])],
                                      [_vi("x", [4])], [_vi("y", [1])],
                                      [_ints([1 << 40], "i")]),
        {"x": [[4], "float32"]}, "OnnxError",
        "indices out of range for dim 0 of size 4|shape_inference rejects")
    add("node reading its own output", _model([h.make_node("Add", ["x", "y"], ["y"])],
                                              [_vi("x", [2])], [_vi("y", [2])]),
        None, "OnnxError", r"cycle: node 0 \(Add\) -> node 0 \(Add\)")
    add("If without branches", _model([h.make_node("If", ["c"], ["y"])],
                                      [_vi("c", [], T.BOOL)], [_vi("y", [2])]),
        None, "OnnxError", "(then|else)_branch' is missing")
    return cases


def test_more_hostile_files_fail_clearly_in_bounded_memory(tmp_path):
    cases = _cases(tmp_path)
    results = run_cases(cases)
    bad = [(name, results[path]) for name, path, _, etype, pattern in cases
           if not re.fullmatch(etype, results[path][0]) or
           not re.search(pattern, results[path][1])]
    assert not bad, bad
