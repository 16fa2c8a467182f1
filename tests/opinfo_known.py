"""The OpInfo samples known to fail, each with the reason and where it is being fixed.

Entries are (op name, variant_test_name or None for all, predicate on (sample, dtype), reason),
and a fifth element True for a strict entry.  A matching sample that fails counts as xfailed.
One that passes counts as xpassed, and fails the test only for a strict entry: the entries for
other branches' bugs are not strict, so their fixes merge without touching this table.  Type promotion, creation signatures, in-place autograd and the hardening bugs are
other branches' work (#14 items 1-3, the hardening issue); a float32 entry names the
precision gap instead of loosening the rule of opinfo_support.check_float32_accuracy.
"""
import math

import torch

PROMOTION = "type promotion, #14 item 1 (semantics branch)"
CREATION = "creation functions' torch signatures (device=, randint(high, size), argument " \
    "checks), tensor.py: #14 items 1/3 (names branch)"
HARDENING = "hardening issue (another branch)"


def _always(sample, dtype):
    return True


def _p_arg(sample):
    return sample.args[0] if sample.args else sample.kwargs.get("p", 2)


def _int_tensor(x):
    return isinstance(x, torch.Tensor) and not x.is_floating_point()


KNOWN_FAILURES = [
    ("nn.functional.max_unpool2d", None, _always,
     "max_unpool2d with overlapping windows (duplicate indices): " + HARDENING),
    ("norm", None, lambda s, d: _p_arg(s) in (0, math.inf, -math.inf, "fro", "nuc"),
     "norm p=0, p=+-inf, 'fro', 'nuc': " + HARDENING),
    ("gather", None, lambda s, d: s.input.dim() == 0 or s.args[1].dim() != s.input.dim(),
     "gather's index shape rules: " + HARDENING),
    ("mean", None, lambda s, d: _int_tensor(s.input),
     "mean of an integer tensor must raise: #14 item 1 (semantics branch)"),
    ("zero_", None, _always, "in-place op on a non-leaf tensor: #14 item 2 (autograd branch)"),
    ("arange", None, lambda s, d: len(s.args) == 2 and all(
        isinstance(v, (int, float)) for v in (s.input,) + tuple(s.args))
        and (s.args[0] - s.input) * s.args[1] < 0, CREATION),
    ("linspace", None, lambda s, d: isinstance(s.input, torch.Tensor), CREATION),
    ("randint", None, lambda s, d: not s.args or not isinstance(s.args[0], int), CREATION),
]
KNOWN_FAILURES += [(n, None, lambda s, d: "device" in s.kwargs, CREATION)
                   for n in ("zeros_like", "ones_like", "full_like", "empty_like", "randn_like",
                             "rand_like")]
KNOWN_FAILURES += [
    # float32 samples where dlcore's error against the float64 result exceeds the tolerance
    # plus torch's own float32 error (see check_float32_accuracy); named, not loosened
    ("pow", None, lambda s, d: d == torch.float32 and s.args and isinstance(
        s.args[0], torch.Tensor) and s.args[0].dim() == 0 and s.input.dim() == 2,
     "float32: the 0-d exponent's gradient sums 50 terms of +-2e5 that cancel; dlcore's "
     "result is 1.2 off float64, torch's 0.56", True),
    ("nn.functional.scaled_dot_product_attention", None,
     lambda s, d: d == torch.float32 and s.kwargs.get("attn_mask") is not None,
     "float32: the fused backward recomputes scores of size ~30 (mask and inputs up to 9); "
     "dlcore's query gradient is 1.9e-4 off float64 where torch's float32 is closer", True),
]

# ops exposed on main by other branches (#14 item 3: nn functions, names) after this table was
# written: their failing OpInfo samples are listed for those branches to fix (not strict)
NEW_ON_MAIN = "exposed on main by another branch (#14 item 3); its OpInfo failures are that " \
    "branch's to fix"
KNOWN_FAILURES += [(n, None, _always, NEW_ON_MAIN) for n in (
    "to_sparse",)]
