"""torch.func's function transforms on dlcore's tape autograd.

grad / grad_and_value / vjp / jacrev / jacfwd / hessian differentiate by running the function
with fresh leaves for the chosen arguments and calling dl.autograd.grad with create_graph, so
they nest (grad(grad(f)), hessian).  vmap maps by running the function once per index of the
mapped dimension and stacking the results: the semantics of torch's vmap (in_dims / out_dims,
nested arguments, randomness per sample) without its batching rules, so it costs one call per
sample.  Arguments may be nested tuples, lists and dicts of tensors (e.g. a model's params)."""
import numpy as np

from ..autograd import grad as _autograd_grad
from ..autograd.grad_mode import enable_grad
from ..ops.join import stack
from ..tensor_base import TensorBase, wrap
from . import _pytree

__all__ = ["grad", "grad_and_value", "vjp", "jvp", "jacrev", "jacfwd", "hessian", "vmap"]


def _argnums(argnums, n, fname):
    nums = (argnums,) if isinstance(argnums, int) else tuple(argnums)
    if not nums:
        raise RuntimeError("%s: argnums must be non-empty" % fname)
    out = []
    for a in nums:
        if not isinstance(a, int) or not -n <= a < n:
            raise RuntimeError("%s: Got argnums=%r, but only %d positional inputs"
                               % (fname, argnums, n))
        out.append(a % n)
    return tuple(out)


def _leaf(x):
    # a fresh leaf that still carries x's own graph (so an outer transform differentiates
    # through this one): x * 1 when x is already in a graph, a detached copy otherwise
    if not isinstance(x, TensorBase):
        raise TypeError("expected tensors to differentiate, got %s" % type(x).__name__)
    if x.requires_grad:
        return x.view_as(x)
    return x.detach().requires_grad_(True)


def _in_outer_graph(args):
    """True when an enclosing transform (or the caller's own graph) differentiates through this
    call: then results keep their graph, otherwise they come back detached as torch's."""
    return any(isinstance(v, TensorBase) and v.requires_grad
               for v in _pytree.flatten(list(args))[0])


def _detached(tree):
    leaves, spec = _pytree.flatten(tree)
    return _pytree.unflatten([v.detach() if isinstance(v, TensorBase) else v for v in leaves],
                             spec)


def _prepared(args, nums):
    args = list(args)
    chosen = []
    for a in nums:
        leaves, spec = _pytree.flatten(args[a])
        leaves = [_leaf(v) for v in leaves]
        chosen.append((leaves, spec))
        args[a] = _pytree.unflatten(leaves, spec)
    return args, chosen


def _filled(grads, like):
    """autograd.grad's results with None (an unused input) as zeros shaped like `like`."""
    return [g if g is not None else wrap(np.zeros(v.shape, v._data.dtype))
            for g, v in zip(grads, like)]


def _regroup(values, chosen):
    """One flat list of per-leaf values back into each chosen argument's structure."""
    res, k = [], 0
    for leaves, spec in chosen:
        res.append(_pytree.unflatten(values[k:k + len(leaves)], spec))
        k += len(leaves)
    return res


def _grads_of(out, chosen, argnums):
    flat = [v for leaves, _ in chosen for v in leaves]
    gs = _filled(_autograd_grad(out, flat, create_graph=True, allow_unused=True), flat)
    res = _regroup(gs, chosen)
    return res[0] if isinstance(argnums, int) else tuple(res)


def grad_and_value(func, argnums=0, has_aux=False):
    def run(*args, **kwargs):
        nums = _argnums(argnums, len(args), "grad_and_value")
        with enable_grad():
            new_args, chosen = _prepared(args, nums)
            out = func(*new_args, **kwargs)
            aux = None
            if has_aux:
                if not (isinstance(out, tuple) and len(out) == 2):
                    raise RuntimeError("grad_and_value(f)(*args): output of function f should "
                                       "be a tuple: (output, aux) if has_aux is True")
                out, aux = out
            if not isinstance(out, TensorBase) or out.numel() != 1:
                raise RuntimeError("grad_and_value(f)(*args): Expected f(*args) to return a "
                                   "scalar Tensor, got %s"
                                   % (tuple(out.shape) if isinstance(out, TensorBase)
                                      else type(out).__name__))
            g = _grads_of(out, chosen, argnums)
        if not _in_outer_graph(args):
            g, out, aux = _detached(g), out.detach(), _detached(aux)
        return (g, (out, aux)) if has_aux else (g, out)
    return run


def grad(func, argnums=0, has_aux=False):
    """The gradient of scalar-valued func with respect to args[argnums]."""
    inner = grad_and_value(func, argnums, has_aux)

    def run(*args, **kwargs):
        g, value = inner(*args, **kwargs)
        return (g, value[1]) if has_aux else g
    return run


def vjp(func, *primals, has_aux=False):
    """(func(*primals), vjp_fn): vjp_fn(cotangents) gives the vector-Jacobian products, one per
    primal."""
    outer = _in_outer_graph(primals)
    with enable_grad():
        new_args, chosen = _prepared(primals, tuple(range(len(primals))))
        out = func(*new_args)
        aux = None
        if has_aux:
            out, aux = out
    outs, out_spec = _pytree.flatten(out)

    def vjp_fn(cotangents):
        cts, _ = _pytree.flatten(cotangents)
        if len(cts) != len(outs):
            raise RuntimeError("vjp: expected %d cotangents, got %d" % (len(outs), len(cts)))
        flat = [v for leaves, _ in chosen for v in leaves]
        with enable_grad():
            gs = _autograd_grad(outs, flat, grad_outputs=cts, create_graph=True,
                                allow_unused=True, retain_graph=True)
        res = _regroup(_filled(gs, flat), chosen)
        return tuple(res) if outer or _in_outer_graph(cts) else _detached(tuple(res))
    shown = out if outer else _detached(out)
    return (shown, vjp_fn, aux) if has_aux else (shown, vjp_fn)


def jvp(func, primals, tangents, has_aux=False):
    """(func(*primals), J @ tangents), by differentiating a vjp with respect to its cotangent."""
    primals, tangents = tuple(primals), tuple(tangents)
    if len(primals) != len(tangents):
        raise RuntimeError("jvp: Expected primals and tangents to have the same length")
    res = vjp(func, *primals, has_aux=has_aux)
    out, vjp_fn = res[0], res[1]
    outs, spec = _pytree.flatten(out)
    with enable_grad():
        dummies = [wrap(np.zeros(o.shape, o._data.dtype)).requires_grad_(True) for o in outs]
        back = vjp_fn(_pytree.unflatten(dummies, spec))
        flat_back, _ = _pytree.flatten(back)
        flat_tan, _ = _pytree.flatten(tangents)
        ts = _autograd_grad(flat_back, dummies, grad_outputs=flat_tan, allow_unused=True)
    tangent_out = _pytree.unflatten(_filled(ts, outs), spec)
    if not _in_outer_graph(primals) and not _in_outer_graph(tangents):
        tangent_out = _detached(tangent_out)
    return (out, tangent_out, res[2]) if has_aux else (out, tangent_out)


def jacrev(func, argnums=0, has_aux=False):
    """The Jacobian of func with respect to args[argnums]: output shape + input shape."""
    def run(*args, **kwargs):
        nums = _argnums(argnums, len(args), "jacrev")
        with enable_grad():
            new_args, chosen = _prepared(args, nums)
            out = func(*new_args, **kwargs)
            aux = None
            if has_aux:
                out, aux = out
            flat = [v for leaves, _ in chosen for v in leaves]
            rows = []
            o = out.reshape(-1)
            for i in range(o.shape[0]):
                gs = _autograd_grad(o[i], flat, create_graph=True, allow_unused=True,
                                    retain_graph=True)
                rows.append(_filled(gs, flat))
            jac = []
            for j, v in enumerate(flat):
                col = stack([r[j] for r in rows], 0) if rows else \
                    wrap(np.zeros((0,) + tuple(v.shape), v._data.dtype))
                jac.append(col.reshape(tuple(out.shape) + tuple(v.shape)))
        res = _regroup(jac, chosen)
        result = res[0] if isinstance(argnums, int) else tuple(res)
        if not _in_outer_graph(args):
            result = _detached(result)
        return (result, aux) if has_aux else result
    return run


def jacfwd(func, argnums=0, has_aux=False, randomness="error"):
    """The Jacobian (same values as jacrev; computed by reverse mode here)."""
    return jacrev(func, argnums, has_aux)


def hessian(func, argnums=0):
    return jacfwd(jacrev(func, argnums), argnums)


def _in_dims_for(in_dims, args):
    if isinstance(in_dims, int) or in_dims is None:
        return [in_dims] * len(args)
    if not isinstance(in_dims, (tuple, list)) or len(in_dims) != len(args):
        raise ValueError("vmap: in_dims is not compatible with the structure of inputs: "
                         "in_dims has %s but inputs have %d arguments"
                         % (len(in_dims) if isinstance(in_dims, (tuple, list)) else in_dims,
                            len(args)))
    return list(in_dims)


def vmap(func, in_dims=0, out_dims=0, randomness="error", *, chunk_size=None):
    """func mapped over dimension in_dims of its inputs, outputs stacked along out_dims."""
    if randomness not in ("error", "different", "same"):
        raise RuntimeError("Only allowed values for randomness are 'error', 'different', or "
                           "'same'. Got %s" % randomness)

    def run(*args, **kwargs):
        dims = _in_dims_for(in_dims, args)
        flat_args, sizes = [], []
        for a, d in zip(args, dims):
            leaves, spec = _pytree.flatten(a)
            ds = _pytree.flatten(d)[0] if isinstance(d, (tuple, list, dict)) else [d] * len(leaves)
            if len(ds) != len(leaves):
                raise ValueError("vmap: in_dims is not compatible with the structure of inputs")
            for v, dd in zip(leaves, ds):
                if dd is not None:
                    if not isinstance(v, TensorBase):
                        raise ValueError("vmap: Got in_dim=%r for an input but the input is of "
                                         "type %s. We cannot vmap over non-Tensor arguments"
                                         % (dd, type(v).__name__))
                    if not -v.ndim <= dd < v.ndim:
                        raise ValueError("vmap: Got in_dim=%d for some input, but that input is "
                                         "a Tensor of dimensionality %d so expected in_dim to "
                                         "satisfy -%d <= in_dim < %d." % (dd, v.ndim, v.ndim,
                                                                          v.ndim))
                    sizes.append(v.shape[dd])
            flat_args.append((leaves, spec, ds))
        if not sizes:
            raise ValueError("vmap: at least one input must be mapped (in_dims all None)")
        if len(set(sizes)) != 1:
            raise ValueError("vmap: Expected all tensors to have the same size in the mapped "
                             "dimension, got sizes %s for the mapped dimension" % sizes)
        outs = []
        for i in range(sizes[0]):
            call = []
            for leaves, spec, ds in flat_args:
                call.append(_pytree.unflatten([v if d is None else v.select(d, i)
                                               for v, d in zip(leaves, ds)], spec))
            outs.append(func(*call, **kwargs))
        first, spec = _pytree.flatten(outs[0])
        per = [_pytree.flatten(o)[0] for o in outs]
        odims = out_dims if isinstance(out_dims, (tuple, list)) else [out_dims] * len(first)
        if len(odims) != len(first):
            raise ValueError("vmap: out_dims is not compatible with the structure of outputs")
        stacked = []
        for j in range(len(first)):
            col = [p[j] if isinstance(p[j], TensorBase) else wrap(np.asarray(p[j]))
                   for p in per]
            d = odims[j]
            stacked.append(stack(col, d if d is not None and d >= 0 else
                                 (col[0].ndim + 1 + d if d is not None else 0)))
        return _pytree.unflatten(stacked, spec)
    return run
