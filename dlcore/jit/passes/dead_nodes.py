"""Dead-node removal: nodes none of whose outputs reach a graph output are dropped (every op
in the IR is free of side effects)."""

__all__ = ["run"]


def run(graph):
    live = {id(v) for v in graph.outputs}
    keep = []
    for node in reversed(graph.nodes):
        if any(id(o) in live for o in node.outputs):
            keep.append(node)
            live.update(id(v) for v in node.inputs if v is not None)
    removed = len(graph.nodes) - len(keep)
    graph.nodes = keep[::-1]
    return removed
