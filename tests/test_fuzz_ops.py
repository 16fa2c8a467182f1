"""Property-based fuzzing of the public ops and layers against torch (hypothesis).

Every drawn call either matches torch (values, shape and, for float inputs without NaN/Inf,
the input gradients) or raises a Python exception; where torch raises, dlcore must raise too.
Inputs: random shapes with 0- and 1-sized dims and a few large ones, float32/float64 and
sometimes int64 (the wrong type for most ops), NaN/Inf/huge values, and views that are
transposed, negatively strided, step-sliced or expanded (stride 0).

Profiles (tests/fuzz_profile.py): the quick one (default) runs 30 examples per op;
`DLCORE_FUZZ=long` runs DLCORE_FUZZ_N per op (default 2,000; >= 100k calls in all) and, with
DLCORE_FUZZ_REPORT=path, writes the counts there as JSON.
"""
import json
import math
import os
import sys
import time

import numpy as np
import pytest

hypothesis = pytest.importorskip("hypothesis")
torch = pytest.importorskip("torch")
from hypothesis import given  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

import dlcore as dl  # noqa: E402
from fuzz_cases import CASES  # noqa: E402
from fuzz_profile import fuzz_settings  # noqa: E402

SETTINGS = fuzz_settings(30, "DLCORE_FUZZ_N", 2000)

STATS = {"calls": 0, "matched": 0, "both_raised": 0, "dl_raised_only": 0, "grads_checked": 0,
         "rejections": {}, "float64_oracle": {}}
DIMS = [0, 1, 1, 2, 3, 5, 7]
TIE_SENSITIVE = {"sort", "topk", "max_dim", "adaptive_max_pool2d", "max_pool2d",
                 "max_pool2d_windows"}


# ---- input strategies ---------------------------------------------------------------------------
def _size(draw):
    return draw(st.sampled_from([33, 64])) if draw(st.integers(0, 19)) == 0 else \
        draw(st.sampled_from(DIMS))


def _shape(draw, lo=0, hi=4):
    shape = tuple(_size(draw) for _ in range(draw(st.integers(lo, hi))))
    while int(np.prod(shape)) > 4096:  # large dims, not large arrays
        shape = shape[1:]
    return shape


def _bcast_partner(draw, shape):
    keep = draw(st.integers(0, len(shape)))
    tail = shape[len(shape) - keep:]
    return tuple(1 if draw(st.integers(0, 2)) == 0 else n for n in tail)


def _shapes(draw, kind):
    if callable(kind):  # the case draws its own shapes
        return kind(draw)
    if kind == "none":
        return []
    if kind == "any":
        return [_shape(draw)]
    if kind == "any1":
        return [_shape(draw, 1)]
    if kind == "any2":
        return [_shape(draw, 2)]
    if kind == "seq3":
        return [(draw(st.integers(1, 4)), draw(st.integers(0, 3)), draw(st.integers(1, 5)))]
    if kind == "same":
        s = _shape(draw, 1)
        return [s, s]
    if kind == "bcast":
        s = _shape(draw)
        p = _bcast_partner(draw, s)
        return [s, p] if draw(st.booleans()) else [p, s]
    if kind == "mm":
        n, k, m = (draw(st.sampled_from([0, 1, 2, 3, 7, 17])) for _ in range(3))
        k = max(k, 1)  # K = 0 belongs to the OpInfo work (issue 14)
        lead = tuple(draw(st.sampled_from([1, 2, 3])) for _ in range(draw(st.integers(0, 2))))
        a = draw(st.sampled_from([(k,), (n, k), lead + (n, k)]))
        b = draw(st.sampled_from([(k,), (k, m), lead + (k, m)]))
        return [a, b]
    if kind == "nchw":
        return [(draw(st.integers(0, 2)), draw(st.integers(1, 3)), draw(st.integers(1, 9)),
                 draw(st.integers(1, 9)))]
    if kind == "rows":
        return [(draw(st.integers(0, 5)), draw(st.integers(1, 6)))]
    if kind == "seq":
        b, h = draw(st.integers(0, 2)), draw(st.integers(1, 2))
        L, S, E, Ev = (draw(st.sampled_from([0, 1, 2, 5])) for _ in range(4))
        L, S = max(L, 1), max(S, 1)
        return [(b, h, L, E), (b, h, S, E), (b, h, S, Ev)]
    raise AssertionError(kind)


def _values(draw, shape, dtype):
    rng = np.random.default_rng(draw(st.integers(0, 2 ** 32 - 1)))
    if dtype == np.int64:
        return np.asarray(rng.integers(-5, 6, size=shape), np.int64), False
    a = np.asarray(rng.standard_normal(shape)) * draw(st.sampled_from([1.0, 1e-3, 30.0]))
    special = a.size and draw(st.integers(0, 4)) == 0
    if special:
        flat = a.reshape(-1)
        for _ in range(draw(st.integers(1, 3))):
            flat[draw(st.integers(0, a.size - 1))] = draw(st.sampled_from(
                [np.nan, np.inf, -np.inf, 0.0, -0.0, 1e30, -1e30]))
    return np.asarray(a, dtype), bool(special)


def _view(draw, a):
    """A dlcore Tensor holding `a`'s values in a drawn layout, and the values it holds."""
    layouts = ["contig"]
    if a.ndim >= 2:
        layouts.append("transposed")
    if a.ndim >= 1:
        layouts += ["negstride", "stepped"]
        if a.shape[0] >= 1:
            layouts.append("expanded")
    lay = draw(st.sampled_from(layouts))
    if lay == "transposed":
        return dl.tensor(np.ascontiguousarray(a.T)).permute(*range(a.ndim - 1, -1, -1)), a, lay
    if lay == "negstride":
        return dl.tensor(np.ascontiguousarray(a[::-1]))[::-1], a, lay
    if lay == "stepped":
        return dl.tensor(np.repeat(a, 2, axis=-1))[..., ::2], a, lay
    if lay == "expanded":
        row = a[:1]
        return dl.tensor(row).expand(*a.shape), np.broadcast_to(row, a.shape).copy(), lay
    return dl.tensor(a), a, lay


# ---- one call -----------------------------------------------------------------------------------
def _tol(dtype):
    return (2e-3, 2e-4) if dtype == np.float32 else (1e-7, 1e-9)


def _finite_scale(ref):
    """max(max |finite ref|, 1): what the absolute tolerance is relative to"""
    return max(np.nanmax(np.abs(np.where(np.isfinite(ref), ref, 0)), initial=1.0), 1.0)


def _near(a, b, rtol, atol, scale):
    """elementwise: |a - b| <= atol * scale + rtol * |b|, or both NaN, or the same infinity"""
    same_special = (np.isnan(a) & np.isnan(b)) | (np.isinf(a) & (a == b))
    with np.errstate(invalid="ignore"):
        return same_special | (np.abs(a - b) <= atol * scale + rtol * np.abs(b))


def _close(ours, theirs, dtype, what, inf_for_nan=False, nan_for_finite=False):
    theirs = theirs.detach().numpy() if hasattr(theirs, "detach") else np.asarray(theirs)
    ours = np.asarray(ours)
    assert ours.shape == theirs.shape, "%s: shape %s, torch %s" % (what, ours.shape, theirs.shape)
    if inf_for_nan:  # torch's gelu(inf) is NaN; the limit, inf, is the better answer
        theirs = np.where(np.isnan(theirs) & np.isinf(ours), ours, theirs)
    if nan_for_finite:  # torch's fused attention turns some NaN rows into zeros; IEEE says NaN
        theirs = np.where(np.isnan(ours), ours, theirs)
    rtol, atol = _tol(theirs.dtype if theirs.dtype.kind == "f" else dtype)
    np.testing.assert_allclose(ours.astype(np.float64), theirs.astype(np.float64), rtol=rtol,
                               atol=atol * _finite_scale(theirs), equal_nan=True, err_msg=what)


def _has_constant_slice(a, dim):
    if a.size == 0:
        return False
    axis = None if dim is None else dim
    return bool(np.any(np.ptp(a, axis=axis) == 0))


def run_case(case, draw):
    name, arity, f_dl, f_torch, kind, draw_kw = case
    shapes = _shapes(draw, kind)
    dtype = draw(st.sampled_from([np.float32, np.float32, np.float64, np.float64, np.int64]))
    kw = draw_kw(draw, shapes)
    views, arrays, special = [], [], False
    for s in shapes:
        a, sp = _values(draw, s, dtype)
        t, vals, lay = _view(draw, a)
        special |= sp
        views.append(t)
        arrays.append(vals)
    floats = dtype != np.int64
    grads = floats and not special
    if name in TIE_SENSITIVE and any(np.unique(a).size < a.size for a in arrays):
        grads = False  # which of equal values gets the gradient is torch's implementation choice
    if name == "std" and _has_constant_slice(arrays[0], kw.get("dim")):
        # std's gradient where every reduced value is equal is 0/0: torch answers 0 when its
        # rounded mean happens to be exact and rounding noise of order 1 when not (both seen);
        # dlcore's exact-zero rule there is tested in test_wrong_results
        grads = False
    if grads:
        for t in views:
            t.requires_grad_(True) if t._ctx is None else None
        # views of leaves: make each input a graph node whose gradient we can read
        views = [t * 1 if t._ctx is None else t for t in views]
        for t in views:
            t.retain_grad()
    tins = [torch.tensor(a, requires_grad=grads) for a in arrays]
    STATS["calls"] += 1
    try:
        want = f_torch(*tins, kw)
    except Exception:
        want = None
    try:
        got = f_dl(*views, kw)
    except Exception as e:  # a Python exception is an allowed answer
        if want is None:
            STATS["both_raised"] += 1
        else:
            STATS["dl_raised_only"] += 1
            key = "%s: %s" % (name, type(e).__name__)
            STATS["rejections"][key] = STATS["rejections"].get(key, 0) + 1
        return
    assert want is not None, "%s accepted %s %s %s where torch raises" % (
        name, [tuple(s) for s in shapes], np.dtype(dtype).name, kw)
    what = "%s%s %s %s" % (name, [tuple(s) for s in shapes], np.dtype(dtype).name,
                           {k: v for k, v in kw.items() if not isinstance(v, np.ndarray)})
    exact = _Float64Oracle(f_torch, arrays, kw, grads, dtype, name)
    exact.check(got.detach().numpy(), want, what, inf_for_nan=name == "gelu",
                nan_for_finite=name == "sdpa" and special)
    STATS["matched"] += 1
    if grads and want.requires_grad and want.numel():
        g = np.random.default_rng(0).standard_normal(tuple(want.shape)).astype(dtype)
        got.backward(dl.tensor(g))
        want.backward(torch.tensor(g))
        for i, (t, tt) in enumerate(zip(views, tins)):
            if tt.grad is not None and t.grad is not None:
                exact.check(t.grad.numpy(), tt.grad, what + " grad of input %d" % i,
                            grad_of=(i, g))
        STATS["grads_checked"] += 1


class _Float64Oracle:
    """A second opinion where dlcore and torch disagree on float32 input.

    torch's float32 kernels lose some answers the fuzzer reaches to rounding or overflow (the
    variance of a constant 1e30 is inf, layer_norm with a 1e30 entry NaN, std's gradient at a
    deviation rounded to nonzero is finite noise), where dlcore accumulates in float64.  So on a
    mismatch, torch runs again in float64 on the same values (ref64, rounded to float32; an
    overflow rounds to inf, as it should), and each element of dlcore's answer must
      - equal torch's float32 answer, or
      - equal ref64, or
      - where torch's float32 answer is finite, lie no farther from ref64 than twice torch's
        own float32 error: an ill-conditioned sum (+-1e30 and values near 1) has no float32
        answer that any engine gets right, and dlcore must only be no less accurate than torch;
      - for sum and mean, equal the correctly rounded answer (math.fsum), which torch's float32
        and float64 sums both miss when +-1e30 cancel.
    Where torch's float32 answer is NaN or inf and ref64 is finite, dlcore must equal ref64.
    On float64 input there is no wider torch to ask; there sum, mean, var and std (forward
    only) may instead equal the exact reduction (math.fsum; var and std from the fsum mean), or,
    for sum and mean, lie no farther from it than twice torch's error: torch's float64 variance of 33 copies of
    1e30 is 2.04e28, its mean's rounding squared, where the answer (and dlcore's) is 0; a
    float64 sum of 31 normal values with +1e30 and -1e30 is -5.016 exactly, -1.307 by torch
    and -3.184 by dlcore and NumPy (both found by the fourth long run).
    Each accepted case is counted in STATS["float64_oracle"]."""

    def __init__(self, f_torch, arrays, kw, grads, dtype, name):
        self.args = (f_torch, arrays, kw, grads)
        self.active, self.name, self.dtype = dtype == np.float32, name, dtype
        self.out64, self.ins64, self.backward_done = None, None, False

    def _run(self):
        f_torch, arrays, kw, grads = self.args
        self.ins64 = [torch.tensor(a.astype(np.float64), requires_grad=grads) for a in arrays]
        kw64 = {k: v.astype(np.float64) if isinstance(v, np.ndarray) and v.dtype == np.float32
                else v for k, v in kw.items()}
        self.out64 = f_torch(*self.ins64, kw64)

    def _ref64(self, grad_of):
        if self.out64 is None:
            self._run()
        if grad_of is None:
            return self.out64.detach().numpy()
        i, g = grad_of
        if not self.backward_done:
            self.backward_done = True
            self.out64.backward(torch.tensor(g.astype(np.float64)))
        return self.ins64[i].grad.numpy()

    def check(self, ours, want, what, grad_of=None, **close_kw):
        try:
            _close(ours, want, self.dtype, what, **close_kw)
            return
        except AssertionError:
            first = sys.exc_info()
            if not self.active:
                exact = None if grad_of else self._exact_sum()
                if exact is None or not self._near_exact(np.asarray(ours, np.float64),
                                                          want.detach().numpy(), exact):
                    raise
                key = self.name + " exact"
                STATS["float64_oracle"][key] = STATS["float64_oracle"].get(key, 0) + 1
                return
        try:
            with np.errstate(over="ignore"):
                ref = self._ref64(grad_of).astype(np.float32).astype(np.float64)
            ok = self._elementwise_ok(np.asarray(ours, np.float64),
                                      want.detach().numpy().astype(np.float64), ref,
                                      None if grad_of else self._exact_sum())
        except Exception:
            ok = False
        if not ok:
            raise first[1].with_traceback(first[2])
        key = self.name + (" grad" if grad_of else "")
        STATS["float64_oracle"][key] = STATS["float64_oracle"].get(key, 0) + 1

    def _near_exact(self, ours, t64, exact):
        """float64: each element equals torch's answer or the exact reduction"""
        if ours.shape != exact.shape or ours.shape != t64.shape:
            return False
        rtol, atol = _tol(np.float64)
        scale = _finite_scale(exact)
        ok = _near(ours, t64, rtol, atol, scale) | _near(ours, exact, rtol, atol, scale)
        if self.name in ("sum", "mean"):  # ill-conditioned when +-1e30 cancel
            with np.errstate(invalid="ignore"):
                ok |= np.isfinite(t64) & np.isfinite(exact) & np.isfinite(ours) & (
                    np.abs(ours - exact) <= 2 * np.abs(t64 - exact) + atol * scale)
        return bool(np.all(ok))

    def _exact_sum(self):
        """sum/mean correctly rounded (math.fsum over the reduced values), var/std from the
        fsum mean and fsum of squared deviations, in the input's dtype; or None: the true
        answer of a sum that cancels +-1e30, which torch's float64 sum misses too."""
        f_torch, arrays, kw, grads = self.args
        if self.name == "batch_norm_rows_affine":
            return self._exact_batch_norm(arrays[0], kw)
        if self.name not in ("sum", "mean", "var", "std") or arrays[0].ndim == 0:
            return None
        a = arrays[0].astype(np.float64)
        dim = kw.get("dim")
        axes = tuple(range(a.ndim)) if dim is None else \
            tuple(d % a.ndim for d in ((dim,) if np.isscalar(dim) else dim))
        rest = [i for i in range(a.ndim) if i not in axes]
        moved = np.transpose(a, rest + list(axes))
        flat = moved.reshape(moved.shape[:len(rest)] + (-1,))
        n = flat.shape[-1]
        rows = flat.reshape(-1, n)
        if self.name in ("var", "std"):
            if n < 2 or not np.isfinite(rows).all():
                return None
            with np.errstate(over="ignore"):
                out = np.array([math.fsum((r - math.fsum(r) / n) ** 2) / (n - 1) for r in rows])
            out = (np.sqrt(out) if self.name == "std" else out).reshape(flat.shape[:-1])
        else:
            out = np.array([math.fsum(r) for r in rows]).reshape(flat.shape[:-1])
        if self.name == "mean":
            out = out / n if n else np.full(out.shape, np.nan)
        if kw.get("keepdim"):
            out = np.expand_dims(out, axes)
        with np.errstate(over="ignore"):
            return out.astype(self.dtype).astype(np.float64)

    def _exact_batch_norm(self, x, kw):
        """Training-mode batch norm from the fsum mean and the fsum of squared deviations (two
        passes, as dlcore computes it): on near-equal huge values torch's float64 answer is
        lost to cancellation (two rows of 1e30 give 4.7e14 instead of the bias)."""
        if x.ndim < 2 or x.shape[0] * int(np.prod(x.shape[2:])) < 1 or not np.isfinite(x).all():
            return None
        a = np.moveaxis(x.astype(np.float64), 1, 0)
        rows = a.reshape(a.shape[0], -1)
        n = rows.shape[1]
        out = np.empty_like(rows)
        with np.errstate(over="ignore", invalid="ignore"):
            for c, r in enumerate(rows):
                mean = math.fsum(r) / n
                var = math.fsum((r - mean) ** 2) / n
                out[c] = (r - mean) / np.sqrt(var + kw["eps"]) * kw["w"][c] + kw["b"][c]
            return np.moveaxis(out.reshape(a.shape), 0, 1).astype(self.dtype).astype(np.float64)

    def _elementwise_ok(self, ours, t32, ref, exact=None):
        if ours.shape != ref.shape or ours.shape != t32.shape:
            return False
        rtol, atol = _tol(np.float32)
        scale = _finite_scale(ref)
        with np.errstate(invalid="ignore"):
            no_worse = np.isfinite(t32) & np.isfinite(ref) & np.isfinite(ours) & (
                np.abs(ours - ref) <= 2 * np.abs(t32 - ref) + atol * scale)
        ok = _near(ours, t32, rtol, atol, scale) | _near(ours, ref, rtol, atol, scale) | no_worse
        if exact is not None and exact.shape == ours.shape:
            ok |= _near(ours, exact, rtol, atol, scale)
        return bool(np.all(ok))


_START = time.time()


def _write_report():
    STATS["seconds"] = round(time.time() - _START, 1)
    path = os.environ.get("DLCORE_FUZZ_REPORT")
    if path:
        with open(path, "w") as f:
            json.dump(STATS, f, indent=1, sort_keys=True)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # NumPy's "mean of empty slice" etc.
@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_fuzz_op_matches_torch_or_raises(case):
    @SETTINGS
    @given(st.data())
    def check(data):
        run_case(case, data.draw)

    try:
        with np.errstate(all="ignore"):
            check()
    finally:
        _write_report()


JUNK = [None, "x", 3, 2.5, True, [1.0, 2.0], (1, 2), {"a": 1}, object(), b"\x00",
        np.array(["a", "b"]), np.zeros((2, 2), np.complex64), np.zeros((2, 2), np.float16)]


@pytest.mark.filterwarnings("ignore::RuntimeWarning", "ignore::UserWarning")
@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_fuzz_op_with_wrong_types_raises_or_answers(case):
    """Junk in any argument slot: a Python exception (or an answer), never a crash."""
    name, arity, f_dl, _, kind, draw_kw = case

    @SETTINGS
    @given(st.data())
    def check(data):
        shapes = _shapes(data.draw, kind)
        kw = draw_kw(data.draw, shapes)
        args = [dl.tensor(np.ones(s, np.float32)) for s in shapes]
        if args:
            args[data.draw(st.integers(0, len(args) - 1))] = data.draw(st.sampled_from(JUNK))
        else:
            kw = {k: data.draw(st.sampled_from(JUNK)) for k in kw}
        STATS["calls"] += 1
        try:
            f_dl(*args, kw)
        except Exception:
            pass

    try:
        with np.errstate(all="ignore"):
            check()
    finally:
        _write_report()
