"""Reflect / replicate / circular padding through an index map (gradient by scatter-add)."""
import numpy as np


def _index(n, before, after, mode):
    i = np.arange(-before, n + after)
    if mode == "replicate":
        return np.clip(i, 0, n - 1)
    if mode == "circular":
        return np.mod(i, n)
    if mode == "reflect":
        if before >= n or after >= n:
            raise ValueError("pad: reflect padding (%d, %d) must be smaller than the dim (%d)"
                             % (before, after, n))
        period = 2 * (n - 1) if n > 1 else 1
        j = np.mod(i, period)
        return np.where(j < n, j, period - j)
    raise ValueError("pad: mode must be 'constant', 'reflect', 'replicate' or 'circular', "
                     "got %r" % (mode,))


def pad_mode(input, pairs, mode):
    out = input
    for ax, (b, e) in enumerate(pairs):
        if b == 0 and e == 0:
            continue
        if b < 0 or e < 0:
            raise ValueError("pad: negative padding is only supported in constant mode")
        idx = _index(input.shape[ax], b, e, mode)
        out = out.index_select(ax, idx)
    return out
