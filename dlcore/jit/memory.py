"""The memory plan: every arena buffer lives from the step that first writes it to the last
step that reads it; buffers whose lives do not overlap share bytes.  Offsets are chosen
greedily, largest buffer first, at the lowest 64-byte aligned offset free for its whole life
(in-place reuse was already decided during lowering: such a value simply has no buffer of
its own).  Also: what eager mode would hold at its peak, for comparison."""

__all__ = ["assign_offsets", "liveness", "eager_peak_bytes"]

ALIGN = 64


def liveness(steps, bufs):
    """Sets first/last step of every arena Buf from the steps' operands."""
    for b in bufs:
        b.first = b.last = -1
    for k, s in enumerate(steps):
        for r in s.operands:
            if r is None or r.buf.kind != "arena":
                continue
            b = r.buf
            if b.first < 0:
                b.first = k
            b.last = k


def assign_offsets(bufs):
    """Arena offsets for the live arena Bufs; returns the arena size in bytes."""
    live = [b for b in bufs if b.kind == "arena" and b.first >= 0]
    live.sort(key=lambda b: (-b.nbytes, b.first))
    placed = []
    size = 0
    for b in live:
        need = -(-b.nbytes // ALIGN) * ALIGN
        busy = sorted((p.offset, p.offset + (-(-p.nbytes // ALIGN) * ALIGN)) for p in placed
                      if not (p.last < b.first or b.last < p.first))
        off = 0
        for lo, hi in busy:
            if off + need <= lo:
                break
            off = max(off, hi)
        b.offset = off
        placed.append(b)
        size = max(size, off + need)
    for b in bufs:
        if b.kind == "arena" and b.first < 0:
            b.offset = 0
    return size


def eager_peak_bytes(graph):
    """Most bytes of op results alive at once when every node output gets its own array,
    freed after its last reader (eager mode; views such as Reshape and Transpose count as
    free, as NumPy makes them without copying)."""
    views = {"Reshape", "Transpose", "Slice", "Expand", "Identity", "Dropout", "View"}
    last = {}
    for k, n in enumerate(graph.nodes):
        for v in n.inputs:
            if v is not None:
                last[id(v)] = k
    outs = {id(v) for v in graph.outputs}
    live, peak, cur = {}, 0, 0
    for k, n in enumerate(graph.nodes):
        if n.op not in views:
            for o in n.outputs:
                live[id(o)] = o.numel() * o.dtype.itemsize
                cur += live[id(o)]
        peak = max(peak, cur)
        for v in n.inputs:
            if v is not None and last.get(id(v)) == k and id(v) in live and id(v) not in outs:
                cur -= live.pop(id(v))
    return peak
