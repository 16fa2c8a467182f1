"""Higher-level differentiation (PyTorch's torch.autograd.functional): vjp, jvp, jacobian,
hessian, hvp, vhp — built on grad(), jvp by differentiating a vjp (the double-vjp trick)."""
import numpy as np

from ..tensor_base import TensorBase, wrap
from . import engine
from .function import Function
from .grad_mode import enable_grad


def _tuple(x, fname, name):
    is_tuple = isinstance(x, (tuple, list))
    xs = tuple(x) if is_tuple else (x,)
    for i, t in enumerate(xs):
        if not isinstance(t, TensorBase):
            raise TypeError("%s: %s[%d] must be a Tensor, got %s"
                            % (fname, name, i, type(t).__name__))
    return is_tuple, xs


def _vectors(v, ts, fname, what):
    """The vectors v as a list of Tensors; v None (ones) only where every t of ts, the
    function's `what`, is a scalar."""
    if v is None:
        if any(t.numel() != 1 for t in ts):
            raise RuntimeError("%s: v can only be None when the %s is a scalar" % (fname, what))
        return [wrap(np.ones(t.shape, t.dtype)) for t in ts]
    return list(_tuple(v, fname, "v")[1])


def _prepare(inputs, create_graph):
    """Fresh leaves that require grad (kept in the caller's graph with create_graph)."""
    out = []
    for t in inputs:
        if create_graph and t.requires_grad:
            out.append(t.reshape(tuple(t.shape)) if t._ctx is None else t)
        else:
            out.append(wrap(t._data, False).requires_grad_(True))
    return tuple(out)


def _grads(outs, ins, vs, create_graph, strict, fname):
    pairs = [(o, v) for o, v in zip(outs, vs) if o.requires_grad]
    if not pairs:
        if strict:
            raise RuntimeError("%s: the output is independent of the inputs (strict=True)"
                               % fname)
        return tuple(None for _ in ins)
    res = engine.run([o for o, _ in pairs], [v for _, v in pairs], True, create_graph,
                     inputs=list(ins), allow_unused=True)
    if strict and any(r is None for r in res):
        raise RuntimeError("%s: an output is independent of input (strict=True)" % fname)
    return res


def _zeros_for(res, ins):
    return tuple(r if r is not None else wrap(np.zeros(t.shape, t.dtype))
                 for r, t in zip(res, ins))


def _finish(xs, create_graph):
    return tuple(x if create_graph else x.detach() for x in xs)


def vjp(func, inputs, v=None, create_graph=False, strict=False):
    """(func(inputs), v^T J): the vector-Jacobian product at inputs."""
    is_in_tuple, ins = _tuple(inputs, "vjp", "inputs")
    with enable_grad():
        ins = _prepare(ins, create_graph)
        out = func(*ins)
        is_out_tuple, outs = _tuple(out, "vjp", "outputs")
        vs = _vectors(v, outs, "vjp", "output")
        res = _zeros_for(_grads(outs, ins, vs, create_graph, strict, "vjp"), ins)
    outs = _finish(outs, create_graph)
    res = _finish(res, create_graph)
    return (outs if is_out_tuple else outs[0]), (res if is_in_tuple else res[0])


def jvp(func, inputs, v=None, create_graph=False, strict=False):
    """(func(inputs), J v): the Jacobian-vector product, by differentiating a vjp."""
    is_in_tuple, ins = _tuple(inputs, "jvp", "inputs")
    vs = _vectors(v, ins, "jvp", "input")
    with enable_grad():
        ins = _prepare(ins, create_graph)
        out = func(*ins)
        is_out_tuple, outs = _tuple(out, "jvp", "outputs")
        us = [wrap(np.zeros(o.shape, o.dtype)).requires_grad_(True) for o in outs]
        g = _zeros_for(_grads(outs, ins, us, True, strict, "jvp"), ins)
        live = [(gi, vi) for gi, vi in zip(g, vs) if gi.requires_grad]
        if live:
            res = engine.run([a for a, _ in live], [b for _, b in live], True, create_graph,
                             inputs=us, allow_unused=True)
        else:
            res = (None,) * len(us)
        res = _zeros_for(res, outs)
    outs = _finish(outs, create_graph)
    res = _finish(res, create_graph)
    return (outs if is_out_tuple else outs[0]), (res if is_out_tuple else res[0])


def jacobian(func, inputs, create_graph=False, strict=False, vectorize=False,
             strategy="reverse-mode"):
    """d func(inputs) / d inputs, one row of vjps per output element: for one input and one
    output a Tensor of shape output.shape + input.shape; tuples give nested tuples."""
    if strategy not in ("reverse-mode", "forward-mode"):
        raise ValueError("jacobian: strategy must be 'reverse-mode' or 'forward-mode', got %r"
                         % (strategy,))
    is_in_tuple, ins = _tuple(inputs, "jacobian", "inputs")
    with enable_grad():
        ins = _prepare(ins, create_graph)
        out = func(*ins)
        is_out_tuple, outs = _tuple(out, "jacobian", "outputs")
        blocks = []
        for o in outs:
            rows = [[] for _ in ins]
            for k in range(o.numel()):
                e = np.zeros(o.numel(), o.dtype)
                e[k] = 1
                res = _zeros_for(_grads([o], ins, [wrap(e.reshape(o.shape))], create_graph,
                                        strict, "jacobian"), ins)
                for r, g in zip(rows, res):
                    r.append(g)
            row = []
            for r, t in zip(rows, ins):
                if r:
                    j = stack_rows(r).reshape(tuple(o.shape) + tuple(t.shape))
                else:
                    j = wrap(np.zeros(tuple(o.shape) + tuple(t.shape), t.dtype))
                row.append(j if create_graph else j.detach())
            blocks.append(tuple(row))
    if not is_out_tuple:
        return blocks[0] if is_in_tuple else blocks[0][0]
    return tuple(b if is_in_tuple else b[0] for b in blocks)


class _StackRows(Function):
    """Rows of one shape stacked along a new first axis (dlcore.ops is above this package)."""
    LINEAR = True

    def forward(self, *rows):
        return np.stack(rows)

    def backward(self, g):
        return tuple(g)


def stack_rows(rows):
    return _StackRows.apply(*rows)


def hessian(func, inputs, create_graph=False, strict=False, vectorize=False,
            outer_jacobian_strategy="reverse-mode"):
    """The Hessian of a scalar func at inputs (the jacobian of its gradient)."""
    is_in_tuple, ins = _tuple(inputs, "hessian", "inputs")

    def gradient(*xs):
        out = func(*xs)
        _, outs = _tuple(out, "hessian", "outputs")
        if len(outs) != 1 or outs[0].numel() != 1:
            raise RuntimeError("hessian: func must return a single-element Tensor")
        res = _zeros_for(_grads(outs, xs, [None], True, strict, "hessian"), xs)
        return res if is_in_tuple else res[0]

    return jacobian(gradient, ins if is_in_tuple else ins[0], create_graph=create_graph,
                    strict=strict)


def vhp(func, inputs, v=None, create_graph=False, strict=False):
    """(func(inputs), v^T H)."""
    return _hessian_product(func, inputs, v, create_graph, strict, "vhp")


def hvp(func, inputs, v=None, create_graph=False, strict=False):
    """(func(inputs), H v); H is symmetric for smooth func, so this equals vhp."""
    return _hessian_product(func, inputs, v, create_graph, strict, "hvp")


def _hessian_product(func, inputs, v, create_graph, strict, fname):
    is_in_tuple, ins = _tuple(inputs, fname, "inputs")
    vs = _vectors(v, ins, fname, "input")
    with enable_grad():
        ins = _prepare(ins, create_graph)
        out = func(*ins)
        _, outs = _tuple(out, fname, "outputs")
        if len(outs) != 1 or outs[0].numel() != 1:
            raise RuntimeError("%s: func must return a single-element Tensor" % fname)
        g = _zeros_for(_grads(outs, ins, [None], True, strict, fname), ins)
        live = [(gi, vi) for gi, vi in zip(g, vs) if gi.requires_grad]
        if live:
            res = engine.run([a for a, _ in live], [b for _, b in live], True, create_graph,
                             inputs=list(ins), allow_unused=True)
        else:
            res = (None,) * len(ins)
        res = _zeros_for(res, ins)
    out = outs[0] if create_graph else outs[0].detach()
    res = _finish(res, create_graph)
    return out, (res if is_in_tuple else res[0])
