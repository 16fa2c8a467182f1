"""torch's top-level linear algebra (det logdet slogdet inverse pinverse matrix_power
matrix_exp cholesky cholesky_inverse cholesky_solve svd qr triangular_solve diagonal) and their
Tensor methods (`LinalgMethods`): the older spellings of dlcore.ops.linalg's functions."""
from collections import namedtuple

import numpy as np

from ..tensor_base import wrap
from . import linalg as L
from .diagonal import diagonal

__all__ = ["det", "logdet", "slogdet", "inverse", "pinverse", "matrix_power", "matrix_exp",
           "cholesky", "cholesky_inverse", "cholesky_solve", "svd", "qr", "triangular_solve",
           "diagonal", "lu"]

SvdResult = namedtuple("svd", ["U", "S", "V"])
TriangularSolveResult = namedtuple("triangular_solve", ["solution", "cloned_coefficient"])

det = L.det
slogdet = L.slogdet
inverse = L.inv
matrix_power = L.matrix_power
matrix_exp = L.matrix_exp


def logdet(input):
    """log det: NaN for a negative determinant, -inf for a zero one (torch's)."""
    sign, logabs = L.slogdet(input)
    bad = wrap(np.where(sign._data < 0, np.nan, 0.0).astype(logabs.dtype))
    return logabs + bad


def pinverse(input, rcond=1e-15):
    return L.pinv(input, rtol=rcond)


def cholesky(input, upper=False):
    return L.cholesky(input, upper=upper)


def cholesky_inverse(input, upper=False):
    """(L L^T)^-1 from the Cholesky factor (U^T U with upper=True)."""
    A = input.mT @ input if upper else input @ input.mT
    return L.inv(A)


def cholesky_solve(input, input2, upper=False):
    """Solves A X = B with A = L L^T given B (input) and the factor (input2)."""
    A = input2.mT @ input2 if upper else input2 @ input2.mT
    return L.solve(A, input)


def svd(input, some=True, compute_uv=True):
    """torch.svd: (U, S, V) with V, not V^T; some=False gives the full U and V."""
    U, S, Vh = L.svd(input, full_matrices=not some)
    if not compute_uv:
        return SvdResult(U.detach() * 0, S, Vh.detach().mT * 0)
    return SvdResult(U, S, Vh.mT)


def qr(input, some=True):
    return L.qr(input, "reduced" if some else "complete")


def triangular_solve(b, A, upper=True, transpose=False, unitriangular=False):
    """Solves op(A) X = b for triangular A: (solution, a copy of A)."""
    X = L.solve_triangular(A.mT if transpose else A, b,
                           upper=(not upper) if transpose else upper, unitriangular=unitriangular)
    return TriangularSolveResult(X, A.clone())


def lu(A, pivot=True, get_infos=False):
    """torch.lu: (A_LU, pivots[, infos]), LAPACK's packed form."""
    res = L.lu_factor_ex(A, pivot=pivot)
    return (res.LU, res.pivots, res.info) if get_infos else (res.LU, res.pivots)


class LinalgMethods:
    """The Tensor methods of the functions above."""

    __slots__ = ()

    def diagonal(self, offset=0, dim1=0, dim2=1):
        return diagonal(self, offset, dim1, dim2)

    def svd(self, some=True, compute_uv=True):
        return svd(self, some, compute_uv)

    def qr(self, some=True):
        return qr(self, some)

    def cholesky(self, upper=False):
        return cholesky(self, upper)

    def cholesky_inverse(self, upper=False):
        return cholesky_inverse(self, upper)

    def cholesky_solve(self, input2, upper=False):
        return cholesky_solve(self, input2, upper)

    def triangular_solve(self, A, upper=True, transpose=False, unitriangular=False):
        return triangular_solve(self, A, upper, transpose, unitriangular)

    def pinverse(self, rcond=1e-15):
        return pinverse(self, rcond)


for _n in ("det logdet slogdet inverse matrix_power matrix_exp lu").split():
    setattr(LinalgMethods, _n, globals()[_n])
