"""The LU factorization with partial pivoting, A = P L U (NumPy has none and dlcore does not
depend on SciPy): Doolittle elimination, one column at a time, vectorized over the batch.
Pivots are LAPACK's (1-based row swaps, int32), as torch's lu_factor.  The gradient, for
square, wide and tall A, is derived at LuParts."""
import numpy as np

from ..autograd import Function


def lu_factor_array(a):
    """(LU packed, pivots int32 1-based, info int32) for a (..., m, n) float array."""
    m, n = a.shape[-2], a.shape[-1]
    k = min(m, n)
    lu = np.array(a, dtype=a.dtype, copy=True).reshape((-1, m, n))
    piv = np.zeros((lu.shape[0], k), np.int32)
    info = np.zeros(lu.shape[0], np.int32)
    rows = np.arange(lu.shape[0])
    with np.errstate(all="ignore"):
        for j in range(k):
            p = j + np.argmax(np.abs(lu[:, j:, j]), axis=1)
            piv[:, j] = p + 1
            top = lu[rows, j].copy()
            lu[rows, j] = lu[rows, p]
            lu[rows, p] = top
            d = lu[:, j, j]
            zero = d == 0
            info = np.where(zero & (info == 0), j + 1, info)
            safe = np.where(zero, 1.0, d)[:, None]
            lu[:, j + 1:, j] = np.where(zero[:, None], lu[:, j + 1:, j], lu[:, j + 1:, j] / safe)
            lu[:, j + 1:, j + 1:] -= lu[:, j + 1:, j:j + 1] * lu[:, j:j + 1, j + 1:]
    batch = a.shape[:-2]
    return lu.reshape(a.shape), piv.reshape(batch + (k,)), info.reshape(batch)


def unpack(lu, piv):
    """(P, L, U) from the packed factor and the 1-based pivots."""
    m, n = lu.shape[-2], lu.shape[-1]
    k = min(m, n)
    L = np.tril(lu[..., :, :k], -1) + np.eye(m, k, dtype=lu.dtype)
    U = np.triu(lu[..., :k, :])
    return permutation(piv, m, lu.dtype), L, U


def permutation(piv, m, dtype):
    """The (..., m, m) P of A = P L U from LAPACK's 1-based row swaps."""
    k = piv.shape[-1]
    flat = piv.reshape((-1, k)) - 1
    r = np.arange(flat.shape[0])
    perm = np.tile(np.arange(m), (flat.shape[0], 1))
    for j in range(k):             # apply the swaps in order to the row order
        pj = flat[:, j]
        tmp = perm[r, j].copy()
        perm[r, j] = perm[r, pj]
        perm[r, pj] = tmp
    # row i of L U is row perm[i] of A, so P[perm[i], i] = 1
    P = np.zeros((flat.shape[0], m, m), dtype)
    P[r[:, None], perm, np.arange(m)[None, :]] = 1
    return P.reshape(piv.shape[:-1] + (m, m))


def _t(x):
    return np.swapaxes(x, -1, -2)


def _solve(a, b):
    """a^-1 b for triangular a (batched alike); a singular one gives NaN (torch's triangular
    solves give inf/NaN there) instead of failing the whole batch."""
    try:
        return np.linalg.solve(a, b)
    except np.linalg.LinAlgError:
        out = np.empty(np.broadcast_shapes(a.shape[:-2], b.shape[:-2]) + b.shape[-2:], b.dtype)
        a = np.broadcast_to(a, out.shape[:-2] + a.shape[-2:])
        b = np.broadcast_to(b, out.shape)
        for i in np.ndindex(out.shape[:-2]):
            try:
                out[i] = np.linalg.solve(a[i], b[i])
            except np.linalg.LinAlgError:
                out[i] = np.nan
        return out


class LuParts(Function):
    """(L, U) of A = P L U from the factorization already computed (lu, piv: the public
    function factors once and also needs the pivots).

    The gradient, A (m x n), k = min(m, n), P^T A = L U.  Wide (m <= n): L is m x m unit lower,
    U = [U1 U2] with U1 square; from L^-1 dA1 U1^-1 = L^-1 dL + dU1 U1^-1 (strictly lower plus
    upper parts) and dU2 = L^-1 dA2 - (L^-1 dL) U2:
        M = tril(L^T gL - gU2 U2^T, -1) + triu(gU1 U1^T)
        gA = P [L^-T M U1^-T,  L^-T gU2]
    Tall (m > n): L = [L1; L2] with L1 square, U n x n; from L1^-1 dA1 U^-1 = L1^-1 dL1 +
    dU U^-1 and dL2 = dA2 U^-1 - L2 (dU U^-1):
        M = tril(L1^T gL1, -1) + triu(gU U^T - L2^T gL2)
        gA = P [L1^-T M U^-T;  gL2 U^-T]
    (square A: both are torch's gA = P L^-T (tril(L^T gL, -1) + triu(gU U^T)) U^-T)."""

    def forward(self, a, lu=None, piv=None):
        P, L, U = unpack(lu, piv)
        if self.requires_grad:
            self.P, self.L, self.U = P, L, U
        return L, U

    def backward(self, gL, gU):
        P, L, U = self.P, self.L, self.U
        m, n = L.shape[-2], U.shape[-1]
        k = min(m, n)
        with np.errstate(all="ignore"):
            if m <= n:
                U1, U2, gU1, gU2 = U[..., :k], U[..., k:], gU[..., :k], gU[..., k:]
                M = np.tril(_t(L) @ gL - gU2 @ _t(U2), -1) + np.triu(gU1 @ _t(U1))
                left = _t(_solve(U1, _t(_solve(_t(L), M))))         # L^-T M U1^-T
                ga = np.concatenate([left, _solve(_t(L), gU2)], -1)
            else:
                L1, L2, gL1, gL2 = L[..., :k, :], L[..., k:, :], gL[..., :k, :], gL[..., k:, :]
                M = np.tril(_t(L1) @ gL1, -1) + np.triu(gU @ _t(U) - _t(L2) @ gL2)
                top = _t(_solve(U, _t(_solve(_t(L1), M))))          # L1^-T M U^-T
                ga = np.concatenate([top, _t(_solve(U, _t(gL2)))], -2)
        return P @ ga
