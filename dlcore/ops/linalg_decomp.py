"""The matrix factorizations and inverses as differentiable ops (inv, det, slogdet, solve,
cholesky, eigh, svd, qr), batched over leading dims.  Forwards are NumPy's LAPACK calls;
backwards are the standard matrix-calculus formulas (real matrices):

- inv:      gA = -X^T gX X^T                       (X = A^-1)
- det:      gA = g cof(A), cof(A) = det(U)det(V) U diag(prod_{j!=i} s_j) V^T from the SVD, so a
            singular A gets its (finite) gradient too
- slogdet:  gA = g A^-T
- solve:    gB = A^-T gX, gA = -gB X^T
- cholesky: gA = sym(L^-T Phi(L^T gL) L^-1), Phi: the lower triangle, diagonal halved
- eigh:     gA = V (diag(gw) + F o skew(V^T gV)) V^T, F_ij = 1 / (w_j - w_i),
            skew(X) = (X - X^T) / 2 (symmetric, as torch's)
- svd:      Townsend's formula (reduced SVD, distinct non-zero singular values)
- qr:       gA = (gQ + Q copyltu(R gR^T - gQ^T Q)) R^-T (m >= n; wide A: see Qr)
- pinv:     X = A^+: gA = -X^T G X^T + (I - A X) G^T X X^T + X^T X G^T (I - X A), the
            derivative of Golub and Pereyra (1973) at constant rank; smooth where singular
            values repeat, unlike a path through the SVD's own gradient
LAPACK's failures (singular, not positive-definite) come back as LinAlgError, a RuntimeError
like torch's.
"""
import numpy as np

from ..autograd import Function


class LinAlgError(RuntimeError):
    """A matrix the operation cannot handle (singular, not positive-definite): torch's
    torch.linalg.LinAlgError is a RuntimeError too."""


def _t(m):
    return np.swapaxes(m, -1, -2)


def _lapack(name, fn, *args, **kwargs):
    try:
        with np.errstate(all="ignore"):
            return fn(*args, **kwargs)
    except np.linalg.LinAlgError as e:
        msg = str(e)
        if "ingular" in msg:
            msg = ("The input matrix is singular (a zero pivot in its LU factorization), "
                   "so it cannot be inverted")
        elif "positive" in msg.lower():
            msg = "The factorization could not be completed because the input is not " \
                  "positive-definite"
        raise LinAlgError("%s: %s." % (name, msg)) from None


class Inv(Function):
    def forward(self, a):
        out = _lapack("linalg.inv", np.linalg.inv, a).astype(a.dtype, copy=False)
        if self.requires_grad:
            self.out = out
        return out

    def backward(self, g):
        xt = _t(self.out)
        return -(xt @ g @ xt)

    def backward_graph(self, g):
        xt = Inv.apply(self.parents[0]).mT
        return -(xt @ g @ xt)


def cofactor(a):
    """det(A) A^-T, finite also for singular A (through the SVD)."""
    u, s, vt = np.linalg.svd(a)
    n = s.shape[-1]
    others = np.where(np.eye(n, dtype=bool), 1.0, s[..., None, :])   # row i: s with s_i -> 1
    prod = np.prod(others, axis=-1)
    sign = np.linalg.det(u) * np.linalg.det(vt)
    return sign[..., None, None] * (u * prod[..., None, :]) @ vt


class Det(Function):
    def forward(self, a):
        if self.requires_grad:
            self.a = a
        with np.errstate(all="ignore"):
            return np.asarray(np.linalg.det(a), dtype=a.dtype)

    def backward(self, g):
        with np.errstate(all="ignore"):
            return g[..., None, None] * cofactor(self.a.astype(np.float64)).astype(g.dtype)


class Slogdet(Function):
    """(sign, log|det|); only log|det| carries a gradient (sign is piecewise constant)."""

    def forward(self, a):
        with np.errstate(all="ignore"):
            sign, logabs = np.linalg.slogdet(a)
        if self.requires_grad:
            self.a = a
        return np.asarray(sign, a.dtype), np.asarray(logabs, a.dtype)

    def backward(self, gsign, glog):
        inv_t = _t(_lapack("linalg.slogdet (backward)", np.linalg.inv, self.a))
        return glog[..., None, None] * inv_t


class Solve(Function):
    """X = A^-1 B for B of shape (..., n, k) (the public function makes vectors columns)."""

    def forward(self, a, b):
        shape = np.broadcast_shapes(a.shape[:-2], b.shape[:-2])
        a2 = np.broadcast_to(a, shape + a.shape[-2:])
        b2 = np.broadcast_to(b, shape + b.shape[-2:])
        out = _lapack("linalg.solve", np.linalg.solve, a2, b2).astype(
            np.result_type(a, b), copy=False)
        if self.requires_grad:
            self.a, self.out = a, out
        return out

    def backward(self, g):
        a = np.broadcast_to(self.a, g.shape[:-2] + self.a.shape[-2:])
        gb = _lapack("linalg.solve (backward)", np.linalg.solve, _t(a), g)
        return -(gb @ _t(self.out)), gb


class Cholesky(Function):
    """The lower factor L of A = L L^T (upper=True: L^T, the public function transposes)."""

    def forward(self, a):
        out = _lapack("linalg.cholesky", np.linalg.cholesky, a).astype(a.dtype, copy=False)
        if self.requires_grad:
            self.out = out
        return out

    def backward(self, g):
        L = self.out
        n = L.shape[-1]
        phi = np.tril(_t(L) @ g)
        phi[..., np.arange(n), np.arange(n)] *= 0.5
        # L^-T phi L^-1 by two triangular solves (through solve: no SciPy here)
        left = np.linalg.solve(_t(L), phi)
        ga = _t(np.linalg.solve(_t(L), _t(left)))
        return 0.5 * (ga + _t(ga))


class Eigh(Function):
    """(eigenvalues ascending, eigenvectors as columns) of a symmetric matrix (the lower
    triangle is read, UPLO='L', as torch)."""

    def forward(self, a, uplo="L"):
        w, v = _lapack("linalg.eigh", np.linalg.eigh, a, UPLO=uplo)
        w, v = w.astype(a.dtype, copy=False), v.astype(a.dtype, copy=False)
        if self.requires_grad:
            self.w, self.v = w, v
        return w, v

    def backward(self, gw, gv):
        w, v = self.w, self.v
        with np.errstate(all="ignore"):
            diff = w[..., None, :] - w[..., :, None]          # w_j - w_i
            n = w.shape[-1]
            f = np.where(np.eye(n, dtype=bool), 0.0, 1.0 / diff)
        # only the skew part of V^T gV is the eigenvectors' (the symmetric part moves V off
        # the orthogonal matrices): the gradient comes out symmetric, torch's
        vt_gv = _t(v) @ gv
        inner = f * (0.5 * (vt_gv - _t(vt_gv)))
        inner[..., np.arange(n), np.arange(n)] += gw
        return v @ inner @ _t(v)


class Svd(Function):
    """The SVD (U, S, Vh).  full_matrices=True on a non-square A: the columns of U (rows of
    Vh) past k = min(m, n) are any orthonormal completion, not functions of A; their
    gradients are dropped and the reduced SVD's formula applies, as torch does."""

    def forward(self, a, full_matrices=False):
        u, s, vh = _lapack("linalg.svd", np.linalg.svd, a, full_matrices=full_matrices)
        u, s, vh = (x.astype(a.dtype, copy=False) for x in (u, s, vh))
        if self.requires_grad:
            k = s.shape[-1]
            self.u, self.s, self.vh = u[..., :k], s, vh[..., :k, :]
        return u, s, vh

    def backward(self, gu, gs, gvh):
        u, s, vh = self.u, self.s, self.vh
        k = s.shape[-1]
        if (gu is None or not gu.any()) and (gvh is None or not gvh.any()):
            # only S is used (svdvals, the spectral and nuclear norms): U diag(gS) Vh, with
            # no 1 / (s_j^2 - s_i^2) terms to turn repeated singular values into NaN (torch's)
            return (u * gs[..., None, :]) @ vh
        gu, gvh = gu[..., :k], gvh[..., :k, :]
        v, gv = _t(vh), _t(gvh)
        eye = np.eye(k, dtype=bool)
        with np.errstate(all="ignore"):
            s2 = s * s
            f = np.where(eye, 0.0, 1.0 / (s2[..., None, :] - s2[..., :, None]))
            sinv = np.where(s == 0, 0.0, 1.0 / s)
        ut_gu = _t(u) @ gu
        vt_gv = _t(v) @ gv
        j = f * (ut_gu - _t(ut_gu))
        kk = f * (vt_gv - _t(vt_gv))
        core = j * s[..., None, :] + s[..., :, None] * kk
        core[..., np.arange(k), np.arange(k)] += gs
        ga = u @ core @ vh
        m, n = u.shape[-2], v.shape[-2]
        if m > k:
            ga = ga + (gu - u @ ut_gu) * sinv[..., None, :] @ vh
        if n > k:
            ga = ga + (u * sinv[..., None, :]) @ _t(gv - v @ vt_gv)
        return ga


def _qr_tall_backward(q, r, gq, gr):
    """gA of A = Q R with Q m x k orthonormal columns, R k x k upper (m >= k)."""
    m = r @ _t(gr) - _t(gq) @ q
    low = np.tril(m, -1)
    copyltu = low + _t(low)
    n = m.shape[-1]
    copyltu[..., np.arange(n), np.arange(n)] = m[..., np.arange(n), np.arange(n)]
    b = gq + q @ copyltu
    # b R^-T = (R^-1 b^T)^T
    return _t(_lapack("linalg.qr (backward)", np.linalg.solve, r, _t(b)))


class Qr(Function):
    """The QR factorization (mode 'reduced', 'complete' or 'r').

    The gradient: m >= n reduced, the formula above.  m < n (reduced and complete alike):
    A = Q [R1 R2] with R1 square, A1 = Q R1 a square QR and R2 = Q^T A2, so gA2 = Q gR2 and
    A2's use of Q adds A2 gR2^T to gQ before the square formula gives gA1.  Complete with
    m > n has none (its Q's last columns are not determined by A: torch raises there too,
    in backward).  Empty A: a zero gradient."""

    def forward(self, a, mode="reduced"):
        if mode == "r":
            r = np.linalg.qr(a, mode="r").astype(a.dtype, copy=False)
            return np.zeros((0,), a.dtype), r      # torch: an empty Q
        q, r = np.linalg.qr(a, mode=mode)
        q, r = q.astype(a.dtype, copy=False), r.astype(a.dtype, copy=False)
        if self.requires_grad:
            self.a, self.q, self.r, self.mode = a, q, r, mode
        return q, r

    def backward(self, gq, gr):
        a, q, r = self.a, self.q, self.r
        m, n = a.shape[-2], a.shape[-1]
        if self.mode == "complete" and m > n:
            raise NotImplementedError("The QR decomposition is not differentiable when "
                                      "mode='complete' and nrows > ncols.")
        if min(m, n) == 0:
            return np.zeros_like(a)
        if m >= n:
            return _qr_tall_backward(q, r, gq, gr)
        a2, r1, gr1, gr2 = a[..., m:], r[..., :m], gr[..., :m], gr[..., m:]
        ga1 = _qr_tall_backward(q, r1, gq + a2 @ _t(gr2), gr1)
        return np.concatenate([ga1, q @ gr2], -1)


def pinv_array(a, atol, rtol, hermitian):
    """A^+ of a (..., m, n) array: singular values (|eigenvalues| if hermitian, from the
    lower triangle as torch) at or under max(atol, rtol * largest) count as zero; rtol None
    defaults to eps * max(m, n) when atol is None too, else to 0 (torch's rule)."""
    m, n = a.shape[-2], a.shape[-1]
    if rtol is None:
        rtol = np.finfo(a.dtype).eps * max(m, n) if atol is None else 0.0
    atol = 0.0 if atol is None else np.asarray(atol)[..., None]
    rtol = np.asarray(rtol)[..., None]
    with np.errstate(all="ignore"):
        if hermitian:
            w, v = _lapack("linalg.pinv", np.linalg.eigh, a)
            mag = np.abs(w)
            left, right = v, _t(v)
        else:
            left, mag, right = _lapack("linalg.pinv", np.linalg.svd, a, full_matrices=False)
            w = mag
        cut = np.maximum(atol, rtol * mag.max(-1, keepdims=True))
        inv = np.where(mag > cut, 1.0 / np.where(mag > cut, w, 1.0), 0.0)
        return (_t(right) * inv[..., None, :]) @ _t(left)


class Pinv(Function):
    """The Moore-Penrose pseudo-inverse (pinv_array; m, n >= 1)."""

    def forward(self, a, atol=None, rtol=None, hermitian=False):
        x = pinv_array(a, atol, rtol, hermitian).astype(a.dtype, copy=False)
        if self.requires_grad:
            self.a, self.x = a, x
        return x

    def backward(self, g):
        a, x = self.a, self.x
        xt, gt = _t(x), _t(g)
        m, n = a.shape[-2], a.shape[-1]
        res_rows = np.eye(m, dtype=a.dtype) - a @ x          # I - A X (m x m)
        res_cols = np.eye(n, dtype=a.dtype) - x @ a          # I - X A (n x n)
        return -(xt @ g @ xt) + res_rows @ gt @ (x @ xt) + (xt @ x) @ gt @ res_cols
