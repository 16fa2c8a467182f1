"""The table of op converters: ONNX op type -> (function, first opset it handles).

A converter is `f(b, node) -> [Value or None per output]`: it reads `node` (an OnnxNode: IR
Values in, attributes, opset) and writes IR nodes through the Builder `b`.  The ops_*.py
modules fill the table when they are imported (importer.py imports them all)."""

__all__ = ["OPS", "converter", "supported_ops"]

OPS = {}


def converter(*names, since=1):
    def deco(f):
        for n in names:
            OPS[n] = (f, since)
        return f
    return deco


def supported_ops():
    """{op type: first supported opset} of the default (ai.onnx) domain."""
    return {k: v[1] for k, v in sorted(OPS.items())}
