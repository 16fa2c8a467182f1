"""Dropout and identity removal: Identity and Dropout (inference is the identity), and ops that
change nothing here — a Reshape, Expand or Transpose to the same layout, a Cast to the same
dtype, a Slice over every element — are dropped and their readers read the input."""

__all__ = ["run"]


def _is_noop(node):
    op, at = node.op, node.attrs
    x, y = node.inputs[0] if node.inputs else None, node.outputs[0]
    if op in ("Identity", "Dropout"):
        return len(node.outputs) == 1
    if x is None or tuple(x.shape) != tuple(y.shape) or x.dtype != y.dtype:
        return False
    if op in ("Reshape", "Expand", "Cast"):
        return True
    if op == "Transpose":
        return tuple(at["perm"]) == tuple(range(len(at["perm"])))
    if op == "Slice":
        return all(s == 1 for s in at["steps"]) and all(a == 0 for a in at["starts"])
    return False


def run(graph):
    n = 0
    for node in list(graph.nodes):
        if _is_noop(node):
            graph.replace_uses(node.outputs[0], node.inputs[0])
            graph.nodes.remove(node)
            n += 1
    return n
