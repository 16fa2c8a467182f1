"""The exceptions dlcore.onnx raises.  Both are ValueErrors, so code that catches bad input in
general keeps working; each message names the file, the node (op type, name, opset) or the
value that is wrong, what was expected and what came."""

__all__ = ["OnnxError", "UnsupportedOpError"]


class OnnxError(ValueError):
    """A file that is not a valid ONNX model, or one dlcore cannot run as given (a missing
    initializer, a cycle, shapes that do not chain, an external-data reference that does not
    hold, a value over the size limit, inputs that do not match the graph's)."""


class UnsupportedOpError(OnnxError, NotImplementedError):
    """An op (or an attribute value of an op) that dlcore's importer does not implement."""
