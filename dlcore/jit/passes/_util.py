"""What the passes share: use counts and removing a node by rewiring its output."""

__all__ = ["Uses", "bypass", "const_data"]


class Uses:
    """Who reads each value (recomputed by the passes after they rewrite)."""

    def __init__(self, graph):
        self.graph = graph
        self.refresh()

    def refresh(self):
        self.map = self.graph.uses()
        self.outputs = {id(v) for v in self.graph.outputs}

    def of(self, v):
        return [(n, i) for n, i in self.map.get(id(v), []) if n is not None]

    def count(self, v):
        return len(self.map.get(id(v), []))

    def only_user(self, v):
        """The one node reading v when v has exactly one reader and is not a graph output."""
        users = self.map.get(id(v), [])
        if len(users) != 1 or users[0][0] is None:
            return None
        return users[0][0]


def bypass(graph, node, keep):
    """Remove `node`, its (single) output now read as Value `keep`."""
    graph.replace_uses(node.outputs[0], keep)
    graph.nodes.remove(node)


def const_data(v):
    """The array of a constant Value, or None."""
    return v.data if v is not None and v.is_const else None
