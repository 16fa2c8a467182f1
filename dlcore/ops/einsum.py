"""einsum: forward by NumPy, backward by einsum of the output gradient with the other inputs."""
import numpy as np

from ..autograd import Function


class Einsum(Function):
    def forward(self, *arrays, equation=""):
        self.arrays, self.eq = arrays, equation
        return np.asarray(np.einsum(equation, *arrays, optimize=True))

    def backward(self, g):
        ins, out = self.eq.replace(" ", "").split("->")
        terms = ins.split(",")
        grads = []
        for i, (term, a) in enumerate(zip(terms, self.arrays)):
            if not self.needs_input_grad[i]:
                grads.append(None)
                continue
            others = [t for j, t in enumerate(terms) if j != i]
            arrs = [x for j, x in enumerate(self.arrays) if j != i]
            # letters of `term` missing from every other operand and the output are summed
            # in forward: their gradient is the broadcast of the rest
            present = set(out) | set("".join(others))
            eq = ",".join([out] + others) + "->" + "".join(c for c in term if c in present)
            gi = np.einsum(eq, g, *arrs, optimize=True)
            full = "".join(c for c in term if c in present)
            if full != term:
                gi = np.broadcast_to(gi.reshape([a.shape[term.index(c)] if c in present else 1
                                                 for c in term]), a.shape)
            # repeated letters in one term (a diagonal) are not supported in backward
            grads.append(np.ascontiguousarray(gi))
        return tuple(grads)

    def backward_graph(self, g):
        ins, out = self.eq.replace(" ", "").split("->")
        terms = ins.split(",")
        grads = []
        for i, (term, a) in enumerate(zip(terms, self.parents)):
            if not self.needs_input_grad[i]:
                grads.append(None)
                continue
            others = [t for j, t in enumerate(terms) if j != i]
            ops = [x for j, x in enumerate(self.parents) if j != i]
            present = set(out) | set("".join(others))
            kept = "".join(c for c in term if c in present)
            gi = Einsum.apply(g, *ops, equation=",".join([out] + others) + "->" + kept)
            if kept != term:
                gi = gi.reshape([a.shape[term.index(c)] if c in present else 1
                                 for c in term]).expand(*a.shape)
            grads.append(gi)
        return tuple(grads)


def einsum(equation, *operands):
    if "->" not in equation:
        raise ValueError("einsum: give the output explicitly, e.g. 'ij,jk->ik'")
    for term in equation.split("->")[0].split(","):
        if len(set(term.strip())) != len(term.strip()):
            raise ValueError("einsum: repeated indices within one operand are not supported")
    return Einsum.apply(*operands, equation=equation)
