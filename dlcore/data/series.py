"""Time series bundled inside the package (they work offline) and a generated seasonal series.

load_sunspots(): yearly sunspot numbers 1700-2008; load_co2(): weekly Mauna Loa CO2, March 1958
to December 2001 (sources and licences in dlcore/data/LICENSES.md);
make_seasonal_series(): a seeded synthetic series (trend + two harmonics + AR(1) noise).
"""
import lzma

import numpy as np

from .. import random as R
from .datasets import Bunch, data_file

__all__ = ["load_sunspots", "load_co2", "make_seasonal_series"]


def _read_two_columns(name):
    """(first column as str, second as float with NaN where empty) of a bundled csv.xz."""
    keys, values = [], []
    with lzma.open(data_file(name), "rt", encoding="ascii") as f:
        header = [h.strip().strip('"') for h in f.readline().strip().split(",")]
        for lineno, line in enumerate(f, start=2):
            line = line.strip()
            if not line:
                continue
            parts = line.split(",")
            if len(parts) != 2:
                raise ValueError("%s: line %d: expected 2 comma-separated fields, got %r"
                                 % (name, lineno, line))
            keys.append(parts[0].strip().strip('"'))
            values.append(float(parts[1]) if parts[1].strip() else np.nan)
    return header, keys, np.array(values, dtype=np.float64)


def load_sunspots():
    """Yearly mean sunspot numbers, 1700-2008 (309 values; the ~11-year solar cycle).

    Returns a Bunch with data (309,) float64 sunspot numbers, time (309,) int64 years, and
    DESCR; `target` is the same year index, so `values, years = load_sunspots()` unpacks.
    """
    header, keys, values = _read_two_columns("sunspots.csv.xz")
    years = np.array([int(float(k)) for k in keys], dtype=np.int64)
    if np.isnan(values).any() or len(values) != 309:
        raise ValueError("sunspots.csv.xz: expected 309 complete yearly values, got %d (%d "
                         "missing)" % (len(values), int(np.isnan(values).sum())))
    return Bunch(data=values, time=years, target=years, name=header[1],
                 DESCR=_SUNSPOTS_DESCR, filename=data_file("sunspots.csv.xz"))


def load_co2(interpolate=True):
    """Weekly atmospheric CO2 (ppmv) at Mauna Loa, 1958-03-29 to 2001-12-29 (2,284 weeks).

    59 weeks have no measurement.  With interpolate=True (the default) they are filled by linear
    interpolation between the neighbouring measured weeks, so the series is evenly spaced and
    complete; with interpolate=False they stay NaN.  Either way `missing` marks them.

    Returns a Bunch with data (2284,) float64, time (2284,) datetime64[D] (one row per week,
    no gaps), missing (2284,) bool, and DESCR; `values, dates = load_co2()` unpacks.
    """
    header, keys, values = _read_two_columns("co2.csv.xz")
    dates = np.array(["%s-%s-%s" % (k[:4], k[4:6], k[6:8]) for k in keys], dtype="datetime64[D]")
    if np.any(np.diff(dates) != np.timedelta64(7, "D")):
        raise ValueError("co2.csv.xz: the rows are not consecutive weeks")
    missing = np.isnan(values)
    if interpolate and missing.any():
        idx = np.arange(len(values))
        values = values.copy()
        values[missing] = np.interp(idx[missing], idx[~missing], values[~missing])
    return Bunch(data=values, time=dates, target=dates, missing=missing, name=header[1],
                 DESCR=_CO2_DESCR % (int(missing.sum()),
                                     "filled by linear interpolation" if interpolate
                                     else "left as NaN"),
                 filename=data_file("co2.csv.xz"))


def make_seasonal_series(n=1200, period=24, trend=0.002, noise=0.15, ar=0.8, generator=None):
    """A synthetic seasonal series of length n: a linear trend, a cycle of the given period with
    a second harmonic, and AR(1) noise e[t] = ar * e[t-1] + noise * z[t] (z standard normal),
    so departures from the cycle persist for a while, as in real series.

    Seeded through dl.manual_seed or `generator`; returns a float64 array (n,).
    """
    if n < 2 * period or period < 2:
        raise ValueError("make_seasonal_series: need period >= 2 and n >= 2 * period, got "
                         "n=%r, period=%r" % (n, period))
    t = np.arange(n, dtype=np.float64)
    phase = 2.0 * np.pi * t / period
    clean = trend * t + np.sin(phase) + 0.5 * np.sin(2.0 * phase + 0.8)
    if not -1 < ar < 1:
        raise ValueError("make_seasonal_series: ar must be in (-1, 1), got %r" % (ar,))
    z = noise * R.rng(generator).standard_normal(n)
    e = np.empty(n)
    e[0] = z[0] / np.sqrt(1.0 - ar * ar)  # start in the stationary distribution
    for i in range(1, n):
        e[i] = ar * e[i - 1] + z[i]
    return clean + e


_SUNSPOTS_DESCR = """Yearly sunspot numbers, 1700-2008
----------------------------------
309 yearly means of the daily sunspot number from the US National Geophysical Data Center
(NOAA).  Public domain.  The bundled copy is statsmodels' datasets/sunspots/sunspots.csv.
The series follows the ~11-year solar cycle with varying amplitude."""

_CO2_DESCR = """Mauna Loa weekly atmospheric CO2, 1958-2001
--------------------------------------------
Weekly averages (ppmv) of continuous measurements at Mauna Loa Observatory, Hawaii
(C. D. Keeling and T. P. Whorf, Scripps Institution of Oceanography, via CDIAC).  Public domain.
The bundled copy is statsmodels' datasets/co2/co2.csv.  A rising trend with a yearly cycle.
%d weeks have no measurement; here they are %s (see `missing`)."""
