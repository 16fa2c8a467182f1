"""Reading an ONNX file without trusting it: the protobuf is parsed by the `onnx` package, every
tensor's declared size is checked against the bytes that back it before anything is
allocated, and external-data references must name a file inside the model's folder that holds
the bytes they claim.  A hostile file (a 2 GB reference to a 16-byte file, dims that multiply
to petabytes, a path out of the folder) gets an OnnxError, with memory bounded by the data
that is really there."""
import os

import numpy as np
import onnx
from onnx import TensorProto

from . import narrow
from .errors import OnnxError, UnsupportedOpError

__all__ = ["read_model", "tensor_to_array", "check_tensor", "np_dtype", "DEFAULT_MAX_BYTES"]

# protobuf cannot parse a message of 2 GiB or more; bigger models keep weights outside
_PROTO_LIMIT = (1 << 31) - 1
# the default cap on one tensor (a weight, a constant, an intermediate value)
DEFAULT_MAX_BYTES = 4 << 30

_DTYPES = {
    TensorProto.FLOAT: np.float32, TensorProto.DOUBLE: np.float64,
    TensorProto.FLOAT16: np.float16, TensorProto.INT8: np.int8, TensorProto.INT16: np.int16,
    TensorProto.INT32: np.int32, TensorProto.INT64: np.int64, TensorProto.UINT8: np.uint8,
    TensorProto.UINT16: np.uint16, TensorProto.UINT32: np.uint32,
    TensorProto.UINT64: np.uint64, TensorProto.BOOL: np.bool_,
}


def np_dtype(elem_type, what, narrow_ok=False):
    """The NumPy dtype of an ONNX element type; UnsupportedOpError for types dlcore has no
    dtype for.  With narrow_ok, a sub-byte integer type gives its carrier (narrow.py)."""
    dt = _DTYPES.get(int(elem_type))
    if dt is None and narrow_ok and narrow.narrow_name(elem_type):
        return narrow.carrier(narrow.narrow_name(elem_type))
    if dt is None:
        name = TensorProto.DataType.Name(int(elem_type)) \
            if int(elem_type) in TensorProto.DataType.values() else str(elem_type)
        raise UnsupportedOpError("%s: element type %s is not supported (dlcore runs %s)"
                        % (what, name, ", ".join(sorted(np.dtype(d).name
                                                         for d in _DTYPES.values()))))
    return np.dtype(dt)


def _numel(dims, what, max_bytes, itemsize):
    n = 1
    for d in dims:
        if d < 0:
            raise OnnxError("%s: negative dim %d in shape %s" % (what, d, list(dims)))
        n *= int(d)
    if n * itemsize > max_bytes:
        raise OnnxError("%s: shape %s needs %s bytes, over the limit of %s (max_bytes)"
                        % (what, list(dims), format(n * itemsize, ","), format(max_bytes, ",")))
    return n


def _external(t, base_dir, what, nbytes):
    """(path, offset) of a tensor's external data after checking the reference."""
    info = {e.key: e.value for e in t.external_data}
    loc = info.get("location")
    if not loc:
        raise OnnxError("%s: external data without a location" % what)
    if base_dir is None:
        raise OnnxError("%s: refers to external data file %r, but the model was not read from "
                        "a file (pass the path so the file can be found)" % (what, loc))
    if os.path.isabs(loc) or loc.startswith(("/", "\\")):
        raise OnnxError("%s: external data location %r is an absolute path; ONNX requires a "
                        "path relative to the model's folder" % (what, loc))
    root = os.path.realpath(base_dir)
    path = os.path.realpath(os.path.join(root, loc))
    if os.path.commonpath([root, path]) != root:
        raise OnnxError("%s: external data location %r leads out of the model's folder %s"
                        % (what, loc, root))
    try:
        offset = int(info.get("offset", 0))
        length = int(info["length"]) if "length" in info else None
    except ValueError:
        raise OnnxError("%s: external data offset/length %r/%r are not integers"
                        % (what, info.get("offset"), info.get("length"))) from None
    if offset < 0 or (length is not None and length < 0):
        raise OnnxError("%s: negative external data offset or length (%d, %s)"
                        % (what, offset, length))
    if length is not None and length != nbytes:
        raise OnnxError("%s: external data length %s does not match the %s bytes its shape "
                        "and type need" % (what, format(length, ","), format(nbytes, ",")))
    if not os.path.isfile(path):
        raise OnnxError("%s: external data file %r does not exist in %s" % (what, loc, root))
    size = os.path.getsize(path)
    if offset + nbytes > size:
        raise OnnxError("%s: external data asks for %s bytes at offset %s of %r, which has "
                        "%s bytes" % (what, format(nbytes, ","), format(offset, ","), loc,
                                      format(size, ",")))
    return path, offset


def _stored(n, dt, nar):
    """Bytes (and entries of int32_data) that n values take in the file: packed for the
    sub-byte types."""
    if nar:
        return -(-n * narrow.bits(nar) // 8)
    return n * dt.itemsize


def _layout(t, base_dir, max_bytes, what):
    """(dtype, dims, numel, external (path, offset) or None) after checking the tensor's size
    against the limit and its external reference, if any."""
    if t.segment.begin or t.segment.end:
        raise OnnxError("%s: segmented tensors are not supported" % what)
    dt = np_dtype(t.data_type, what, narrow_ok=True)
    nar = narrow.narrow_name(t.data_type)
    dims = tuple(int(d) for d in t.dims)
    n = _numel(dims, what, max_bytes, dt.itemsize)
    nbytes = _stored(n, dt, nar)
    ext = None
    if t.data_location == TensorProto.EXTERNAL:
        ext = _external(t, base_dir, what, nbytes)
    elif t.HasField("raw_data"):
        if len(t.raw_data) != nbytes:
            raise OnnxError("%s: raw data has %s bytes; its shape %s of %s needs %s"
                            % (what, format(len(t.raw_data), ","), list(dims), nar or dt.name,
                               format(nbytes, ",")))
    else:
        count = sum(len(f) for f in (t.float_data, t.int32_data, t.int64_data, t.double_data,
                                     t.uint64_data))
        want = nbytes if nar else n   # int32_data holds a sub-byte type's packed bytes
        if count != want:
            raise OnnxError("%s: holds %d values; its shape %s of %s needs %d"
                            % (what, count, list(dims), nar or dt.name, want))
    return dt, dims, n, ext


def check_tensor(t, base_dir=None, max_bytes=DEFAULT_MAX_BYTES, what=None):
    """Checks a TensorProto's declared size and external reference without reading its data."""
    _layout(t, base_dir, max_bytes, what or "tensor %r" % t.name)


def tensor_to_array(t, base_dir=None, max_bytes=DEFAULT_MAX_BYTES, what=None):
    """A TensorProto as a NumPy array, its size checked against the data before allocation."""
    what = what or "tensor %r" % t.name
    dt, dims, n, ext = _layout(t, base_dir, max_bytes, what)
    nar = narrow.narrow_name(t.data_type)
    if nar:
        return _narrow_array(t, nar, n, dims, ext, what)
    if ext is not None:
        path, offset = ext
        with open(path, "rb") as f:
            f.seek(offset)
            arr = np.fromfile(f, dtype=dt.newbyteorder("<"), count=n)
        if arr.size != n:
            raise OnnxError("%s: external data file ended early" % what)
        return arr.astype(dt, copy=False).reshape(dims)
    if t.HasField("raw_data"):
        return np.frombuffer(t.raw_data, dtype=dt.newbyteorder("<")).astype(dt).reshape(dims)
    if n == 0:
        return np.zeros(dims, dt)
    return np.asarray(onnx.numpy_helper.to_array(t)).astype(dt, copy=False).reshape(dims)


def _narrow_array(t, nar, n, dims, ext, what):
    nbytes = _stored(n, None, nar)
    if ext is not None:
        with open(ext[0], "rb") as f:
            f.seek(ext[1])
            packed = np.frombuffer(f.read(nbytes), np.uint8)
        if packed.size != nbytes:
            raise OnnxError("%s: external data file ended early" % what)
    elif t.HasField("raw_data"):
        packed = np.frombuffer(t.raw_data, np.uint8)
    else:
        ints = np.asarray(t.int32_data, np.int64)
        if ints.size and (ints.min() < 0 or ints.max() > 255):
            raise OnnxError("%s: int32_data of a packed %s tensor must hold bytes (0..255)"
                            % (what, nar))
        packed = ints.astype(np.uint8)
    return narrow.unpack(packed, nar, n).reshape(dims)


def read_model(source, max_bytes=DEFAULT_MAX_BYTES):
    """(ModelProto without its external data loaded, the folder external data is relative
    to or None) from a path, bytes or a ModelProto."""
    if isinstance(source, onnx.ModelProto):
        return source, None
    if isinstance(source, (bytes, bytearray, memoryview)):
        data, base_dir, what = bytes(source), None, "the given bytes"
    else:
        try:
            path = os.fspath(source)
        except TypeError:
            raise TypeError("dl.onnx.load: expected a file path, bytes or an onnx.ModelProto, got "
                            "%s" % type(source).__name__) from None
        if not os.path.isfile(path):
            raise FileNotFoundError("dl.onnx.load: no such file: %r" % path)
        size = os.path.getsize(path)
        if size > _PROTO_LIMIT:
            raise OnnxError("%s: the file has %s bytes; an ONNX protobuf cannot exceed 2 GiB "
                            "(bigger models keep their weights in external data files)"
                            % (path, format(size, ",")))
        with open(path, "rb") as f:
            data = f.read()
        base_dir, what = os.path.dirname(os.path.abspath(path)), path
    model = onnx.ModelProto()
    try:
        model.ParseFromString(data)
    except Exception as e:
        raise OnnxError("%s is not an ONNX model (protobuf parse failed: %s)" % (what, e)) \
            from None
    if not model.HasField("graph"):
        raise OnnxError("%s is not an ONNX model (it has no graph)" % what)
    return model, base_dir
