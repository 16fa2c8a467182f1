"""Every nn module dlcore has, on PyTorch's ModuleInfo inputs (module_db), against torch.

Training and eval mode (where they differ), float32 and float64: outputs, the buffers forward
updates, input and parameter gradients, with torch's state_dict loaded into dlcore's module.
The harness is tests/moduleinfo_support.py.  By default each (module, dtype, mode) runs a
deterministic subset of its inputs (every k-th, at most INPUTS_PER_MODULE);
DLCORE_OPINFO_FULL=1 runs them all.
"""
import os

import pytest

pytest.importorskip("torch")
pytest.importorskip("expecttest")  # torch.testing._internal imports it

import moduleinfo_support as M  # noqa: E402

FULL = os.environ.get("DLCORE_OPINFO_FULL") == "1"
INPUTS_PER_MODULE = None if FULL else 6

COVERED, NOT_EXPOSED = M.covered_modules()
TALLY = {}


def _summary_line():
    return TALLY and "ModuleInfo: %d modules covered, %d not exposed; %s inputs: %s" % (
        len(COVERED), len(NOT_EXPOSED), "all" if FULL else "subset",
        ", ".join("%s %d" % kv for kv in sorted(TALLY.items())))


_summary = M.summary_fixture(_summary_line)


@pytest.mark.parametrize("dtype", M.DTYPES, ids=lambda d: str(d)[6:])
@pytest.mark.parametrize("info,cls", COVERED, ids=[i.name for i, _ in COVERED])
def test_moduleinfo_inputs(info, cls, dtype):
    failures = M.run_module(info, cls, dtype, TALLY, limit=INPUTS_PER_MODULE)
    assert not failures, "\n".join(failures)


def test_moduleinfo_covers_the_modules_dlcore_is_known_to_have():
    names = {i.name for i, _ in COVERED}
    for name in ("nn.Linear", "nn.Conv2d", "nn.LSTM", "nn.LayerNorm", "nn.BatchNorm2d"):
        assert name in names, name
