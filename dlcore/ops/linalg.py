"""torch.linalg's functions (dl.linalg re-exports them) on real (float32/float64) matrices, batched over the
leading dims.  The factorizations are dlcore.ops.linalg_decomp's ops (their backward formulas
are listed there); the rest are compositions of differentiable ops.  dlcore has no complex
dtypes, so eig/eigvals (complex results in general) raise; use eigh for symmetric matrices."""
import math
from collections import namedtuple

import numpy as np

from ..dtypes import is_floating
from ..tensor_base import TensorBase, wrap
from . import diagonal as _diag
from . import join as _join
from .linalg_lu import LuParts, lu_factor_array, permutation as _lu_perm
from .linalg_decomp import (Cholesky, Det, Eigh, Inv, LinAlgError, Pinv, Qr,  # noqa: F401
                            Slogdet, Solve, Svd)
from .math_extra import cross as _cross
from .vector_norm import nuclear_norm as _nuclear_norm
from .vector_norm import vector_norm as _vector_norm

__all__ = ["LinAlgError", "norm", "vector_norm", "matrix_norm", "inv", "inv_ex", "solve",
           "solve_ex", "solve_triangular", "det", "slogdet", "eigh", "eigvalsh", "eig",
           "eigvals", "svd", "svdvals", "qr", "cholesky", "cholesky_ex", "lstsq", "pinv",
           "matrix_rank", "matrix_power", "matrix_exp", "cross", "multi_dot", "vecdot",
           "diagonal", "tensorinv", "tensorsolve", "cond", "lu", "lu_factor", "lu_factor_ex"]

SlogdetResult = namedtuple("slogdet", ["sign", "logabsdet"])
EighResult = namedtuple("eigh", ["eigenvalues", "eigenvectors"])
SvdResult = namedtuple("svd", ["U", "S", "Vh"])
QrResult = namedtuple("qr", ["Q", "R"])
InvExResult = namedtuple("inv_ex", ["inverse", "info"])
SolveExResult = namedtuple("solve_ex", ["result", "info"])
CholeskyExResult = namedtuple("cholesky_ex", ["L", "info"])
LuResult = namedtuple("lu", ["P", "L", "U"])
LuFactorResult = namedtuple("lu_factor", ["LU", "pivots"])
LuFactorExResult = namedtuple("lu_factor_ex", ["LU", "pivots", "info"])
LstsqResult = namedtuple("lstsq", ["solution", "residuals", "rank", "singular_values"])

_TORCH_DTYPE = {"int64": "Long", "int32": "Int", "int16": "Short", "int8": "Char",
                "uint8": "Byte", "bool": "Bool", "float16": "Half"}


def _matrix(a, name, square=True):
    if not isinstance(a, TensorBase):
        raise TypeError("%s: expected a Tensor, got %s" % (name, type(a).__name__))
    if not is_floating(a.dtype) or a.dtype == np.float16 or a.dtype.itemsize < 4:
        raise RuntimeError("%s: Expected a floating point or complex tensor as input. Got %s"
                           % (name, _TORCH_DTYPE.get(str(a.dtype), str(a.dtype))))
    if a.ndim < 2:
        raise RuntimeError("%s: The input tensor A must have at least 2 dimensions." % name)
    if square and a.shape[-1] != a.shape[-2]:
        raise RuntimeError("%s: A must be batches of square matrices, but they are %d by %d "
                           "matrices" % (name, a.shape[-2], a.shape[-1]))
    return a


def _eye(n, dtype):
    return wrap(np.eye(n, dtype=dtype))


def _zeros(*shape, dtype):
    return wrap(np.zeros(shape, dtype=dtype))


def inv(A):
    return Inv.apply(_matrix(A, "linalg.inv"))


def _info(A, fn):
    """Per-matrix LAPACK info (0: fine, 1: failed), as the *_ex functions report it."""
    # the batch count spelled out: -1 is ambiguous for an empty batch of 0x0 matrices
    flat = A._data.reshape((int(np.prod(A.shape[:-2])),) + A.shape[-2:])
    info = np.zeros(flat.shape[0], np.int32)
    for i, m in enumerate(flat):
        try:
            with np.errstate(all="ignore"):
                fn(m)
        except np.linalg.LinAlgError:
            info[i] = 1
    return wrap(info.reshape(A.shape[:-2]))


def inv_ex(A, *, check_errors=False):
    A = _matrix(A, "linalg.inv_ex")
    info = _info(A, np.linalg.inv)
    if bool(info._data.any()):
        if check_errors:
            return InvExResult(inv(A), info)    # raises torch's error
        return InvExResult(wrap(np.full(A.shape, np.nan, A._data.dtype)), info)
    return InvExResult(inv(A), info)


def det(A):
    return Det.apply(_matrix(A, "linalg.det"))


def slogdet(A):
    return SlogdetResult(*Slogdet.apply(_matrix(A, "linalg.slogdet")))


def _is_vector_rhs(A, B):
    return B.ndim == 1 or (B.ndim == A.ndim - 1 and tuple(B.shape) == tuple(A.shape[:-1]))


def solve(A, B, *, left=True):
    A = _matrix(A, "linalg.solve")
    _matrix(B, "linalg.solve", square=False) if B.ndim >= 2 else None
    if not left:         # X A = B  <=>  A^T X^T = B^T
        return solve(A.mT, B.mT).mT
    vec = _is_vector_rhs(A, B)
    b = B.unsqueeze(-1) if vec else B
    if b.shape[-2] != A.shape[-1]:
        raise RuntimeError("linalg.solve: Incompatible shapes of A and B for the equation AX = B"
                           " (%s and %s)" % ("x".join(map(str, A.shape[-2:])),
                                             "x".join(map(str, b.shape[-2:]))))
    if A.dtype != B.dtype:
        raise RuntimeError("linalg.solve: Expected A and B to have the same dtype, but found "
                           "A of type %s and B of type %s instead" % (A.dtype, B.dtype))
    out = Solve.apply(A, b)
    return out.squeeze(-1) if vec else out


def solve_ex(A, B, *, left=True, check_errors=False):
    info = _info(_matrix(A, "linalg.solve_ex"), np.linalg.inv)
    if bool(info._data.any()) and not check_errors:
        shape = solve(_eye(A.shape[-1], A.dtype), B, left=left).shape if B.ndim else ()
        return SolveExResult(wrap(np.full(tuple(shape), np.nan, A._data.dtype)), info)
    return SolveExResult(solve(A, B, left=left), info)


def solve_triangular(A, B, *, upper, left=True, unitriangular=False):
    A = _matrix(A, "linalg.solve_triangular")
    tri = A.triu() if upper else A.tril()
    if unitriangular:
        n = A.shape[-1]
        eye = _eye(n, A.dtype)
        tri = tri * (1 - eye) + eye
    return solve(tri, B, left=left)


def cholesky(A, *, upper=False):
    L = Cholesky.apply(_matrix(A, "linalg.cholesky"))
    return L.mT if upper else L


def cholesky_ex(A, *, upper=False, check_errors=False):
    info = _info(_matrix(A, "linalg.cholesky_ex"), np.linalg.cholesky)
    if bool(info._data.any()) and not check_errors:
        return CholeskyExResult(wrap(np.full(A.shape, np.nan, A._data.dtype)), info)
    return CholeskyExResult(cholesky(A, upper=upper), info)


def eigh(A, UPLO="L"):
    if UPLO not in ("L", "U"):
        raise RuntimeError("Expected UPLO argument to be 'L' or 'U', but got %s" % UPLO)
    return EighResult(*Eigh.apply(_matrix(A, "linalg.eigh"), uplo=UPLO))


def eigvalsh(A, UPLO="L"):
    return eigh(A, UPLO).eigenvalues


def eig(A):
    raise NotImplementedError("linalg.eig: the eigenvalues of a general real matrix are complex "
                              "and dlcore has no complex dtypes; use linalg.eigh for symmetric "
                              "matrices (or linalg.svd)")


def eigvals(A):
    raise NotImplementedError("linalg.eigvals: the eigenvalues of a general real matrix are "
                              "complex and dlcore has no complex dtypes; use linalg.eigvalsh "
                              "for symmetric matrices")


def svd(A, full_matrices=True, *, driver=None):
    return SvdResult(*Svd.apply(_matrix(A, "linalg.svd", square=False),
                                full_matrices=bool(full_matrices)))


def svdvals(A, *, driver=None):
    return svd(A, full_matrices=False).S


def qr(A, mode="reduced"):
    if mode not in ("reduced", "complete", "r"):
        raise RuntimeError("qr received unrecognized mode '%s' but expected one of 'reduced' "
                           "(default), 'r', or 'complete'" % mode)
    return QrResult(*Qr.apply(_matrix(A, "linalg.qr", square=False), mode=mode))


def _pinv_cut(s, atol, rtol, m, n):
    """The cutoff under which singular values count as zero, torch's rule: max(atol,
    rtol * s_max), rtol defaulting to eps * max(m, n) when atol is not given, else 0."""
    if rtol is None:
        rtol = np.finfo(s._data.dtype).eps * max(m, n) if atol is None else 0.0
    atol = 0.0 if atol is None else atol
    smax = s._data.max(-1, keepdims=True) if s.shape[-1] else np.zeros(s.shape[:-1] + (1,))
    a = atol._data[..., None] if isinstance(atol, TensorBase) else atol
    r = rtol._data[..., None] if isinstance(rtol, TensorBase) else rtol
    return np.maximum(a, r * smax)


def pinv(A, *, atol=None, rtol=None, hermitian=False):
    """The Moore-Penrose pseudo-inverse (linalg_decomp.Pinv: V diag(1/s, 0 under the cutoff)
    U^T, from eigh's lower triangle if hermitian, as torch)."""
    A = _matrix(A, "linalg.pinv", square=False)
    m, n = A.shape[-2], A.shape[-1]
    if min(m, n) == 0:
        return A.mT.clone()      # empty, and differentiable as torch's (a zero gradient)
    tol = [t._data if isinstance(t, TensorBase) else t for t in (atol, rtol)]
    return Pinv.apply(A, atol=tol[0], rtol=tol[1], hermitian=bool(hermitian))


def matrix_rank(A, *, atol=None, rtol=None, hermitian=False, tol=None):
    A = _matrix(A, "linalg.matrix_rank", square=False)
    if tol is not None:
        atol, rtol = tol, 0.0
    # hermitian: the |eigenvalues| of the lower triangle, as torch
    s = eigvalsh(A).detach().abs() if hermitian else svdvals(A).detach()
    cut = _pinv_cut(s, atol, rtol, A.shape[-2], A.shape[-1])
    return wrap((s._data > cut).sum(-1).astype(np.int64))


def lstsq(A, B, rcond=None, *, driver=None):
    """The least-squares solution through the pseudo-inverse (differentiable); residuals as
    torch: the squared residual norms when m > n and A has full rank, else empty."""
    A = _matrix(A, "linalg.lstsq", square=False)
    vec = B.ndim == A.ndim - 1
    b = B.unsqueeze(-1) if vec else B
    if b.shape[-2] != A.shape[-2]:
        raise RuntimeError("torch.linalg.lstsq: input.size(-2) should match other.size(-2)")
    if driver not in (None, "gels", "gelsy", "gelsd", "gelss"):
        raise RuntimeError("torch.linalg.lstsq: parameter `driver` should be one of "
                           "(gels, gelsy, gelsd, gelss)")
    x = pinv(A, rtol=rcond) @ b
    m, n = A.shape[-2], A.shape[-1]
    rank = matrix_rank(A)
    if m > n and bool((rank._data == n).all()) and driver not in (None, "gelsy"):
        res = ((A @ x - b) ** 2).sum(-2)
    else:
        # torch's empty residuals still carry a (zero) gradient
        res = x.reshape(-1)[:0]
    if driver == "gels":          # torch: gels reports no rank
        rank = wrap(np.zeros(0, np.int64))
    sv = svdvals(A).detach() if driver in ("gelsd", "gelss") else _zeros(0, dtype=A.dtype)
    return LstsqResult(x.squeeze(-1) if vec else x, res, rank, sv)


def matrix_power(A, n):
    A = _matrix(A, "linalg.matrix_power")
    if isinstance(n, bool) or int(n) != n:
        raise TypeError("matrix_power: n must be an int, got %r" % (n,))
    n = int(n)
    if n == 0:
        # the identities, differentiable as torch's (a zero gradient, NaN in A or not)
        zero = A.masked_fill(wrap(np.ones(A.shape, bool)), 0.0)
        return zero + _eye(A.shape[-1], A.dtype)
    if n < 0:
        A, n = inv(A), -n
    out, base = None, A
    while n:                       # binary powering: log2(n) products
        if n & 1:
            out = base if out is None else out @ base
        n >>= 1
        if n:
            base = base @ base
    return out


def matrix_exp(A):
    """Scaling and squaring: exp(A / 2^s) by its Taylor series to degree 18 (||A / 2^s||_1
    <= 1/2, so the truncation is below 1e-22 relative), then s squarings; differentiable."""
    A = _matrix(A, "linalg.matrix_exp")
    if A.numel() == 0:
        return A.clone()
    if A.dtype == np.float32:
        # the 18 products and s squarings round in float32 up to ~1e-6 relative at large
        # entries, more than torch's float32 result: computed in float64, rounded once
        return matrix_exp(A.to(np.float64)).to(np.float32)
    with np.errstate(all="ignore"):
        norm1 = float(np.abs(A._data).sum(-2).max())
    s = max(0, int(math.ceil(math.log2(norm1))) + 1) if norm1 > 0.5 and math.isfinite(norm1) \
        else 0
    X = A / (2.0 ** s)
    eye = _eye(A.shape[-1], A.dtype)
    out = eye + X
    term = X
    for k in range(2, 19):
        term = (term @ X) / k
        out = out + term
    for _ in range(s):
        out = out @ out
    return out


def cross(input, other, *, dim=-1):
    return _cross(input, other, dim=dim)


def multi_dot(tensors):
    if len(tensors) < 2:
        raise RuntimeError("multi_dot(): expected at least 2 tensors but got %d" % len(tensors))
    out = tensors[0]
    for t in tensors[1:]:
        out = out @ t
    return out


def vecdot(x, y, *, dim=-1):
    return (x * y).sum(dim)


def diagonal(A, *, offset=0, dim1=-2, dim2=-1):
    return _diag.diagonal(A, offset, dim1, dim2)


def tensorinv(A, ind=2):
    if ind <= 0:
        raise RuntimeError("Expected a strictly positive integer for 'ind', but got %s" % ind)
    out_shape, in_shape = tuple(A.shape[:ind]), tuple(A.shape[ind:])
    p = int(np.prod(out_shape))
    if p != int(np.prod(in_shape)):
        raise RuntimeError("Expected self to satisfy the requirement prod(self.shape[ind:]) == "
                           "prod(self.shape[:ind]), but got %d != %d" % (np.prod(in_shape), p))
    return inv(A.reshape(p, p)).reshape(*(in_shape + out_shape))


def tensorsolve(A, B, dims=None):
    if dims is not None:
        dims = [d % A.ndim for d in dims]
        rest = [i for i in range(A.ndim) if i not in dims]
        A = A.permute(*(rest + dims))
    sol_shape = tuple(A.shape[B.ndim:])
    n = int(np.prod(sol_shape))
    x = solve(A.reshape(B.numel(), n), B.reshape(B.numel()))
    return x.reshape(*sol_shape)


def vector_norm(x, ord=2, dim=None, keepdim=False, *, dtype=None):
    if dtype is not None:
        x = x.to(dtype)
    if dim is None and not keepdim:
        x = x.reshape(-1)
    return _vector_norm(x, ord, dim, keepdim)


def matrix_norm(A, ord="fro", dim=(-2, -1), keepdim=False, *, dtype=None):
    A = _matrix(A, "linalg.matrix_norm", square=False)
    if dtype is not None:
        A = A.to(dtype)
    d0, d1 = (d % A.ndim for d in dim)
    if ord == "fro":
        return _vector_norm(A, 2, (d0, d1), keepdim)
    if ord == "nuc":
        return _nuclear_norm(A, (d0, d1), keepdim)
    if ord in (2, -2):
        s = svdvals(A.movedim((d0, d1), (-2, -1)))
        out = s.amax(-1) if ord == 2 else s.amin(-1)
        if keepdim:
            for d in sorted((d0, d1)):
                out = out.unsqueeze(d)
        return out
    if ord not in (1, -1, math.inf, -math.inf):
        raise RuntimeError("linalg.matrix_norm: Order %s not supported." % (ord,))
    summed, other = (d0, d1) if ord in (1, -1) else (d1, d0)
    s = A.abs().sum(summed, keepdim=True)
    out = s.amax(other, keepdim=True) if ord > 0 else s.amin(other, keepdim=True)
    return out if keepdim else out.squeeze((d0, d1))


def norm(A, ord=None, dim=None, keepdim=False, *, dtype=None):
    if isinstance(dim, int):
        dim = (dim,)
    if ord is None:
        return vector_norm(A, 2, dim, keepdim, dtype=dtype)
    if isinstance(ord, str) or (dim is not None and len(dim) == 2) or (dim is None and
                                                                       A.ndim == 2):
        return matrix_norm(A, ord, (-2, -1) if dim is None else dim, keepdim, dtype=dtype)
    return vector_norm(A, ord, dim, keepdim, dtype=dtype)


def cond(A, p=None):
    if p is None or p in (2, -2):
        s = svdvals(A)
        return s.amax(-1) / s.amin(-1) if p != -2 else s.amin(-1) / s.amax(-1)
    return matrix_norm(A, p) * matrix_norm(inv(A), p)



def _lu(A, name):
    A = _matrix(A, name, square=False)
    lu_, piv, info = lu_factor_array(A._data)
    L, U = LuParts.apply(A, lu=lu_, piv=piv)
    return A, L, U, piv, info


def lu(A, *, pivot=True):
    """A = P L U with partial pivoting (dlcore.ops.linalg_lu)."""
    if not pivot:
        raise NotImplementedError("linalg.lu: LU without pivoting is not implemented on CPU "
                                  "(torch's CPU has none either)")
    A, L, U, piv, _ = _lu(A, "linalg.lu")
    return LuResult(wrap(_lu_perm(piv, A.shape[-2], A._data.dtype)), L, U)


def _packed(A, L, U):
    """L - I + U in one matrix (LAPACK's packed LU), differentiable through L and U."""
    m, n = A.shape[-2], A.shape[-1]
    k = min(m, n)
    dt = A._data.dtype
    strict_l = L - wrap(np.eye(m, k, dtype=dt))
    batch = tuple(A.shape[:-2])
    if m > n:
        U = _join.cat([U, wrap(np.zeros(batch + (m - n, n), dt))], -2)
    elif n > m:
        strict_l = _join.cat([strict_l, wrap(np.zeros(batch + (m, n - m), dt))], -1)
    return strict_l + U


def lu_factor(A, *, pivot=True):
    res = lu_factor_ex(A, pivot=pivot)
    return LuFactorResult(res.LU, res.pivots)


def lu_factor_ex(A, *, pivot=True, check_errors=False):
    if not pivot:
        raise NotImplementedError("linalg.lu_factor: LU without pivoting is not implemented")
    A, L, U, piv, info = _lu(A, "linalg.lu_factor")
    if check_errors and bool(info.any()):
        raise LinAlgError("linalg.lu_factor_ex: U[%d,%d] is zero and using it on lu_solve "
                          "would result in a division by zero." % ((int(info.max()),) * 2))
    return LuFactorExResult(_packed(A, L, U), wrap(piv), wrap(info))
