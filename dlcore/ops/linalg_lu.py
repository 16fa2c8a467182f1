"""The LU factorization with partial pivoting, A = P L U (NumPy has none and dlcore does not
depend on SciPy): Doolittle elimination, one column at a time, vectorized over the batch.
Pivots are LAPACK's (1-based row swaps, int32), as torch's lu_factor.  The gradient (square
A) is torch's formula: gA = P L^-T (tril(L^T gL, -1) + triu(gU U^T)) U^-T."""
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


class LuParts(Function):
    """(L, U) of A = P L U from the factorization already computed (lu, piv: the public
    function factors once and also needs the pivots); the gradient for square A."""

    def forward(self, a, lu=None, piv=None):
        P, L, U = unpack(lu, piv)
        if self.requires_grad:
            if a.shape[-1] != a.shape[-2]:
                raise NotImplementedError("linalg.lu: the gradient is implemented for square "
                                          "matrices only (got %dx%d)" % a.shape[-2:])
            self.P, self.L, self.U = P, L, U
        return L, U

    def backward(self, gL, gU):
        P, L, U = self.P, self.L, self.U
        phi = np.tril(_t(L) @ gL, -1) + np.triu(gU @ _t(U))
        with np.errstate(all="ignore"):
            left = np.linalg.solve(_t(L), phi)                 # L^-T phi
            right = _t(np.linalg.solve(U, _t(left)))           # (...) U^-T
        return P @ right
