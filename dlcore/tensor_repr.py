"""The body of a Tensor's repr, laid out as torch prints it: the same digits, so that a script's
printed output reads alike under either engine.

torch picks one format per tensor from its finite nonzero magnitudes: whole numbers print as
"2." (scientific past a 1000x spread or 1e8), other values with 4 decimals ("1.6180"), or in
scientific notation ("1.2346e-05") past a 1000x spread, above 1e8 or below 1e-4; every element is
right-aligned to the widest.  NumPy's own float printing drops trailing zeros ("1.618 "), which
is why floats get this formatter; integers and bools print as NumPy prints them (torch alike).
"""
import numpy as np


def _float_format(a):
    """A function formatting one element of the float array `a`, padded to a common width (the
    widest of the finite nonzero values printed, as torch pads: a lone -0. widens nothing)."""
    shown = _samples(a)
    nzv = shown[np.isfinite(shown) & (shown != 0)].astype(np.float64)
    nz = np.abs(nzv)
    sci = False
    if nz.size:
        lo, hi = nz.min(), nz.max()
        whole = bool(np.all(nz == np.ceil(nz)))
        sci = hi / lo > 1000.0 or hi > 1.0e8 or (not whole and lo < 1.0e-4)
    else:
        whole = True

    def plain(v):
        v = float(v)
        if v != v:
            return "nan"
        if v in (float("inf"), float("-inf")):
            return "inf" if v > 0 else "-inf"
        if sci:
            return "%.4e" % v
        return ("%.0f." % v) if whole else ("%.4f" % v)

    width = max((len(plain(v)) for v in nzv), default=1)
    return lambda v: plain(v).rjust(width)


def _samples(a):
    """The elements NumPy will print (all of them, or the summarized corners of a big array)."""
    if a.size <= _threshold():
        return a.reshape(-1)
    edge = 3
    corner = a
    for axis in range(a.ndim):
        if a.shape[axis] > 2 * edge:
            idx = np.r_[0:edge, a.shape[axis] - edge:a.shape[axis]]
            corner = np.take(corner, idx, axis=axis)
    return corner.reshape(-1)


# torch fits floor((80 - indent) / (width + 2)) values on a line, its indent one less than the
# brackets NumPy counts: NumPy's own rule at 81 columns gives the same count for every shape
_WIDTH = 81


def _threshold():
    return np.get_printoptions()["threshold"]


def array_body(a):
    """(the text after "tensor(" for the NumPy array `a`, its suffixes so far)."""
    if a.size == 0:
        return "[]", ([] if a.ndim == 1 else ["size=%s" % (tuple(a.shape),)])
    width = _WIDTH
    fmt = _float_format(a) if a.dtype.kind == "f" else None
    if a.size > _threshold() and a.ndim and a.shape[-1] > 6:
        # torch counts a row's "..." as one value's width, NumPy as 3 characters
        w = len(fmt(a.reshape(-1)[0])) if fmt else len(str(a.reshape(-1)[0]))
        width -= max(w - 3, 0)
    if fmt is not None:
        body = np.array2string(a, separator=", ", prefix="tensor(", max_line_width=width,
                               formatter={"float_kind": fmt})
    else:
        body = np.array2string(a, separator=", ", prefix="tensor(", max_line_width=width)
    # torch sets the summary's ellipsis off by two spaces
    return (body.replace(", ..., ", ",  ..., ") if a.size > _threshold() else body), []


def with_suffixes(text, suffixes, indent=7, linewidth=80):
    """`text` + ", suffix" for each, closed by ")": a suffix that would run past the line width
    starts a new line under the values, as torch lays them out."""
    parts = [text]
    last = len(text) - text.rfind("\n") + 1
    for suf in suffixes:
        if last + len(suf) + 2 > linewidth:
            parts.append(",\n" + " " * indent + suf)
            last = indent + len(suf)
        else:
            parts.append(", " + suf)
            last += len(suf) + 2
    parts.append(")")
    return "".join(parts)
