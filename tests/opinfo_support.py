"""Runs PyTorch's OpInfo sample inputs through dlcore and compares with torch (the oracle).

Used by tests/test_torch_opinfo.py; `python tests/opinfo_support.py [--full]` prints the whole
sweep's counts (ops covered, samples passed / skipped / xfailed / failed by reason).

Each OpInfo entry of `op_db` is looked up in dlcore by its name (dl.X, dl.nn.functional.X, the
Tensor method X); entries dlcore does not have are "not exposed" and listed, not run.  A sample's
tensors become dl tensors with the same values and requires_grad; the op runs on both sides;
outputs are compared (shape, dtype, values with torch.testing's default tolerances for the
dtype); then a backward pass with the same random output gradients on both sides and the input
gradients are compared.  Where torch raises for a sample, dlcore must raise too.
"""
import os
import sys
import types

if __name__ == "__main__":  # run as a script: this checkout's dlcore, not an installed one
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import numpy as np
import pytest
import torch
from torch.testing._internal.common_methods_invocations import op_db
from torch.testing._internal.opinfo.core import SampleInput

import dlcore as dl
import dlcore.nn.functional as F

# torch.testing.assert_close's defaults: the tolerances torch's own suite uses for these dtypes
TOLERANCES = {torch.float32: (1.3e-6, 1e-5), torch.float64: (1e-7, 1e-7)}
DTYPES = (torch.float32, torch.float64)

# ops whose values are random or uninitialised: only shape and dtype can be compared
RANDOM_OPS = {
    "bernoulli", "multinomial", "normal", "uniform", "cauchy", "exponential", "geometric",
    "log_normal", "rand_like", "randn_like", "randint_like", "randn", "randint", "empty",
    "empty_like", "new_empty", "empty_strided", "empty_permuted", "new_empty_strided",
    "nn.functional.dropout", "nn.functional.dropout2d", "nn.functional.dropout3d",
    "nn.functional.alpha_dropout", "nn.functional.feature_alpha_dropout", "nn.functional.rrelu",
}

# KNOWN_FAILURES: tests/opinfo_known.py (the samples expected to fail, each with its reason)
from opinfo_known import KNOWN_FAILURES  # noqa: E402


class Skip(Exception):
    """A sample that uses a feature dlcore deliberately lacks."""


# ---- name resolution ---------------------------------------------------------------------

def _lookup(root, dotted):
    obj = root
    for part in dotted.split("."):
        obj = getattr(obj, part, None)
        if obj is None:
            return None
    return obj


def _is_op(obj):
    return callable(obj) and isinstance(obj, (types.FunctionType, types.BuiltinFunctionType,
                                              types.MethodType))


# OpInfo entries whose `op` is a lambda that calls torch (argument order, a seed wrapper):
# the same call spelled with dlcore
ADAPTERS = {
    "item": lambda x, *a, **k: x.item(*a, **k),
    "einsum": lambda tensors, equation: dl.einsum(equation, *tensors),
    "where": lambda self, condition, other, **k: dl.where(condition, self, other, **k),
    "zero_": lambda x: x.clone().zero_(),
    "randn": lambda *a, **k: dl.randn(*a, **k),
    "randn_like": lambda x, *a, **k: dl.randn_like(x, *a, **k),
    "rand_like": lambda x, *a, **k: dl.rand_like(x, *a, **k),
    "randint": lambda *a, **k: dl.randint(*a, **k),
    "nn.functional.embedding": lambda weight, idx, **k: F.embedding(idx, weight, **k),
    "nn.functional.scaled_dot_product_attention":
        lambda *a, **k: F.scaled_dot_product_attention(*a, **k),
    "nn.functional.dropout": lambda x, *a, **k: F.dropout(x, *a, **k),
    "nn.functional.dropout2d": lambda x, *a, **k: F.dropout2d(x, *a, **k),
}


def resolve(opinfo):
    """The dlcore variants of an OpInfo: a list of (label, call(input, *args, **kwargs))."""
    variants = []
    if opinfo.name in ADAPTERS:
        return [("function", ADAPTERS[opinfo.name])]
    torch_fn = opinfo.op
    method = opinfo.method_variant
    lam = getattr(torch_fn, "__name__", "") == "<lambda>"
    if lam:
        # e.g. `lambda x: x.T`: runs on dl tensors as written when every name it uses is one
        # dl.Tensor has (and it does not call torch itself)
        code = torch_fn.__code__
        if code.co_freevars == () and all(hasattr(dl.Tensor, n) for n in code.co_names):
            variants.append(("lambda", torch_fn))
    elif torch_fn is not None and torch_fn is not method:
        name = opinfo.name
        fn = _lookup(F, name[len("nn.functional."):]) if name.startswith("nn.functional.") \
            else _lookup(dl, name)
        if fn is not None and _is_op(fn):
            variants.append(("function", fn))
    if method is not None:
        mname = method.__name__
        if hasattr(dl.Tensor, mname):
            variants.append(("method", lambda x, *a, _m=mname, **k: _method(x, _m, a, k)))
    return variants


def _method(x, name, args, kwargs):
    if not isinstance(x, dl.Tensor):
        # torch's error inputs call the unbound Tensor method on a number (2 .__radd__):
        # in Python that is the number's own operator, nothing of dlcore's to test
        raise Skip("Tensor method called on a non-tensor")
    return getattr(x, name)(*args, **kwargs)


def op_key(opinfo):
    return opinfo.name + ("." + opinfo.variant_test_name if opinfo.variant_test_name else "")


# ---- converting a sample ------------------------------------------------------------------

DTYPE_MAP = {torch.float32: dl.float32, torch.float64: dl.float64, torch.float16: dl.float16,
             torch.int64: dl.int64, torch.int32: dl.int32, torch.int16: dl.int16,
             torch.int8: dl.int8,
             torch.uint8: dl.uint8, torch.bool: dl.bool_, torch.bfloat16: dl.bfloat16}


def to_dl(obj, leaves, memo=None):
    """The same structure with torch objects replaced by dlcore's; tensors requiring grad are
    appended to `leaves` as (torch tensor, dl tensor) pairs.  A tensor that appears twice
    becomes one dl tensor (its gradient sums both uses, as torch's does)."""
    if memo is None:
        memo = {}
    if isinstance(obj, torch.Tensor):
        if id(obj) in memo:
            return memo[id(obj)]
        if obj.is_complex():
            raise Skip("complex dtype")
        if obj.layout != torch.strided:
            raise Skip("sparse layout")
        if obj.device.type != "cpu":
            raise Skip("device other than cpu")
        if obj.dtype not in DTYPE_MAP:
            raise Skip("dtype %s" % obj.dtype)
        if obj.dim() > 64:
            raise Skip("more than 64 dims (NumPy storage)")
        arr = obj.detach().numpy().copy()
        t = dl.tensor(arr, dtype=DTYPE_MAP[obj.dtype], requires_grad=obj.requires_grad)
        if obj.requires_grad:
            leaves.append((obj, t))
        memo[id(obj)] = t
        return t
    if isinstance(obj, torch.dtype):
        if obj.is_complex:
            raise Skip("complex dtype")
        if obj not in DTYPE_MAP:
            raise Skip("dtype %s" % obj)
        return DTYPE_MAP[obj]
    if isinstance(obj, torch.layout):
        if obj != torch.strided:
            raise Skip("sparse layout")
        raise Skip("layout argument")
    if isinstance(obj, torch.memory_format):
        raise Skip("memory_format")
    if isinstance(obj, torch.device):
        if obj.type != "cpu":
            raise Skip("device other than cpu")
        return "cpu"
    if isinstance(obj, torch.Size):
        return tuple(obj)
    if isinstance(obj, torch.nn.Module):
        if type(obj) in MODULE_ARGS:  # a parameterless module passed as a function argument
            return MODULE_ARGS[type(obj)](obj)
        raise Skip("a torch module argument (%s)" % type(obj).__name__)
    if isinstance(obj, complex):
        raise Skip("complex dtype")
    if isinstance(obj, tuple) and not hasattr(obj, "_fields"):
        return tuple(to_dl(o, leaves, memo) for o in obj)
    if isinstance(obj, list):
        return [to_dl(o, leaves, memo) for o in obj]
    if isinstance(obj, dict):
        return {k: to_dl(v, leaves, memo) for k, v in obj.items()}
    if isinstance(obj, slice):
        return slice(to_dl(obj.start, leaves, memo), to_dl(obj.stop, leaves, memo),
                     to_dl(obj.step, leaves, memo))
    if isinstance(obj, str) and obj.startswith(("cuda", "meta", "mps")):
        raise Skip("device other than cpu")
    return obj


# torch modules that samples pass as arguments (triplet_margin_with_distance_loss's
# distance_function): the dlcore module with the same settings
MODULE_ARGS = {
    torch.nn.PairwiseDistance: lambda m: dl.nn.PairwiseDistance(p=m.norm, eps=m.eps,
                                                                keepdim=m.keepdim),
}


def convert(sample):
    kwargs = dict(sample.kwargs)
    if "out" in kwargs:
        raise Skip("out=")
    if "memory_format" in kwargs:
        raise Skip("memory_format")
    leaves, memo = [], {}
    inp = to_dl(sample.input, leaves, memo)
    args = to_dl(tuple(sample.args), leaves, memo)
    kw = to_dl(kwargs, leaves, memo)
    return inp, args, kw, leaves


# ---- comparing ----------------------------------------------------------------------------

class Mismatch(AssertionError):
    pass


class ValueMismatch(Mismatch):
    """Shapes and dtypes agree, values differ beyond the tolerance."""


def _np_dtype(tdtype):
    return np.dtype(DTYPE_MAP[tdtype]) if tdtype in DTYPE_MAP else None


def compare(expected, actual, dtype, what="output", ref_dtype=None, slack=0.0):
    """Raise Mismatch where dlcore's `actual` differs from torch's `expected`; with ref_dtype
    float64 for a float32 sample, torch's float64 results stand for float32 ones."""
    if isinstance(expected, torch.Tensor):
        if not isinstance(actual, dl.Tensor):
            raise Mismatch("%s: expected a Tensor, got %s" % (what, type(actual).__name__))
        a = actual.numpy()
        # NumPy has no bfloat16 of torch's: its values compare through float32 (exact)
        e = expected.detach().float().numpy() if expected.dtype == torch.bfloat16 \
            else expected.detach().numpy()
        if tuple(a.shape) != tuple(e.shape):
            raise Mismatch("%s: shape %s, torch %s" % (what, tuple(a.shape), tuple(e.shape)))
        e_dtype = expected.dtype
        if ref_dtype == torch.float64 and dtype == torch.float32 and e_dtype == torch.float64:
            e_dtype = torch.float32
        if a.dtype != _np_dtype(e_dtype):
            raise Mismatch("%s: dtype %s, torch %s" % (what, a.dtype, expected.dtype))
        # a float32 tensor of a float64 sample (cov's float32 aweights) is held to float32's
        # tolerance, as torch.testing does by the tensor's dtype
        tol_dtype = torch.float32 if expected.dtype == torch.float32 else dtype
        _values(e, a.astype(np.float32) if a.dtype == dl.bfloat16 else a, tol_dtype, what,
                slack)
        return
    if isinstance(expected, (tuple, list)):
        if not isinstance(actual, (tuple, list)) or len(actual) != len(expected):
            raise Mismatch("%s: expected a sequence of %d, got %r" % (
                what, len(expected), type(actual).__name__))
        for i, (e, a) in enumerate(zip(expected, actual)):
            compare(e, a, dtype, "%s[%d]" % (what, i), ref_dtype)
        return
    if isinstance(expected, (bool, int, float)):
        if isinstance(actual, dl.Tensor):
            raise Mismatch("%s: expected a Python %s, got a Tensor" % (
                what, type(expected).__name__))
        if isinstance(expected, bool) != isinstance(actual, (bool, np.bool_)):
            raise Mismatch("%s: expected %r, got %r" % (what, expected, actual))
        _values(np.asarray(expected), np.asarray(actual), dtype, what)
        return
    if expected is None:
        if actual is not None:
            raise Mismatch("%s: expected None, got %r" % (what, actual))
        return
    raise Mismatch("%s: cannot compare torch's %s" % (what, type(expected).__name__))


def _values(e, a, dtype, what, slack=0.0):
    if e.dtype.kind in "fc":
        rtol, atol = TOLERANCES[dtype]
        atol += slack
        ok = np.isclose(a, e, rtol=rtol, atol=atol, equal_nan=True)
        if not ok.all():
            bad = np.argwhere(~ok)
            i = tuple(bad[0])
            diff = np.abs(a.astype(np.float64) - e.astype(np.float64))
            diff = np.where(np.isnan(diff), np.inf, diff)
            raise ValueMismatch("%s: %d of %d values differ, max abs diff %.3g (at %s: %r vs torch "
                           "%r)" % (what, len(bad), e.size, float(diff.max()), i,
                                    a[i].item(), e[i].item()))
    elif not np.array_equal(e, a):
        raise ValueMismatch("%s: values differ: %r vs torch %r" % (what, a.ravel()[:8],
                                                               e.ravel()[:8]))


# ---- running one sample -------------------------------------------------------------------

def _flat(out):
    if isinstance(out, (tuple, list)):
        return [t for o in out for t in _flat(o)]
    return [out]


def _grad_outputs(outs, dtype):
    """The same random output gradients for every run of a sample: drawn in float64, rounded
    to the sample's dtype (so a float64 re-run of a float32 sample gets identical values)."""
    g = torch.Generator().manual_seed(7)
    return [torch.randn(o.shape, generator=g, dtype=torch.float64).to(dtype).to(o.dtype)
            for o in outs]


def _dl_backward(d_outs, grads):
    loss = None
    for o, g in zip(d_outs, grads):
        gn = g.detach().float().numpy() if g.dtype == torch.bfloat16 else g.detach().numpy()
        term = (o * dl.tensor(gn, dtype=o.dtype)).sum()
        loss = term if loss is None else loss + term
    loss.backward()


def upcast(obj, memo=None):
    """float32 tensors of a structure as float64 leaves with the same values and requires_grad
    (the more exact oracle for a float32 result); a tensor used twice stays one tensor."""
    memo = {} if memo is None else memo
    if isinstance(obj, torch.Tensor):
        if obj.dtype == torch.float32:
            if id(obj) not in memo:
                memo[id(obj)] = obj.detach().double().requires_grad_(obj.requires_grad)
            return memo[id(obj)]
        return obj
    if isinstance(obj, tuple) and not hasattr(obj, "_fields"):
        return tuple(upcast(o, memo) for o in obj)
    if isinstance(obj, list):
        return [upcast(o, memo) for o in obj]
    if isinstance(obj, dict):
        return {k: upcast(v, memo) for k, v in obj.items()}
    return obj


def check_against(reference, actual, d_grads, dtype, ref_dtype):
    """Compare dlcore's outputs and gradients with torch's run in ref_dtype."""
    expected, t_grads = reference[:2]
    compare(expected, actual, dtype, ref_dtype=ref_dtype)
    for i, (tg, dg) in enumerate(zip(t_grads, d_grads)):
        compare(tg, dg, dtype, "grad of input %d" % i, ref_dtype=ref_dtype)


def check_float32_accuracy(ref32, ref64, actual, d_grads, dtype):
    """The float32 rule when dlcore and torch's float32 results differ beyond tolerance: the
    float64 result is the truth, and dlcore's float32 result must be within the tolerance of
    it plus torch's own float32 deviation on this tensor (max |torch32 - torch64|).  So dlcore
    is held to the accuracy float32 demonstrably reaches on the sample, never to less."""
    d_outs = [t for t in _flat(actual) if isinstance(t, dl.Tensor)]
    pairs = [(a, b, c, "output") for a, b, c in zip(_tensors(ref32[0]), _tensors(ref64[0]),
                                                     d_outs)] + \
        [(a, b, c, "grad of input %d" % i)
         for i, (a, b, c) in enumerate(zip(ref32[1], ref64[1], d_grads))]
    for t32, t64, dlv, what in pairs:
        # a float32 result of a float64 sample (a float32 leaf's gradient) stays float32
        ref = t64.to(t32.dtype) if dtype != torch.float32 and t32.dtype == torch.float32 \
            else t64
        compare(ref, dlv, dtype, what, torch.float64, slack=_own_error(t32, t64))


def _has_float32(sample):
    """A float32 tensor in a sample of another dtype (cov's float32 aweights of float64 x):
    torch computes part of the result in float32, so the float32 rule applies to it too."""
    return any(isinstance(t, torch.Tensor) and t.dtype == torch.float32
               for t in _flat([sample.input, list(sample.args), list(sample.kwargs.values())]))


def _tensors(out):
    return [t for t in _flat(out) if isinstance(t, torch.Tensor)]


def _own_error(t32, t64):
    if not t32.is_floating_point() or t32.numel() == 0 or t32.shape != t64.shape:
        return 0.0
    d = (t32.detach().double() - t64.detach().double()).abs()
    d = d[torch.isfinite(d)]
    return float(d.max()) if d.numel() else 0.0


def _torch_run(opinfo, sample, leaves_of, dtype):
    """torch's outputs and the gradients of the tensors leaves_of(sample) lists."""
    expected = opinfo.op(sample.input, *sample.args, **sample.kwargs)
    sparse = sparse_dims(expected)
    expected = densify(expected)
    leaves = leaves_of(sample)
    if not leaves or not opinfo.supports_autograd:
        return expected, [], sparse
    t_outs = [o for o in _flat(sample.output_process_fn_grad(expected))
              if isinstance(o, torch.Tensor) and o.requires_grad]
    if not t_outs:
        return expected, [], sparse
    grads = torch.autograd.grad(t_outs, leaves, _grad_outputs(t_outs, dtype),
                                allow_unused=True)
    # an unused leaf (None) or torch's ZeroTensor (a gradient known to be 0, as sgn's): zeros
    grads = [g if g is not None and not g._is_zerotensor() else torch.zeros_like(t)
             for g, t in zip(grads, leaves)]
    return expected, grads, sparse


def _is_sparse(o):
    if isinstance(o, torch.Tensor):
        return o.layout == torch.sparse_coo
    return not isinstance(o, dl.Tensor) and getattr(o, "is_sparse", False) is True


def sparse_dims(out):
    """The sparse_dim of each sparse COO output (None for a dense one), torch's or dlcore's."""
    return [o.sparse_dim() if _is_sparse(o) else None for o in _flat(out)]


def densify(out):
    """Sparse COO outputs as their dense values (differentiable on both sides), so that values
    and gradients compare as dense ones once the layouts were compared."""
    if isinstance(out, (tuple, list)):
        items = [densify(o) for o in out]
        if all(a is b for a, b in zip(items, out)):
            return out
        return type(out)(*items) if hasattr(out, "_fields") else type(out)(items)
    return out.to_dense() if _is_sparse(out) else out


def _leaves_of(sample):
    found = []
    to_dl((sample.input, tuple(sample.args), dict(sample.kwargs)), found)
    return [t for t, _ in found]


# ---- outputs unique only up to sign ------------------------------------------------------
# Eigenvectors and singular vectors are unique up to a sign per vector (and, for the columns
# of a full SVD past min(m, n), up to a basis of their span): LAPACKs differ there (torch's MKL
# and NumPy's OpenBLAS do).  Before the values are compared, dlcore's vectors are flipped to
# torch's signs, and a completion basis spanning torch's subspace is replaced by torch's; a
# wrong vector or subspace still differs.  Gradients need no such step: OpInfo's
# output_process_fn_grad already makes them sign-invariant.  Entries: op name -> the output
# indices holding vectors as (index, "col" or "row"); the first entry's signs are applied to
# the rest (an SVD flips u_j and v_j together).
SIGN_GAUGE = {
    "linalg.eigh": [(1, "col")],
    "svd": [(0, "col"), (2, "col")],
    "linalg.svd": [(0, "col"), (2, "row")],
}


def _as_cols(a, how):
    return a if how == "col" else np.swapaxes(a, -1, -2)


def align_gauge(name, expected, actual, dtype):
    """actual with its vectors flipped/completed to match expected's gauge (see SIGN_GAUGE)."""
    spec = SIGN_GAUGE.get(name)
    if spec is None or not isinstance(actual, (tuple, list)):
        return actual
    out = list(actual)
    signs = None
    for idx, how in spec:
        t = expected[idx].detach().double().numpy()
        d = actual[idx].numpy().astype(np.float64)
        if t.shape != d.shape or d.ndim < 2:
            return actual
        tc, dc = _as_cols(t, how), _as_cols(d, how)
        # the vectors determined up to sign: all of eigh's, an SVD's first len(S)
        k = t.shape[-1] if name == "linalg.eigh" else expected[1].shape[-1]
        if signs is None:
            signs = np.sign((tc[..., :k] * dc[..., :k]).sum(-2))
            signs[signs == 0] = 1
        dc = dc.copy()
        dc[..., :k] *= signs[..., None, :]
        if dc.shape[-1] > k:           # a completion basis: compare the spans
            t2, d2 = tc[..., k:], dc[..., k:]
            proj_t = t2 @ np.swapaxes(t2, -1, -2)
            proj_d = d2 @ np.swapaxes(d2, -1, -2)
            if np.allclose(proj_t, proj_d, rtol=0, atol=1e3 * TOLERANCES[dtype][1]):
                dc[..., k:] = t2
        out[idx] = dl.tensor(_as_cols(dc, how), dtype=actual[idx].dtype)
    return type(actual)(*out) if hasattr(actual, "_fields") else type(actual)(out)


def random_sample(opinfo, sample):
    """Values drawn at random (only shape and dtype compare)."""
    return opinfo.name in RANDOM_OPS or (
        opinfo.name == "nn.functional.scaled_dot_product_attention"
        and sample.kwargs.get("dropout_p", 0.0) > 0)


def run_sample(opinfo, call, sample, dtype, random_op):
    """Returns on a pass; raises Skip, Mismatch or whatever dlcore threw."""
    inp, args, kwargs, leaves = convert(sample)
    try:
        reference = _torch_run(opinfo, sample, _leaves_of, dtype)
    except Exception as e:  # torch refuses the sample: dlcore must refuse it too
        try:
            call(inp, *args, **kwargs)
        except Skip:
            raise
        except Exception:
            return
        raise Mismatch("torch raises %s (%s) but dlcore returns" % (type(e).__name__,
                                                                     str(e)[:80]))
    expected = reference[0]
    actual = call(inp, *args, **kwargs)
    if sparse_dims(actual) != reference[2]:
        raise Mismatch("output layout: sparse dims %s, torch %s" % (sparse_dims(actual),
                                                                    reference[2]))
    actual = densify(actual)
    if random_op:
        exp = _flat(expected)
        act = _flat(actual)
        if len(exp) != len(act):
            raise Mismatch("output: %d values, torch %d" % (len(act), len(exp)))
        for e, a in zip(exp, act):
            if isinstance(e, torch.Tensor):
                if not isinstance(a, dl.Tensor) or tuple(a.shape) != tuple(e.shape) \
                        or a.dtype != _np_dtype(e.dtype):
                    raise Mismatch("output: %r vs torch %s %s" % (
                        getattr(a, "shape", a), tuple(e.shape), e.dtype))
        return
    d_grads = []
    if reference[1]:
        # the outputs torch differentiates, position by position (a float output torch
        # leaves without a gradient, as lstsq's singular values, takes no part)
        d_all = _flat(sample.output_process_fn_grad(actual))
        t_all = _flat(sample.output_process_fn_grad(expected))
        if len(d_all) != len(t_all):
            raise Mismatch("backward: %d outputs, torch %d" % (len(d_all), len(t_all)))
        pairs = [(t, d) for t, d in zip(t_all, d_all)
                 if isinstance(t, torch.Tensor) and t.requires_grad]
        t_outs = [t for t, _ in pairs]
        d_outs = [d for _, d in pairs]
        if not all(isinstance(o, dl.Tensor) and o.is_floating_point() and o.requires_grad
                   for o in d_outs):
            raise Mismatch("backward: dlcore's output does not require grad")
        _dl_backward(d_outs, _grad_outputs(t_outs, dtype))
        d_grads = [d.grad if d.grad is not None else dl.zeros(tuple(d.shape), dtype=d.dtype)
                   for _, d in leaves]
    actual = align_gauge(opinfo.name, expected, actual, dtype)
    try:
        check_against(reference, actual, d_grads, dtype, dtype)
    except ValueMismatch:
        if dtype != torch.float32 and not _has_float32(sample):
            raise
        memo = {}
        exact = SampleInput(upcast(sample.input, memo), args=upcast(tuple(sample.args), memo),
                            kwargs=upcast(dict(sample.kwargs), memo),
                            output_process_fn_grad=sample.output_process_fn_grad)
        ref64 = _torch_run(opinfo, exact, _leaves_of, dtype)
        check_float32_accuracy(reference, ref64, actual, d_grads, dtype)


def known_failure(opinfo, sample, dtype):
    """(reason, strict) of the KNOWN_FAILURES entry matching this sample, or (None, False)."""
    for name, variant, pred, reason, *strict in KNOWN_FAILURES:
        if name == opinfo.name and variant in (None, opinfo.variant_test_name) \
                and pred(sample, dtype):
            return reason, bool(strict and strict[0])
    return None, False


def samples(opinfo, dtype):
    torch.manual_seed(0)
    return list(opinfo.sample_inputs("cpu", dtype, requires_grad=opinfo.supports_autograd))


def error_samples(opinfo):
    torch.manual_seed(0)
    try:
        return list(opinfo.error_inputs("cpu"))
    except (NotImplementedError, TypeError):
        return []


def run_error_input(opinfo, call, err):
    """Torch raises err.error_type for this sample: dlcore must raise."""
    sample = err.sample_input
    inp, args, kwargs, _ = convert(sample)
    try:
        opinfo.op(sample.input, *sample.args, **sample.kwargs)
    except Exception:  # noqa: BLE001 - any error: torch refuses it, as OpInfo says
        pass
    else:
        # OpInfo lists some inputs torch accepts (clamp_max(t, 2): its test_errors is an
        # expectedFailure there); torch is the oracle, so there is nothing to refuse
        raise Skip("an error input torch itself accepts")
    try:
        call(inp, *args, **kwargs)
    except Skip:
        raise
    except Exception:
        return "pass"
    raise Mismatch("torch raises %s (%s) but dlcore returns" % (
        err.error_type.__name__, str(err.error_regex)[:80]))


# ---- the sweep ----------------------------------------------------------------------------

def covered_ops():
    """(opinfo, [(label, call)]) for every op_db entry dlcore exposes, and the names it lacks."""
    covered, missing = [], []
    for opinfo in op_db:
        variants = resolve(opinfo)
        if variants:
            covered.append((opinfo, variants))
        else:
            missing.append(op_key(opinfo))
    return covered, sorted(set(missing))


def subset(items, limit):
    """Every k-th item, at most `limit` of them (all with limit None): deterministic."""
    if limit is None or len(items) <= limit:
        return items
    step = -(-len(items) // limit)
    return items[::step]


def run_case(tag, run, reason, strict, failures, tally, context, fail_tag=None):
    """Runs one case of a harness (run()) whose known failure, if any, is (reason, strict);
    counts its outcome in tally (when not None) and appends to failures a line for an
    unexpected failure (fail_tag, the error, context()) or for a strict known failure that
    passed."""
    try:
        run()
        outcome = "passed"
        if reason is not None:
            outcome = "xpassed: %s" % reason
            if strict:
                failures.append("%s: XPASS (remove the known failure %r)" % (tag, reason))
    except Skip as e:
        outcome = "skipped: %s" % e
    except Exception as e:  # noqa: BLE001 - every dlcore error is a finding
        if reason is not None:
            outcome = "xfailed: %s" % reason
        else:
            outcome = "failed"
            failures.append("%s: %s: %s  %s" % (fail_tag or tag, type(e).__name__, str(e)[:300],
                                                context()))
    if tally is not None:
        tally[outcome] = tally.get(outcome, 0) + 1


def report_sweep(tally, failures, missing, argv):
    """The end of a command-line sweep: the tally, and with -v the failures and the names not
    exposed; returns the exit status."""
    for k in sorted(tally):
        print("  %-60s %d" % (k, tally[k]))
    if "-v" in argv:
        for f in failures:
            print(f)
        print("not exposed:", " ".join(missing))
    return 1 if failures else 0


def summary_fixture(line):
    """A module-scoped autouse fixture that prints line() after the module's tests (past
    pytest's capture), when the tally it reads is not empty (line() returns None then)."""
    @pytest.fixture(scope="module", autouse=True)
    def _summary(request):
        yield
        capture = request.config.pluginmanager.get_plugin("capturemanager")
        text = line()
        if capture is not None and text:
            with capture.global_and_fixture_disabled():
                print("\n" + text)
    return _summary


def run_op(opinfo, variants, dtype, with_errors, tally=None, limit=None):
    """Run the samples of one op in one dtype; returns a list of failure messages."""
    failures = []
    if dtype not in opinfo.supported_dtypes("cpu"):
        return failures
    todo = [("sample", s) for s in subset(samples(opinfo, dtype), limit)]
    if with_errors:
        todo += [("error", e) for e in subset(error_samples(opinfo), limit)]
    for label, call in variants:
        for i, (kind, s) in enumerate(todo):
            sample = s if kind == "sample" else s.sample_input
            reason, strict = known_failure(opinfo, sample, dtype)
            tag = "%s[%s %s %d]" % (op_key(opinfo), label, str(dtype)[6:], i)
            def run():
                if kind == "sample":
                    run_sample(opinfo, call, s, dtype, random_sample(opinfo, s))
                else:
                    run_error_input(opinfo, call, s)
            run_case(tag, run, reason, strict, failures, tally,
                     lambda: "sample=%s" % _describe(sample), fail_tag="%s %s" % (tag, kind))
    return failures


def _describe(sample):
    def d(o):
        if isinstance(o, torch.Tensor):
            return "T%s%s%s" % (tuple(o.shape), str(o.dtype)[6:],
                                ",rg" if o.requires_grad else "")
        if isinstance(o, (tuple, list)):
            return "(" + ",".join(d(x) for x in o) + ")"
        if isinstance(o, dict):
            return "{" + ",".join("%s=%s" % (k, d(v)) for k, v in o.items()) + "}"
        return repr(o)
    return "%s args=%s kwargs=%s" % (d(sample.input), d(tuple(sample.args)), d(sample.kwargs))


def main(argv):
    import time
    covered, missing = covered_ops()
    tally = {}
    failures = []
    t0 = time.time()
    for opinfo, variants in covered:
        for dtype in DTYPES:
            failures += run_op(opinfo, variants, dtype, dtype == torch.float32, tally)
    print("ops covered: %d entries (%d names); not exposed: %d names" % (
        len(covered), len(set(o.name for o, _ in covered)), len(missing)))
    print("samples run: %d in %.1fs" % (sum(tally.values()), time.time() - t0))
    return report_sweep(tally, failures, missing, argv)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
