"""Loss functions.  PLACEHOLDER NumPy versions of the two most used losses: the elementwise
issue work replaces them with fused C kernels and adds the rest, same signatures."""
import numpy as np

from ..autograd import Function


class CrossEntropyIndices(Function):
    def forward(self, logits, target):
        m = logits.max(axis=1, keepdims=True)
        lse = np.log(np.exp(logits - m).sum(axis=1, keepdims=True)) + m
        n = logits.shape[0]
        picked = logits[np.arange(n), target]
        if self.requires_grad:
            self.p = np.exp(logits - lse)
            self.target = target
        return np.asarray((lse[:, 0] - picked).mean(), dtype=logits.dtype)

    def backward(self, g):
        d = self.p.copy()
        n = d.shape[0]
        d[np.arange(n), self.target] -= 1
        return d * (g / n), None


def cross_entropy(input, target, weight=None, ignore_index=-100, reduction="mean",
                  label_smoothing=0.0):
    return CrossEntropyIndices.apply(input, target)


def mse_loss(input, target, reduction="mean"):
    d = input - target
    return (d * d).mean()
