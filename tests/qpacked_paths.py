"""Run one packed quantised product on every kernel path this CPU has (each ISA, with and
without VNNI), for the tests that check the paths give the same integer sums."""
import pytest

from dlcore import _C


def outputs_on_every_path(product, kernel_name):
    """[product() on each path], {kernel names seen}; the ISA and VNNI choice restored."""
    prev, prev_vnni = _C.get_isa(), _C.qgemv_packed_allow_vnni(False)
    outs, names = [], set()
    try:
        for vnni in (False, True):
            _C.qgemv_packed_allow_vnni(vnni)
            for isa in _C.supported_isas():
                _C.set_isa(isa)
                names.add(kernel_name())
                outs.append(product())
    finally:
        _C.set_isa(prev)
        _C.qgemv_packed_allow_vnni(prev_vnni)
    return outs, names


PATHS = ["generic", "avx2", "avx512", "avx512-vnni"]


def on_path(param, kernel_name):
    """Generator behind the tests' `path` fixture: the ISA and VNNI choice of `param` set
    (skipping where the CPU lacks that tile) while the test runs, restored after."""
    isa = param.split("-")[0]
    if isa not in _C.supported_isas():
        pytest.skip("the CPU has no %s" % isa)
    prev_isa, prev_vnni = _C.get_isa(), _C.qgemv_packed_allow_vnni(param != "avx512")
    _C.set_isa(isa)
    try:
        if kernel_name() != param:
            pytest.skip("the CPU has no %s" % param)
        yield param
    finally:
        _C.set_isa(prev_isa)
        _C.qgemv_packed_allow_vnni(prev_vnni)
