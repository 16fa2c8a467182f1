"""einsum: forward by NumPy, backward by einsum of the output gradient with the other inputs.

The equation is first made explicit: '...' spelled out as letters (broadcasting as torch
does), an implicit output written, a letter repeated within one operand read as a diagonal."""
import numpy as np

from ..autograd import Function
from ..tensor_base import TensorBase, wrap


class Einsum(Function):
    def forward(self, *arrays, equation=""):
        self.arrays, self.eq = arrays, equation
        return np.asarray(np.einsum(equation, *arrays, optimize=True))

    def backward(self, g):
        grads = []
        for i, spec in enumerate(_grad_specs(self.eq, [a.shape for a in self.arrays],
                                             self.needs_input_grad)):
            if spec is None:
                grads.append(None)
                continue
            eq, shape = spec
            gi = np.einsum(eq, g, *[x for j, x in enumerate(self.arrays) if j != i],
                           optimize=True)
            if shape is not None:
                gi = np.broadcast_to(gi.reshape(shape), self.arrays[i].shape)
            grads.append(np.ascontiguousarray(gi))
        return tuple(grads)

    def backward_graph(self, g):
        grads = []
        for i, spec in enumerate(_grad_specs(self.eq, [a.shape for a in self.parents],
                                             self.needs_input_grad)):
            if spec is None:
                grads.append(None)
                continue
            eq, shape = spec
            gi = Einsum.apply(g, *[x for j, x in enumerate(self.parents) if j != i], equation=eq)
            if shape is not None:
                gi = gi.reshape(shape).expand(*self.parents[i].shape)
            grads.append(gi)
        return tuple(grads)


def _grad_specs(equation, shapes, needs):
    """Per operand of an explicit equation: None when it needs no gradient, else (eq, shape):
    its gradient is einsum(eq, g, *the other operands), then, when shape is not None, reshaped
    to shape and broadcast to the operand's.  Letters of an operand missing from every other
    operand and the output were summed in forward: their gradient is the broadcast of the rest.
    (A letter repeated within one term, a diagonal, is read by _Diagonal before Einsum.)"""
    ins, out = equation.replace(" ", "").split("->")
    terms = ins.split(",")
    for i, (term, shape) in enumerate(zip(terms, shapes)):
        if not needs[i]:
            yield None
            continue
        others = [t for j, t in enumerate(terms) if j != i]
        present = set(out) | set("".join(others))
        kept = "".join(c for c in term if c in present)
        eq = ",".join([out] + others) + "->" + kept
        yield eq, (None if kept == term else
                   [shape[term.index(c)] if c in present else 1 for c in term])


class _Diagonal(Function):
    """The diagonal over axes p < q, moved last (np.diagonal's layout): how einsum reads a
    letter repeated within one operand ('ii->i', '...jj')."""
    LINEAR = True

    def forward(self, a, p=0, q=1):
        self.shape, self.dtype = a.shape, a.dtype
        return np.ascontiguousarray(np.diagonal(a, axis1=p, axis2=q))

    def backward(self, g):
        p, q = self.kwargs["p"], self.kwargs["q"]
        out = np.zeros(self.shape, self.dtype)
        idx = np.arange(g.shape[-1])
        np.moveaxis(out, (p, q), (-2, -1))[..., idx, idx] = g
        return out


def _without_repeats(term, op):
    """term, op with each letter repeated within the term replaced by op's diagonal."""
    while len(set(term)) != len(term):
        c = next(c for c in term if term.count(c) > 1)
        p = term.index(c)
        q = term.index(c, p + 1)
        if op.shape[p] != op.shape[q]:
            raise ValueError("einsum: subscript %r is repeated for dimensions of sizes %d and %d"
                             % (c, op.shape[p], op.shape[q]))
        op = _Diagonal.apply(op, p=p, q=q)
        term = term[:p] + term[p + 1:q] + term[q + 1:] + c
    return term, op


def _letters_free(used):
    return [c for c in "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ" if c not in used]


def _explicit(equation, operands):
    """The equation with '...' spelled out as letters and the output written (torch's and
    NumPy's rule when it is implicit: the letters used once, in alphabetical order, after the
    broadcast dimensions), and the operands with size-1 broadcast dimensions expanded."""
    eq = equation.replace(" ", "")
    lhs, arrow, rhs = eq.partition("->")
    terms = lhs.split(",")
    if len(terms) != len(operands):
        raise ValueError("einsum: the equation has %d operands, %d were given"
                         % (len(terms), len(operands)))
    for term in terms + ([rhs] if arrow else []):
        stripped = term.replace("...", "")
        if "." in stripped or term.count("...") > 1:
            raise ValueError("einsum: '...' may appear once per operand, got %r" % term)
        if not all(c.isalpha() for c in stripped):
            raise ValueError("einsum: subscripts must be letters, got %r" % term)
    spare = _letters_free(set(eq))
    n_ell = 0
    for term, op in zip(terms, operands):
        named = len(term.replace("...", ""))
        if "..." in term:
            n_ell = max(n_ell, op.ndim - named)
        elif op.ndim != named:
            raise ValueError("einsum: operand %r has %d dimensions, the equation names %d"
                             % (term, op.ndim, named))
    ell = "".join(spare[:n_ell])
    # the size of each broadcast dimension over the operands (right-aligned, as broadcasting)
    sizes = [1] * n_ell
    new_terms = []
    for term, op in zip(terms, operands):
        if "..." in term:
            k = op.ndim - len(term.replace("...", ""))
            if k < 0:
                raise ValueError("einsum: operand %r has only %d dimensions" % (term, op.ndim))
            start = term.index("...")
            for j in range(k):
                n = op.shape[start + j]
                slot = n_ell - k + j
                if n != 1 and sizes[slot] not in (1, n):
                    raise ValueError("einsum: the '...' dimensions of the operands do not "
                                     "broadcast (%d vs %d)" % (sizes[slot], n))
                sizes[slot] = max(sizes[slot], n)
            term = term.replace("...", ell[n_ell - k:])
        new_terms.append(term)
    ops = []
    for term, old_term, op in zip(new_terms, terms, operands):
        if "..." in old_term:
            target = [sizes[ell.index(c)] if c in ell else op.shape[i] for i, c in enumerate(term)]
            if list(op.shape) != target:
                op = op.expand(*target)
        ops.append(op)
    if arrow:
        out = rhs.replace("...", ell)
    else:
        counts = {}
        for c in "".join(new_terms):
            counts[c] = counts.get(c, 0) + 1
        out = ell + "".join(sorted(c for c, n in counts.items() if n == 1 and c not in ell))
    return ",".join(new_terms) + "->" + out, ops


def einsum(equation, *operands):
    if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
        operands = tuple(operands[0])  # torch.einsum(eq, [a, b]) as well as (eq, a, b)
    operands = tuple(o if isinstance(o, TensorBase) else wrap(np.asarray(o)) for o in operands)
    equation, operands = _explicit(equation, operands)
    lhs, out = equation.split("->")
    if len(set(out)) != len(out):
        raise ValueError("einsum: output subscript repeated in %r" % out)
    terms, ops = zip(*[_without_repeats(t, o) for t, o in zip(lhs.split(","), operands)])
    return Einsum.apply(*ops, equation=",".join(terms) + "->" + out)
