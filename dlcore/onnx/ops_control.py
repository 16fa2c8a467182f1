"""ONNX control flow: If (Loop and Scan in ops_loop.py).

The importer builds one graph per set of input shapes, so most conditions are known at load
time (computed from constants, attributes and shapes, as in the function bodies ONNX's
*_expanded cases spell out): then only the branch taken is converted, inline, and the
other is never read.  A condition that depends on input data runs both branches' plans
behind one Python step that picks at run time (control_run.IfFn); the two branches must
then give outputs of the same dtypes and shapes, since a plan's buffers are planned ahead.
"""
import numpy as np

from .control_run import IfFn, SubPlan
from .registry import converter
from .subgraph import check_depth, graph_attr, inline, separate

__all__ = []


def _flag(node, c):
    a = np.asarray(c.data)
    if a.size != 1:
        raise node.error("cond must hold one value, got shape %s" % (a.shape,))
    return bool(a.reshape(-1)[0])


@converter("If")
def if_(b, node):
    scope = b.scope
    check_depth(node, scope.depth)
    cond = node.need_input(0, "cond")
    if cond.dtype != np.bool_:
        raise node.error("cond must be bool, got %s" % cond.dtype)
    then_g, else_g = graph_attr(node, "then_branch"), graph_attr(node, "else_branch")
    if len(then_g.output) != node.n_outputs or len(else_g.output) != node.n_outputs:
        raise node.error("then_branch and else_branch give %d and %d outputs; the node has %d"
                         % (len(then_g.output), len(else_g.output), node.n_outputs))
    where = node.where()
    if cond.is_const:
        take = then_g if _flag(node, cond) else else_g
        name = "then_branch" if take is then_g else "else_branch"
        return inline(b, scope, take, [], node.opset, "%s: %s" % (where, name))
    if cond.numel() != 1:
        raise node.error("cond must hold one value, got shape %s" % (cond.shape,))
    graphs, caps = [], []
    for g, name in ((then_g, "then_branch"), (else_g, "else_branch")):
        sub, cap = separate(scope, g, [], node.opset, "%s: %s" % (where, name))
        graphs.append(sub)
        caps.append(cap)
    outs_t, outs_e = graphs[0].outputs, graphs[1].outputs
    for k, (t, e) in enumerate(zip(outs_t, outs_e)):
        if t.dtype != e.dtype or tuple(t.shape) != tuple(e.shape):
            raise node.unsupported(
                "output %d is %s in then_branch and %s in else_branch; with a condition known "
                "only at run time both branches must give the same dtype and shape"
                % (k, t.type_str(), e.type_str()))
    # the step's inputs: cond, then every captured outer Value once
    order, index = [], {}
    for cap in caps:
        for v in cap:
            if id(v) not in index:
                index[id(v)] = len(order)
                order.append(v)
    takes = tuple(tuple(index[id(v)] for v in cap) for cap in caps)
    branches = (SubPlan(graphs[0], where + " then_branch", scope.optimize),
                SubPlan(graphs[1], where + " else_branch", scope.optimize))
    return b.emit("PyFunction", [cond] + order,
                  {"fn": IfFn, "kwargs": {"branches": branches, "takes": takes,
                                          "what": where, "op": "If"}},
                  [(t.shape, t.dtype) for t in outs_t])
