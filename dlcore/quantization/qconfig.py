"""QConfig: which observer makes the activation and the weight quantization parameters
(torch.ao.quantization.QConfig / get_default_qconfig)."""
from collections import namedtuple

import numpy as np

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


# torch's reduce_range per backend (torch 2.13 torch/ao/quantization/qconfig.py,
# get_default_qconfig: HistogramObserver.with_args(reduce_range=True) for 'x86' and 'fbgemm',
# False for 'onednn' and 'qnnpack'); 'minmax' and 'moving_average' are dlcore's own names
DEFAULT_REDUCE_RANGE = {"x86": True, "fbgemm": True, "onednn": False,
                        "minmax": False, "moving_average": False}


def get_default_qconfig(backend="x86", reduce_range=None):
    """'x86' / 'fbgemm' / 'onednn': histogram-calibrated u8 activations, per-channel int8
    weights; 'minmax': plain min/max activations; 'moving_average': the moving average of
    batch min/max.

    reduce_range: activations on codes 0..127 instead of 0..255.  None (the default) takes
    torch's choice for the backend (DEFAULT_REDUCE_RANGE): True for 'x86' and 'fbgemm' (one bit
    less activation precision, so that on AVX2 CPUs without VNNI the GEMM runs the vpmaddubsw
    tile), False for 'onednn', 'minmax' and 'moving_average'.  True / False choose explicitly
    (reduce_range=False: full 8-bit codes, exact on every kernel; docs/quantization.md has the
    measured cost and gain of each)."""
    acts = {"x86": HistogramObserver, "fbgemm": HistogramObserver, "onednn": HistogramObserver,
            "minmax": MinMaxObserver, "moving_average": MovingAverageMinMaxObserver}
    if backend not in acts:
        raise ValueError("get_default_qconfig: backend must be one of %s, got %r"
                         % (sorted(acts), backend))
    if reduce_range is None:
        reduce_range = DEFAULT_REDUCE_RANGE[backend]
    elif not isinstance(reduce_range, (bool, np.bool_)):
        raise TypeError("get_default_qconfig: reduce_range must be None, True or False, got %r"
                        % (reduce_range,))
    act = acts[backend].with_args(reduce_range=True) if reduce_range else acts[backend]
    return QConfig(activation=act, weight=PerChannelMinMaxObserver)
