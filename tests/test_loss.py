"""Losses: fused C kernels vs NumPy references on every ISA path at 1 and 2 threads, gradient
checks in float64, parity with PyTorch for every function, layer and option (weights,
ignore_index, label smoothing, probability targets, reductions, extreme logits), errors."""
import numpy as np
import pytest

import dlcore as dl
from dlcore import _C
import dlcore.nn.functional as F

REDUCTIONS = ("none", "mean", "sum")

# torch warns that kl_div's 'mean' is not the KL divergence; matching it is the point here
pytestmark = pytest.mark.filterwarnings("ignore:reduction. 'mean' divides:UserWarning")


def _np_ce(x, t, w=None, ignore=-100, eps=0.0):
    """Per-row cross-entropy and the per-row weight (0 when ignored), float64."""
    x = x.astype(np.float64)
    N, C = x.shape
    m = x.max(1, keepdims=True)
    logp = x - m - np.log(np.exp(x - m).sum(1, keepdims=True))
    w = np.ones(C) if w is None else w.astype(np.float64)
    keep = t != ignore
    tt = np.where(keep, t, 0)
    nll = -w[tt] * logp[np.arange(N), tt]
    smooth = -(logp * w).sum(1)
    loss = np.where(keep, (1 - eps) * nll + eps / C * smooth, 0.0)
    return loss, np.where(keep, w[tt], 0.0), logp


# ---- kernels vs NumPy on every ISA path, 1 and 2 threads ---------------------------------------
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_ce_kernel_matches_reference(dtype, isa, threads, rng):
    tol = dict(rtol=2e-5, atol=2e-5) if dtype == np.float32 else dict(rtol=1e-10, atol=1e-12)
    for N, C in ((1, 1), (3, 7), (5, 17), (9, 33), (40, 100), (70, 1000), (2, 20011)):
        x = (rng.standard_normal((N, C)) * 3).astype(dtype)
        t = rng.integers(0, C, N)
        t[::4] = -100
        w = rng.uniform(0.5, 2.0, C).astype(dtype)
        for weight, eps in ((None, 0.0), (w, 0.0), (w, 0.2), (None, 0.1)):
            loss = np.empty(N, dtype)
            lse = np.empty((N, 2), dtype)   # per row: max, log-sum of exp(x - max)
            total, wsum = _C.ce_forward(x, t, weight, -100, eps, loss, lse)
            ref, rw, logp = _np_ce(x, t, weight, -100, eps)
            np.testing.assert_allclose(loss, ref, **tol)
            np.testing.assert_allclose(total, ref.sum(), rtol=tol["rtol"], atol=tol["atol"] * N)
            np.testing.assert_allclose(wsum, rw.sum(), rtol=1e-6)
            g = rng.standard_normal(N).astype(dtype)
            gx = np.empty_like(x)
            _C.ce_backward(x, t, weight, lse, -100, eps, g, 0.5, gx)
            wv = np.ones(C) if weight is None else weight.astype(np.float64)
            keep = t != -100
            tt = np.where(keep, t, 0)
            p = np.exp(logp)
            A = (1 - eps) * wv[tt] + eps * wv.sum() / C
            ref_g = p * A[:, None] - eps / C * wv[None, :]
            ref_g[np.arange(N), tt] -= (1 - eps) * wv[tt]
            ref_g *= (0.5 * g * keep)[:, None]
            np.testing.assert_allclose(gx, ref_g, **tol)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_ce_prob_kernel_matches_reference(dtype, isa, threads, rng):
    tol = dict(rtol=2e-5, atol=2e-5) if dtype == np.float32 else dict(rtol=1e-10, atol=1e-12)
    for N, C in ((1, 1), (3, 7), (9, 33), (70, 1000)):
        x = (rng.standard_normal((N, C)) * 3).astype(dtype)
        q = rng.dirichlet(np.ones(C), N).astype(dtype)
        w = rng.uniform(0.5, 2.0, C).astype(dtype)
        for weight, eps in ((None, 0.0), (w, 0.3)):
            loss, lse = np.empty(N, dtype), np.empty((N, 2), dtype)
            total = _C.ce_prob_forward(x, q, weight, eps, loss, lse)
            xd = x.astype(np.float64)
            logp = xd - np.log(np.exp(xd - xd.max(1, keepdims=True)).sum(1, keepdims=True)) \
                - xd.max(1, keepdims=True)
            wv = np.ones(C) if weight is None else weight.astype(np.float64)
            qs = (1 - eps) * q + eps / C
            ref = -(wv * qs * logp).sum(1)
            np.testing.assert_allclose(loss, ref, **tol)
            np.testing.assert_allclose(total, ref.sum(), rtol=tol["rtol"], atol=tol["atol"] * N)
            gx = np.empty_like(x)
            _C.ce_prob_backward(x, q, weight, lse, eps, None, 2.0, gx)
            ref_g = 2.0 * (np.exp(logp) * (wv * qs).sum(1, keepdims=True) - wv * qs)
            np.testing.assert_allclose(gx, ref_g, **tol)


_PL = {
    "mse": (_C.PL_MSE, 0.0, lambda x, t: (x - t) ** 2, lambda x, t: 2 * (x - t)),
    "l1": (_C.PL_L1, 0.0, lambda x, t: np.abs(x - t), lambda x, t: np.sign(x - t)),
    "smooth_l1": (_C.PL_SMOOTH_L1, 0.7,
                  lambda x, t: np.where(np.abs(x - t) < 0.7, 0.5 * (x - t) ** 2 / 0.7, np.abs(x - t) - 0.35),
                  lambda x, t: np.clip((x - t) / 0.7, -1, 1)),
    "huber": (_C.PL_HUBER, 1.5,
              lambda x, t: np.where(np.abs(x - t) < 1.5, 0.5 * (x - t) ** 2, 1.5 * (np.abs(x - t) - 0.75)),
              lambda x, t: np.clip(x - t, -1.5, 1.5)),
    "kl": (_C.PL_KL, 0.0, lambda x, t: np.where(t > 0, t * np.log(np.where(t > 0, t, 1)), 0) - t * x,
           lambda x, t: -t),
    "kl_log": (_C.PL_KL_LOG_TARGET, 0.0, lambda x, t: np.exp(t) * (t - x), lambda x, t: -np.exp(t)),
}


@pytest.mark.parametrize("name", sorted(_PL))
def test_pointwise_kernel_matches_reference(name, isa, threads, rng):
    kind, prm, fwd, der = _PL[name]
    for n in (1, 7, 17, 33, 100, 70001):
        for dtype in (np.float32, np.float64):
            x = rng.standard_normal(n).astype(dtype)
            t = (rng.uniform(0, 1, n) if name == "kl" else rng.standard_normal(n)).astype(dtype)
            if name == "kl":
                t[::5] = 0
            out = np.empty_like(x)
            total = _C.ploss_forward(kind, x, t, None, None, prm, out)
            ref = fwd(x.astype(np.float64), t.astype(np.float64))
            rt = 3e-6 if dtype == np.float32 else 1e-12
            np.testing.assert_allclose(out, ref, rtol=rt, atol=rt)
            np.testing.assert_allclose(total, ref.sum(), rtol=1e-5 if dtype == np.float32 else 1e-10,
                                       atol=1e-4)
            gx = np.empty_like(x)
            _C.ploss_backward(kind, x, t, None, None, prm, None, 0.25, gx)
            np.testing.assert_allclose(gx, 0.25 * der(x.astype(np.float64), t.astype(np.float64)),
                                       rtol=rt, atol=rt)


def _sig(v):
    e = np.exp(-np.abs(v))
    return np.where(v >= 0, 1 / (1 + e), e / (1 + e))


def test_bce_kernels_match_reference(isa, threads, rng):
    for n in (1, 7, 33, 70001):
        x = rng.uniform(0, 1, n)
        x[:3] = [0.0, 1.0, 0.5][:min(3, n)]
        t = rng.uniform(0, 1, n)
        w = rng.uniform(0.5, 2, n)
        for dtype in (np.float32, np.float64):
            xs, ts, ws = x.astype(dtype), t.astype(dtype), w.astype(dtype)
            xd, td, wd = (a.astype(np.float64) for a in (xs, ts, ws))
            out = np.empty_like(xs)
            _C.ploss_forward(_C.PL_BCE, xs, ts, ws, None, 0.0, out)
            with np.errstate(divide="ignore"):
                ref = -wd * (td * np.maximum(np.log(xd), -100) + (1 - td) * np.maximum(np.log1p(-xd), -100))
            np.testing.assert_allclose(out, ref, rtol=1e-5 if dtype == np.float32 else 1e-12, atol=1e-5)
            gx = np.empty_like(xs)
            _C.ploss_backward(_C.PL_BCE, xs, ts, ws, None, 0.0, None, 1.0, gx)
            ref_g = wd * (xd - td) / np.maximum((1 - xd) * xd, 1e-12)
            np.testing.assert_allclose(gx, ref_g, rtol=1e-5 if dtype == np.float32 else 1e-12)
            # with logits, extreme values included
            z = (rng.standard_normal(n) * 5).astype(dtype)
            z[:2] = [1e4, -1e4][:min(2, n)]
            pw = rng.uniform(0.5, 3, n).astype(dtype)
            zd, pwd = z.astype(np.float64), pw.astype(np.float64)
            _C.ploss_forward(_C.PL_BCE_LOGITS, z, ts, ws, pw, 0.0, out)
            sp = np.maximum(-zd, 0) + np.log1p(np.exp(-np.abs(zd)))
            ref = wd * ((1 - td) * zd + (1 + (pwd - 1) * td) * sp)
            # (1 - t) x and softplus(-x) cancel for x < 0 (PyTorch's formula does the same):
            # float32 rounding of terms of size |x| is what is left
            err = np.abs(out - ref) / (1e-12 if dtype == np.float64 else 3e-7) - np.abs(ref) * 30
            assert (err <= (np.abs(zd) + 1) * wd * 4).all()
            _C.ploss_backward(_C.PL_BCE_LOGITS, z, ts, ws, pw, 0.0, None, 1.0, gx)
            ref_g = wd * ((1 + (pwd - 1) * td) * _sig(zd) - pwd * td)
            np.testing.assert_allclose(gx, ref_g, rtol=1e-5 if dtype == np.float32 else 1e-12, atol=1e-6)


# ---- parity with PyTorch ------------------------------------------------------------------------
def _both(ours, theirs, args, targs, torch, grad_idx=(0,), rtol=1e-5, atol=1e-6):
    """Runs a loss on both sides; compares the value and the grads of args[grad_idx]."""
    xs = [dl.tensor(a, requires_grad=(i in grad_idx)) if isinstance(a, np.ndarray) else a
          for i, a in enumerate(args)]
    ts = [torch.tensor(a, requires_grad=(i in grad_idx)) if isinstance(a, np.ndarray) else a
          for i, a in enumerate(targs)]
    y, ty = ours(*xs), theirs(*ts)
    np.testing.assert_allclose(y.numpy(), ty.detach().numpy(), rtol=rtol, atol=atol)
    assert y.shape == tuple(ty.shape)
    g = np.random.default_rng(7).standard_normal(y.shape).astype(y.dtype)
    y.backward(dl.tensor(g))
    ty.backward(torch.tensor(g))
    for i in grad_idx:
        np.testing.assert_allclose(xs[i].grad.numpy(), ts[i].grad.numpy(), rtol=rtol, atol=atol)


def _logits_and_targets(rng, shape, C, scale=1):
    """float32 scores of `shape` (classes on dim 1, or the only dim) and class indices of the
    matching target shape."""
    x = (rng.standard_normal(shape) * scale).astype(np.float32)
    tshape = shape[:1] + shape[2:] if len(shape) > 1 else ()
    return x, rng.integers(0, C, tshape)


def _weights_and_cases(rng, C, shapes, scale=1):
    """C class weights in [0.2, 2), then scores and targets for each shape (as
    _logits_and_targets), drawn from rng in that order as the loop asks."""
    w = rng.uniform(0.2, 2.0, C).astype(np.float32)
    return w, (_logits_and_targets(rng, shape, C, scale) for shape in shapes)


def _function_and_module(name, module, reduction, kw, x, t, torch):
    """F.<name> and nn.<module> against torch's on scores x and class targets t; kw with
    plain arrays (a weight becomes each side's tensor)."""
    kw, tkw = _with_weight(kw, torch)
    _both(lambda a, b: getattr(F, name)(a, b, reduction=reduction, **kw),
          lambda a, b: getattr(torch.nn.functional, name)(a, b, reduction=reduction, **tkw),
          (x, dl.tensor(t)), (x, torch.tensor(t)), torch)
    _both(getattr(dl.nn, module)(reduction=reduction, **kw),
          getattr(torch.nn, module)(reduction=reduction, **tkw),
          (x, dl.tensor(t)), (x, torch.tensor(t)), torch)


def _with_weight(kw, torch):
    """The keyword arguments for dlcore and for torch, a class-weight array as each one's
    tensor."""
    if "weight" not in kw:
        return kw, dict(kw)
    return dict(kw, weight=dl.tensor(kw["weight"])), dict(kw, weight=torch.tensor(kw["weight"]))


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_cross_entropy_matches_torch(reduction, torch, rng):
    C = 11
    w, cases = _weights_and_cases(rng, C, ((13, C), (4, C, 3, 5), (C,)), scale=3)
    for x, t in cases:
        if t.ndim:
            t.reshape(-1)[::3] = 4                      # a class used as ignore_index below
        for kw in ({}, {"weight": w}, {"ignore_index": 4}, {"label_smoothing": 0.15},
                   {"weight": w, "ignore_index": 4, "label_smoothing": 0.3}):
            _function_and_module("cross_entropy", "CrossEntropyLoss", reduction, kw, x, t, torch)


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_cross_entropy_probabilities_match_torch(reduction, torch, rng):
    TF = torch.nn.functional
    C = 9
    w = rng.uniform(0.2, 2.0, C).astype(np.float32)
    for shape in ((7, C), (3, C, 4), (C,)):
        x = (rng.standard_normal(shape) * 3).astype(np.float32)
        q = rng.uniform(0, 1, shape).astype(np.float32)
        q /= q.sum(axis=1 if len(shape) > 1 else 0, keepdims=True)
        for kw in ({}, {"label_smoothing": 0.2}, {"weight": w, "label_smoothing": 0.1}):
            kw, tkw = _with_weight(kw, torch)
            # grads for the logits and the soft targets
            _both(lambda a, b: F.cross_entropy(a, b, reduction=reduction, **kw),
                  lambda a, b: TF.cross_entropy(a, b, reduction=reduction, **tkw),
                  (x, q), (x, q), torch, grad_idx=(0, 1))


def test_cross_entropy_extreme_logits(torch):
    TF = torch.nn.functional
    x = np.array([[1e4, -1e4, 0.0, 5.0], [-1e4, -1e4, -1e4, 1e4], [3e4, 3e4, -3e4, 0.0],
                  [88.0, -88.0, 100.0, -100.0]], np.float32)
    t = np.array([1, 3, 2, 0])
    for kw in ({}, {"label_smoothing": 0.1}):
        xt = dl.tensor(x, requires_grad=True)
        loss = F.cross_entropy(xt, dl.tensor(t), **kw)
        loss.backward()
        assert np.isfinite(loss.item()) and np.isfinite(xt.grad.numpy()).all()
        _both(lambda a, b: F.cross_entropy(a, b, **kw), lambda a, b: TF.cross_entropy(a, b, **kw),
              (x, dl.tensor(t)), (x, torch.tensor(t)), torch, rtol=1e-6)
    for fn, tfn in ((F.binary_cross_entropy_with_logits, TF.binary_cross_entropy_with_logits),):
        z = np.array([1e4, -1e4, 3e4, -3e4, 0.0, 50.0], np.float32)
        y = np.array([0.0, 1.0, 1.0, 0.0, 0.5, 1.0], np.float32)
        zt = dl.tensor(z, requires_grad=True)
        loss = fn(zt, dl.tensor(y), reduction="none")
        loss.sum().backward()
        assert np.isfinite(loss.numpy()).all() and np.isfinite(zt.grad.numpy()).all()
        _both(lambda a, b: fn(a, b, pos_weight=dl.tensor([2.0] * 6)),
              lambda a, b: tfn(a, b, pos_weight=torch.tensor([2.0] * 6)),
              (z, y), (z, y), torch)


def test_cross_entropy_nan_and_all_ignored(torch):
    x = np.array([[np.nan, 1.0, 2.0], [0.0, 1.0, 2.0]], np.float32)
    loss = F.cross_entropy(dl.tensor(x), dl.tensor([1, 2]), reduction="none").numpy()
    assert np.isnan(loss[0]) and np.isfinite(loss[1])
    # every target ignored: 'mean' is 0/0 = nan as in torch, grads are zero
    xt = dl.tensor(np.ones((3, 4), np.float32), requires_grad=True)
    loss = F.cross_entropy(xt, dl.tensor([-100, -100, -100]))
    tl = torch.nn.functional.cross_entropy(torch.ones(3, 4), torch.tensor([-100, -100, -100]))
    assert np.isnan(loss.item()) and np.isnan(tl.item())
    loss.backward()
    assert (xt.grad.numpy() == 0).all()


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_nll_loss_matches_torch(reduction, torch, rng):
    C = 6
    w, cases = _weights_and_cases(rng, C, ((10, C), (2, C, 3, 2), (C,)))
    for x, t in cases:
        for kw in ({}, {"weight": w, "ignore_index": 2}):
            _function_and_module("nll_loss", "NLLLoss", reduction, kw, x, t, torch)


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_pointwise_losses_match_torch(reduction, torch, rng):
    TF = torch.nn.functional
    x = rng.standard_normal((6, 7)).astype(np.float32)
    t = rng.standard_normal((6, 7)).astype(np.float32)
    w = rng.uniform(0.1, 2, (6, 7)).astype(np.float32)
    p = rng.uniform(0.01, 0.99, (6, 7)).astype(np.float32)
    yb = rng.uniform(0, 1, (6, 7)).astype(np.float32)
    pw = rng.uniform(0.5, 3, 7).astype(np.float32)
    wrow = rng.uniform(0.5, 2, (6, 1)).astype(np.float32)
    logq = np.log(rng.dirichlet(np.ones(7), 6)).astype(np.float32)
    r = {"reduction": reduction}
    cases = [
        (lambda a, b: F.mse_loss(a, b, **r), lambda a, b: TF.mse_loss(a, b, **r), (x, t)),
        (lambda a, b: F.l1_loss(a, b, **r), lambda a, b: TF.l1_loss(a, b, **r), (x, t)),
        (lambda a, b: F.mse_loss(a, b, weight=dl.tensor(w), **r),
         lambda a, b: TF.mse_loss(a, b, weight=torch.tensor(w), **r), (x, t)),
        (lambda a, b: F.l1_loss(a, b, weight=dl.tensor(w), **r),
         lambda a, b: TF.l1_loss(a, b, weight=torch.tensor(w), **r), (x, t)),
        (lambda a, b: F.smooth_l1_loss(a, b, beta=0.5, **r),
         lambda a, b: TF.smooth_l1_loss(a, b, beta=0.5, **r), (x, t)),
        (lambda a, b: F.smooth_l1_loss(a, b, beta=0.0, **r),
         lambda a, b: TF.smooth_l1_loss(a, b, beta=0.0, **r), (x, t)),
        (lambda a, b: F.huber_loss(a, b, delta=0.8, **r),
         lambda a, b: TF.huber_loss(a, b, delta=0.8, **r), (x, t)),
        (lambda a, b: F.huber_loss(a, b, weight=dl.tensor(w), **r),
         lambda a, b: TF.huber_loss(a, b, weight=torch.tensor(w), **r), (x, t)),
        (lambda a, b: F.binary_cross_entropy(a, b, **r),
         lambda a, b: TF.binary_cross_entropy(a, b, **r), (p, yb)),
        (lambda a, b: F.binary_cross_entropy(a, b, weight=dl.tensor(wrow), **r),
         lambda a, b: TF.binary_cross_entropy(a, b, weight=torch.tensor(wrow), **r), (p, yb)),
        (lambda a, b: F.binary_cross_entropy_with_logits(a, b, **r),
         lambda a, b: TF.binary_cross_entropy_with_logits(a, b, **r), (x * 4, yb)),
        (lambda a, b: F.binary_cross_entropy_with_logits(a, b, weight=dl.tensor(wrow),
                                                         pos_weight=dl.tensor(pw), **r),
         lambda a, b: TF.binary_cross_entropy_with_logits(a, b, weight=torch.tensor(wrow),
                                                          pos_weight=torch.tensor(pw), **r),
         (x * 4, yb)),
        (lambda a, b: F.kl_div(a, b, **r), lambda a, b: TF.kl_div(a, b, **r), (logq, np.exp(logq))),
        (lambda a, b: F.kl_div(a, b, log_target=True, **r),
         lambda a, b: TF.kl_div(a, b, log_target=True, **r), (logq, logq[::-1].copy())),
    ]
    for ours, theirs, (a, b) in cases:
        _both(ours, theirs, (a, b), (a, b), torch, grad_idx=(0, 1), rtol=2e-5, atol=2e-6)
    _both(lambda a, b: F.kl_div(a, b, reduction="batchmean"),
          lambda a, b: TF.kl_div(a, b, reduction="batchmean"), (logq, np.exp(logq)),
          (logq, np.exp(logq)), torch, grad_idx=(0, 1))


def test_loss_layers_match_torch(torch, rng):
    tnn = torch.nn
    x = rng.standard_normal((5, 4)).astype(np.float32)
    t = rng.standard_normal((5, 4)).astype(np.float32)
    p = rng.uniform(0.05, 0.95, (5, 4)).astype(np.float32)
    yb = (rng.uniform(0, 1, (5, 4)) > 0.5).astype(np.float32)
    pw = np.array([1.0, 2.0, 0.5, 3.0], np.float32)
    logq = np.log(rng.dirichlet(np.ones(4), 5)).astype(np.float32)
    for red in REDUCTIONS:
        pairs = [
            (dl.nn.MSELoss(reduction=red), tnn.MSELoss(reduction=red), (x, t)),
            (dl.nn.L1Loss(reduction=red), tnn.L1Loss(reduction=red), (x, t)),
            (dl.nn.SmoothL1Loss(reduction=red, beta=0.3), tnn.SmoothL1Loss(reduction=red, beta=0.3), (x, t)),
            (dl.nn.HuberLoss(reduction=red, delta=0.4), tnn.HuberLoss(reduction=red, delta=0.4), (x, t)),
            (dl.nn.BCELoss(reduction=red), tnn.BCELoss(reduction=red), (p, yb)),
            (dl.nn.BCEWithLogitsLoss(reduction=red, pos_weight=dl.tensor(pw)),
             tnn.BCEWithLogitsLoss(reduction=red, pos_weight=torch.tensor(pw)), (x, yb)),
            (dl.nn.KLDivLoss(reduction=red), tnn.KLDivLoss(reduction=red), (logq, np.exp(logq))),
        ]
        for ours, theirs, (a, b) in pairs:
            _both(ours, theirs, (a, b), (a, b), torch, rtol=2e-5, atol=2e-6)
    # buffers and state_dict keys as in PyTorch
    w = np.arange(1, 5, dtype=np.float32)
    ours = dl.nn.CrossEntropyLoss(weight=dl.tensor(w))
    theirs = tnn.CrossEntropyLoss(weight=torch.tensor(w))
    assert list(ours.state_dict()) == list(theirs.state_dict()) == ["weight"]
    ours = dl.nn.BCEWithLogitsLoss(pos_weight=dl.tensor(w))
    theirs = tnn.BCEWithLogitsLoss(pos_weight=torch.tensor(w))
    assert sorted(ours.state_dict()) == sorted(theirs.state_dict())
    assert repr(dl.nn.MSELoss()) == repr(tnn.MSELoss())
    # legacy size_average / reduce
    legacy = dl.nn.MSELoss(size_average=False)
    assert legacy.reduction == "sum"
    assert dl.nn.L1Loss(reduce=False).reduction == "none"


# ---- float64 gradient checks -------------------------------------------------------------------
def _gc(fn, *arrays, grad=(0,)):
    ts = tuple(dl.tensor(a, dtype=dl.float64, requires_grad=(i in grad)) if a.dtype.kind == "f"
               else dl.tensor(a) for i, a in enumerate(arrays))
    assert dl.autograd.gradcheck(fn, ts)


def test_gradcheck_cross_entropy(rng):
    w = dl.tensor(rng.uniform(0.5, 2, 5), dtype=dl.float64)
    x = rng.standard_normal((4, 5))
    t = np.array([0, 4, -100, 2])
    for red in REDUCTIONS:
        _gc(lambda a, b: F.cross_entropy(a, b, reduction=red), x, t)
        _gc(lambda a, b: F.cross_entropy(a, b, weight=w, label_smoothing=0.2, reduction=red), x, t)
    x4 = rng.standard_normal((2, 5, 3, 2))
    t4 = rng.integers(0, 5, (2, 3, 2))
    _gc(lambda a, b: F.cross_entropy(a, b, weight=w, label_smoothing=0.1), x4, t4)
    q = rng.dirichlet(np.ones(5), 4)
    _gc(lambda a, b: F.cross_entropy(a, b, weight=w, label_smoothing=0.1), x, q, grad=(0, 1))
    _gc(lambda a, b: F.nll_loss(a, b, weight=w, reduction="sum"), x, t)


def test_gradcheck_pointwise(rng):
    x = rng.standard_normal((3, 5))
    t = rng.standard_normal((3, 5))
    # keep |x - t| away from the kinks at 0, beta and delta
    d = x - t
    x = np.where(np.abs(np.abs(d) - 0.5) < 0.05, x + 0.2, x)
    x = np.where(np.abs(d) < 0.05, x + 0.2, x)
    for fn in (F.mse_loss, F.l1_loss, lambda a, b: F.smooth_l1_loss(a, b, beta=0.5),
               lambda a, b: F.huber_loss(a, b, delta=0.5, reduction="sum")):
        _gc(fn, x, t, grad=(0, 1))
    p = rng.uniform(0.1, 0.9, (3, 5))
    y = rng.uniform(0, 1, (3, 5))
    w = dl.tensor(rng.uniform(0.5, 2, 5), dtype=dl.float64)
    _gc(lambda a, b: F.binary_cross_entropy(a, b, weight=w), p, y, grad=(0, 1))
    _gc(lambda a, b: F.binary_cross_entropy_with_logits(a, b, weight=w, pos_weight=w,
                                                        reduction="none"), x * 3, y, grad=(0, 1))
    logq = np.log(rng.dirichlet(np.ones(5), 3))
    _gc(lambda a, b: F.kl_div(a, b, reduction="batchmean"), logq, np.exp(logq), grad=(0, 1))
    _gc(lambda a, b: F.kl_div(a, b, log_target=True), logq, logq[::-1].copy(), grad=(0, 1))


# ---- errors ---------------------------------------------------------------------------------------
def test_errors():
    x = dl.randn(4, 3)
    with pytest.raises(ValueError, match=r"target 3 \(at position 1\) is out of bounds for 3"):
        F.cross_entropy(x, dl.tensor([0, 3, 1, 2]))
    with pytest.raises(ValueError, match="out of bounds"):
        F.cross_entropy(x, dl.tensor([0, -1, 1, 2]))
    with pytest.raises(ValueError, match="out of bounds"):
        F.nll_loss(x, dl.tensor([0, 1, 1, 7]))
    with pytest.raises(ValueError, match="out of bounds"):
        F.cross_entropy(dl.randn(2, 3, 4), dl.tensor(np.full((2, 4), 5)))
    with pytest.raises(ValueError, match=r"expected target of shape \(4,\)"):
        F.cross_entropy(x, dl.tensor([0, 1]))
    with pytest.raises(ValueError, match="class-probability target must have the input's shape"):
        F.cross_entropy(x, dl.randn(4, 2))
    with pytest.raises(TypeError, match="target must hold int64"):
        F.cross_entropy(x, dl.tensor([True, False, True, True]))
    with pytest.raises(ValueError, match="weight must be a 1-D tensor of 3"):
        F.cross_entropy(x, dl.tensor([0, 1, 2, 0]), weight=dl.ones(4))
    with pytest.raises(ValueError, match="reduction must be one of"):
        F.cross_entropy(x, dl.tensor([0, 1, 2, 0]), reduction="avg")
    with pytest.raises(ValueError, match="label_smoothing"):
        F.cross_entropy(x, dl.tensor([0, 1, 2, 0]), label_smoothing=1.5)
    with pytest.raises(ValueError, match="0-d"):
        F.cross_entropy(dl.tensor(1.0), dl.tensor(0))
    with pytest.raises(TypeError, match="float32 or float64"):
        F.cross_entropy(dl.tensor([[1, 2]]), dl.tensor([0]))
    with pytest.raises(ValueError, match="between 0 and 1"):
        F.binary_cross_entropy(dl.tensor([0.5, 1.5]), dl.tensor([0.0, 1.0]))
    with pytest.raises(ValueError, match="must be the same as input size"):
        F.binary_cross_entropy_with_logits(dl.randn(3), dl.randn(4))
    with pytest.raises(ValueError, match="cannot be broadcast"):
        F.mse_loss(dl.randn(3), dl.randn(4))
    with pytest.raises(ValueError, match="delta"):
        F.huber_loss(dl.randn(3), dl.randn(3), delta=0)
    with pytest.raises(ValueError, match="reduction"):
        dl.nn.MSELoss(reduction="max")
    with pytest.raises(ValueError, match="reduction"):
        F.kl_div(dl.randn(3), dl.randn(3), reduction="batchmean2")


def test_mse_broadcast_warns_and_matches_numpy(rng):
    x = dl.tensor(rng.standard_normal((4, 3)).astype(np.float32), requires_grad=True)
    t = dl.tensor(rng.standard_normal(3).astype(np.float32))
    with pytest.warns(UserWarning, match="broadcast"):
        loss = F.mse_loss(x, t)
    ref = ((x.numpy() - t.numpy()) ** 2).mean()
    np.testing.assert_allclose(loss.item(), ref, rtol=1e-6)
    loss.backward()
    np.testing.assert_allclose(x.grad.numpy(), 2 * (x.numpy() - t.numpy()) / 12, rtol=1e-6)
