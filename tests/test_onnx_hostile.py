"""Malformed and hostile ONNX files get a clear error, never a crash, a hang or a huge
allocation: each is loaded (and run) in a child process whose address space is capped at
1 GiB (RLIMIT_AS) and which must finish in time; a file that made dlcore allocate what it
declares would fail there with MemoryError instead of the expected message."""
import json
import os
import re
import subprocess
import sys

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

import dlcore  # noqa: E402
from _onnx_build import graph_model as _model, vi as _vi  # noqa: E402,F401

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(dlcore.__file__)))
LIMIT = 1 << 30

CHILD = r"""
import json, resource, sys
resource.setrlimit(resource.RLIMIT_AS, (%d, %d))
import numpy as np
import dlcore as dl
import dlcore.onnx
for path, feed in json.loads(sys.argv[1]):
    try:
        plan = dl.onnx.load(path)
        if feed is not None:
            plan.run(**{k: np.zeros(s, np.dtype(d)) for k, (s, d) in feed.items()})
        print(json.dumps([path, "no error", ""]))
    except Exception as e:
        print(json.dumps([path, type(e).__name__, str(e)]))
""" % (LIMIT, LIMIT)


def _save(m, path):
    with open(path, "wb") as f:
        f.write(m.SerializeToString())   # no checks on the way out: the file is the attack
    return str(path)


def _external(name, dims, location, length):
    t = TensorProto()
    t.name, t.data_type = name, TensorProto.FLOAT
    t.dims.extend(dims)
    t.data_location = TensorProto.EXTERNAL
    for k, v in (("location", location), ("offset", "0"), ("length", str(length))):
        e = t.external_data.add()
        e.key, e.value = k, v
    return t


def _cases(d):
    """[(name, path, feed or None, expected error type, message regex)]."""
    cases = []
    x, y = _vi("x", [2, 3]), _vi("y", [2, 3])

    cyc = _model([helper.make_node("Add", ["x", "b"], ["a"]), helper.make_node("Relu", ["a"],
                                                                                ["b"])],
                 [x], [_vi("b", [2, 3])])
    cases.append(("cycle", _save(cyc, d / "cycle.onnx"), None, "OnnxError",
                  "cycle: node 0 \\(Add\\) -> node 1 \\(Relu\\)|cycle"))

    miss = _model([helper.make_node("MatMul", ["x", "w"], ["y"])], [x], [y])
    cases.append(("missing initializer", _save(miss, d / "missing.onnx"), None, "OnnxError",
                  "reads 'w', which no graph input, initializer or node defines"))

    w = numpy_helper.from_array(np.ones((4, 5), np.float32), "w")
    chain = _model([helper.make_node("MatMul", ["x", "w"], ["y"])], [x], [_vi("y", [2, 5])],
                   [w])
    cases.append(("shapes that do not chain", _save(chain, d / "chain.onnx"), None,
                  "OnnxError", "shape_inference rejects the model.*Incompatible dimensions"))

    w3 = numpy_helper.from_array(np.ones((5, 2), np.float32), "w")
    dyn = _model([helper.make_node("MatMul", ["x", "w"], ["y"])], [_vi("x", ["n", "k"])],
                 [_vi("y", ["n", 2])], [w3])
    cases.append(("shapes that do not chain at run time", _save(dyn, d / "dyn.onnx"),
                  {"x": [[2, 3], "float32"]}, "OnnxError",
                  "node 0 \\(MatMul.*inner dims of \\(2, 3\\) and \\(5, 2\\) differ"))

    with open(d / "w.bin", "wb") as f:
        f.write(b"\0" * 16)
    big = _model([helper.make_node("Add", ["x", "w"], ["y"])], [_vi("x", [1 << 29])],
                 [_vi("y", [1 << 29])], [_external("w", [1 << 29], "w.bin", 1 << 31)])
    cases.append(("2 GB external data reference", _save(big, d / "big.onnx"), None,
                  "OnnxError", "asks for 2,147,483,648 bytes at offset 0 of 'w.bin', which "
                  "has 16 bytes"))

    esc = _model([helper.make_node("Add", ["x", "w"], ["y"])], [x], [y],
                 [_external("w", [2, 3], "../../etc/passwd", 24)])
    cases.append(("external data out of the folder", _save(esc, d / "escape.onnx"), None,
                  "OnnxError", "leads out of the model's folder"))

    raw = TensorProto()
    raw.name, raw.data_type = "w", TensorProto.FLOAT
    raw.dims.extend([1 << 20, 1 << 20])
    raw.raw_data = b"\0" * 16
    huge = _model([helper.make_node("Add", ["x", "w"], ["y"])], [x], [y], [raw])
    cases.append(("huge declared initializer", _save(huge, d / "huge.onnx"), None,
                  "OnnxError", "needs 4,398,046,511,104 bytes, over the limit"))

    raw2 = TensorProto()
    raw2.name, raw2.data_type = "w", TensorProto.FLOAT
    raw2.dims.extend([1000, 1000])
    raw2.raw_data = b"\0" * 16
    short = _model([helper.make_node("Add", ["x", "w"], ["y"])], [x], [y], [raw2])
    cases.append(("initializer shorter than its dims", _save(short, d / "short.onnx"), None,
                  "OnnxError", "raw data has 16 bytes; its shape \\[1000, 1000\\] of float32 "
                  "needs 4,000,000"))

    shape = numpy_helper.from_array(np.array([1 << 20, 1 << 20], np.int64), "s")
    cos = _model([helper.make_node("ConstantOfShape", ["s"], ["c"]),
                  helper.make_node("Add", ["x", "c"], ["y"])], [_vi("x", [1])],
                 [_vi("y", [1 << 20, 1 << 20])], [shape])
    cases.append(("huge ConstantOfShape", _save(cos, d / "cos.onnx"), {"x": [[1], "float32"]},
                  "OnnxError", "ConstantOfShape: .* needs 4,398,046,511,104 bytes"))

    target = numpy_helper.from_array(np.array([1 << 16, 1 << 16, 64], np.int64), "t")
    exp = _model([helper.make_node("Expand", ["x", "t"], ["y"])], [_vi("x", ["n", 1, 1])],
                 [_vi("y", [1 << 16, 1 << 16, 64])], [target])
    cases.append(("huge Expand of an input", _save(exp, d / "expand.onnx"),
                  {"x": [[1, 1, 1], "float32"]}, "OnnxError", "Expand: a result of shape"))

    decl = _model([helper.make_node("Relu", ["x"], ["y"])], [_vi("x", [10 ** 12, 10 ** 12])],
                  [_vi("y", [10 ** 12, 10 ** 12])])
    cases.append(("huge declared input dims", _save(decl, d / "decl.onnx"),
                  {"x": [[2, 2], "float32"]}, "ValueError",
                  "input 'x' must have size 1000000000000 in dim 0"))

    with open(d / "garbage.onnx", "wb") as f:
        f.write(b"\x08\x07\x12\xff\xff\xff\xff\x0f" + os.urandom(64))
    cases.append(("garbage bytes", str(d / "garbage.onnx"), None, "OnnxError",
                  "is not an ONNX model"))

    unsup = _model([helper.make_node("Loop", ["n", "c"], ["y"], body=helper.make_graph(
        [], "b", [], []))], [_vi("n", [], TensorProto.INT64), _vi("c", [], TensorProto.BOOL)],
        [y])
    cases.append(("unsupported op", _save(unsup, d / "loop.onnx"), None, "OnnxError|"
                  "UnsupportedOpError", "Loop"))
    depth = numpy_helper.from_array(np.array(1 << 40, np.int64), "d")
    vals = numpy_helper.from_array(np.array([0, 1], np.float32), "v")
    onehot = _model([helper.make_node("OneHot", ["i", "d", "v"], ["y"])],
                    [_vi("i", [3], TensorProto.INT64)], [_vi("y", ["a", "b"])], [depth, vals])
    cases.append(("huge OneHot depth", _save(onehot, d / "onehot.onnx"),
                  {"i": [[3], "int64"]}, "OnnxError", "OneHot: a result of shape"))

    newer = _model([helper.make_node("Relu", ["x"], ["y"])], [x], [y], opset=10 ** 6)
    cases.append(("opset newer than onnx knows", _save(newer, d / "newer.onnx"), None,
                  "UnsupportedOpError", "imports opset 1000000 .* knows opsets up to"))
    return cases


def _chain(n):
    nodes = [helper.make_node("Relu", ["x" if i == 0 else "a%d" % (i - 1)],
                              ["a%d" % i if i < n - 1 else "y"]) for i in range(n)]
    return _model(nodes, [_vi("x", [2, 3])], [_vi("y", [2, 3])])


def test_long_chain_plans_in_linear_work(monkeypatch):
    """A chain of Relus reuses one buffer; the planner's liveness check looked at every value
    ever stored in it at each node (quadratic: 20,000 nodes took minutes).  Counted, not
    timed: the look-ups per node must not grow with the chain."""
    import dlcore.onnx as dlonnx
    from dlcore.jit import lowering

    class Counting(dict):
        n = 0

        def get(self, *a):
            Counting.n += 1
            return dict.get(self, *a)

    init = lowering.Lowerer.__init__

    def counted_init(self, *a, **k):
        init(self, *a, **k)
        self.last_use = Counting(self.last_use)
    monkeypatch.setattr(lowering.Lowerer, "__init__", counted_init)
    per_node = []
    for n in (1000, 4000):
        Counting.n = 0
        out = dlonnx.load(_chain(n)).run(x=np.full((2, 3), -1.0, np.float32))
        out = out[0] if isinstance(out, (list, tuple)) else out
        np.testing.assert_array_equal(np.asarray(out), np.zeros((2, 3), np.float32))
        per_node.append(Counting.n / n)
    assert per_node[1] < 1.5 * per_node[0] + 2, per_node


def run_cases(cases):
    """Load (and feed) every case's file in one child under the memory limit: {path: (error
    type name, message)}."""
    arg = json.dumps([[path, feed] for _, path, feed, _, _ in cases])
    r = subprocess.run([sys.executable, "-c", CHILD, arg], cwd=ROOT, capture_output=True,
                       text=True, timeout=180)
    assert r.returncode == 0, r.stderr[-2000:]
    return {p: (t, m) for p, t, m in (json.loads(line) for line in r.stdout.splitlines()
                                      if line.startswith("["))}


def test_hostile_files_fail_clearly_in_bounded_memory(tmp_path):
    cases = _cases(tmp_path)
    results = run_cases(cases)
    for name, path, _, etype, pattern in cases:
        t, msg = results[path]
        assert re.fullmatch(etype, t), (name, t, msg)
        assert re.search(pattern, msg), (name, msg)
        assert "MemoryError" not in t


def test_unsupported_op_names_op_and_opset(tmp_path):
    import dlcore.onnx as dlonnx
    # Unique: its output shape depends on the data, which a planned graph cannot hold
    m = _model([helper.make_node("Unique", ["x"], ["y"])], [_vi("x", [3, 3])], [_vi("y", ["n"])],
               opset=17)
    with pytest.raises(dlonnx.UnsupportedOpError,
                       match=r"node 0 \(Unique, opset 17\): ONNX op 'Unique' \(opset 17\) is "
                             r"not supported by dlcore.onnx"):
        dlonnx.load(m)
