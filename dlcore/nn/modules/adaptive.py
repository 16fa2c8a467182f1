"""AdaptiveLogSoftmaxWithLoss: Grave et al.'s (2017) adaptive softmax, torch's layer and
state_dict layout (head.weight[, head.bias], tail.<i>.0.weight, tail.<i>.1.weight).

The classes are split by `cutoffs` into a shortlist [0, cutoffs[0]) and clusters; the head
scores the shortlist plus one entry per cluster, and cluster i's own (smaller, low-rank) tail
scores the classes inside it:
    log p(c) = head_logprob[c]                                  c in the shortlist
    log p(c) = head_logprob[shortlist + i] + tail_i_logprob[c - cutoffs[i]]   c in cluster i
forward(input, target) gives (output = log p(target) per row, loss = -mean(output)); the
tails run only on the rows whose target is in their cluster.  Composed of differentiable ops.
"""
from collections import namedtuple

import numpy as np

from ...ops.activation import log_softmax
from ...ops.join import cat
from ...tensor import Tensor, zeros
from .container import ModuleList, Sequential
from .linear import Linear
from .module import Module

__all__ = ["AdaptiveLogSoftmaxWithLoss"]

_ASMoutput = namedtuple("_ASMoutput", ["output", "loss"])


class AdaptiveLogSoftmaxWithLoss(Module):
    def __init__(self, in_features, n_classes, cutoffs, div_value=4.0, head_bias=False,
                 device=None, dtype=None):
        super().__init__()
        cutoffs = list(cutoffs)
        if len(cutoffs) == 0:
            raise ValueError("cutoffs should be a sequence of length larger than 0")
        if (cutoffs != sorted(cutoffs) or min(cutoffs) <= 0 or max(cutoffs) > n_classes - 1
                or len(set(cutoffs)) != len(cutoffs)
                or any(int(c) != c for c in cutoffs)):
            raise ValueError("cutoffs should be a sequence of unique, positive integers sorted "
                             "in an increasing order, where each value is between 1 and "
                             "n_classes-1")
        self.in_features = in_features
        self.n_classes = n_classes
        self.cutoffs = [int(c) for c in cutoffs] + [n_classes]
        self.div_value = div_value
        self.head_bias = head_bias
        self.shortlist_size = self.cutoffs[0]
        self.n_clusters = len(self.cutoffs) - 1
        self.head_size = self.shortlist_size + self.n_clusters
        self.head = Linear(in_features, self.head_size, bias=head_bias, device=device,
                           dtype=dtype)
        tails = []
        for i in range(self.n_clusters):
            # each cluster a rank-hsz factorization, hsz shrinking by div_value per cluster
            hsz = int(in_features // (div_value ** (i + 1)))
            osz = self.cutoffs[i + 1] - self.cutoffs[i]
            tails.append(Sequential(Linear(in_features, hsz, bias=False, device=device,
                                           dtype=dtype),
                                    Linear(hsz, osz, bias=False, device=device, dtype=dtype)))
        self.tail = ModuleList(tails)

    def reset_parameters(self):
        self.head.reset_parameters()
        for seq in self.tail:
            for lin in seq:
                lin.reset_parameters()

    def forward(self, input, target):
        if not isinstance(target, Tensor) or target.dtype.kind not in "iu":
            raise RuntimeError("AdaptiveLogSoftmaxWithLoss: target must be an integer Tensor")
        if target.ndim == 1:
            if input.ndim != 2:
                raise RuntimeError("1D target tensor expects 2D input tensors, but found inputs "
                                   "with size %s" % (tuple(input.shape),))
            if input.shape[0] != target.shape[0]:
                raise RuntimeError("Input and target should have the same size in the batch "
                                   "dimension.")
        elif target.ndim == 0:
            if input.ndim != 1:
                raise RuntimeError("0D target tensor expects 1D input tensors, but found inputs "
                                   "with size %s" % (tuple(input.shape),))
        else:
            raise RuntimeError("0D or 1D target tensor expected, multi-target not supported")
        batched = target.ndim > 0
        x = input if batched else input.unsqueeze(0)
        y = np.asarray(target._data, np.int64).reshape(-1)
        if y.size and (y.min() < 0 or y.max() >= self.n_classes):
            raise RuntimeError("Target values should be in [0, %d], but values in range [%d, %d] "
                               "were found. " % (self.n_classes - 1, y.min(), y.max()))
        # the head's column per row: the class itself, or its cluster's entry
        cluster = np.searchsorted(np.asarray(self.cutoffs), y, side="right")  # 0: shortlist
        head_col = np.where(cluster == 0, y, self.shortlist_size + cluster - 1)
        head_logprob = log_softmax(self.head(x), 1)
        output = head_logprob.gather(1, Tensor(head_col.reshape(-1, 1))).squeeze(1)
        for i in range(1, self.n_clusters + 1):
            rows = np.flatnonzero(cluster == i)
            if rows.size == 0:
                continue
            rows_t = Tensor(rows)
            local = Tensor((y[rows] - self.cutoffs[i - 1]).reshape(-1, 1))
            logprob = log_softmax(self.tail[i - 1](x.index_select(0, rows_t)), 1)
            part = logprob.gather(1, local).squeeze(1)
            output = output + zeros(y.size, dtype=part.dtype).index_add(0, rows_t, part)
        loss = (-output).mean()
        return _ASMoutput(output if batched else output.squeeze(0), loss)

    def _full_log_prob(self, x, head_output):
        head_logprob = log_softmax(head_output, 1)
        parts = [head_logprob[:, :self.shortlist_size]]
        for i in range(self.n_clusters):
            tail_logprob = log_softmax(self.tail[i](x), 1)
            parts.append(tail_logprob + head_logprob[:, self.shortlist_size + i].unsqueeze(1))
        return cat(parts, 1)

    def log_prob(self, input):
        """log p(c | x) for every class: (N, n_classes) (or (n_classes,) for a 1-D input)."""
        x = input if input.ndim == 2 else input.unsqueeze(0)
        out = self._full_log_prob(x, self.head(x))
        return out if input.ndim == 2 else out.squeeze(0)

    def predict(self, input):
        """The most likely class per row: the head's argmax when it is in the shortlist (a
        cluster entry's own probability bounds each of its classes'), else the full argmax."""
        x = input if input.ndim == 2 else input.unsqueeze(0)
        head_output = self.head(x)
        out = np.asarray(head_output._data.argmax(1), np.int64)
        outside = out >= self.shortlist_size
        if outside.any():
            rows = Tensor(np.flatnonzero(outside))
            full = self._full_log_prob(x.index_select(0, rows),
                                       head_output.index_select(0, rows))
            out[outside] = full._data.argmax(1)
        res = Tensor(out)
        return res if input.ndim == 2 else res.reshape(())
