"""Small ONNX models built by hand for the import tests, and ONNX Runtime as their oracle.
Import it after pytest.importorskip("onnx") (and ("onnxruntime") for ort_run)."""
from onnx import TensorProto as T, helper as h


def vi(name, shape, t=T.FLOAT):
    return h.make_tensor_value_info(name, t, shape)


def graph_model(nodes, inputs, outputs, inits=(), opset=17):
    g = h.make_graph(nodes, "m", inputs, outputs, initializer=list(inits))
    m = h.make_model(g, opset_imports=[h.make_opsetid("", opset)])
    m.ir_version = 8
    return m


def ort_run(m, feed):
    import onnxruntime as ort
    s = ort.InferenceSession(m.SerializeToString(), providers=["CPUExecutionProvider"])
    return s.run(None, feed)
