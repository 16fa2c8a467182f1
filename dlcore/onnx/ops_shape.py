"""Tensor-shape ONNX ops: Constant, Shape, Size, Reshape, Flatten, Transpose, Squeeze,
Unsqueeze, Concat, Split, Slice, Gather(Elements/ND), Expand, Tile, Pad, ConstantOfShape,
Range, EyeLike, Trilu, DepthToSpace, SpaceToDepth, NonZero, Compress, OneHot, Scatter*.

Shapes are concrete when the importer runs, so Shape and Size are constants and the shape
arguments of Reshape/Expand/Tile/Slice/... (inputs since opset 5-13) must be computable at
load time; Reshape, Transpose, Slice and Expand are views in the plan (no copy)."""
import numpy as np

from .reader import np_dtype
from .registry import converter

__all__ = []

_INT_MAX = (1 << 63) - 1


@converter("Constant")
def constant(b, node):
    at = node.attrs
    if "value" in at:
        return [b.const(at["value"])]
    for key, dt in (("value_float", np.float32), ("value_floats", np.float32),
                    ("value_int", np.int64), ("value_ints", np.int64)):
        if key in at:
            return [b.const(np.asarray(at[key], dt))]
    raise node.unsupported("only tensor, float(s) and int(s) values are supported, got %s"
                           % sorted(at))


@converter("Shape")
def shape(b, node):
    x = node.need_input(0, "data")
    dims = list(x.shape)
    n = len(dims)
    start, end = node.attr("start", 0), node.attr("end", n)
    start = min(max(start + n if start < 0 else start, 0), n)
    end = min(max(end + n if end < 0 else end, 0), n)
    return [b.const(np.asarray(dims[start:end], np.int64))]


@converter("Size")
def size(b, node):
    return [b.const(np.asarray(node.need_input(0, "data").numel(), np.int64))]


def reshape_target(node, x, target, allowzero=0):
    out, infer = [], None
    for i, s in enumerate(target):
        if s == 0 and not allowzero:
            if i >= x.ndim:
                raise node.error("shape %s copies dim %d of a %d-D input" % (target, i, x.ndim))
            s = x.shape[i]
        if s == -1:
            if infer is not None:
                raise node.error("shape %s has more than one -1" % (target,))
            infer = i
            s = 1
        elif s < 0:
            raise node.error("shape %s has a negative size" % (target,))
        out.append(s)
    known = int(np.prod(out, dtype=np.int64))
    if infer is not None:
        if known == 0 or x.numel() % known:
            raise node.error("cannot reshape %s (%d elements) to %s"
                             % (x.shape, x.numel(), target))
        out[infer] = x.numel() // known
    if int(np.prod(out, dtype=np.int64)) != x.numel():
        raise node.error("cannot reshape %s (%d elements) to %s" % (x.shape, x.numel(), target))
    return out


@converter("Reshape")
def reshape(b, node):
    x = node.need_input(0, "data")
    target = node.ints(1, "shape") if node.opset >= 5 else list(node.attr("shape"))
    return [b.reshape(x, reshape_target(node, x, target, node.attr("allowzero", 0)))]


@converter("Flatten")
def flatten(b, node):
    x = node.need_input(0, "input")
    axis = node.attr("axis", 1)
    if not -x.ndim <= axis <= x.ndim:
        raise node.error("axis %d is out of range for a %d-D input" % (axis, x.ndim))
    axis = axis + x.ndim if axis < 0 else axis
    rows = int(np.prod(x.shape[:axis], dtype=np.int64))
    return [b.reshape(x, (rows, int(np.prod(x.shape[axis:], dtype=np.int64))))]


@converter("Transpose")
def transpose(b, node):
    x = node.need_input(0, "data")
    perm = node.attr("perm", list(range(x.ndim))[::-1])
    if sorted(perm) != list(range(x.ndim)):
        raise node.error("perm %s is not a permutation of %d dims" % (perm, x.ndim))
    y = b.transpose(x, perm)
    return [y if y is not x else b.op("Identity", [x], {}, x.shape, x.dtype)]


def _axes(node, i, what="axes"):
    """Axes from the attribute (older opsets) or input i (opset 13 on)."""
    if node.opset >= 13:
        return node.ints(i, what, None)
    a = node.attr(what, None)
    return None if a is None else list(a)


@converter("Squeeze")
def squeeze(b, node):
    x = node.need_input(0, "data")
    axes = _axes(node, 1)
    if axes is None:
        axes = [i for i, s in enumerate(x.shape) if s == 1]
    axes = {node.axis(a, x.ndim) for a in axes}
    for a in axes:
        if x.shape[a] != 1:
            raise node.error("cannot squeeze dim %d of size %d" % (a, x.shape[a]))
    return [b.reshape(x, [s for i, s in enumerate(x.shape) if i not in axes])]


@converter("Unsqueeze")
def unsqueeze(b, node):
    x = node.need_input(0, "data")
    axes = _axes(node, 1)
    if axes is None:
        raise node.error("axes are required")
    n = x.ndim + len(axes)
    axes = sorted(node.axis(a, n) for a in axes)
    if len(set(axes)) != len(axes):
        raise node.error("axes %s repeat" % axes)
    out, it = [], iter(x.shape)
    for i in range(n):
        out.append(1 if i in axes else next(it))
    return [b.reshape(x, out)]


@converter("Concat")
def concat(b, node):
    xs = [v for v in node.inputs if v is not None]
    if not xs:
        raise node.error("needs at least one input")
    nd = xs[0].ndim
    axis = node.axis(node.attr("axis", 1) if node.opset < 4 else node.attr("axis"), nd)
    for v in xs:
        if v.ndim != nd or any(s != t for i, (s, t) in enumerate(zip(v.shape, xs[0].shape))
                               if i != axis):
            raise node.error("inputs %s do not match outside axis %d"
                             % ([tuple(u.shape) for u in xs], axis))
        if v.dtype != xs[0].dtype:
            raise node.error("inputs have different dtypes %s" % sorted({u.dtype.name
                                                                         for u in xs}))
    y = b.concat(xs, axis)
    return [y if y is not xs[0] else b.op("Identity", [y], {}, y.shape, y.dtype)]


@converter("Split")
def split(b, node):
    x = node.need_input(0, "input")
    axis = node.axis(node.attr("axis", 0), x.ndim)
    n = node.n_outputs
    sizes = node.ints(1, "split", None) if node.opset >= 13 else node.attr("split", None)
    if node.opset < 2 and sizes is None and node.input(1) is not None:
        sizes = node.ints(1, "split")
    dim = x.shape[axis]
    if sizes is None:
        k = node.attr("num_outputs", n) if node.opset >= 18 else n
        if node.opset >= 18 and "num_outputs" not in node.attrs:
            raise node.error("give split or num_outputs")
        if k != n:
            raise node.error("num_outputs %d but %d outputs" % (k, n))
        chunk = -(-dim // k)
        sizes = [min(chunk, max(dim - i * chunk, 0)) for i in range(k)]
    if len(sizes) != n or sum(sizes) != dim or any(s < 0 for s in sizes):
        raise node.error("split sizes %s do not cut dim %d of size %d into %d parts"
                         % (list(sizes), axis, dim, n))
    outs, pos = [], 0
    for s in sizes:
        starts = [0] * x.ndim
        ends = list(x.shape)
        starts[axis], ends[axis] = pos, pos + s
        y = b.slice(x, starts, ends)
        outs.append(y if y is not x else b.op("Identity", [x], {}, x.shape, x.dtype))
        pos += s
    return outs


def _clamp_slice(start, end, step, dim):
    if start < 0:
        start += dim
    if end < 0:
        end += dim
    if step > 0:
        start = min(max(start, 0), dim)
        end = min(max(end, 0), dim)
    else:
        start = min(max(start, 0), dim - 1)
        end = min(max(end, -1), dim - 1)
    return start, end


@converter("Slice")
def slice_(b, node):
    x = node.need_input(0, "data")
    if node.opset >= 10:
        starts, ends = node.ints(1, "starts"), node.ints(2, "ends")
        axes = node.ints(3, "axes", None)
        steps = node.ints(4, "steps", None)
    else:
        starts, ends = list(node.attr("starts")), list(node.attr("ends"))
        axes, steps = node.attr("axes", None), None
    if axes is None:
        axes = list(range(len(starts)))
    if steps is None:
        steps = [1] * len(starts)
    if not len(starts) == len(ends) == len(axes) == len(steps):
        raise node.error("starts %s, ends %s, axes %s and steps %s differ in length"
                         % (starts, ends, axes, steps))
    st, en, sp = [0] * x.ndim, list(x.shape), [1] * x.ndim
    seen = set()
    for s, e, a, p in zip(starts, ends, axes, steps):
        a = node.axis(a, x.ndim)
        if a in seen:
            raise node.error("axis %d appears twice" % a)
        seen.add(a)
        if p == 0:
            raise node.error("steps must not be 0")
        s, e = max(min(s, _INT_MAX), -_INT_MAX), max(min(e, _INT_MAX), -_INT_MAX)
        st[a], en[a] = _clamp_slice(s, e, p, x.shape[a])
        sp[a] = p
    y = b.slice(x, st, en, sp)
    return [y if y is not x else b.op("Identity", [x], {}, x.shape, x.dtype)]


@converter("Gather")
def gather(b, node):
    x, idx = node.need_input(0, "data"), node.need_input(1, "indices")
    axis = node.axis(node.attr("axis", 0), x.ndim)
    if idx.dtype.kind not in "iu":
        raise node.error("indices must be integers, got %s" % idx.dtype)
    if idx.is_const:
        d = idx.data.astype(np.int64)
        n = x.shape[axis]
        if d.size and (d.min() < -n or d.max() >= n):
            raise node.error("indices out of range for dim %d of size %d" % (axis, n))
        idx = b.const(np.where(d < 0, d + n, d))
    elif idx.dtype != np.int64 and idx.dtype != np.int32:
        idx = b.cast(idx, np.int64)
    return [b.gather(x, idx, axis)]


@converter("GatherElements", since=11)
def gather_elements(b, node):
    x, idx = node.need_input(0, "data"), node.need_input(1, "indices")
    axis = node.axis(node.attr("axis", 0), x.ndim)
    if idx.ndim != x.ndim:
        raise node.error("indices must have the rank of data")
    return [b.op("GatherElements", [x, b.cast(idx, np.int64)], {"axis": axis}, idx.shape,
                 x.dtype)]


@converter("GatherND", since=11)
def gather_nd(b, node):
    x, idx = node.need_input(0, "data"), node.need_input(1, "indices")
    bd = node.attr("batch_dims", 0)
    k = idx.shape[-1]
    shape = tuple(idx.shape[:-1]) + tuple(x.shape[bd + k:])
    return [b.numpy1("GatherND", [x, idx], shape, x.dtype, batch_dims=bd)]


@converter("Expand", since=8)
def expand(b, node):
    x = node.need_input(0, "input")
    target = node.ints(1, "shape")
    try:
        shape = np.broadcast_shapes(tuple(x.shape), tuple(target))
    except ValueError:
        raise node.error("input %s does not broadcast to %s" % (x.shape, target)) from None
    if x.ndim < len(shape):
        x = b.reshape(x, (1,) * (len(shape) - x.ndim) + tuple(x.shape))
    y = b.expand(x, shape)
    return [y if y is not node.inputs[0] else b.op("Identity", [y], {}, y.shape, y.dtype)]


@converter("Tile", since=6)
def tile(b, node):
    x = node.need_input(0, "input")
    reps = node.ints(1, "repeats")
    if len(reps) != x.ndim or any(r < 0 for r in reps):
        raise node.error("repeats %s must be %d non-negative ints" % (reps, x.ndim))
    shape = tuple(s * r for s, r in zip(x.shape, reps))
    return [b.op("Tile", [x], {"repeats": tuple(reps)}, shape, x.dtype)]


def _pad_indices(n, before, after, mode):
    i = np.arange(-before, n + after)
    if mode == "edge":
        return np.clip(i, 0, n - 1)
    if mode == "wrap":
        return np.mod(i, n)
    # reflect: mirror without repeating the edge element
    if n == 1:
        return np.zeros_like(i)
    period = 2 * (n - 1)
    j = np.mod(i, period)
    return np.where(j >= n, period - j, j)


@converter("Pad")
def pad(b, node):
    x = node.need_input(0, "data")
    mode = node.attr("mode", "constant")
    if node.opset >= 11:
        pads = node.ints(1, "pads")
        cv = node.const(2, "constant_value", None)
        value = 0.0 if cv is None or np.asarray(cv).size == 0 else np.asarray(cv).reshape(-1)[0]
        axes = node.ints(3, "axes", None)
    else:
        pads = list(node.attr("pads" if node.opset >= 2 else "paddings"))
        value = node.attr("value", 0.0)
        axes = None
    if axes is None:
        axes = list(range(x.ndim))
    axes = [node.axis(a, x.ndim) for a in axes]
    if len(pads) != 2 * len(axes):
        raise node.error("pads %s must have 2 entries per padded axis (%d)" % (pads, len(axes)))
    per = [(0, 0)] * x.ndim
    for k, a in enumerate(axes):
        per[a] = (pads[k], pads[len(axes) + k])
    shape = tuple(n + p + q for n, (p, q) in zip(x.shape, per))
    if any(s < 0 for s in shape):
        raise node.error("pads %s crop more than the input %s has" % (pads, x.shape))
    if mode == "constant":
        if all(p == 0 and q == 0 for p, q in per):
            return [b.op("Identity", [x], {}, x.shape, x.dtype)]
        return [b.op("Pad", [x], {"pads": tuple(per), "value": float(value)}, shape, x.dtype)]
    if mode not in ("reflect", "edge", "wrap"):
        raise node.error("mode %r is not constant, reflect, edge or wrap" % mode)
    y = x
    for a, (p, q) in enumerate(per):
        if p == 0 and q == 0:
            continue
        n = y.shape[a]
        if p < 0 or q < 0:
            keep = [max(-p, 0), n - max(-q, 0)]
            starts, ends = [0] * y.ndim, list(y.shape)
            starts[a], ends[a] = keep
            y = b.slice(y, starts, ends)
            p, q, n = max(p, 0), max(q, 0), y.shape[a]
        if n == 0 or (mode == "reflect" and (p >= n or q >= n) and n > 1):
            raise node.error("%s padding of %d/%d on a dim of size %d" % (mode, p, q, n))
        y = b.gather(y, b.const(_pad_indices(n, p, q, mode).astype(np.int64)), a)
    return [y]


@converter("ConstantOfShape", since=9)
def constant_of_shape(b, node):
    shape = node.ints(0, "input")
    value = node.attr("value", None)
    value = np.zeros(1, np.float32) if value is None else np.asarray(value)
    if value.size != 1:
        raise node.error("value must hold one element, got %d" % value.size)
    b._check_size(shape, value.dtype, "ConstantOfShape")
    return [b.const(np.full(shape, value.reshape(-1)[0], dtype=value.dtype))]


@converter("Range", since=11)
def range_(b, node):
    start, limit, delta = (np.asarray(node.const(i, n)) for i, n in
                           enumerate(("start", "limit", "delta")))
    dt = start.dtype
    s, l, d = start.reshape(()).item(), limit.reshape(()).item(), delta.reshape(()).item()
    if d == 0:
        raise node.error("delta must not be 0")
    n = max(int(np.ceil((l - s) / d)), 0)
    b._check_size((n,), dt, "Range")
    return [b.const((s + np.arange(n) * d).astype(dt) if dt.kind == "f"
                    else np.arange(s, s + n * d, d, dtype=dt)[:n])]


@converter("EyeLike", since=9)
def eye_like(b, node):
    x = node.need_input(0, "input")
    if x.ndim != 2:
        raise node.error("input must be 2-D, got shape %s" % (x.shape,))
    dt = x.dtype if "dtype" not in node.attrs else np_dtype(node.attr("dtype"), node.where())
    return [b.const(np.eye(x.shape[0], x.shape[1], k=node.attr("k", 0), dtype=dt))]


@converter("Trilu", since=14)
def trilu(b, node):
    x = node.need_input(0, "input")
    k = node.ints(1, "k", [0])
    if x.ndim < 2:
        raise node.error("input must be at least 2-D, got shape %s" % (x.shape,))
    return [b.op("Trilu", [x], {"upper": int(node.attr("upper", 1)), "k": int(k[0])},
                 x.shape, x.dtype)]


@converter("DepthToSpace")
def depth_to_space(b, node):
    x = node.need_input(0, "input")
    bs = int(node.attr("blocksize"))
    N, C, H, W = x.shape
    if C % (bs * bs):
        raise node.error("channels %d are not a multiple of blocksize^2 = %d" % (C, bs * bs))
    c = C // (bs * bs)
    if node.attr("mode", "DCR") == "DCR":
        t = b.transpose(b.reshape(x, (N, bs, bs, c, H, W)), (0, 3, 4, 1, 5, 2))
    else:
        t = b.transpose(b.reshape(x, (N, c, bs, bs, H, W)), (0, 1, 4, 2, 5, 3))
    return [b.reshape(t, (N, c, H * bs, W * bs))]


@converter("SpaceToDepth")
def space_to_depth(b, node):
    x = node.need_input(0, "input")
    bs = int(node.attr("blocksize"))
    N, C, H, W = x.shape
    if H % bs or W % bs:
        raise node.error("H, W (%d, %d) are not multiples of blocksize %d" % (H, W, bs))
    mode = node.attr("mode", "DCR")
    perm = (0, 3, 5, 1, 2, 4) if mode == "DCR" else (0, 1, 3, 5, 2, 4)
    t = b.transpose(b.reshape(x, (N, C, H // bs, bs, W // bs, bs)), perm)
    return [b.reshape(t, (N, C * bs * bs, H // bs, W // bs))]


@converter("NonZero", since=9)
def nonzero(b, node):
    x = node.const(0, "X")
    return [b.const(np.array(np.nonzero(x), dtype=np.int64).reshape(x.ndim, -1))]


@converter("Compress", since=9)
def compress(b, node):
    x = node.need_input(0, "input")
    cond = np.asarray(node.const(1, "condition")).astype(bool).reshape(-1)
    axis = node.attr("axis", None)
    if axis is None:
        x = b.reshape(x, (x.numel(),))
        axis = 0
    axis = node.axis(axis, x.ndim)
    idx = np.nonzero(cond[:x.shape[axis]])[0].astype(np.int64)
    return [b.gather(x, b.const(idx), axis)]


@converter("OneHot", since=9)
def one_hot(b, node):
    idx, values = node.need_input(0, "indices"), node.need_input(2, "values")
    depth = int(np.asarray(node.const(1, "depth")).reshape(-1)[0])
    axis = node.attr("axis", -1)
    nd = idx.ndim + 1
    axis = node.axis(axis, nd)
    shape = list(idx.shape)
    shape.insert(axis, depth)
    return [b.numpy1("OneHot", [idx, b.const(np.asarray(depth)), values], shape, values.dtype,
                     axis=axis)]


@converter("ScatterElements", "Scatter")
def scatter_elements(b, node):
    x, idx, upd = (node.need_input(i, n) for i, n in enumerate(("data", "indices", "updates")))
    axis = node.axis(node.attr("axis", 0), x.ndim)
    return [b.numpy1("ScatterElements", [x, idx, upd], x.shape, x.dtype, axis=axis,
                     reduction=node.attr("reduction", "none"))]


@converter("ScatterND", since=11)
def scatter_nd(b, node):
    x, idx, upd = (node.need_input(i, n) for i, n in enumerate(("data", "indices", "updates")))
    return [b.numpy1("ScatterND", [x, idx, upd], x.shape, x.dtype,
                     reduction=node.attr("reduction", "none"))]


@converter("ReverseSequence", since=10)
def reverse_sequence(b, node):
    x, lens = node.need_input(0, "input"), node.need_input(1, "sequence_lens")
    return [b.numpy1("ReverseSequence", [x, lens], x.shape, x.dtype,
                     batch_axis=node.attr("batch_axis", 1), time_axis=node.attr("time_axis", 0))]
