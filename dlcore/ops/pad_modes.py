"""Reflect / replicate / circular padding through an index map (gradient by scatter-add);
negative widths crop, as in torch."""
import numpy as np


def _index(n, before, after, mode):
    i = np.arange(-before, n + after)
    if mode == "replicate":
        return np.clip(i, 0, n - 1)
    if mode == "circular":
        # torch crops the negative sides first, then wraps around what is left
        start = max(-before, 0)
        kept = n - start - max(-after, 0)
        if kept <= 0 or max(before, 0) > kept or max(after, 0) > kept:
            raise ValueError("pad: circular padding (%d, %d) must be at most the size %d left "
                             "after cropping" % (before, after, max(kept, 0)))
        return start + np.mod(np.arange(-max(before, 0), kept + max(after, 0)), kept)
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
        # a negative width crops that side: the index map covers it as it stands
        idx = _index(input.shape[ax], b, e, mode)
        out = out.index_select(ax, idx)
    return out
