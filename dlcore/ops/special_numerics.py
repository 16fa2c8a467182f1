"""The special functions' values, on float64 NumPy arrays (no autograd; dlcore.ops.special
wraps them as differentiable ops).  NumPy has none of them but i0 and dlcore does not depend on
SciPy, so each is computed here; the accuracy figures are measured against torch's float64
results in tests/test_special.py.

- erf, erfc, lgamma: the C library's (Python's math module, one call per element), so to the
  last bit or two; non-positive integers give lgamma = +inf as torch's.
- erfcx (exp(x^2) erfc(x), x >= 0): libm's erfc below 2, the Laplace continued fraction above.
- digamma: shifted to x >= 10 by the recurrence, then the asymptotic series to x^-14
  (relative error ~1e-16 away from the roots); reflection for x < 0.
- zeta(s, q) (Hurwitz) and polygamma: the Euler-Maclaurin sum, as Cephes (terms until q + N
  >= 10, then 12 Bernoulli corrections; relative error ~1e-15).
- erfinv / erfcinv / ndtri: Giles' single-precision guess, then Newton steps on erf (small
  arguments) or on log erfc (the rest), so to ~1e-15 relative, also for tails near +-1.
- gammainc (igamma/igammac): series / continued fraction, see its docstring.
- i0, i0e, i1, i1e: the power series below |x| = 30, the Hankel asymptotic series above
  (relative error ~1e-15); i0(+-inf) and i1(+-inf) are NaN, as torch's.
Everything runs under np.errstate: no RuntimeWarning reaches the user (torch gives none).
"""
import math
from fractions import Fraction

import numpy as np

_SQRTPI = math.sqrt(math.pi)
_ERF = np.frompyfunc(math.erf, 1, 1)
_ERFC = np.frompyfunc(math.erfc, 1, 1)


def _lgamma_scalar(v):
    try:
        return math.lgamma(v)
    except ValueError:       # poles at 0, -1, -2, ...: torch gives +inf
        return math.inf


_LGAMMA = np.frompyfunc(_lgamma_scalar, 1, 1)


def _libm(ufunc, x):
    x = np.asarray(x, np.float64)
    if x.size == 0:
        return np.empty(x.shape, np.float64)
    return np.asarray(ufunc(x), dtype=np.float64).reshape(x.shape)


def erf(x):
    return _libm(_ERF, x)


def erfc(x):
    return _libm(_ERFC, x)


def lgamma(x):
    return _libm(_LGAMMA, x)


def erfcx(x):
    """exp(x^2) erfc(x) for x >= 0 (finite where erfc underflows)."""
    x = np.asarray(x, np.float64)
    with np.errstate(all="ignore"):
        small = np.exp(np.minimum(x, 2.0) ** 2) * erfc(np.minimum(x, 2.0))
        z = np.maximum(x, 2.0)
        k = z.copy()
        for n in range(80, 0, -1):    # the continued fraction, evaluated from its tail
            k = z + (n / 2.0) / k
        big = 1.0 / (_SQRTPI * k)
        return np.where(x < 2.0, small, np.where(np.isinf(x), 0.0, big))


def digamma(x):
    x = np.asarray(x, np.float64)
    with np.errstate(all="ignore"):
        neg = x < 0
        y = np.where(neg, 1.0 - x, x)
        acc = np.zeros_like(y)
        for _ in range(10):
            low = y < 10
            acc -= np.where(low, 1.0 / y, 0.0)
            y = np.where(low, y + 1.0, y)
        y2 = 1.0 / (y * y)
        tail = y2 * (1 / 12 - y2 * (1 / 120 - y2 * (1 / 252 - y2 * (
            1 / 240 - y2 * (1 / 132 - y2 * (691 / 32760 - y2 / 12))))))
        out = np.log(y) - 0.5 / y - tail + acc
        out = np.where(neg, out - math.pi / np.tan(math.pi * x), out)
        out = np.where(neg & (x == np.floor(x)), np.nan, out)      # poles: NaN (torch)
        out = np.where(x == 0, np.where(np.signbit(x), np.inf, -np.inf), out)
        return np.where(np.isposinf(x), np.inf, out)


# (2j)! / B_2j for j = 1..12: the Euler-Maclaurin correction divisors
_BERNOULLI = [Fraction(1, 6), Fraction(-1, 30), Fraction(1, 42), Fraction(-1, 30),
              Fraction(5, 66), Fraction(-691, 2730), Fraction(7, 6), Fraction(-3617, 510),
              Fraction(43867, 798), Fraction(-174611, 330), Fraction(854513, 138),
              Fraction(-236364091, 2730)]
_EM_DIV = [float(math.factorial(2 * j + 2) / b) for j, b in enumerate(_BERNOULLI)]


def zeta(s, q):
    """The Hurwitz zeta function sum_k (k + q)^-s, torch.special.zeta's domain rules: inf at
    s = 1 and at non-positive integer q, NaN for s < 1 and for q < 0 with non-integer s."""
    s, q = np.broadcast_arrays(np.asarray(s, np.float64), np.asarray(q, np.float64))
    with np.errstate(all="ignore"):
        fin = np.isfinite(q) & np.isfinite(s)
        shift = np.where(fin, np.maximum(0.0, np.ceil(10.0 - q)), 0.0)
        total = np.zeros(s.shape)
        for k in range(int(shift.max()) if shift.size else 0):
            total += np.where(k < shift, (q + k) ** -s, 0.0)
        w = q + shift
        b = w ** -s
        total += b * w / (s - 1) + 0.5 * b
        a, k = 1.0, 0.0
        for div in _EM_DIV:
            a = a * (s + k)
            b = b / w
            total += a * b / div
            k += 1
            a = a * (s + k)
            b = b / w
            k += 1
        out = np.where((q <= 0) & (s != np.floor(s)), np.nan, total)
        out = np.where((q <= 0) & (q == np.floor(q)), np.inf, out)
        out = np.where(s < 1, np.nan, out)
        out = np.where(s == 1, np.inf, out)
        # s = +inf: q^-s decides alone (1 at q = 1, inf below); Cephes' NaN above, as torch
        out = np.where(np.isposinf(s) & (q > 0),
                       np.where(q == 1, 1.0, np.where(q < 1, np.inf, np.nan)), out)
        return np.where(np.isnan(s) | np.isnan(q), np.nan, out)


def polygamma(n, x):
    """The n-th derivative of digamma (n >= 0 an int)."""
    if n == 0:
        return digamma(x)
    sign = 1.0 if n % 2 else -1.0
    with np.errstate(all="ignore"):
        out = sign * math.factorial(n) * zeta(float(n + 1), x)
    return np.where(np.isposinf(x), 0.0, out)     # (zeta(s, inf) is NaN, as torch's)


def _giles(y):
    """Giles' single-precision erfinv (a start for Newton's steps), |y| < 1."""
    with np.errstate(all="ignore"):
        w = -np.log((1.0 - y) * (1.0 + y))
        a = w - 2.5
        p1 = 2.81022636e-08
        for c in (3.43273939e-07, -3.5233877e-06, -4.39150654e-06, 0.00021858087,
                  -0.00125372503, -0.00417768164, 0.246640727, 1.50140941):
            p1 = c + p1 * a
        b = np.sqrt(w) - 3.0
        p2 = -0.000200214257
        for c in (0.000100950558, 0.00134934322, -0.00367342844, 0.00573950773,
                  -0.0076224613, 0.00943887047, 1.00167406, 2.83297682):
            p2 = c + p2 * b
        return np.where(w < 5.0, p1, p2) * y


def _erfcinv_pos(c):
    """x >= 0 with erfc(x) = c, for c in (0, 1]: Newton on log erfc(x) - log c."""
    with np.errstate(all="ignore"):
        logc = np.log(c)
        # below c ~ 1e-6 the guess comes from erfc(x) ~ exp(-x^2) / (x sqrt(pi)) instead
        big = -logc
        tail = np.sqrt(np.maximum(big - 0.5 * np.log(np.maximum(big, 1.0)) - math.log(_SQRTPI),
                                  0.0))
        x = np.where(c < 1e-6, tail, np.maximum(_giles(1.0 - c), 0.0))
        for _ in range(5):
            ex = erfcx(x)
            x = np.maximum(x + (np.log(ex) - x * x - logc) * (_SQRTPI / 2) * ex, 0.0)
        return x


def erfinv(y):
    y = np.asarray(y, np.float64)
    with np.errstate(all="ignore"):
        ay = np.abs(y)
        small = ay < 0.5
        # |y| < 0.5: Newton on erf itself (1 - |y| would lose y's low bits)
        x = _giles(np.where(small, y, 0.0))
        for _ in range(3):
            x = x - (erf(x) - y) * (_SQRTPI / 2) * np.exp(x * x)
        big = np.copysign(_erfcinv_pos(np.where(small, 0.5, 1.0 - ay)), y)
        out = np.where(small, x, big)
        out = np.where(ay == 1, np.copysign(np.inf, y), out)
        return np.where((ay > 1) | np.isnan(y), np.nan, out)


def erfcinv(c):
    """x with erfc(x) = c, c in [0, 2]."""
    c = np.asarray(c, np.float64)
    with np.errstate(all="ignore"):
        low = c <= 1
        out = np.where(low, _erfcinv_pos(np.where(low, c, 1.0)),
                       -_erfcinv_pos(np.where(low, 1.0, 2.0 - c)))
        mid = np.abs(c - 1.0) < 0.5      # there 1 - c is exact: erfinv keeps the low bits
        out = np.where(mid, erfinv(np.where(mid, 1.0 - c, 0.0)), out)
        out = np.where(c == 0, np.inf, np.where(c == 2, -np.inf, out))
        return np.where((c < 0) | (c > 2) | np.isnan(c), np.nan, out)


def ndtr(x):
    return 0.5 * erfc(-np.asarray(x, np.float64) / math.sqrt(2))


def log_ndtr(x):
    x = np.asarray(x, np.float64)
    with np.errstate(all="ignore"):
        z = -x / math.sqrt(2)
        # left tail: log(erfc(z) / 2) = -z^2 + log(erfcx(z) / 2), finite where erfc underflows
        left = -z * z + np.log(0.5 * erfcx(np.maximum(z, 0.0)))
        right = np.log1p(-0.5 * erfc(x / math.sqrt(2)))
        out = np.where(x < 0, left, right)
        return np.where(np.isneginf(x), -np.inf, out)


def ndtri(p):
    p = np.asarray(p, np.float64)
    mid = np.abs(p - 0.5) < 0.25     # there 2p - 1 is exact, and erfinv keeps its low bits
    return np.where(mid, math.sqrt(2) * erfinv(np.where(mid, 2.0 * p - 1.0, 0.0)),
                    -math.sqrt(2) * erfcinv(np.where(mid, 1.0, 2.0 * p)))


def _bessel_i(nu, x, scaled):
    """I_nu(x) (exp(-|x|) I_nu(x) if scaled) for nu in (0, 1)."""
    x = np.asarray(x, np.float64)
    with np.errstate(all="ignore"):
        ax = np.abs(x)
        xs = np.minimum(ax, 30.0)
        q = xs * xs / 4
        term = (xs / 2) ** nu
        total = term.copy()
        for k in range(1, 90):
            term = term * q / (k * (k + nu))
            total += term
        series = total * np.exp(-xs) if scaled else total
        xl = np.maximum(ax, 30.0)
        term = np.ones_like(xl)
        asym = term.copy()
        for k in range(1, 40):
            term = term * ((2 * k - 1) ** 2 - 4 * nu * nu) / (k * 8 * xl)
            asym += term
        asym = asym / np.sqrt(2 * math.pi * xl)
        if not scaled:
            asym = asym * np.exp(xl)
        out = np.where(ax <= 30.0, series, asym)
        if nu == 1:
            out = np.copysign(out, x)
        if scaled:
            out = np.where(np.isinf(x), 0.0 if nu == 0 else np.copysign(0.0, x), out)
        else:
            out = np.where(np.isinf(x), np.nan, out)    # torch's i0(inf), i1(inf): NaN
        return np.where(np.isnan(x), np.nan, out)


def i0(x):
    return _bessel_i(0, x, False)


def i0e(x):
    return _bessel_i(0, x, True)


def i1(x):
    return _bessel_i(1, x, False)


def i1e(x):
    return _bessel_i(1, x, True)


def gammainc(a, x, upper=False):
    """The regularized incomplete gamma P(a, x) (Q(a, x) = 1 - P if upper): the power series
    where x < a + 1, the Legendre continued fraction (modified Lentz) elsewhere, each summed to
    double rounding (relative error ~1e-14 for a up to ~1e3, growing as a * eps for larger a
    through the prefactor exp(a log x - x - lgamma(a))).  Domain as torch's: NaN for a < 0 or
    x < 0 or a = x = 0; P(0, x > 0) = 1; P(a, inf) = 1; P(inf, x) = 0."""
    a, x = np.broadcast_arrays(np.asarray(a, np.float64), np.asarray(x, np.float64))
    with np.errstate(all="ignore"):
        ok = (a > 0) & (x > 0) & np.isfinite(a) & np.isfinite(x)
        aa, xx = np.where(ok, a, 1.0), np.where(ok, x, 1.0)
        log_pre = aa * np.log(xx) - xx - lgamma(aa)
        use_series = xx < aa + 1
        # series: P = x^a e^-x / Gamma(a + 1) * sum_n x^n / ((a + 1) ... (a + n))
        term = np.ones_like(aa) / aa
        total = term.copy()
        n = 0
        live = use_series & ok
        while live.any() and n < 100000:
            n += 1
            term = np.where(live, term * xx / (aa + n), term)
            total = np.where(live, total + term, total)
            live = live & (np.abs(term) > np.abs(total) * 1e-17)
        p_series = np.exp(log_pre) * total
        # continued fraction: Q = x^a e^-x / Gamma(a) * 1 / (x + 1 - a - 1(1 - a) / (x + 3 - a ...
        tiny = 1e-300
        b = xx + 1 - aa
        c = np.full_like(aa, 1 / tiny)
        d = 1 / np.where(b == 0, tiny, b)
        h = d.copy()
        i = 0
        live = ~use_series & ok
        while live.any() and i < 100000:
            i += 1
            an = -i * (i - aa)
            b = b + 2
            d = an * d + b
            d = 1 / np.where(np.abs(d) < tiny, tiny, d)
            c = b + an / c
            c = np.where(np.abs(c) < tiny, tiny, c)
            step = d * c
            h = np.where(live, h * step, h)
            live = live & (np.abs(step - 1) > 1e-16)
        q_cf = np.exp(log_pre) * h
        p = np.where(use_series, p_series, 1 - q_cf)
        q = np.where(use_series, 1 - p_series, q_cf)
        out = q if upper else p
        lo, hi = (1.0, 0.0) if upper else (0.0, 1.0)     # (P's value 0 and 1, or Q's)
        out = np.where((a == 0) & (x > 0), hi, out)
        out = np.where((x == 0) & (a > 0), lo, out)
        out = np.where(np.isposinf(x) & (a >= 0), hi, out)
        out = np.where(np.isposinf(a) & np.isfinite(x) & (x >= 0), lo, out)
        bad = (a < 0) | (x < 0) | ((a == 0) & (x == 0)) | np.isnan(a) | np.isnan(x)
        return np.where(bad, np.nan, out)
