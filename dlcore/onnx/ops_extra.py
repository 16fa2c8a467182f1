"""CumProd, Einsum, GridSample and AffineGrid: ops dlcore runs eagerly (np.cumprod, dl.einsum,
dl.nn.functional.grid_sample / affine_grid) given ONNX converters, each a NumPy step of the plan.  Found
missing by ONNX's backend conformance cases (27 node cases were skipped as unimplemented)."""
import string

import numpy as np

from .registry import converter

__all__ = ["einsum_output_shape"]


@converter("CumProd", since=26)
def cumprod(b, node):
    x = node.need_input(0, "x")
    axis = node.axis(node.ints(1, "axis")[0], x.ndim)
    return [b.numpy1("CumProd", [x], x.shape, x.dtype, axis=axis,
                     exclusive=int(node.attr("exclusive", 0)),
                     reverse=int(node.attr("reverse", 0)))]


def einsum_output_shape(equation, shapes):
    """The result shape of einsum `equation` on operands of `shapes`; ValueError names what
    does not fit (numbers of terms, labels, sizes)."""
    eq = equation.replace(" ", "")
    lhs, arrow, rhs = eq.partition("->")
    terms = lhs.split(",")
    if len(terms) != len(shapes):
        raise ValueError("equation %r has %d operand terms for %d inputs"
                         % (equation, len(terms), len(shapes)))
    sizes, ell, counts = {}, (), {}
    for term, shape in zip(terms, shapes):
        labels = term.replace("...", "")
        if any(c not in string.ascii_letters for c in labels) or term.count("...") > 1:
            raise ValueError("equation %r: bad term %r" % (equation, term))
        n_ell = len(shape) - len(labels)
        if n_ell < 0 or (n_ell and "..." not in term):
            raise ValueError("equation %r: term %r does not fit an operand of rank %d"
                             % (equation, term, len(shape)))
        head = term.index("...") if "..." in term else len(labels)
        dims = list(shape[:head]) + list(shape[head + n_ell:])
        for c, n in zip(labels, dims):
            if sizes.get(c, n) != n and 1 not in (sizes.get(c), n):
                raise ValueError("equation %r: label %r has sizes %d and %d"
                                 % (equation, c, sizes[c], n))
            sizes[c] = max(sizes.get(c, n), n)
            counts[c] = counts.get(c, 0) + 1
        if "..." in term:
            ell = np.broadcast_shapes(ell, tuple(shape[head:head + n_ell]))
    if not arrow:
        rhs = "..." + "".join(sorted(c for c, k in counts.items() if k == 1))
    out = []
    for i, part in enumerate(rhs.split("...")):
        if i:
            out.extend(ell)
        for c in part:
            if c not in sizes:
                raise ValueError("equation %r: output label %r is in no input" % (equation, c))
            out.append(sizes[c])
    return tuple(int(n) for n in out)


@converter("Einsum", since=12)
def einsum(b, node):
    xs = [node.need_input(i, "Inputs") for i in range(len(node.inputs))]
    eq = node.attr("equation")
    eq = eq.decode() if isinstance(eq, bytes) else eq
    try:
        shape = einsum_output_shape(eq, [x.shape for x in xs])
    except ValueError as e:
        raise node.error(str(e)) from None
    return [b.numpy1("Einsum", xs, shape, xs[0].dtype, equation=eq)]


_MODES = {"linear": "bilinear", "bilinear": "bilinear", "nearest": "nearest",
          "cubic": "bicubic", "bicubic": "bicubic"}


@converter("GridSample", since=16)
def grid_sample(b, node):
    x, grid = node.need_input(0, "X"), node.need_input(1, "grid")
    mode = node.attr("mode", "linear" if node.opset >= 20 else "bilinear")
    pad = node.attr("padding_mode", "zeros")
    mode, pad = (m.decode() if isinstance(m, bytes) else m for m in (mode, pad))
    if mode not in _MODES or pad not in ("zeros", "border", "reflection"):
        raise node.unsupported("mode %r / padding_mode %r is not supported" % (mode, pad))
    k = x.ndim - 2
    if k not in (2, 3) or grid.ndim != x.ndim or grid.shape[-1] != k:
        raise node.unsupported("a %d-D input with a grid of shape %s is not supported (dlcore "
                               "samples 4-D and 5-D inputs)" % (x.ndim, tuple(grid.shape)))
    if k == 3 and _MODES[mode] == "bicubic":
        raise node.unsupported("cubic sampling of a 5-D input is not supported")
    if x.dtype != grid.dtype or x.dtype.kind != "f":
        raise node.unsupported("X (%s) and grid (%s) must be the same float type"
                               % (x.dtype, grid.dtype))
    shape = tuple(x.shape[:2]) + tuple(grid.shape[1:-1])
    return [b.numpy1("GridSample", [x, grid], shape, x.dtype, mode=_MODES[mode],
                     padding_mode=pad, align_corners=int(node.attr("align_corners", 0)))]


@converter("AffineGrid", since=20)
def affine_grid(b, node):
    theta = node.need_input(0, "theta")
    size = node.ints(1, "size")
    if len(size) not in (4, 5):
        raise node.unsupported("size must have 4 (N, C, H, W) or 5 (N, C, D, H, W) entries, "
                               "got %s" % (size,))
    k = len(size) - 2
    n = theta.shape[0] if theta.ndim == 3 else None
    if theta.ndim != 3 or tuple(theta.shape[1:]) != (k, k + 1) or \
            (isinstance(n, int) and n != size[0]):
        raise node.error("theta must have shape (%d, %d, %d) for size %s, got %s"
                         % (size[0], k, k + 1, size, tuple(theta.shape)))
    if min(size[2:]) < 1:
        raise node.error("size's spatial entries must be positive, got %s" % (size,))
    if theta.dtype.kind != "f":
        raise node.unsupported("theta must be a float tensor, got %s" % theta.dtype)
    shape = (size[0],) + tuple(size[2:]) + (k,)
    return [b.numpy1("AffineGrid", [theta], shape, theta.dtype, size=tuple(size),
                     align_corners=int(node.attr("align_corners", 0)))]
