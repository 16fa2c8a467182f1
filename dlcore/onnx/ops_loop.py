"""ONNX Loop and Scan.

A plan is built per set of input shapes, so a Scan's sequence length is known at load time,
and so is a Loop's trip count when it comes from constants or shapes (what exporters and
ONNX's function bodies write): then the body is unrolled into the graph, one inline copy
per iteration, each iteration's loop-carried values feeding the next, and the jit passes
see one flat graph.  Unrolling is bounded (MAX_UNROLLED_NODES body nodes in all).

A Loop whose trip count or condition is only known at run time (or too long to unroll)
runs its body's own plan as a Python step (control_run.LoopFn), bounded by
MAX_LOOP_ITERATIONS; its loop-carried values must keep their shapes, and it may have scan
outputs only when their length is known at load time (a constant trip count and a body
whose condition is constant true).
"""
import numpy as np

from .builder import NeedsValues, _small_input_sources
from .control_run import MAX_LOOP_ITERATIONS, LoopFn, SubPlan
from .registry import converter
from .subgraph import check_depth, graph_attr, inline, separate

__all__ = ["MAX_UNROLLED_NODES"]

MAX_UNROLLED_NODES = 1 << 14


def _flag(node, v, what):
    a = np.asarray(v.data)
    if a.size != 1:
        raise node.error("%s must hold one value, got shape %s" % (what, a.shape))
    return bool(a.reshape(-1)[0])


def _stack(b, vals, axis, reverse=False):
    """Values of one shape stacked along a new axis."""
    if reverse:
        vals = vals[::-1]
    parts = []
    for v in vals:
        shape = tuple(v.shape[:axis]) + (1,) + tuple(v.shape[axis:])
        parts.append(b.reshape(v, shape))
    return b.concat(parts, axis)


def _unroll_loop(b, node, scope, body, trip, go, state, n_scan):
    """Outputs of the unrolled Loop, or None when an iteration's condition is only known at
    run time (the nodes converted so far stay unused)."""
    where = node.where() + ": body"
    scans = [[] for _ in range(n_scan)]
    i = 0
    per = max(len(body.node), 1)
    while go and i < trip:
        if (i + 1) * per > MAX_UNROLLED_NODES:
            return None
        ins = [b.scalar(i, np.int64), b.scalar(go, np.bool_)] + state
        outs = inline(b, scope, body, ins, node.opset, where)
        if len(outs) != 1 + len(state) + n_scan:
            raise node.error("the body gives %d outputs; it must give 1 + %d + scan outputs"
                             % (len(outs), len(state)))
        if not outs[0].is_const:
            return None
        go = _flag(node, outs[0], "the body's condition")
        for k, (old, new) in enumerate(zip(state, outs[1:1 + len(state)])):
            if old.dtype != new.dtype:
                raise node.error("loop-carried value %d changes type from %s to %s"
                                 % (k, old.dtype, new.dtype))
        state = list(outs[1:1 + len(state)])
        for s, o in zip(scans, outs[1 + len(state):]):
            if s and tuple(s[0].shape) != tuple(o.shape):
                raise node.unsupported("scan output values change shape between iterations")
            s.append(o)
        i += 1
    if i == 0 and n_scan:
        # no iteration ran: the scan outputs are empty, of the shape one iteration would give
        g, _ = separate(scope, body, _body_types(state), node.opset, where)
        return state + [b.const(np.zeros((0,) + tuple(o.shape), o.dtype))
                        for o in g.outputs[1 + len(state):]]
    return state + [_stack(b, s, 0) for s in scans]


def _body_types(state):
    return [((), np.dtype(np.int64)), ((), np.dtype(np.bool_))] + \
        [(v.shape, v.dtype) for v in state]


@converter("Loop", since=1)
def loop(b, node):
    scope = b.scope
    check_depth(node, scope.depth)
    body = graph_attr(node, "body")
    M, cond = node.input(0), node.input(1)
    state = list(node.inputs[2:])
    if any(v is None for v in state):
        raise node.error("loop-carried inputs must all be given")
    n_scan = len(body.output) - 1 - len(state)
    if n_scan < 0 or node.n_outputs > len(state) + n_scan:
        raise node.error("the body gives %d outputs for %d loop-carried values; the node has "
                         "%d outputs" % (len(body.output), len(state), node.n_outputs))
    if M is not None and M.dtype != np.int64 or cond is not None and cond.dtype != np.bool_:
        raise node.error("M must be int64 and cond bool, got %s and %s"
                         % (None if M is None else M.dtype, None if cond is None else cond.dtype))
    for v in (M, cond):
        if v is not None and not v.is_const:
            small = _small_input_sources(v)
            if small:
                raise NeedsValues(small)   # planned per value of those inputs, then unrolled
    trip = None
    if M is not None and M.is_const:
        trip = int(np.asarray(M.data).reshape(-1)[0])
        if trip > MAX_LOOP_ITERATIONS:
            raise node.error("trip count %d is over the limit of %d iterations"
                             % (trip, MAX_LOOP_ITERATIONS))
    if (M is None or M.is_const) and (cond is None or cond.is_const):
        go = True if cond is None else _flag(node, cond, "cond")
        limit = MAX_LOOP_ITERATIONS if M is None else trip
        outs = _unroll_loop(b, node, scope, body, limit, go, state, n_scan)
        if outs is not None:
            return outs
    return _runtime_loop(b, node, scope, body, M, cond, state, n_scan, trip)


def _runtime_loop(b, node, scope, body, M, cond, state, n_scan, trip):
    where = node.where()
    g, caps = separate(scope, body, _body_types(state), node.opset, where + ": body")
    outs = g.outputs
    for k, (v, o) in enumerate(zip(state, outs[1:1 + len(state)])):
        if v.dtype != o.dtype or tuple(v.shape) != tuple(o.shape):
            raise node.unsupported("loop-carried value %d is %s in and %s out of the body; a "
                                   "Loop run at run time must keep their shapes"
                                   % (k, v.type_str(), o.type_str()))
    scan_types = [(tuple(o.shape), o.dtype) for o in outs[1 + len(state):]]
    if n_scan:
        fixed = trip is not None and (cond is None or cond.is_const) and outs[0].is_const \
            and bool(np.asarray(outs[0].data).reshape(-1)[0])
        if not fixed:
            raise node.unsupported("scan outputs of a Loop whose iteration count is only known "
                                   "at run time")
        if cond is not None and not _flag(node, cond, "cond"):
            trip = 0
    out_types = [(v.shape, v.dtype) for v in state] + \
        [((trip,) + s, d) for s, d in scan_types]
    return b.emit("PyFunction", [M, cond] + state + caps,
                  {"fn": LoopFn, "kwargs": {
                      "body": SubPlan(g, where + " body", scope.optimize), "n_state": len(state),
                      "n_scan": n_scan, "scan_types": scan_types, "max_bytes": b.max_bytes,
                      "what": where, "op": "Loop"}}, out_types)


def _scan_steps(b, node, scope, body, state, xs, in_axes, in_dirs, L):
    """(final state, [per-step outputs] per scan output) of L unrolled steps of body."""
    where = node.where() + ": body"
    n_out = len(body.output) - len(state)
    ys = [[] for _ in range(n_out)]
    for t in range(L):
        slices = []
        for x, a, d in zip(xs, in_axes, in_dirs):
            k = L - 1 - t if d else t
            idx = [0] * x.ndim
            end = list(x.shape)
            idx[a], end[a] = k, k + 1
            s = b.slice(x, idx, end)
            slices.append(b.reshape(s, tuple(x.shape[:a]) + tuple(x.shape[a + 1:])))
        outs = inline(b, scope, body, state + slices, node.opset, where)
        state = list(outs[:len(state)])
        for y, o in zip(ys, outs[len(state):]):
            y.append(o)
    return state, ys


def _scan_body(node, ins, n_in, body, first):
    """(state inputs, scan inputs, number of scan outputs) after the counts are checked;
    ins[first:] are the state then scan inputs."""
    ins = ins[first:]
    if not 1 <= n_in <= len(ins) or any(v is None for v in ins):
        raise node.error("num_scan_inputs %d does not fit %d inputs" % (n_in, len(ins)))
    state, xs = ins[:len(ins) - n_in], ins[len(ins) - n_in:]
    n_out = len(body.output) - len(state)
    if n_out < 0:
        raise node.error("the body gives fewer outputs than the %d state values" % len(state))
    return state, xs, n_out


def _check_unroll(node, body, steps):
    if steps * max(len(body.node), 1) > MAX_UNROLLED_NODES:
        raise node.unsupported("a Scan of %d steps over a %d-node body (more than %d nodes "
                               "unrolled)" % (steps, len(body.node), MAX_UNROLLED_NODES))


@converter("Scan", since=8)
def scan(b, node):
    scope = b.scope
    check_depth(node, scope.depth)
    body = graph_attr(node, "body")
    n_in = int(node.attr("num_scan_inputs"))
    if node.opset < 9:
        return _scan8(b, node, scope, body, n_in)
    state, xs, n_out = _scan_body(node, list(node.inputs), n_in, body, 0)
    in_axes = [node.axis(a, x.ndim) for a, x in zip(node.attr("scan_input_axes", [0] * n_in),
                                                     xs)]
    in_dirs = list(node.attr("scan_input_directions", [0] * n_in))
    out_axes = list(node.attr("scan_output_axes", [0] * n_out))
    out_dirs = list(node.attr("scan_output_directions", [0] * n_out))
    if len(in_axes) != n_in or len(in_dirs) != n_in or len(out_axes) != n_out or \
            len(out_dirs) != n_out:
        raise node.error("scan axes/directions must have one entry per scan input / output")
    lens = {x.shape[a] for x, a in zip(xs, in_axes)}
    if len(lens) != 1:
        raise node.error("scan inputs have different sequence lengths %s" % sorted(lens))
    L = lens.pop()
    _check_unroll(node, body, L)
    state, ys = _scan_steps(b, node, scope, body, state, xs, in_axes, in_dirs, L)
    res = []
    for y, a, d in zip(ys, out_axes, out_dirs):
        if not y:
            raise node.unsupported("a Scan of length 0 gives outputs of unknown shape")
        res.append(_stack(b, y, node.axis(a, y[0].ndim + 1), reverse=bool(d)))
    return state + res


def _scan8(b, node, scope, body, n_in):
    """Scan-8: inputs (sequence_lens, state..., scan inputs...) with a leading batch axis on
    every one, the sequence on axis 1 of the scan inputs; the body sees one batch entry.
    Each batch entry is unrolled over its own length (sequence_lens, known at load time),
    its scan outputs zero-padded to the longest."""
    state, xs, n_out = _scan_body(node, list(node.inputs), n_in, body, 1)
    dirs = list(node.attr("directions", [0] * n_in))
    if len(dirs) != n_in:
        raise node.error("directions must have one entry per scan input")
    if any(v.ndim < 1 for v in state) or any(x.ndim < 2 for x in xs):
        raise node.error("Scan-8 inputs need a batch axis (and scan inputs a sequence axis), "
                         "got shapes %s" % [tuple(v.shape) for v in state + xs])
    batch = {v.shape[0] for v in state + xs}
    lens = {x.shape[1] for x in xs}
    if len(batch) != 1 or len(lens) != 1:
        raise node.error("Scan-8 inputs must share the batch size and sequence length, got "
                         "shapes %s" % [tuple(v.shape) for v in state + xs])
    B, L = batch.pop(), lens.pop()
    if B == 0:
        raise node.unsupported("a Scan-8 over a batch of 0 gives outputs of unknown shape")
    seq = [L] * B
    if node.input(0) is not None:
        seq = node.ints(0, "sequence_lens")
        if len(seq) != B or any(not 1 <= s <= L for s in seq):   # ONNX Runtime's bounds
            raise node.error("sequence_lens %s must hold %d lengths in [1, %d]" % (seq, B, L))
    _check_unroll(node, body, sum(seq))
    finals, outs = [], [[] for _ in range(n_out)]
    for i in range(B):
        def row(v):
            s = b.slice(v, [i] + [0] * (v.ndim - 1), [i + 1] + list(v.shape[1:]))
            return b.reshape(s, tuple(v.shape[1:]))
        st, ys = _scan_steps(b, node, scope, body, [row(v) for v in state],
                             [row(x) for x in xs], [0] * n_in, dirs, seq[i])
        finals.append(st)
        for k in range(n_out):
            if not ys[k]:
                raise node.unsupported("a Scan of length 0 gives outputs of unknown shape")
            y = _stack(b, ys[k], 0)
            if seq[i] < L:
                pad = b.const(np.zeros((L - seq[i],) + tuple(y.shape[1:]), y.dtype))
                y = b.concat([y, pad], 0)
            outs[k].append(y)
    res = [_stack(b, [f[k] for f in finals], 0) for k in range(len(state))]
    return res + [_stack(b, o, 0) for o in outs]
