"""Lowerings of the layer ops: Gemm, MatMul, Conv, ConvTranspose, pooling, Resize,
Attention (reading strided q/k/v views in place) and the recurrent layers."""
import numpy as np

from . import executor as X
from ..ops.conv import conv2d_algorithm, get_conv_algorithm
from .lower_common import F32, f32, fused_act, numel
from .lowering import broadcast_strides, contiguous_strides, matrix, merge_dims
from .views import Ref

__all__ = ["LOWER"]

_COL_BYTES = 1 << 19   # an im2col tile in half of L2
_MIN_COLS = 256        # columns below which a convolution's product takes several images,
_BATCH_COLS = 1024     # up to this many columns
_BATCH_BYTES = 1 << 20  # in this much workspace (columns and product)
# positions below which a pointwise conv runs transposed, in register-tile columns of the GEMM
# (_small_map): 8 tiles of 32 on AVX-512 take MobileNetV2's 14x14 layers too (the whole model
# 2-3% faster at batch 1 and 32, its 28x28 ones slower); on AVX2 (tiles of 16) its 196
# positions are 13 tiles, 6% padding, and the usual product beat the transposed one by 10-20%
# on every 14x14 layer (Zen 3), while its 7x7 ones (49 in 4 tiles) stay transposed
_SMALL_MAP_TILES = 8
_SMALL_MAP_MACS = 4096  # from this many weights (its two transposes cost more on tiny layers)
_S2_MAX_C = 4          # input channels up to which a stride-2 conv runs direct
_MODES = {"RNN_TANH": 0, "RNN_RELU": 1, "LSTM": 2, "GRU": 3}
_GATES = {0: 1, 1: 1, 2: 4, 3: 3}


# ---- GEMM ----------------------------------------------------------------------------------------
def _gemm_acts(node):
    """(gemm epilogue act, post kind, a, b, c)."""
    op = node.attrs.get("activation")
    if op == "Relu":
        return X.GEMM_ACT_RELU, -1, 0.0, 0.0, 0.0
    if op == "Gelu" and node.attrs.get("activation_attrs", {}).get("approximate", "none") == "none":
        return X.GEMM_ACT_GELU, -1, 0.0, 0.0, 0.0
    kind, a, b, c = fused_act(node)
    if op == "Clip" and (float(a), float(b)) == (0.0, 6.0):
        return X.GEMM_ACT_RELU6, -1, 0.0, 0.0, 0.0   # MobileNet's ReLU6 in the epilogue too
    return 0, kind, a, b, c


def _gemm_ints(ta, tb, M, N, K, lda, ldb, ldc, act, post, batch=(), sa=(), sb=(), sc=(),
               bias_kind=0):
    pad = [0] * (4 - len(batch))
    return [ta, tb, M, N, K, lda, ldb, ldc, act, post, len(batch)] + list(batch) + pad + \
        list(sa) + pad + list(sb) + pad + list(sc) + pad + [bias_kind]


def _weighted(node):
    """(x, w, bias or None, y) of a Gemm or Conv node."""
    b = node.inputs[2] if len(node.inputs) > 2 else None
    return node.inputs[0], node.inputs[1], b, node.outputs[0]


def _gemm(L, node):
    if not f32(node):
        return False
    x, w, b, y = _weighted(node)
    K, N = x.shape[-1], y.shape[-1]
    M = numel(x.shape[:-1])
    xr = L.ref(x)
    mat = matrix(xr)
    if mat is None:
        xr = L.contiguous(x)
        mat = (M, K, K, 0)
    _, _, lda, ta = mat
    wr = L.contiguous(w)
    tb = int(node.attrs.get("transB", 1))
    br = None if b is None else L.contiguous(b)
    yr = L.output(y)
    act, post, a1, a2, a3 = _gemm_acts(node)
    L.step(X.GEMM, [xr, wr, br, yr],
           _gemm_ints(ta, tb, M, N, K, lda, K if tb else N, N, act, post,
                      bias_kind=X.BIAS_ROW if b is not None else 0),
           [a1, a2, a3, 1.0, 0.0], outputs=[3], label="Gemm")
    return True


def _swap_last(r):
    s, st = list(r.shape), list(r.strides)
    s[-1], s[-2] = s[-2], s[-1]
    st[-1], st[-2] = st[-2], st[-1]
    return r.with_view(0, s, st)


def _mat_layout(L, r):
    """(ref, trans, ld) for the last two dims of r as a GEMM operand (copying when needed)."""
    rows, cols = r.shape[-2], r.shape[-1]
    rs, cs = r.strides[-2], r.strides[-1]
    if cs == 1 or cols == 1:
        return r, 0, max(rs, cols)
    if rs == 1 or rows == 1:
        return r, 1, max(cs, rows)
    c = L.copy_new(r)
    return c, 0, cols


def _matmul(L, node):
    if not f32(node):
        return False
    a, b = node.inputs
    y = node.outputs[0]
    ar, br = L.ref(a), L.ref(b)
    if node.attrs.get("transA"):
        ar = _swap_last(ar)
    if node.attrs.get("transB"):
        br = _swap_last(br)
    M, K, N = ar.shape[-2], ar.shape[-1], br.shape[-1]
    batch = tuple(y.shape[:-2])
    yr = L.output(y)
    sa = broadcast_strides(ar.with_view(0, ar.shape[:-2], ar.strides[:-2]), batch) \
        if batch else ()
    sb = broadcast_strides(br.with_view(0, br.shape[:-2], br.strides[:-2]), batch) \
        if batch else ()
    sc = contiguous_strides(batch + (M, N))[:-2] if batch else ()
    ar, ta, lda = _mat_layout(L, ar)
    br, tb, ldb = _mat_layout(L, br)
    if batch:
        shape, (sa, sb, sc) = merge_dims(batch, [sa, sb, sc])
        if shape == (1,):
            shape, sa, sb, sc = (), (), (), ()
        elif all(st == 0 for st in sb) and len(shape) == 1 and not ta and sa[0] == M * lda \
                and sc[0] == M * N:
            # a weight-like right operand: the batch folds into the rows of one GEMM
            M, shape, sa, sb, sc = M * shape[0], (), (), (), ()
    else:
        shape = ()
    if len(shape) > 4:
        return False
    L.step(X.GEMM, [ar, br, None, yr],
           _gemm_ints(ta, tb, M, N, K, lda, ldb, N, 0, -1, shape, sa, sb, sc),
           [0.0, 0.0, 0.0, 1.0, 0.0], outputs=[3], label="MatMul")
    return True


# ---- convolution and pooling ----------------------------------------------------------------------
def _conv(L, node):
    if not f32(node):
        return False
    x, w, b, y = _weighted(node)
    at = node.attrs
    xr, wr = L.contiguous(x), L.contiguous(w)
    br = None if b is None else L.contiguous(b)
    N, C, H, W = x.shape
    if node.op == "Conv":
        K, _, R, S = w.shape
        OH, OW = y.shape[2:]
        p = [N, C, H, W, K, R, S, OH, OW]
    else:  # the convolution from y back to x
        K, _, R, S = w.shape
        p = [N, y.shape[1], y.shape[2], y.shape[3], K, R, S, H, W]
    p += [at["strides"][0], at["strides"][1], at["pads"][0], at["pads"][1],
          at["dilations"][0], at["dilations"][1], at["group"]]
    # a 3x3 stride-1 convolution that runs Winograd (csrc/winograd.c) goes to the CONV step,
    # activation applied after it; with constant weights the plan transforms them once
    # (csrc/plan_winograd.c), so the choice is the one for a transform already made (as
    # eager inference, which finds it in its cache)
    def wino(cached):
        return node.op == "Conv" and conv2d_algorithm(
            x.shape, w.shape, tuple(at["strides"]), tuple(at["pads"][:2]),
            tuple(at["dilations"]), at["group"], cached=cached) != "im2col"
    # the direct kernel keeps the small maps it takes (LeNet's) unless Winograd would win
    # even transforming its filters on every call
    winograd = wino(False) or (w.is_const and wino(True) and not (
        node.op == "Conv" and at["group"] == 1 and _direct_ok(C, K, R, S, OH, OW, at)))
    # one input channel (LeNet's first layer): the executor's window kernel, a few taps per
    # output element, instead of a product whose K rows are the few output channels
    one_channel = node.op == "Conv" and C == 1 and w.shape[2] * w.shape[3] <= 64 and \
        tuple(at["dilations"]) == (1, 1)
    # a residual sum fused in (passes/fuse_residual.py): only the pointwise CONV_GEMM adds it
    skip = node.inputs[3] if at.get("residual") else None
    if skip is not None and not (
            node.op == "Conv" and at["group"] == 1 and w.is_const and not winograd and
            not one_channel and w.shape[2:] == (1, 1) and tuple(at["strides"]) == (1, 1) and
            tuple(at["pads"]) == (0, 0, 0, 0)):
        return False   # the reference op, as a Python step
    yr = L.output(y) if skip is None else _residual_output(L, y, skip, xr)
    if node.op == "Conv" and at["group"] == 1 and w.is_const and not winograd and \
            skip is None and (_direct_ok(C, K, R, S, OH, OW, at) or _direct_s2_ok(C, R, S, at)):
        # small maps at stride 1: taps read at offsets of the padded planes, no im2col
        kind, a1, a2, a3 = fused_act(node)
        L.step(X.CONV_DIRECT, [xr, wr, br, yr], p + [kind], [a1, a2, a3], outputs=[3],
               label="Conv")
        return True
    if node.op == "Conv" and at["group"] == 1 and w.is_const and not winograd and \
            not one_channel:
        # im2col tiles times weights packed once, the epilogue fused (lower_conv_gemm)
        act, post, a1, a2, a3 = _gemm_acts(node)
        CRS, P = x.shape[1] * w.shape[2] * w.shape[3], y.shape[2] * y.shape[3]
        pointwise = w.shape[2:] == (1, 1) and tuple(at["strides"]) == (1, 1) and \
            tuple(at["pads"]) == (0, 0, 0, 0)
        tile = 0 if pointwise else min(P, max(64, (_COL_BYTES // (4 * CRS)) // 16 * 16))
        # small images: several images' columns in one product (plan_conv.c); not for a
        # pointwise conv, which reads its input in place (copying it cost more, MobileNet b32)
        imgs = 1
        if N > 1 and P < _MIN_COLS and not pointwise:
            imgs = max(1, min(N, _BATCH_COLS // P, _BATCH_BYTES // (4 * (CRS + K) * P)))
        # a pointwise conv on a small map (MobileNet's 7x7 and 14x14): the transposed product, the map's
        # positions as rows (plan_pointwise.c), a few images at a time
        transposed = int(pointwise and P < _small_map() and CRS * K >= _SMALL_MAP_MACS)
        # any other conv on such a map, one image per product (ResNet-18's 7x7 layers at
        # stride 2, 3x3 and 1x1): im2col's columns, transposed, times W^T (plan_conv.c)
        if not pointwise and imgs == 1 and P < _small_map() and CRS * K >= _SMALL_MAP_MACS:
            transposed, tile = 2, P
            col = L.scratch(4 * (2 * CRS + K) * P, "transposed")
        elif transposed:
            imgs = max(1, min(N, _BATCH_BYTES // (4 * (CRS + K) * P)))
            col = L.scratch(4 * (CRS + K) * imgs * P, "transposed")
        elif imgs > 1:
            tile = P
            col = L.scratch(4 * (CRS + K) * imgs * P, "im2col")
        else:
            col = L.scratch(4 * CRS * tile, "im2col") if tile else None
        L.step(X.CONV_GEMM, [xr, wr, br, yr, col],
               p + [post, act, tile, imgs, transposed, int(skip is not None)],
               [a1, a2, a3],
               outputs=[3], label="Conv")
        return True
    kind, a1, a2, a3 = fused_act(node)
    L.step(X.CONV if node.op == "Conv" else X.CONV_T, [xr, wr, br, yr], p + [kind],
           [a1, a2, a3], outputs=[3], label=node.op)
    return True


def _residual_output(L, y, skip, xr):
    """The output Ref of a Conv with a residual sum fused, holding the skip value when its step
    runs: the skip's own buffer when the skip dies there (not when that buffer is also the
    input's, which the product reads while it writes), else a copy of it."""
    sr = L.contiguous(skip)
    yr = L.output(y, reuse=[skip] if sr.buf is not xr.buf else ())
    if yr.buf is not sr.buf or yr.offset != sr.offset:
        L.copy(sr, yr)
    return yr


def _small_map():
    """Positions below which a pointwise conv runs transposed on the SIMD path in use."""
    return _SMALL_MAP_TILES * X.gemm_columns()


def _direct_s2_ok(C, R, S, at):
    """Whether a direct stride-2 convolution takes this Conv: dilation 1, groups 1, on at most
    _S2_MAX_C input channels (a first layer on an image, whose im2col product is only C*R*S
    deep).  A 3x3 filter with padding 0 or 1 on each side (torch's 1 with an end padding the
    last window does not reach dropped, or TensorFlow-style models' 0 after an explicit Pad)
    runs csrc/plan_direct_s2_simd.c; another filter of sides up to X.S2W_MAX_RS, its top and
    left padding below them (ResNet's 7x7 first layer), csrc/plan_direct_s2w_simd.c."""
    if get_conv_algorithm() != "auto" or at["group"] != 1 or C > _S2_MAX_C or \
            tuple(at["strides"]) != (2, 2) or tuple(at["dilations"]) != (1, 1):
        return False
    if (R, S) == (3, 3) and max(at["pads"]) <= 1:
        return True
    return C <= X.S2W_MAX_C and R <= X.S2W_MAX_RS and S <= X.S2W_MAX_RS and \
        at["pads"][0] < R and at["pads"][1] < S


def _direct_ok(C, K, R, S, OH, OW, at):
    """Whether the direct convolution (csrc/plan_direct_simd.c) takes this Conv: stride 1,
    groups 1, few output channels (a GEMM's wide register tiles win with many), its padded
    planes within the kernel's stack buffer, and the dropped columns of each padded row
    ((S-1)*dw of OW + (S-1)*dw computed) at most a third of the row: LeNet's 5x5 layers
    (4 of 32 and 4 of 14).  Under a forced algorithm (conv_algorithm('im2col'), ...) the
    plan keeps eager's routes."""
    if get_conv_algorithm() != "auto" or tuple(at["strides"]) != (1, 1) or at["group"] != 1 \
            or K > 64 or R * S == 1:
        return False
    dh, dw = at["dilations"]
    Hp, Wp = OH + (R - 1) * dh, OW + (S - 1) * dw
    return C * R * S <= X.DIRECT_MAX_TAPS and C * Hp * Wp + 64 <= X.DIRECT_MAX_FLOATS and \
        3 * (S - 1) * dw <= Wp


def _pool_ints(x, y, k=(1, 1), s=(1, 1), p=(0, 0), d=(1, 1)):
    N, C, H, W = x.shape
    return [N * C, H, W, y.shape[2], y.shape[3], k[0], k[1], s[0], s[1], p[0], p[1], d[0], d[1]]


def _pool(L, node):
    if not f32(node):
        return False
    x, y = node.inputs[0], node.outputs[0]
    at = node.attrs
    xr = L.contiguous(x)
    yr = L.output(y)
    if node.op == "MaxPool":
        ints = _pool_ints(x, y, at["kernel_shape"], at["strides"], at["pads"][:2],
                          at["dilations"])
        L.step(X.MAXPOOL, [xr, yr], ints, outputs=[1], label="MaxPool")
    elif node.op == "AveragePool":
        ints = _pool_ints(x, y, at["kernel_shape"], at["strides"], at["pads"][:2]) + \
            [int(at.get("count_include_pad", 1)), int(at.get("divisor", 0))]
        L.step(X.AVGPOOL, [xr, yr], ints, outputs=[1], label="AveragePool")
    elif node.op in ("GlobalAveragePool", "AdaptiveAveragePool"):
        L.step(X.ADAPTIVE_AVGPOOL, [xr, yr], _pool_ints(x, y), outputs=[1], label=node.op)
    else:
        L.step(X.ADAPTIVE_MAXPOOL, [xr, yr], _pool_ints(x, y), outputs=[1], label=node.op)
    return True


def _resize(L, node):
    if not f32(node):
        return False
    x, y = node.inputs[0], node.outputs[0]
    at = node.attrs
    ints = _pool_ints(x, y) + [0 if at["mode"] == "nearest" else 1, int(at["align_corners"])]
    L.step(X.RESIZE, [L.contiguous(x), L.output(y)], ints, list(at["steps"]), outputs=[1],
           label="Resize")
    return True


# ---- attention and recurrent layers -----------------------------------------------------------------
def _merged_heads(L, y):
    """The (B, H, L, Dv) strides of y laid out as (B, L, H, Dv) when y's one reader is the
    heads' merge, Transpose (0, 2, 1, 3): the attention step writes each head's rows strided
    there, the Transpose becomes a contiguous view and the merge's copy goes; else None."""
    uses = getattr(L, "_attn_uses", None)
    if uses is None:
        uses = L._attn_uses = L.g.uses()
    users = uses.get(id(y), [])
    if y.ndim != 4 or len(users) != 1 or users[0][0] is None or \
            users[0][0].op != "Transpose" or tuple(users[0][0].attrs["perm"]) != (0, 2, 1, 3) or \
            id(y) in L.is_output or id(y) in L.dest or id(y) in L.out_index:
        return None
    B, H, Lq, Dv = y.shape
    return (Lq * H * Dv, Dv, H * Dv, 1)


def _attention_out(L, y, strides):
    if strides is None:
        return L.output(y)
    r = Ref(L._buf("arena", y.numel() * y.dtype.itemsize, name=y.name), 0, y.shape, strides,
            y.dtype)
    L._bind(y, r)
    return r


def _attention(L, node):
    if not f32(node):
        return False
    q, k, v = node.inputs[:3]
    mask = node.inputs[3] if len(node.inputs) > 3 else None
    y = node.outputs[0]
    Lq, E = q.shape[-2:]
    S, Ev = k.shape[-2], v.shape[-1]
    lead = tuple(y.shape[:-2])
    refs, lists, rows = [], [], []
    for val in (q, k, v):
        r = L.ref(val)
        if r.strides[-1] != 1 and r.shape[-1] != 1:
            r = L.contiguous(val)
        refs.append(r)
        lists.append(broadcast_strides(r.with_view(0, r.shape[:-2], r.strides[:-2]), lead))
        rows.append(r.strides[-2])
    ystrides = _merged_heads(L, y)
    lists.append((ystrides or contiguous_strides(lead + (Lq, Ev)))[:-2])
    mref, mkind, mrow, mcol = None, 0, 0, 0
    if mask is not None:
        if not mask.is_const:
            return False
        m = mask.data
        if m.dtype == np.bool_:
            m, mkind = m.astype(np.uint8), X.ATTN_MASK_BOOL
        elif m.dtype == F32:
            mkind = X.ATTN_MASK_ADD
        else:
            return False
        mref = L.array(np.ascontiguousarray(m), mask.name)
        full = broadcast_strides(mref, lead + (Lq, S))
        lists.append(full[:-2])
        mrow, mcol = full[-2], full[-1]
    # the lead dims must fold into (batch, head) for every operand at once
    if lead:
        shape, merged = merge_dims(lead, lists)
    else:
        shape, merged = (1,), [(0,) for _ in lists]
    if len(shape) > 2:
        return False
    if len(shape) == 1:
        shape = (1,) + shape
        merged = [(0,) + tuple(m) for m in merged]
    B, H = shape
    strides = [list(m) + [row] for m, row in zip(merged[:3], rows)]
    mst = list(merged[4]) + [mrow, mcol] if mref is not None else [0, 0, 0, 0]
    yr = _attention_out(L, y, ystrides)
    lse = L.scratch(B * H * Lq * 4, "lse")
    ints = [B, H, Lq, S, E, Ev] + strides[0] + strides[1] + strides[2] + [mkind] + mst + \
        [int(node.attrs["is_causal"])] + list(merged[3]) + [yr.strides[-2]]
    L.step(X.ATTENTION, refs + [mref, yr, lse], ints, [node.attrs["scale"]], outputs=[4],
           label="Attention")
    return True


# How the executor packs an RNN step's weights once, when the plan is made (csrc/rnn_packed.c):
# joint [w_ih | w_hh] panels multiplied by [x_t | h] per step (an LSTM from this batch size on,
# where each step's product reuses the panels over the batch), or split (w_ih's product for all
# steps before the loop, then h @ w_hh per step: a batch-1 step streams half the weights).
RNN_PACK_JOINT, RNN_PACK_SPLIT = 1, 2
RNN_JOINT_MIN_BATCH = 8


def _rnn_pack_form(mode, batch, has_proj):
    if has_proj:
        return 0
    if mode == _MODES["LSTM"] and batch >= RNN_JOINT_MIN_BATCH:
        return RNN_PACK_JOINT
    return RNN_PACK_SPLIT


def _rnn(L, node):
    if not f32(node):
        return False
    at = node.attrs
    mode = _MODES["LSTM" if node.op == "LSTM" else "GRU" if node.op == "GRU" else
                  ("RNN_RELU" if at.get("nonlinearity") == "relu" else "RNN_TANH")]
    x, h0, c0 = node.inputs[:3]
    weights = node.inputs[3:]
    D, has_bias, has_proj = at["num_directions"], at["has_bias"], at["has_proj"]
    per = 2 + 2 * has_bias + has_proj
    bs = np.ascontiguousarray(at["batch_sizes"], np.int64)
    T, B = len(bs), int(bs[0])
    w_hh0 = weights[1]
    H = w_hh0.shape[0] // _GATES[mode]
    P = w_hh0.shape[1]
    I = x.shape[1]
    xr = L.contiguous(x)
    h0r = None if h0 is None else L.contiguous(h0)
    c0r = None if c0 is None else L.contiguous(c0)
    outs = node.outputs
    out_r = L.output(outs[0])
    hn_r = L.output(outs[1])
    cn_r = L.output(outs[2]) if len(outs) > 2 else None
    bs_r = L.array(bs, "batch_sizes")
    rows = x.shape[0]
    form = _rnn_pack_form(mode, B, has_proj)
    nwork = rows * w_hh0.shape[0] if form == RNN_PACK_SPLIT else \
        X.rnn_work_floats(mode, bs, H, P)
    for d in range(D):
        w = weights[d * per:(d + 1) * per]
        if not all(v.is_const for v in w):
            return False
        w_ih, w_hh = (L.contiguous(v) for v in w[:2])
        b_x = b_h = None
        if has_bias:
            if mode == 3:
                b_x, b_h = L.contiguous(w[2]), L.contiguous(w[3])
            else:
                b_x = L.array((w[2].data.astype(np.float32) + w[3].data).astype(np.float32),
                              w[2].name + "+hh")
        w_hr = L.contiguous(w[-1]) if has_proj else None
        hd = None if h0r is None else h0r.with_view(d * B * P, (B, P), (P, 1))
        cd = None if c0r is None else c0r.with_view(d * B * H, (B, H), (H, 1))
        od = out_r.with_view(d * P, (rows, P), (D * P, 1))
        hnd = hn_r.with_view(d * B * P, (B, P), (P, 1))
        cnd = None if cn_r is None else cn_r.with_view(d * B * H, (B, H), (H, 1))
        work = L.scratch(nwork * 4, "rnn_work") if nwork else None
        L.step(X.RNN, [xr, w_ih, w_hh, b_x, b_h, w_hr, hd, cd, od, hnd, cnd, work, bs_r],
               [mode, T, B, I, H, P, int(d == 1), I, D * P, form], outputs=[8, 9, 10],
               label="%s dir %d" % (node.op, d))
    return True


LOWER = {"Gemm": _gemm, "MatMul": _matmul, "Conv": _conv, "ConvTranspose": _conv,
         "MaxPool": _pool, "AveragePool": _pool, "GlobalAveragePool": _pool,
         "AdaptiveAveragePool": _pool, "GlobalMaxPool": _pool, "AdaptiveMaxPool": _pool,
         "Resize": _resize, "Attention": _attention, "LSTM": _rnn, "GRU": _rnn, "RNN": _rnn}
