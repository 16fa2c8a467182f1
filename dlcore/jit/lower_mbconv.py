"""Lowering of the fused inverted-residual block (passes/fuse_mbconv.py) to one MBCONV step
(csrc/plan_mbconv_simd.c)."""
from types import SimpleNamespace

from . import executor as X
from .lower_common import f32, fused_act
from .lower_layers import _gemm_acts, _residual_output

__all__ = ["LOWER", "rows_per_strip"]

# the expanded rows a strip holds (Ce x rows x W floats) and its depthwise rows (Ce x rows x OW)
# within this many bytes: L2's size on Zen 3 (512 KiB a core); 192 KiB (more, shorter strips,
# whose halo rows and smaller products cost more) measured slower, 384 KiB to 1.5 MiB alike
# within the noise of a loaded machine
_STRIP_BYTES = 512 << 10


def rows_per_strip(Ce, W, OW, R, st):
    """Output rows per strip: as many as keep a strip's expanded and depthwise rows within
    _STRIP_BYTES, at least one."""
    ph = (R - 1) // 2
    q = (ph + st - 1) // st
    per_row = 4 * Ce * (st * W + OW)
    fixed = 4 * Ce * (st * (q - 1) + ph + 1) * W + 4 * Ce * (q + 1) * OW
    return max(1, (_STRIP_BYTES - fixed) // per_row)


def _mbconv(L, node):
    if not f32(node):
        return False
    x, we, be, wd, bd, wp, bp = node.inputs[:7]
    at = node.attrs
    skip = node.inputs[7] if at["residual"] else None
    if not (we.is_const and wd.is_const and wp.is_const):
        return False
    y = node.outputs[0]
    N, Cin, H, W = x.shape
    Ce, Cout = we.shape[0], wp.shape[0]
    R, S = wd.shape[2:]
    OH, OW = y.shape[2:]
    dwa = at["dw"]
    st = dwa["strides"][0]
    eact, post, _, _, _ = _gemm_acts(SimpleNamespace(attrs=at["expand"]))
    if post >= 0:
        return False
    kind, a1, a2, a3 = fused_act(SimpleNamespace(attrs=dwa))
    xr = L.contiguous(x)
    refs = [xr] + [None if v is None else L.contiguous(v) for v in (we, be, wd, bd, wp, bp)]
    yr = L.output(y) if skip is None else _residual_output(L, y, skip, xr)
    ints = [N, Cin, H, W, Ce, Cout, R, S, st, dwa["pads"][0], dwa["pads"][1], OH, OW, eact,
            kind, int(skip is not None), rows_per_strip(Ce, W, OW, R, st)]
    L.step(X.MBCONV, refs + [yr], ints, [a1, a2, a3], outputs=[7], label="MBConv")
    return True


LOWER = {"MBConv": _mbconv}
