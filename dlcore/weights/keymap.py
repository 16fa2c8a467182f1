"""Renaming foreign checkpoint keys to dlcore module names, and a clear report of what did not fit.

    rules = [(r"^bert\\.", ""), (r"\\.gamma$", ".weight"), (r"\\.beta$", ".bias")]
    sd = remap_keys(foreign_sd, rules, drop=[r"^cls\\."])
    report = load_weights(model, sd)          # raises with the full report if anything is off
"""
import re

import numpy as np


def remap_keys(state_dict, rules=(), drop=()):
    """New dict with each key rewritten by the (pattern, replacement) regex rules, applied in
    order (every rule to every key), and keys whose original or new name matches any `drop`
    pattern removed.

    Two source keys that end up with the same name raise ValueError naming both.
    """
    compiled = [(re.compile(p), r) for p, r in rules]
    dropped = [re.compile(p) for p in drop]
    out, origin = {}, {}
    for k, v in state_dict.items():
        new = k
        for pat, rep in compiled:
            new = pat.sub(rep, new)
        if any(d.search(k) or d.search(new) for d in dropped):
            continue
        if new in out:
            raise ValueError("remap_keys: %r and %r both map to %r" % (origin[new], k, new))
        out[new], origin[new] = v, k
    return out


class KeyReport:
    """missing (in the model, not the file), unexpected (in the file, not the model) and
    mismatched ({key: (file shape, model shape)}) keys."""

    def __init__(self, missing, unexpected, mismatched):
        self.missing, self.unexpected, self.mismatched = missing, unexpected, mismatched

    @property
    def ok(self):
        return not (self.missing or self.unexpected or self.mismatched)

    def __bool__(self):
        return self.ok

    def __str__(self):
        if self.ok:
            return "all keys matched"
        lines = []
        if self.missing:
            lines.append("missing from the checkpoint (%d): %s"
                         % (len(self.missing), ", ".join(self.missing)))
        if self.unexpected:
            lines.append("unexpected in the checkpoint (%d): %s"
                         % (len(self.unexpected), ", ".join(self.unexpected)))
        for k, (a, b) in self.mismatched.items():
            lines.append("shape mismatch for %s: checkpoint %s, model %s" % (k, a, b))
        return "\n".join(lines)

    __repr__ = __str__


def compare_keys(model, state_dict):
    """KeyReport of `state_dict` against `model.state_dict()`."""
    own = model.state_dict()
    missing = [k for k in own if k not in state_dict]
    unexpected = [k for k in state_dict if k not in own]
    mismatched = {}
    for k, t in own.items():
        if k in state_dict:
            a = tuple(np.shape(getattr(state_dict[k], "_data", state_dict[k])))
            b = tuple(np.shape(getattr(t, "_data", t)))
            if a != b:
                mismatched[k] = (a, b)
    return KeyReport(missing, unexpected, mismatched)


def load_weights(model, state_dict, rules=(), drop=(), strict=True):
    """Remap, compare, then load the matching tensors into `model`; returns the KeyReport.

    With strict=True any missing, unexpected or mismatched key raises ValueError with the
    report; with strict=False the matching tensors are loaded and the report returned.
    """
    sd = remap_keys(state_dict, rules, drop) if (rules or drop) else dict(state_dict)
    report = compare_keys(model, sd)
    if strict and not report.ok:
        raise ValueError("load_weights into %s:\n%s" % (type(model).__name__, report))
    usable = {k: v for k, v in sd.items()
              if k not in report.unexpected and k not in report.mismatched}
    model.load_state_dict(usable, strict=False)
    return report
