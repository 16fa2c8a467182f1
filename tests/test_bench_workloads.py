"""dlcore.bench: the shared workloads check dlcore against their NumPy references (and catch a
wrong kernel before it is timed), threads go through dlcore.runtime, the FMA-peak probe's
machine code is what an assembler writes."""
import io

import numpy as np
import pytest

import dlcore as dl
from dlcore import bench, cli
from dlcore.bench import _peak, attention, conv, elementwise, gan, gemm, optim, rnn

FAMILIES = {"gemm": gemm, "conv": conv, "rnn": rnn, "attention": attention,
            "elementwise": elementwise, "optim": optim}


def _smallest(family):
    """The quick cases with the least work (the first of each kind is enough here)."""
    cs = family.cases(quick=True)
    if family is gemm:
        return [c for c in cs if c["case"] in ("square 64", "linear 1x768x3072")] + \
            [c for c in cs if c["fused"]][:1]
    if family is conv:
        return [c for c in cs if c["case"].startswith(("conv3x3", "maxpool"))]
    if family is attention:
        return [c for c in cs if c["case"].endswith("causal fwd+bwd") or c["op"] == "layernorm"]
    return cs


@pytest.mark.parametrize("name", sorted(FAMILIES))
def test_every_quick_case_matches_its_numpy_reference(name):
    family = FAMILIES[name]
    torch = bench.get_torch()
    for c in _smallest(family):
        w = family.workload(c, torch)
        want = {"dlcore", "numpy"} | ({"torch"} if torch is not None else set())
        assert want <= set(w.sides) <= set(family.SIDES), (c["case"], w.sides)
        assert w.check() is w


def test_gan_check_compares_the_models_with_torch(torch):
    (c,) = gan.cases(quick=True)
    w = gan.workload(c, torch)
    assert set(w.sides) == {"dlcore", "torch"}
    w.check()


def test_a_wrong_kernel_is_caught_before_timing(monkeypatch):
    real = gemm.dl_gemm

    def off_by_a_little(a, b, out, **kw):
        real(a, b, out, **kw)
        out.flat[7] += 1e-2 * np.abs(out).max()      # one element, 1% of the largest
        return out
    monkeypatch.setattr(gemm, "dl_gemm", off_by_a_little)
    c = gemm.cases(quick=True)[0]
    with pytest.raises(bench.MismatchError, match="gemm square 64 .*differs from the NumPy"):
        gemm.workload(c).check()
    with pytest.raises(bench.MismatchError):
        gemm.run(threads=(1,), quick=True)
    out = io.StringIO()
    assert cli.main(["bench", "gemm", "--quick", "--threads", "1"], out=out) == 1
    assert "FAILED: MismatchError" in out.getvalue()


def test_a_wrong_gradient_is_caught(monkeypatch):
    import dlcore.nn.functional as F
    real = F.layer_norm

    def skewed_input_grad(x, *args, **kw):
        # the same output, but 1e-3 x the output gradient added to the input's gradient
        return real(x, *args, **kw) + 1e-3 * (x - x.detach())
    monkeypatch.setattr(F, "layer_norm", skewed_input_grad)
    c = [c for c in attention.cases(quick=True) if c["case"].startswith("layernorm")
         and c["bwd"]][0]
    with pytest.raises(bench.MismatchError, match="layernorm .*: input grad differs"):
        attention.workload(c).check()
    c_fwd = [c for c in attention.cases(quick=True) if c["case"].startswith("layernorm")][0]
    attention.workload(c_fwd).check()          # the forward alone is still right


def test_assert_close():
    bench.assert_close("c", "x", np.ones(3, np.float32), np.ones(3), 1e-6)
    bench.assert_close("c", "x", [1.0, 2.0 + 1e-7], [1.0, 2.0], 1e-7)
    with pytest.raises(bench.MismatchError, match="c: x differs .* by 0.001"):
        bench.assert_close("c", "x", [1.0, 2.001], [1.0, 2.0], 1e-4)
    with pytest.raises(bench.MismatchError, match="shape"):
        bench.assert_close("c", "x", np.ones(3), np.ones(4), 1.0)
    with pytest.raises(bench.MismatchError, match="non-finite"):
        bench.assert_close("c", "x", [np.nan], [1.0], 1.0)
    bench.assert_close("c", "x", dl.ones(2), np.ones(2), 0.0)      # Tensors are unwrapped


def test_threads_scope_goes_through_the_runtime():
    from dlcore.runtime import get_num_threads
    before = get_num_threads()
    other = 1 if before != 1 else 2
    with bench.threads(other):
        assert get_num_threads() == other
    assert get_num_threads() == before


def test_bench_and_benchmarks_never_call_the_extension():
    import pathlib
    import re
    root = pathlib.Path(__file__).resolve().parent.parent
    files = sorted((root / "dlcore" / "bench").glob("*.py")) + sorted(
        (root / "benchmarks").glob("*.py"))
    offenders = [f.name for f in files if re.search(r"\b_C\b", f.read_text())]
    assert offenders == []


def test_param_id():
    assert bench.param_id({"case": "linear+bias+relu 512x768x768"}) == \
        "linear+bias+relu_512x768x768"
    assert bench.param_id("numpy") == "numpy"


# the bytes GNU as 2.42 writes for the probe loops (objdump -d of the .s in _peak's docstring)
_AS_ZMM = bytes.fromhex(
    "c5f857c0c5f057c9c5e857d2c5e057dbc5d857e4c5d057edc5c857f6c5c057ffc44138 57c0c44130 57c9"
    "c44128 57d2c44120 57dbc44118 57e4c44110 57ed62d21d48b8c562d21d48b8cd62d21d48b8d562d21d"
    "48b8dd62d21d48b8e562d21d48b8ed62d21d48b8f562d21d48b8fd62521d48b8c562521d48b8cd62521d48"
    "b8d562521d48b8dd48ffcf75b3c5f877c3".replace(" ", ""))
_AS_YMM = _AS_ZMM[:62] + bytes.fromhex(
    "c4c21db8c5c4c21db8cdc4c21db8d5c4c21db8ddc4c21db8e5c4c21db8edc4c21db8f5c4c21db8fdc4421d"
    "b8c5c4421db8cdc4421db8d5c4421db8dd48ffcf75bfc5f877c3")


def test_fma_probe_code_is_what_the_assembler_writes():
    assert _peak.loop_code(_peak._fma_zmm) == _AS_ZMM
    assert _peak.loop_code(_peak._fma_ymm) == _AS_YMM


def test_fma_peak_is_measured_or_explained():
    gflops, how = _peak.fma_peak()
    assert isinstance(how, str) and how
    if gflops is not None:
        assert np.isfinite(gflops) and gflops > 0 and "measured" in how
    rows = [dict(case="square 64", threads=1, dlcore_ms=1.0, numpy_ms=1.0, torch_ms=None,
                 ratio_numpy=1.0, ratio_torch=None, gflops=1.0,
                 peak_frac=None if gflops is None else 1.0 / gflops)]
    assert "peak = fraction of" in gemm.format_table(rows)
