"""Observers: modules that watch the values passing through them during calibration and then
choose quantization parameters (torch.ao.quantization.observer's names and meaning).

- MinMaxObserver: the running min and max of activations -> u8 affine (scale, zero point)
  covering [min(lo, 0), max(hi, 0)].
- MovingAverageMinMaxObserver: the same over an exponential moving average of each batch's
  min and max (averaging_constant 0.01 as torch), less swayed by one outlier batch.
- HistogramObserver: a histogram of all values seen; the range is then narrowed to the one
  whose expected squared quantization error (rounding inside, clipping outside) is least.
- PerChannelMinMaxObserver: per output channel symmetric int8 for weights (scale =
  max|w| / 127), what dl.nn.quantized.Conv2d / Linear store.
Each forward returns its input unchanged.

reduce_range=True (torch's argument) maps the chosen range onto codes 0..127 instead of 0..255:
the layers fed by those activations take the AVX2 7-bit GEMM tile (dlcore.ops.qtensor).
"""
import numpy as np

from ..nn.modules.module import Module
from ..ops.qtensor import choose_qparams
from ..tensor_base import TensorBase

__all__ = ["ObserverBase", "MinMaxObserver", "MovingAverageMinMaxObserver",
           "HistogramObserver", "PerChannelMinMaxObserver", "PlaceholderObserver"]


def _array(x):
    a = x._data if isinstance(x, TensorBase) else x
    if not isinstance(a, np.ndarray):
        raise TypeError("observer: expected a float Tensor, got %s" % type(x).__name__)
    return a


class ObserverBase(Module):
    """The shared `with_args` factory and the calculate_qparams contract."""

    @classmethod
    def with_args(cls, **kwargs):
        def make():
            return cls(**kwargs)
        make.observer_class = cls
        return make

    def calculate_qparams(self):
        raise NotImplementedError

    def _require_seen(self):
        if not self.seen:
            raise RuntimeError("%s: no values observed; run calibration batches through the "
                               "prepared model before convert" % type(self).__name__)


class MinMaxObserver(ObserverBase):
    def __init__(self, dtype=None, qscheme=None, reduce_range=False):
        super().__init__()
        self.min_val, self.max_val, self.seen = np.inf, -np.inf, False
        self.reduce_range = bool(reduce_range)

    def _update(self, lo, hi):
        self.min_val, self.max_val = min(self.min_val, lo), max(self.max_val, hi)

    def forward(self, x):
        a = _array(x)
        if a.size:
            lo, hi = float(a.min()), float(a.max())
            if not (np.isfinite(lo) and np.isfinite(hi)):
                raise ValueError("%s: observed NaN or Inf; the float model's activations "
                                 "must be finite to be quantized" % type(self).__name__)
            self._update(lo, hi)
            self.seen = True
        return x

    def calculate_qparams(self):
        """(scale, zero_point) for u8 activations."""
        self._require_seen()
        return self._qparams(self.min_val, self.max_val)

    def _qparams(self, lo, hi):
        return choose_qparams(lo, hi, self.reduce_range)

    def extra_repr(self):
        return "min_val=%g, max_val=%g" % (self.min_val, self.max_val)


class MovingAverageMinMaxObserver(MinMaxObserver):
    def __init__(self, averaging_constant=0.01, dtype=None, qscheme=None, reduce_range=False):
        super().__init__(dtype, qscheme, reduce_range)
        self.averaging_constant = float(averaging_constant)

    def _update(self, lo, hi):
        if not self.seen:
            self.min_val, self.max_val = lo, hi
            return
        c = self.averaging_constant
        self.min_val += c * (lo - self.min_val)
        self.max_val += c * (hi - self.max_val)


class HistogramObserver(MinMaxObserver):
    """Keeps a `bins`-bin histogram over the widest range seen (re-binned as it grows) and
    picks the sub-range [lo, hi] that minimizes the expected squared error of u8 quantization:
    width^2 / 12 per value inside (rounding, width = range / 255, or / 127 with reduce_range),
    the squared distance to the range for values outside (clipping)."""

    def __init__(self, bins=2048, dtype=None, qscheme=None, reduce_range=False):
        super().__init__(dtype, qscheme, reduce_range)
        self.bins = int(bins)
        self.hist = np.zeros(self.bins, np.float64)

    def forward(self, x):
        a = _array(x)
        if not a.size:
            return x
        lo, hi = float(a.min()), float(a.max())
        if not (np.isfinite(lo) and np.isfinite(hi)):
            raise ValueError("HistogramObserver: observed NaN or Inf")
        lo, hi = min(lo, 0.0), max(hi, 0.0)
        if self.seen and (lo < self.min_val or hi > self.max_val):
            # re-bin the old counts onto the wider range by their bin centres
            nlo, nhi = min(lo, self.min_val), max(hi, self.max_val)
            centres = self.min_val + (np.arange(self.bins) + 0.5) * (
                (self.max_val - self.min_val) / self.bins)
            old = self.hist
            self.hist = np.histogram(centres, self.bins, (nlo, nhi), weights=old)[0]
            self.min_val, self.max_val = nlo, nhi
        elif not self.seen:
            self.min_val, self.max_val = lo, hi
        if self.max_val > self.min_val:
            self.hist += np.histogram(a, self.bins, (self.min_val, self.max_val))[0]
        self.seen = True
        return x

    def calculate_qparams(self):
        self._require_seen()
        lo0, hi0 = self.min_val, self.max_val
        if not hi0 > lo0:
            return self._qparams(lo0, hi0)
        bw = (hi0 - lo0) / self.bins
        c = lo0 + (np.arange(self.bins) + 0.5) * bw
        h = self.hist
        # prefix sums of count, count*c, count*c^2 give each candidate's clipping error in O(1)
        H = np.concatenate([[0.0], np.cumsum(h)])
        S1 = np.concatenate([[0.0], np.cumsum(h * c)])
        S2 = np.concatenate([[0.0], np.cumsum(h * c * c)])
        # candidates: the range from bin edge i to bin edge bins - j, on a 129-point grid
        k = np.unique(np.linspace(0, self.bins - 1, 129).astype(int))
        i, j = k[:, None], k[None, :]
        e = self.bins - j
        lo, hi = lo0 + i * bw, lo0 + e * bw
        ok = e > i
        below = lo * lo * H[i] - 2 * lo * S1[i] + S2[i]
        above = (S2[-1] - S2[e]) - 2 * hi * (S1[-1] - S1[e]) + hi * hi * (H[-1] - H[e])
        width = (np.maximum(hi, 0.0) - np.minimum(lo, 0.0)) / (
            127.0 if self.reduce_range else 255.0)
        err = np.where(ok, (H[e] - H[i]) * width * width / 12.0 + below + above, np.inf)
        a, b = np.unravel_index(np.argmin(err), err.shape)
        return self._qparams(float(lo[a, 0]), float(hi[0, b]))


class PerChannelMinMaxObserver(ObserverBase):
    """Symmetric int8 per channel along ch_axis (for weights)."""

    def __init__(self, ch_axis=0, dtype=None, qscheme=None):
        super().__init__()
        self.ch_axis, self.amax, self.seen = int(ch_axis), None, False

    def forward(self, x):
        a = _array(x)
        axes = tuple(d for d in range(a.ndim) if d != self.ch_axis % a.ndim)
        m = np.abs(a).max(axis=axes) if a.size else np.zeros(a.shape[self.ch_axis])
        self.amax = m if self.amax is None else np.maximum(self.amax, m)
        self.seen = True
        return x

    def calculate_qparams(self):
        """(scales float32 (C,), zero points int64 (C,) all 0)."""
        self._require_seen()
        s = np.where(self.amax > 0, self.amax / 127.0, 1.0).astype(np.float32)
        return s, np.zeros(s.shape, np.int64)


class PlaceholderObserver(ObserverBase):
    """Observes nothing (for layers that keep their input's parameters)."""

    def forward(self, x):
        return x
