"""Converting an ONNX subgraph (an If branch, a Loop or Scan body) into IR.

A subgraph reads its own inputs and initializers and, by name, any value of the graphs that
enclose it (outer-scope capture).  Two ways in:
- `inline`: its nodes go into the enclosing graph's builder (an If whose condition is known
  at load time, an unrolled Loop), so the jit passes see one flat graph;
- `separate`: its nodes go into a graph of their own whose inputs are the subgraph's inputs
  followed by the outer values it captures (constants stay constants), to be planned on its
  own and run by a control-flow step (control_run.py) when the choice is made at run time.
"""
from collections import ChainMap

from . import narrow
from .builder import Builder, NeedsValues
from .errors import OnnxError, UnsupportedOpError
from .reader import tensor_to_array

__all__ = ["inline", "separate", "MAX_NESTING", "check_depth", "graph_attr"]

# how deeply subgraphs (and function bodies) may nest: real models nest a few levels; a file
# nesting thousands of Ifs is hostile and must not exhaust Python's stack
MAX_NESTING = 24


def check_depth(node, depth):
    if depth >= MAX_NESTING:
        raise node.error("subgraphs nest more than %d deep (a hostile or broken file?)"
                         % MAX_NESTING)


def graph_attr(node, key):
    a = node.attrs.get(key)
    if a is None:
        raise node.error("required graph attribute %r is missing" % key)
    if not a.HasField("g"):
        raise node.error("attribute %r must be a graph" % key)
    return a.g


def _convert(b, scope, graph, env, opset, where):
    if len(graph.sparse_initializer):
        raise UnsupportedOpError("%s: sparse initializers are not supported" % where)
    for t in graph.initializer:
        env[t.name] = narrow.tag(b, b.const(tensor_to_array(
            t, scope.model.base_dir, scope.model.max_bytes,
            "%s initializer %r" % (where, t.name))), narrow.narrow_name(t.data_type))
    for k, n in enumerate(graph.node):
        for name in n.input:
            if name and name not in env:
                raise OnnxError("%s: node %d (%s) reads %r, which neither the subgraph nor an "
                                "enclosing graph defines before it" % (where, k, n.op_type, name))
        scope.convert(b, scope.model, n, k, env, opset, where + ": ", scope.depth + 1)
    outs = []
    for o in graph.output:
        if o.name not in env:
            raise OnnxError("%s: output %r is never defined" % (where, o.name))
        outs.append(env[o.name])
    return outs


def inline(b, scope, graph, inputs, opset, where):
    """The subgraph's output Values, its nodes converted into `b` with its inputs bound to
    `inputs` (Values) and outer names read from scope.env."""
    if len(inputs) != len(graph.input):
        raise OnnxError("%s: the subgraph takes %d inputs, %d given"
                        % (where, len(graph.input), len(inputs)))
    local = {i.name: v for i, v in zip(graph.input, inputs)}
    return _convert(b, scope, graph, ChainMap(local, scope.env), opset, where)


class _Captures:
    """The enclosing graphs' names seen from a separate graph: each outer value read becomes
    a constant (when it is one) or a new input of the separate graph, recorded in order."""

    def __init__(self, b, outer):
        self.b, self.outer = b, outer
        self.seen = {}
        self.values = []    # the outer Values the separate graph takes, after its own inputs

    def __contains__(self, name):
        return name in self.seen or name in self.outer

    def __getitem__(self, name):
        v = self.seen.get(name)
        if v is None:
            u = self.outer[name]
            if u is None:
                return None
            if u.is_const:
                v = self.b.const(u.data)
            else:
                v = self.b.g.add_input("outer_%d" % len(self.values), u.shape, u.dtype)
                self.values.append(u)
            self.seen[name] = v
        return v


def separate(scope, graph, input_types, opset, where):
    """(IR Graph, the outer Values it captures): the subgraph as a graph of its own taking
    inputs of `input_types` ((shape, dtype) per subgraph input) then the captures."""
    if len(input_types) != len(graph.input):
        raise OnnxError("%s: the subgraph takes %d inputs, %d given"
                        % (where, len(graph.input), len(input_types)))
    b = Builder(scope.model.max_bytes, scope.optimize)
    local = {}
    for i, (shape, dtype) in zip(graph.input, input_types):
        local[i.name] = b.g.add_input(i.name, shape, dtype)
    caps = _Captures(b, scope.env)
    try:
        outs = _convert(b, scope, graph, ChainMap(local, caps), opset, where)
    except NeedsValues as e:
        # the subgraph's own inputs (and what it captures) are run-time values here
        raise UnsupportedOpError("%s: a shape or attribute there depends on %s, known only "
                                 "when the subgraph runs (not supported by dlcore.onnx)"
                                 % (where, e)) from None
    b.g.outputs = outs
    b.g.check()
    return b.g, caps.values
