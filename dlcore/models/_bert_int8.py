"""BertLayer's eager inference path once dl.quantization.quantize_dynamic has made its Linear
layers int8 (dlcore.ops.qencoder.int8_encoder_layer: the layer's kernels without the modules
between them, bit for bit the modules' result).  Taken only where the modules would add
nothing: no autograd, no dl.jit trace, dropout off, no hooks on any of the layer's modules,
the float layers being the stock LayerNorm/GELU/ReLU ones."""
import numpy as np

from .. import autograd
from ..autograd import is_grad_enabled
from ..nn.modules.activation import GELU, ReLU
from ..nn.modules.normalization import LayerNorm
from ..nn.quantized.dynamic import Linear as Int8Linear, stacked_weight
from ..ops.qencoder import int8_encoder_layer
from ..tensor import Tensor

__all__ = ["int8_layer_forward"]


def _ln(m):
    if type(m) is not LayerNorm or m.weight is None or m.bias is None \
            or len(m.normalized_shape) != 1:
        return None
    return (m.weight._data, m.bias._data, m.eps)


def int8_layer_forward(layer, x, mask_bias):
    """layer(x, mask_bias)'s output as a Tensor, or None where the modules must run."""
    if is_grad_enabled() or autograd._tracer is not None or layer.training:
        return None
    a = x._data if hasattr(x, "_data") else None
    if a is None or a.dtype != np.float32 or a.ndim != 3:
        return None
    att, inter, out = layer.attention, layer.intermediate, layer.output
    sa, so = att.self, att.output
    dense = (sa.query, sa.key, sa.value, so.dense, inter.dense, out.dense)
    if any(type(m) is not Int8Linear for m in dense):
        return None
    mods = (layer, att, sa, so, inter, out, sa.dropout, so.dropout, out.dropout, so.LayerNorm,
            out.LayerNorm, inter.intermediate_act_fn) + dense
    for m in mods:
        d = m.__dict__
        if d.get("_forward_hooks") or d.get("_forward_pre_hooks") or m.training:
            return None
    act = inter.act
    if type(inter.intermediate_act_fn) is not (GELU if act == "gelu" else ReLU) or (
            act == "gelu" and getattr(inter.intermediate_act_fn, "approximate", "none") != "none"):
        return None
    granularity, reduce_range = sa.query.granularity, sa.query.reduce_range
    if any(m.granularity != granularity or m.reduce_range != reduce_range for m in dense):
        return None
    qkv = stacked_weight(sa, (sa.query, sa.key, sa.value))
    ln1, ln2 = _ln(so.LayerNorm), _ln(out.LayerNorm)
    if qkv is None or ln1 is None or ln2 is None:
        return None
    if mask_bias is not None and (not isinstance(mask_bias, np.ndarray)
                                  or mask_bias.dtype != np.float32):
        return None
    y = int8_encoder_layer(
        a, sa.num_heads, mask_bias, qkv, (so.dense._packed_weight(), so.dense._bias()), ln1,
        (inter.dense._packed_weight(), inter.dense._bias()), act,
        (out.dense._packed_weight(), out.dense._bias()), ln2, granularity == "per_row",
        reduce_range)
    return None if y is None else Tensor._wrap(y)
