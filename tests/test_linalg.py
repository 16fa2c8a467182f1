"""dl.linalg and torch's top-level linear algebra: values, shapes and dtypes against torch on
odd and batched shapes, torch's errors (singular, not positive-definite, non-square, integer
input), and float64 finite-difference gradients of every differentiable function."""
import math

import numpy as np
import pytest

import dlcore as dl

torch = pytest.importorskip("torch")

RNG = np.random.default_rng(0)
SHAPES = [(1, 1), (3, 3), (5, 5), (2, 4, 4), (2, 3, 7, 7)]


def _pair(a, dtype=np.float64):
    a = np.asarray(a, dtype)
    return dl.tensor(a), torch.tensor(a)


def _close(ours, theirs, tol=1e-10):
    o = ours.detach().numpy() if hasattr(ours, "detach") else np.asarray(ours)
    t = theirs.detach().numpy() if hasattr(theirs, "detach") else np.asarray(theirs)
    assert o.shape == t.shape, (o.shape, t.shape)
    assert str(o.dtype) == str(t.dtype), (o.dtype, t.dtype)
    np.testing.assert_allclose(o, t, rtol=tol, atol=tol)


def _spd(shape):
    x = RNG.standard_normal(shape)
    return x @ np.swapaxes(x, -1, -2) + shape[-1] * np.eye(shape[-1])


@pytest.mark.parametrize("shape", SHAPES)
def test_inv_det_slogdet_solve_match_torch(shape):
    a, ta = _pair(RNG.standard_normal(shape) + 2 * np.eye(shape[-1]))
    _close(dl.linalg.inv(a), torch.linalg.inv(ta))
    _close(dl.linalg.det(a), torch.linalg.det(ta))
    _close(a.det(), ta.det())
    s, t = dl.linalg.slogdet(a), torch.linalg.slogdet(ta)
    _close(s.sign, t.sign)
    _close(s.logabsdet, t.logabsdet)
    _close(dl.logdet(a), torch.logdet(ta))
    _close(dl.inverse(a), torch.inverse(ta))
    b, tb = _pair(RNG.standard_normal(shape[:-1] + (2,)))
    _close(dl.linalg.solve(a, b), torch.linalg.solve(ta, tb))
    v, tv = _pair(RNG.standard_normal(shape[-1:]))
    _close(dl.linalg.solve(a, v), torch.linalg.solve(ta, tv))
    bl, tbl = _pair(RNG.standard_normal(shape[:-2] + (3, shape[-1])))
    _close(dl.linalg.solve(a, bl, left=False), torch.linalg.solve(ta, tbl, left=False))


def test_float32_keeps_dtype():
    a, ta = _pair(RNG.standard_normal((3, 4, 4)) + 3 * np.eye(4), np.float32)
    for name in ("inv", "det", "matrix_exp", "cholesky"):
        x = a @ a.mT if name == "cholesky" else a
        tx = ta @ ta.mT if name == "cholesky" else ta
        _close(getattr(dl.linalg, name)(x), getattr(torch.linalg, name)(tx), 1e-4)
    _close(dl.linalg.svdvals(a), torch.linalg.svdvals(ta), 1e-4)
    _close(dl.linalg.eigvalsh(a), torch.linalg.eigvalsh(ta), 1e-4)


@pytest.mark.parametrize("shape", SHAPES)
def test_cholesky_eigh_match_torch(shape):
    a, ta = _pair(_spd(shape))
    _close(dl.linalg.cholesky(a), torch.linalg.cholesky(ta))
    _close(dl.linalg.cholesky(a, upper=True), torch.linalg.cholesky(ta, upper=True))
    _close(dl.cholesky(a), torch.cholesky(ta))
    w, v = dl.linalg.eigh(a)
    tw, tv = torch.linalg.eigh(ta)
    _close(w, tw)
    _close(v.abs(), tv.abs(), 1e-8)          # (eigenvectors up to sign)
    _close(dl.linalg.eigvalsh(a, UPLO="U"), torch.linalg.eigvalsh(ta, UPLO="U"))
    L, tL = dl.linalg.cholesky(a), torch.linalg.cholesky(ta)
    _close(dl.cholesky_inverse(L), torch.cholesky_inverse(tL), 1e-9)
    b, tb = _pair(RNG.standard_normal(shape[:-1] + (2,)))
    _close(dl.cholesky_solve(b, L), torch.cholesky_solve(tb, tL), 1e-9)


@pytest.mark.parametrize("shape", [(1, 1), (3, 5), (6, 2), (2, 4, 3), (2, 2, 3, 6)])
def test_svd_qr_pinv_rank_lstsq_match_torch(shape):
    a, ta = _pair(RNG.standard_normal(shape))
    _close(dl.linalg.svdvals(a), torch.linalg.svdvals(ta))
    for full in (False, True):
        U, S, Vh = dl.linalg.svd(a, full_matrices=full)
        tU, tS, tVh = torch.linalg.svd(ta, full_matrices=full)
        assert U.shape == tU.shape and Vh.shape == tVh.shape
        k = S.shape[-1]
        _close((U[..., :k] * S.unsqueeze(-2)) @ Vh[..., :k, :], ta)
    U, S, V = dl.svd(a)
    tU, tS, tV = torch.svd(ta)
    assert U.shape == tU.shape and V.shape == tV.shape
    for mode in ("reduced", "complete", "r"):
        Q, R = dl.linalg.qr(a, mode=mode)
        tQ, tR = torch.linalg.qr(ta, mode=mode)
        _close(R, tR)
        _close(Q, tQ)
    _close(dl.linalg.pinv(a), torch.linalg.pinv(ta))
    _close(dl.pinverse(a), torch.pinverse(ta))
    _close(dl.linalg.matrix_rank(a), torch.linalg.matrix_rank(ta))
    b, tb = _pair(RNG.standard_normal(shape[:-1] + (2,)))
    _close(dl.linalg.lstsq(a, b).solution, torch.linalg.lstsq(ta, tb, driver="gelsd").solution)


def test_rank_deficient_pinv_and_rank():
    x = RNG.standard_normal((5, 2))
    a, ta = _pair(x @ RNG.standard_normal((2, 4)))
    _close(dl.linalg.matrix_rank(a), torch.linalg.matrix_rank(ta))
    _close(dl.linalg.pinv(a), torch.linalg.pinv(ta), 1e-9)
    _close(dl.linalg.matrix_rank(a, atol=1e9), torch.linalg.matrix_rank(ta, atol=1e9))


@pytest.mark.parametrize("n", [-3, -1, 0, 1, 2, 5, 8])
def test_matrix_power(n):
    a, ta = _pair(RNG.standard_normal((2, 3, 3)) / 2 + np.eye(3))
    _close(dl.linalg.matrix_power(a, n), torch.linalg.matrix_power(ta, n), 1e-9)
    _close(a.matrix_power(n), ta.matrix_power(n), 1e-9)


@pytest.mark.parametrize("scale", [0.01, 1.0, 10.0])
def test_matrix_exp(scale):
    a, ta = _pair(RNG.standard_normal((2, 4, 4)) * scale)
    _close(dl.linalg.matrix_exp(a), torch.linalg.matrix_exp(ta), 1e-9)
    _close(dl.matrix_exp(a), torch.matrix_exp(ta), 1e-9)


def test_matrix_exp_float32_is_the_float64_result_rounded():
    # entries past 100: float32 products and squarings drift (torch's float32: ~7e-6 here)
    x = np.random.default_rng(7).standard_normal((3, 5, 5)).astype(np.float32) * 2
    ours = dl.linalg.matrix_exp(dl.tensor(x)).numpy()
    exact = torch.linalg.matrix_exp(torch.tensor(x, dtype=torch.float64)).numpy()
    assert ours.dtype == np.float32 and np.abs(exact).max() > 1e2
    np.testing.assert_allclose(ours, exact, rtol=2 ** -23, atol=0)


def test_norms_match_torch():
    a, ta = _pair(RNG.standard_normal((2, 3, 5)))
    for ord in ("fro", "nuc", 1, -1, 2, -2, math.inf, -math.inf):
        _close(dl.linalg.matrix_norm(a, ord), torch.linalg.matrix_norm(ta, ord))
        _close(dl.linalg.matrix_norm(a, ord, dim=(0, 2), keepdim=True),
               torch.linalg.matrix_norm(ta, ord, dim=(0, 2), keepdim=True))
    for ord in (2, 1, 3.5, math.inf, -math.inf, 0):
        _close(dl.linalg.vector_norm(a, ord), torch.linalg.vector_norm(ta, ord))
        _close(dl.linalg.vector_norm(a, ord, dim=1, keepdim=True),
               torch.linalg.vector_norm(ta, ord, dim=1, keepdim=True))
    _close(dl.linalg.norm(a), torch.linalg.norm(ta))
    _close(dl.linalg.norm(a[0]), torch.linalg.norm(ta[0]))
    _close(dl.linalg.norm(a[0], 2), torch.linalg.norm(ta[0], 2))
    _close(dl.linalg.norm(a, 3, dim=2), torch.linalg.norm(ta, 3, dim=2))
    _close(dl.linalg.cond(a[:, :, :3]), torch.linalg.cond(ta[:, :, :3]), 1e-9)


def test_small_helpers_match_torch():
    a, ta = _pair(RNG.standard_normal((4, 3)))
    b, tb = _pair(RNG.standard_normal((4, 3)))
    _close(dl.linalg.cross(a, b), torch.linalg.cross(ta, tb))
    _close(dl.linalg.vecdot(a, b), torch.linalg.vecdot(ta, tb))
    m = [RNG.standard_normal(s) for s in [(3,), (3, 5), (5, 2), (2,)]]
    _close(dl.linalg.multi_dot([dl.tensor(x) for x in m]),
           torch.linalg.multi_dot([torch.tensor(x) for x in m]))
    c, tc = _pair(RNG.standard_normal((2, 3, 4, 5)))
    for off in (-2, 0, 1, 3):
        _close(dl.linalg.diagonal(c, offset=off), torch.linalg.diagonal(tc, offset=off))
        _close(c.diagonal(off, 1, 3), tc.diagonal(off, 1, 3))
        _close(dl.diagonal(c, off, 0, 2), torch.diagonal(tc, off, 0, 2))
    t, tt = _pair(RNG.standard_normal((4, 6, 8, 3)))
    _close(dl.linalg.tensorinv(t, ind=2), torch.linalg.tensorinv(tt, ind=2), 1e-8)
    s, ts = _pair(RNG.standard_normal((2, 3, 6)))
    r, tr = _pair(RNG.standard_normal((2, 3)))
    _close(dl.linalg.tensorsolve(s, r), torch.linalg.tensorsolve(ts, tr), 1e-8)
    up, tup = _pair(np.triu(RNG.standard_normal((3, 3))) + 3 * np.eye(3))
    rhs, trhs = _pair(RNG.standard_normal((3, 2)))
    _close(dl.linalg.solve_triangular(up, rhs, upper=True),
           torch.linalg.solve_triangular(tup, trhs, upper=True))
    for tr_, unit in ((False, False), (True, False), (False, True)):
        _close(dl.triangular_solve(rhs, up, transpose=tr_, unitriangular=unit).solution,
               torch.triangular_solve(trhs, tup, transpose=tr_, unitriangular=unit).solution)


def test_errors_like_torch():
    sing, tsing = _pair(np.array([[1.0, 2.0], [2.0, 4.0]]))
    for fn in ("inv", "cholesky"):
        with pytest.raises(RuntimeError):
            getattr(torch.linalg, fn)(tsing)
        with pytest.raises(dl.linalg.LinAlgError):
            getattr(dl.linalg, fn)(sing)
    with pytest.raises(RuntimeError):
        dl.linalg.solve(sing, dl.tensor([1.0, 1.0], dtype=dl.float64))
    assert isinstance(dl.linalg.LinAlgError("x"), RuntimeError)
    with pytest.raises(RuntimeError, match="square"):
        dl.linalg.inv(dl.zeros(2, 3))
    with pytest.raises(RuntimeError, match="floating"):
        dl.linalg.det(dl.tensor([[1, 2], [3, 4]]))
    with pytest.raises(RuntimeError, match="2 dimensions"):
        dl.linalg.inv(dl.zeros(3))
    with pytest.raises(NotImplementedError, match="complex"):
        dl.linalg.eig(dl.eye(2))
    inv, info = dl.linalg.inv_ex(dl.stack([sing, dl.eye(2, dtype=dl.float64)]))
    tinv, tinfo = torch.linalg.inv_ex(torch.stack([tsing, torch.eye(2, dtype=torch.float64)]))
    assert (info.numpy() != 0).tolist() == (tinfo.numpy() != 0).tolist()
    L, info = dl.linalg.cholesky_ex(sing)
    assert int(info.item()) != 0
    assert dl.linalg.det(sing).item() == 0
    assert math.isinf(dl.logdet(sing).item()) and math.isnan(
        dl.logdet(dl.tensor([[0.0, 1.0], [1.0, 0.0]])).item())


def _g(shape, seed=1, spd=False):
    x = np.random.default_rng(seed).standard_normal(shape)
    if not spd and len(shape) > 1 and shape[-1] == shape[-2]:
        x = x + 2 * np.eye(shape[-1])
    return dl.tensor(x, dtype=dl.float64, requires_grad=True)


def _sym(x):
    return (x + x.mT) / 2


GRADS = [
    ("inv", lambda a: dl.linalg.inv(a), [(3, 3), (2, 4, 4)]),
    ("det", lambda a: dl.linalg.det(a), [(3, 3), (2, 4, 4)]),
    ("slogdet", lambda a: dl.linalg.slogdet(a).logabsdet, [(3, 3), (2, 4, 4)]),
    ("logdet", lambda a: dl.logdet(a @ a.mT), [(3, 3)]),
    ("solve", lambda a: dl.linalg.solve(a, a[..., :2] * 2 + 1), [(3, 3), (2, 4, 4)]),
    ("solve_vec", lambda a: dl.linalg.solve(a, a[..., 0] ** 2), [(3, 3), (2, 4, 4)]),
    ("cholesky", lambda a: dl.linalg.cholesky(a @ a.mT + dl.eye(a.shape[-1],
                                                                 dtype=dl.float64)),
     [(3, 3), (2, 4, 4)]),
    ("eigh", lambda a: (lambda w, v: (w, v * v))(*dl.linalg.eigh(_sym(a))), [(3, 3), (2, 4, 4)]),
    ("svd", lambda a: (lambda u, s, vh: (s, u @ vh, u * u))(*dl.linalg.svd(a, False)),
     [(3, 3), (4, 2), (2, 3, 5)]),
    ("qr", lambda a: dl.linalg.qr(a), [(3, 3), (5, 3), (2, 4, 2)]),
    ("pinv", lambda a: dl.linalg.pinv(a), [(4, 2), (2, 3, 5), (3, 3)]),
    ("pinv_hermitian", lambda a: dl.linalg.pinv(_sym(a), hermitian=True), [(3, 3), (2, 4, 4)]),
    ("lstsq", lambda a: dl.linalg.lstsq(a, a[..., :2] ** 2, driver="gelsd")[:2],
     [(4, 2), (2, 5, 3)]),
    # non-square factorizations: LU wide and tall, QR wide (reduced and complete), the full
    # SVD of non-square inputs through its gauge-invariant parts (the first k vectors)
    ("lu_nonsquare", lambda a: dl.linalg.lu(a)[1:], [(3, 5), (5, 3), (2, 2, 4), (2, 4, 1)]),
    ("lu_factor_nonsquare", lambda a: dl.linalg.lu_factor(a).LU, [(3, 5), (5, 3)]),
    ("qr_wide", lambda a: dl.linalg.qr(a), [(3, 5), (2, 2, 4), (1, 3)]),
    ("qr_wide_complete", lambda a: dl.linalg.qr(a, "complete"), [(3, 5)]),
    ("svd_full", lambda a: (lambda u, s, vh: (s, u[..., :s.shape[-1]] @ vh[..., :s.shape[-1], :]))(
        *dl.linalg.svd(a, True)), [(4, 2), (2, 3, 5)]),
    ("matrix_exp", lambda a: dl.linalg.matrix_exp(a), [(3, 3), (2, 2, 2)]),
    ("matrix_power", lambda a: dl.linalg.matrix_power(a, -3), [(3, 3)]),
    ("matrix_norm2", lambda a: dl.linalg.matrix_norm(a, 2), [(3, 4)]),
    ("diagonal", lambda a: a.diagonal(1, -1, -2), [(3, 4), (2, 3, 3)]),
    ("cholesky_solve", lambda a: dl.cholesky_solve(a[..., :2], dl.linalg.cholesky(
        a @ a.mT + dl.eye(a.shape[-1], dtype=dl.float64))), [(3, 3)]),
]


@pytest.mark.parametrize("name, fn, shapes", GRADS, ids=[g[0] for g in GRADS])
def test_gradcheck(name, fn, shapes):
    for shape in shapes:
        assert dl.autograd.gradcheck(fn, (_g(shape),))


def test_det_gradient_of_singular_matrix():
    # rank n-1: the gradient is the (non-zero) cofactor matrix, which finite differences see
    # (torch 2.13 returns zeros here); and at rank n-2 it is zero
    a = dl.tensor([[1.0, 2.0, 3.0], [2.0, 4.0, 6.0], [0.5, -1.0, 2.0]], dtype=dl.float64,
                  requires_grad=True)
    assert dl.autograd.gradcheck(dl.linalg.det, (a,))
    dl.linalg.det(a).backward()
    assert np.abs(a.grad.numpy()).max() > 1
    b = dl.tensor([[1.0, 2.0, 3.0], [2.0, 4.0, 6.0], [3.0, 6.0, 9.0]], dtype=dl.float64,
                  requires_grad=True)
    assert dl.autograd.gradcheck(dl.linalg.det, (b,))


@pytest.mark.parametrize("shape", [(1, 1), (3, 3), (5, 3), (3, 5), (2, 4, 4), (2, 2, 6, 6)])
def test_lu_matches_torch(shape):
    a, ta = _pair(RNG.standard_normal(shape))
    for x, y in zip(dl.linalg.lu(a), torch.linalg.lu(ta)):
        _close(x, y, 1e-12)
    LU, piv = dl.linalg.lu_factor(a)
    tLU, tpiv = torch.linalg.lu_factor(ta)
    _close(LU, tLU, 1e-12)
    _close(piv, tpiv)
    out = dl.lu(a, get_infos=True)
    _close(out[2], torch.lu(ta, get_infos=True)[2])
    _close(a.lu()[0], tLU, 1e-12)


def test_lu_singular_info_and_gradients():
    s, ts = _pair([[1.0, 2.0], [2.0, 4.0]])
    _close(dl.linalg.lu_factor_ex(s).info, torch.linalg.lu_factor_ex(ts).info)
    with pytest.raises(dl.linalg.LinAlgError):
        dl.linalg.lu_factor_ex(s, check_errors=True)
    x = _g((2, 4, 4), spd=True)
    assert dl.autograd.gradcheck(lambda t: dl.linalg.lu(t)[1:], (x,))
    assert dl.autograd.gradcheck(lambda t: dl.linalg.lu_factor(t).LU, (x,))


def test_pinv_gradient_where_singular_values_repeat():
    # an orthogonal matrix times 2: every singular value is 2, where a path through the SVD's
    # gradient divides by s_i^2 - s_j^2 = 0; pinv's own formula is smooth there
    q = np.linalg.qr(np.random.default_rng(3).standard_normal((4, 4)))[0]
    a = dl.tensor(2 * q, requires_grad=True)
    assert dl.autograd.gradcheck(dl.linalg.pinv, (a,))
    ta = torch.tensor(2 * q, requires_grad=True)
    dl.linalg.pinv(a).sum().backward()
    torch.linalg.pinv(ta).sum().backward()
    _close(a.grad, ta.grad, 1e-9)


@pytest.mark.parametrize("uplo", ["L", "U"])
def test_eigh_and_pinv_hermitian_gradients_match_torch(uplo):
    # a non-symmetric input: the factorization reads one triangle; torch's gradient is the
    # symmetric one (the skew part of V^T gV), which dlcore's must equal
    x = np.random.default_rng(4).standard_normal((2, 4, 4))
    a, ta = dl.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    gw, gv = np.random.default_rng(5).standard_normal((2, 2, 4, 4))[:, :, 0], None
    w, v = dl.linalg.eigh(a, UPLO=uplo)
    tw, tv = torch.linalg.eigh(ta, UPLO=uplo)
    ((w * dl.tensor(gw[0])).sum() + (v * v).sum(-2).mul(dl.tensor(gw[1])).sum()).backward()
    ((tw * torch.tensor(gw[0])).sum() + (tv * tv).sum(-2).mul(torch.tensor(gw[1])).sum()
     ).backward()
    _close(a.grad, ta.grad, 1e-9)
    b, tb = dl.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    _close(dl.linalg.pinv(b, hermitian=True), torch.linalg.pinv(tb, hermitian=True), 1e-9)
    (dl.linalg.pinv(b, hermitian=True) ** 2).sum().backward()
    (torch.linalg.pinv(tb, hermitian=True) ** 2).sum().backward()
    _close(b.grad, tb.grad, 1e-8)


@pytest.mark.parametrize("shape", [(0, 0), (2, 0, 0), (0, 3), (3, 0)])
def test_empty_inputs_like_torch(shape):
    a, ta = _pair(np.zeros(shape))
    sq = shape[-1] == shape[-2]
    if sq:
        _close(dl.linalg.inv_ex(a).inverse, torch.linalg.inv_ex(ta).inverse)
        _close(dl.linalg.cholesky_ex(a).L, torch.linalg.cholesky_ex(ta).L)
        _close(dl.linalg.solve_ex(a, a).result, torch.linalg.solve_ex(ta, ta).result)
        _close(dl.linalg.matrix_power(a, 0), torch.linalg.matrix_power(ta, 0))
    g = dl.tensor(np.zeros(shape), requires_grad=True)
    for out in (dl.linalg.pinv(g), dl.linalg.qr(g).R):
        assert out.requires_grad
        out.sum().backward()
        assert g.grad.shape == g.shape and not g.grad.numpy().any()
        g.grad = None


def test_gradient_free_outputs_and_refusals_like_torch():
    a = dl.tensor(RNG.standard_normal((4, 3)), requires_grad=True)
    ta = torch.tensor(a.numpy(), requires_grad=True)
    for drv in ("gels", "gelsy", "gelsd", "gelss"):
        r, tr = dl.linalg.lstsq(a, a, driver=drv), torch.linalg.lstsq(ta, ta, driver=drv)
        for x, y in zip(r, tr):
            assert tuple(x.shape) == tuple(y.shape) and x.requires_grad == y.requires_grad, drv
    with pytest.raises(RuntimeError):
        dl.linalg.lstsq(a, a, driver="nope")
    nan = dl.tensor(np.full((3, 3), np.nan), requires_grad=True)
    p = dl.linalg.matrix_power(nan, 0)                     # identities, zero gradient
    p.sum().backward()
    _close(p, torch.eye(3, dtype=torch.float64))
    assert not nan.grad.numpy().any()
    with pytest.raises(RuntimeError):
        dl.linalg.cross(dl.ones(5, 5, 3), dl.ones(5, 3))       # ranks differ (torch refuses)
    with pytest.raises(RuntimeError):
        dl.linalg.cross(dl.ones(5, 3), dl.ones(5, 1))          # no broadcast of the 3-dim
    q, _ = dl.linalg.qr(dl.tensor(RNG.standard_normal((4, 2)), requires_grad=True), "complete")
    with pytest.raises(NotImplementedError):                   # as torch, at backward
        q.sum().backward()


def test_singular_value_gradients_where_they_repeat_match_torch():
    # only S used (svdvals, the 2-norm) at repeated singular values (zero, the identity): the
    # gradient is U diag(gS) Vh, finite, where the full formula's 1/(s_j^2 - s_i^2) is not
    for x in (np.zeros((4, 4)), np.eye(3), np.diag([2.0, 2.0, 1.0])):
        a, ta = dl.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
        (dl.linalg.svdvals(a) * dl.tensor(np.arange(1.0, x.shape[0] + 1))).sum().backward()
        (torch.linalg.svdvals(ta) * torch.arange(1.0, x.shape[0] + 1, dtype=torch.float64)
         ).sum().backward()
        assert np.isfinite(a.grad.numpy()).all()
        if x.any():   # at zero the subgradient depends on the LAPACK's U and V
            _close(a.grad, ta.grad, 1e-12)
