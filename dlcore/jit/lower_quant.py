"""Lowerings of the quantized layers' nodes (recorded as PyFunction nodes of their Functions)
to C steps (csrc/plan_quant.c): the int8 Linear of a dynamically quantized model
(DynamicInt8LinearFn) and of a statically quantized one (QLinearFn) -> QLINEAR (quantize the
rows if they are float, u8 x s8 GEMM, dequantize or requantize with bias and activation); a
static model's QConvFn -> QCONV, QAddFn -> QADD, QuantizeFn / DequantizeFn -> QUANTIZE /
DEQUANTIZE, QAvgPoolFn / QMaxPoolFn -> QAVGPOOL / QMAXPOOL, CodesFn -> a strided copy.
Other quantized ops (clamp, layouts these do not cover) stay Python steps.  reduce_range
(7-bit activation codes, dlcore.ops.qtensor) becomes the QLINEAR / QCONV steps' flag: float rows
quantized to 0..127, codes passed as the GEMM's 7-bit tile hint (checked there), outputs
(QLINEAR, QCONV, QADD, QUANTIZE) clamped to codes 0..127."""
import numpy as np

from ..ops.qconv import QAddFn, QAvgPoolFn, QConvFn, QLinearFn, QMaxPoolFn
from ..ops.qmatmul import DynamicInt8LinearFn, Int8Weight
from ..ops.qtensor import CodesFn, DequantizeFn, QuantizeFn
from . import executor as X
from .lower_common import numel
from .views import Ref, contiguous_strides

__all__ = ["LOWER", "layernorm_rows"]

_ACT = {"none": 0, "relu": 1, "gelu": 2}      # DL_QACT_*
PER_ROW, PER_TENSOR, CODES, QROWS = 0, 1, 2, 3  # DL_QLIN_*


def _weight_refs(L, w, bias):
    consts = [L.array(w.packed, "qweight"), L.array(w.colsum, "qcolsum"),
              L.array(np.asarray(w.scale, np.float32), "qscale")]
    return consts + [None if bias is None else L.array(np.asarray(bias, np.float32), "qbias")]


def _qlinear(L, node, x, y, w, bias, mode, act, xs=0.0, xz=0, ys=None, yz=0, rr=False,
             yrr=False, rows_out=False):
    N, K = w.shape
    M = numel(x.shape[:-1])
    nbytes = 0 if mode == QROWS else X.qlinear_scratch_bytes(M, K)
    work = 0
    if mode == QROWS:
        xr = _rows_of(L)[id(x)][0]
    else:
        xr = L.contiguous(x)
    if rows_out:
        # y, read only by the next dynamic Linear, becomes its input rows already quantized
        yr = L.scratch(X.qlinear_scratch_bytes(M, N), name="qlinear.rows")
        _rows_of(L)[id(y)] = (yr, bool(yrr))
        work = X.qrows_work_rows(M)
        nbytes = -(-nbytes // 64) * 64 + work * N * 4
    else:
        yr = L.output(y)
    scratch = L.scratch(nbytes, name="qlinear.scratch")
    L.step(X.QLINEAR, [xr] + _weight_refs(L, w, bias) + [yr, scratch],
           [M, N, K, mode, _ACT[act], int(ys is not None), int(xz), int(yz), int(bool(rr)),
            int(bool(yrr)), int(bool(rows_out)), work],
           [float(xs), float(ys or 0.0)], outputs=[5], label="QLinear")
    return True


def _rows_of(L):
    """{id(value): (Ref, reduce_range)} of the values a step wrote as quantized rows (a
    QLINEAR's or a SKIP_LAYERNORM's; this lowering)."""
    rows = getattr(L, "_qrows", None)
    if rows is None:
        rows = L._qrows = {}
    return rows


def _dynamic_args(node):
    """(x, y, kwargs) of a dynamic int8 Linear node _dynamic lowers to one QLINEAR, or None."""
    if node.op != "PyFunction" or node.attrs.get("fn") is not DynamicInt8LinearFn or \
            len(node.inputs) != 1 or len(node.outputs) != 1 or node.inputs[0] is None:
        return None
    kw = node.attrs.get("kwargs", {})
    x, y = node.inputs[0], node.outputs[0]
    if not isinstance(kw.get("weight"), Int8Weight) or x.dtype != np.float32 or \
            y.dtype != np.float32:
        return None
    return x, y, kw


def _uses(L):
    uses = getattr(L, "_quses", None)
    if uses is None:
        uses = L._quses = L.g.uses()
    return uses


def _row_readers(L, y, N):
    """The reduce_range flags of the dynamic per-row Linears that read the float (..., N) y
    as their input."""
    out = []
    for node, _ in _uses(L).get(id(y), []):
        nxt = None if node is None else _dynamic_args(node)
        if nxt is not None and nxt[0] is y and nxt[2].get("per_row", True) and \
                nxt[2]["weight"].shape[1] == N:
            out.append(bool(nxt[2].get("reduce_range", False)))
    return out


def layernorm_rows(L, y, M, N):
    """(Ref, qmax) of the quantized rows a SKIP_LAYERNORM step writes beside its float y
    (M, N) when a dynamic per-row Linear reads y, or (None, 0).  y is still written for its
    other readers (the residual); the Linears with the first one's reduce_range take the rows
    (DL_QLIN_QROWS: bit for bit their own quantization of y), any other keeps the floats."""
    rr = _row_readers(L, y, N)
    if not rr or M == 0:
        return None, 0
    ref = L.scratch(X.qlinear_scratch_bytes(M, N), name="layernorm.rows")
    _rows_of(L)[id(y)] = (ref, rr[0])
    return ref, 127 if rr[0] else 255


def _rows_reader(L, y, N):
    """The reduce_range of the one dynamic per-row Linear reading y (float (..., N), no other
    reader, not a graph output), which can then take y as quantized rows; None otherwise."""
    users = _uses(L).get(id(y), [])
    if len(users) != 1 or users[0][0] is None or id(y) in L.is_output:
        return None
    nxt = _dynamic_args(users[0][0])
    if nxt is None or nxt[0] is not y or not nxt[2].get("per_row", True) or \
            nxt[2]["weight"].shape[1] != N:
        return None
    return bool(nxt[2].get("reduce_range", False))


def _dynamic(L, node, kw):
    args = _dynamic_args(node)
    if args is None:
        return False
    x, y, kw = args
    w = kw["weight"]
    rr = bool(kw.get("reduce_range", False))
    rows = _rows_of(L).get(id(x))
    per_row = kw.get("per_row", True)
    mode = QROWS if rows is not None and rows[1] == rr and per_row else \
        PER_ROW if per_row else PER_TENSOR
    yrr = _rows_reader(L, y, w.shape[0])
    return _qlinear(L, node, x, y, w, kw.get("bias"), mode, kw.get("act", "none"),
                    rr=rr, yrr=bool(yrr), rows_out=yrr is not None)


def _static(L, node, kw):
    if len(node.inputs) != 1:
        return False
    w = kw.get("weight")
    x, y = node.inputs[0], node.outputs[0]
    xs, xz, ys, yz = kw["params"]
    want = np.uint8 if ys is not None else np.float32
    if not isinstance(w, Int8Weight) or x.dtype != np.uint8 or y.dtype != want:
        return False
    return _qlinear(L, node, x, y, w, kw.get("bias"), CODES,
                    "relu" if kw.get("relu") else "none", xs, xz, ys, yz,
                    rr=kw.get("x_reduce_range", False), yrr=kw.get("y_reduce_range", False))


def _conv(L, node, kw):
    if len(node.inputs) != 1:
        return False
    x, y = node.inputs[0], node.outputs[0]
    w, geom = kw.get("weight"), kw.get("geom")
    if not kw.get("nhwc") or x.dtype != np.uint8 or x.ndim != 4 or geom is None:
        return False
    xs, xz, ys, yz, relu = kw["params"]
    N, H, W, C = x.shape
    consts = [L.array(w.dw, "qdw"), None] if w.depthwise else \
        [L.array(w.packed, "qweight"), L.array(w.colsum, "qcolsum")]
    bias = kw.get("bias")
    consts += [L.array(np.asarray(w.scale, np.float32), "qscale"),
               None if bias is None else L.array(np.asarray(bias, np.float32), "qbias")]
    xr = L.contiguous(x)
    yr = L.output(y)
    L.step(X.QCONV, [xr] + consts + [yr],
           [N, H, W, C] + [int(v) for v in geom] + [int(w.depthwise), int(xz), int(yz),
                                                    int(bool(relu)),
                                                    int(bool(kw.get("x_reduce_range"))),
                                                    int(bool(kw.get("y_reduce_range")))],
           [float(xs), float(ys)], outputs=[5], label="QConv")
    return True


def _add(L, node, kw):
    if len(node.inputs) != 2:
        return False
    a, b = node.inputs
    y = node.outputs[0]
    lay = kw.get("layouts", (False, False))
    if lay[0] != lay[1] or a.shape != b.shape or a.dtype != np.uint8 or b.dtype != np.uint8:
        return False
    a_s, a_z, b_s, b_z, y_s, y_z, relu = kw["params"]
    ar, br = L.contiguous(a), L.contiguous(b)
    yr = L.output(y)
    L.step(X.QADD, [ar, br, yr], [numel(a.shape), int(a_z), int(b_z), int(y_z), int(bool(relu)),
                                  int(bool(kw.get("y_reduce_range")))],
           [float(a_s), float(b_s), float(y_s)], outputs=[2], label="QAdd")
    return True


def _layout(v, nhwc):
    """(N, C, P) of a float NCHW tensor (nhwc) or (1, 1, numel)."""
    if nhwc:
        return [v.shape[0], v.shape[1], numel(v.shape[2:])]
    return [1, 1, numel(v.shape)]


def _quantize(L, node, kw):
    if len(node.inputs) != 1:
        return False
    x, y = node.inputs[0], node.outputs[0]
    nhwc = bool(kw.get("nhwc"))
    if x.dtype != np.float32 or y.dtype != np.uint8 or (nhwc and x.ndim != 4):
        return False
    xr = L.contiguous(x)
    yr = L.output(y)
    L.step(X.QUANTIZE, [xr, yr], _layout(x, nhwc) + [int(nhwc), int(kw.get("zero_point", 0)),
                                                     int(bool(kw.get("reduce_range")))],
           [float(kw.get("scale", 1.0))], outputs=[1], label="Quantize")
    return True


def _dequantize(L, node, kw):
    if len(node.inputs) != 1:
        return False
    x, y = node.inputs[0], node.outputs[0]
    nhwc = bool(kw.get("nhwc"))
    if x.dtype != np.uint8 or y.dtype != np.float32 or (nhwc and y.ndim != 4):
        return False
    xr = L.contiguous(x)
    yr = L.output(y)
    L.step(X.DEQUANTIZE, [xr, yr], _layout(y, nhwc) + [int(nhwc), int(kw.get("zero_point", 0))],
           [float(kw.get("scale", 1.0))], outputs=[1], label="Dequantize")
    return True


def _avgpool(L, node, kw):
    if len(node.inputs) != 1:
        return False
    x, y = node.inputs[0], node.outputs[0]
    if not kw.get("nhwc", True) or x.dtype != np.uint8 or x.ndim != 4:
        return False
    xr = L.contiguous(x)
    yr = L.output(y)
    L.step(X.QAVGPOOL, [xr, yr], list(x.shape) + [int(v) for v in kw.get("size", (1, 1))],
           outputs=[1], label="QAvgPool")
    return True


def _maxpool(L, node, kw):
    if len(node.inputs) != 1:
        return False
    x, y = node.inputs[0], node.outputs[0]
    g = kw.get("geom")
    # an out-of-rule padding is left to the Function, which raises about it
    if not kw.get("nhwc", True) or x.dtype != np.uint8 or x.ndim != 4 or g is None or \
            g[5] * 2 > g[1] or g[6] * 2 > g[2]:
        return False
    xr = L.contiguous(x)
    yr = L.output(y)
    L.step(X.QMAXPOOL, [xr, yr], list(x.shape) + [int(v) for v in g], outputs=[1],
           label="QMaxPool")
    return True


def _codes(L, node, kw):
    """NHWC codes to the logical NCHW order (then any reshape): one strided copy."""
    if len(node.inputs) != 1:
        return False
    x, y = node.inputs[0], node.outputs[0]
    xr = L.contiguous(x)
    if kw.get("nhwc"):
        if x.ndim != 4:
            return False
        N, H, W, C = x.shape
        shape, strides = (N, C, H, W), (H * W * C, 1, W * C, C)
    else:
        shape, strides = x.shape, contiguous_strides(x.shape)
    yr = L.output(y)
    L.copy(Ref(xr.buf, xr.offset, shape, strides, xr.dtype),
           Ref(yr.buf, yr.offset, shape, contiguous_strides(shape), yr.dtype), label="Codes")
    return True


_BY_FN = {DynamicInt8LinearFn: _dynamic, QLinearFn: _static, QConvFn: _conv, QAddFn: _add,
          QuantizeFn: _quantize, DequantizeFn: _dequantize, QAvgPoolFn: _avgpool,
          QMaxPoolFn: _maxpool, CodesFn: _codes}


def _pyfunction(L, node):
    f = _BY_FN.get(node.attrs.get("fn"))
    if f is None or len(node.outputs) != 1 or any(v is None for v in node.inputs):
        return False
    return f(L, node, node.attrs.get("kwargs", {}))


LOWER = {"PyFunction": _pyfunction}
