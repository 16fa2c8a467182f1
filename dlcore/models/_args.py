"""Argument checks the model constructors share; each message names the model and argument."""
import numpy as np


def positive_int(name, what, v):
    if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v <= 0:
        raise ValueError("%s: %s must be a positive int, got %r" % (name, what, v))
    return int(v)


def class_count(name, num_classes):
    """num_classes as an int >= 0 (0: an unconditional model)."""
    n = int(num_classes)
    if n < 0:
        raise ValueError("%s: num_classes must be >= 0, got %r" % (name, num_classes))
    return n
