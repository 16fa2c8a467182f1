"""Lowerings of the quantized layers' nodes: the int8 Linear of a dynamically quantized model
(DynamicInt8LinearFn) and of a statically quantized one (QLinearFn) become one C step each
(DL_PLAN_QLINEAR, csrc/plan_qlinear.c: quantize the rows if they are float, u8 x s8 GEMM,
dequantize or requantize with bias and activation).  Other quantized ops stay Python steps."""
import numpy as np

from .. import _C
from ..ops.qconv import QLinearFn
from ..ops.qmatmul import DynamicInt8LinearFn, Int8Weight
from . import executor as X
from .lower_common import numel

__all__ = ["LOWER"]

_ACT = {"none": 0, "relu": 1, "gelu": 2}      # DL_QACT_*
PER_ROW, PER_TENSOR, CODES = 0, 1, 2          # DL_QLIN_*


def _weight_refs(L, w, bias):
    consts = [L.array(w.packed, "qweight"), L.array(w.colsum, "qcolsum"),
              L.array(w.scale, "qscale")]
    return consts + [None if bias is None else L.array(np.asarray(bias, np.float32), "qbias")]


def _qlinear(L, node, x, y, w, bias, mode, act, xs=0.0, xz=0, ys=None, yz=0):
    N, K = w.shape
    M = numel(x.shape[:-1])
    xr = L.contiguous(x)
    yr = L.output(y)
    scratch = L.scratch(_C.qlinear_plan_scratch(M, K), name="qlinear.scratch")
    L.step(X.QLINEAR, [xr] + _weight_refs(L, w, bias) + [yr, scratch],
           [M, N, K, mode, _ACT[act], int(ys is not None), int(xz), int(yz)],
           [float(xs), float(ys or 0.0)], outputs=[5], label="QLinear")
    return True


def _dynamic(L, node, kw):
    w = kw.get("weight")
    x, y = node.inputs[0], node.outputs[0]
    if not isinstance(w, Int8Weight) or x.dtype != np.float32 or y.dtype != np.float32:
        return False
    return _qlinear(L, node, x, y, w, kw.get("bias"), PER_ROW if kw.get("per_row", True)
                    else PER_TENSOR, kw.get("act", "none"))


def _static(L, node, kw):
    w = kw.get("weight")
    x, y = node.inputs[0], node.outputs[0]
    xs, xz, ys, yz = kw["params"]
    want = np.uint8 if ys is not None else np.float32
    if not isinstance(w, Int8Weight) or x.dtype != np.uint8 or y.dtype != want:
        return False
    return _qlinear(L, node, x, y, w, kw.get("bias"), CODES,
                    "relu" if kw.get("relu") else "none", xs, xz, ys, yz)


_BY_FN = {DynamicInt8LinearFn: _dynamic, QLinearFn: _static}


def _pyfunction(L, node):
    f = _BY_FN.get(node.attrs.get("fn"))
    if f is None or len(node.inputs) != 1 or len(node.outputs) != 1:
        return False
    return f(L, node, node.attrs.get("kwargs", {}))


LOWER = {"PyFunction": _pyfunction}
