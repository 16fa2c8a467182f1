"""QConfig: which observer makes the activation and the weight quantization parameters
(torch.ao.quantization.QConfig / get_default_qconfig)."""
from collections import namedtuple

from .observer import (MinMaxObserver, HistogramObserver, PerChannelMinMaxObserver,
                       MovingAverageMinMaxObserver)

__all__ = ["QConfig", "get_default_qconfig", "default_qconfig", "default_per_channel_qconfig"]


class QConfig(namedtuple("QConfig", ["activation", "weight"])):
    """activation / weight: callables making a fresh observer (an observer class or
    `Observer.with_args(...)`)."""

    def __new__(cls, activation, weight):
        for name, v in (("activation", activation), ("weight", weight)):
            if not callable(v):
                raise TypeError("QConfig: %s must be a callable making an observer (e.g. "
                                "MinMaxObserver or MinMaxObserver.with_args(...)), got %r"
                                % (name, v))
        return super().__new__(cls, activation, weight)


default_qconfig = QConfig(activation=MinMaxObserver, weight=PerChannelMinMaxObserver)
default_per_channel_qconfig = default_qconfig


def get_default_qconfig(backend="x86", reduce_range=False):
    """'x86' / 'fbgemm' / 'onednn': histogram-calibrated u8 activations, per-channel int8
    weights; 'minmax': plain min/max activations; 'moving_average': the moving average of
    batch min/max.

    reduce_range=True: activations on codes 0..127 (torch's x86/fbgemm default; its onednn
    one is False), which on AVX2 CPUs without VNNI runs the 7-bit GEMM tile (vpmaddubsw).
    dlcore's default is False on every backend: the kernels are exact on full-range codes
    everywhere, so the bit is a speed option for AVX2, not a correctness need
    (docs/quantization.md: its measured cost and gain)."""
    acts = {"x86": HistogramObserver, "fbgemm": HistogramObserver, "onednn": HistogramObserver,
            "minmax": MinMaxObserver, "moving_average": MovingAverageMinMaxObserver}
    if backend not in acts:
        raise ValueError("get_default_qconfig: backend must be one of %s, got %r"
                         % (sorted(acts), backend))
    act = acts[backend].with_args(reduce_range=True) if reduce_range else acts[backend]
    return QConfig(activation=act, weight=PerChannelMinMaxObserver)
