"""Dropout layers: active in train(), identity in eval()."""
from ...ops.dropout import dropout, dropout1d, dropout2d, dropout3d
from ...ops.dropout_alpha import alpha_dropout, feature_alpha_dropout
from .module import Module

__all__ = ["Dropout", "Dropout1d", "Dropout2d", "Dropout3d", "AlphaDropout",
           "FeatureAlphaDropout"]


class Dropout(Module):
    def __init__(self, p=0.5, inplace=False):
        super().__init__()
        if not 0.0 <= p <= 1.0:
            raise ValueError("Dropout: p must be in [0, 1], got %r" % (p,))
        self.p, self.inplace = p, inplace

    def forward(self, x):
        return dropout(x, self.p, self.training, self.inplace)

    def extra_repr(self):
        return "p=%s, inplace=%s" % (self.p, self.inplace)


class Dropout2d(Dropout):
    def forward(self, x):
        return dropout2d(x, self.p, self.training, self.inplace)


class Dropout1d(Dropout):
    def forward(self, x):
        return dropout1d(x, self.p, self.training, self.inplace)


class Dropout3d(Dropout):
    def forward(self, x):
        return dropout3d(x, self.p, self.training, self.inplace)


class AlphaDropout(Dropout):
    """Dropout that keeps SELU activations' zero mean and unit variance."""

    def forward(self, x):
        return alpha_dropout(x, self.p, self.training, self.inplace)


class FeatureAlphaDropout(Dropout):
    def forward(self, x):
        return feature_alpha_dropout(x, self.p, self.training, self.inplace)
