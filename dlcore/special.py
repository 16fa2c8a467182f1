"""dl.special: torch.special's names.  The special functions proper are
dlcore.ops.special's ops (their accuracy is stated in dlcore.ops.special_numerics); the rest
are the top-level functions under torch.special's spelling."""
from . import functions as _F
from .ops.math_extra import logit, sinc, xlogy  # noqa: F401
from .ops.special import (I0e, I1, I1e, LogNdtr, Ndtr, Ndtri, Erfcx, digamma, entr, erf,  # noqa: F401
                          erfc, erfinv, i0, igamma, igammac, lgamma, multigammaln, polygamma,
                          xlog1py, zeta)
from .ops.special import _tensor

__all__ = ["erf", "erfc", "erfcx", "erfinv", "expit", "logit", "xlogy", "xlog1py", "gammaln",
           "digamma", "psi", "polygamma", "multigammaln", "i0", "i0e", "i1", "i1e", "log_ndtr",
           "ndtr", "ndtri", "sinc", "entr", "logsumexp", "softmax", "log_softmax", "round",
           "exp2", "expm1", "log1p", "zeta", "gammainc", "gammaincc"]

expit = _F.sigmoid
exp2, expm1, log1p, logsumexp, round = _F.exp2, _F.expm1, _F.log1p, _F.logsumexp, _F.round
gammaln = lgamma
psi = digamma
gammainc = igamma
gammaincc = igammac


def i0e(input):
    return I0e.apply(_tensor(input, "i0e"))


def i1(input):
    return I1.apply(_tensor(input, "i1"))


def i1e(input):
    return I1e.apply(_tensor(input, "i1e"))


def ndtr(input):
    return Ndtr.apply(_tensor(input, "ndtr"))


def log_ndtr(input):
    return LogNdtr.apply(_tensor(input, "log_ndtr"))


def ndtri(input):
    return Ndtri.apply(_tensor(input, "ndtri"))


def erfcx(input):
    return Erfcx.apply(_tensor(input, "erfcx"))


def softmax(input, dim, *, dtype=None):
    return _F.softmax(input, dim, dtype=dtype)


def log_softmax(input, dim, *, dtype=None):
    return _F.log_softmax(input, dim, dtype=dtype)
