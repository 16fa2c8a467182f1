"""Perceptron: Rosenblatt's (1958) single-layer classifier and its learning rule.

    y_hat = step(w . x + b)            step(z) = 1 if z > 0 else 0
    w += lr * (y - y_hat) * x          b += lr * (y - y_hat)     (after each sample)

No gradients, no loss function: the weights move only when a sample is misclassified.  On
linearly separable data the rule stops making mistakes after finitely many updates
(Novikoff's convergence theorem); on data that is not separable (XOR) it never does.
"""
from collections import namedtuple

import numpy as np

from ...random import rng as _rng
from ...tensor import Tensor
from ..parameter import Parameter
from .module import Module

__all__ = ["Perceptron", "PerceptronFit"]

PerceptronFit = namedtuple("PerceptronFit", ["errors", "converged", "epochs"])
PerceptronFit.__doc__ = """Result of Perceptron.fit: errors = mistakes made in each epoch,
converged = an epoch passed with no mistake, epochs = how many epochs ran."""


def _np(x):
    return x._data if isinstance(x, Tensor) else np.asarray(x)


class Perceptron(Module):
    """The classic perceptron for two classes labelled 0 and 1.

    in_features: input size; lr: learning rate of the update rule; max_epochs: passes over the
    data fit() makes at most; shuffle: visit samples in a new random order each epoch (from
    `generator` or the dl.manual_seed stream).  weight (1, in_features) and bias (1,) are
    Parameters (like Linear(in_features, 1)), so state_dict() and dl.save work; they start at 0.
    """

    def __init__(self, in_features, lr=1.0, max_epochs=100, shuffle=False, generator=None,
                 dtype=None):
        super().__init__()
        if isinstance(in_features, bool) or int(in_features) != in_features or in_features < 1:
            raise ValueError("Perceptron: in_features must be a positive integer, got %r"
                             % (in_features,))
        if not lr > 0:
            raise ValueError("Perceptron: lr must be > 0, got %r" % (lr,))
        if isinstance(max_epochs, bool) or int(max_epochs) != max_epochs or max_epochs < 1:
            raise ValueError("Perceptron: max_epochs must be a positive integer, got %r"
                             % (max_epochs,))
        dtype = np.dtype(dtype or np.float32)
        self.in_features = int(in_features)
        self.lr = float(lr)
        self.max_epochs = int(max_epochs)
        self.shuffle = shuffle
        self.generator = generator
        # the learning rule is not gradient descent: these never need autograd
        self.weight = Parameter(np.zeros((1, self.in_features), dtype=dtype), requires_grad=False)
        self.bias = Parameter(np.zeros((1,), dtype=dtype), requires_grad=False)

    def _check_X(self, X, who):
        X = _np(X)
        if X.ndim == 1 and X.shape[0] == self.in_features:
            X = X[None, :]
        if X.ndim != 2 or X.shape[1] != self.in_features:
            raise ValueError("Perceptron.%s: X must be (n_samples, %d), got shape %s"
                             % (who, self.in_features, X.shape))
        return X

    def decision_function(self, X):
        """The net input w . x + b for each sample, shape (n,)."""
        X = self._check_X(X, "decision_function")
        w = self.weight._data
        return Tensor._wrap((X.astype(w.dtype, copy=False) @ w[0]) + self.bias._data[0])

    def forward(self, X):
        """Step activation: 1.0 where w . x + b > 0, else 0.0 (same float dtype as the weights)."""
        z = self.decision_function(X)._data
        return Tensor._wrap((z > 0).astype(self.weight._data.dtype))

    def predict(self, X):
        """Class labels 0/1 as an int64 Tensor of shape (n,)."""
        return Tensor._wrap((self.decision_function(X)._data > 0).astype(np.int64))

    def fit(self, X, y, max_epochs=None, verbose=False):
        """Run the perceptron rule over (X, y) until an epoch makes no mistake or max_epochs.

        y holds 0/1 labels (bools are accepted).  Training continues from the current weights.
        Returns PerceptronFit(errors=[mistakes per epoch], converged, epochs).
        """
        X = self._check_X(X, "fit")
        y = _np(y).reshape(-1)
        if len(y) != len(X):
            raise ValueError("Perceptron.fit: X has %d samples but y has %d" % (len(X), len(y)))
        labels = set(np.unique(y).tolist())
        if not labels <= {0, 1}:
            raise ValueError("Perceptron.fit: labels must be 0 or 1, got values %s"
                             % sorted(labels)[:10])
        epochs = self.max_epochs if max_epochs is None else int(max_epochs)
        w = self.weight._data[0]
        b = self.bias._data
        if not w.flags.writeable:
            self.weight._data = self.weight._data.copy()
            w = self.weight._data[0]
        if not b.flags.writeable:
            self.bias._data = b.copy()
            b = self.bias._data
        Xw = X.astype(w.dtype, copy=False)
        yi = y.astype(np.int64)
        lr = w.dtype.type(self.lr)
        errors = []
        for epoch in range(epochs):
            order = (_rng(self.generator).permutation(len(Xw)) if self.shuffle
                     else range(len(Xw)))
            mistakes = 0
            for i in order:
                x = Xw[i]
                y_hat = 1 if float(x @ w) + float(b[0]) > 0 else 0
                delta = yi[i] - y_hat
                if delta:
                    w += lr * delta * x
                    b[0] += lr * delta
                    mistakes += 1
            errors.append(mistakes)
            if verbose:
                print("epoch %d: %d mistakes" % (epoch + 1, mistakes))
            if mistakes == 0:
                return PerceptronFit(errors, True, epoch + 1)
        return PerceptronFit(errors, False, epochs)

    def score(self, X, y):
        """Accuracy of predict(X) against the 0/1 labels y."""
        y = _np(y).reshape(-1).astype(np.int64)
        return float(np.mean(self.predict(X)._data == y))

    def extra_repr(self):
        return "in_features=%d, lr=%g, max_epochs=%d" % (self.in_features, self.lr,
                                                        self.max_epochs)
