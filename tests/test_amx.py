"""Intel AMX for the int8 and bf16 GEMMs (csrc/amx.c, csrc/*_amx.c; docs/quantization.md).

Three groups:
- here on any CPU: the reporting (dlcore.runtime.amx_status, kernel_names()['amx'], `dlcore
  info`), DLCORE_AMX=0 and allow_amx(False) keeping the GEMMs on the vector tiles, and no AMX
  claimed where /proc/cpuinfo has no amx_tile;
- the real AMX sources run on a C model of the tile instructions (tests/amx_emulation: compiled
  here with gcc, under AddressSanitizer where it links), which checks their shapes, edges, the
  per-thread configuration and release, the self-check and the fallback;
- on a CPU whose GEMMs do run on AMX: the AMX path against NumPy and against the AVX-512 tiles
  on odd sizes, 1 and 2 threads, every epilogue (skipped elsewhere, with the status as reason).
"""
import math
import os
import re
import shutil
import subprocess
import sys
import tempfile

import numpy as np
import pytest

import dlcore as dl
from dlcore import _C, cli
from dlcore.ops.qmatmul import kernel_names

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
STATUS = re.compile(r"^(used|present \(.+\)|absent \(.+\)|refused by the OS \(.+\)|"
                    r"off \(DLCORE_AMX=0\)|disabled by the self-check \(.+\)|disabled \(.+\))$")


def cpu_flags():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("flags"):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return None


def amx_used(kind):
    return dl.runtime.amx_status()[kind] == "used"


# ---- reporting, everywhere -----------------------------------------------------------------
def test_status_is_one_of_the_documented_answers():
    st = dl.runtime.amx_status()
    assert set(st) == {"int8", "bf16"}
    for kind, text in st.items():
        assert STATUS.match(text), (kind, text)
    assert kernel_names()["amx"] == st


def test_status_rejects_an_unknown_kind():
    with pytest.raises(ValueError, match="kind must be 'int8' or 'bf16', got 'fp8'"):
        _C.amx_status("fp8")


def test_no_amx_claimed_without_amx_tile_in_cpuinfo():
    flags = cpu_flags()
    if flags is None:
        pytest.skip("no /proc/cpuinfo")
    if "amx_tile" in flags:
        pytest.skip("this CPU has AMX")
    st = dl.runtime.amx_status()
    want = "off (DLCORE_AMX=0)" if os.environ.get("DLCORE_AMX") == "0" else "absent ("
    for text in st.values():
        assert text.startswith(want), text
    for isa in dl.runtime.supported_isas():
        prev = dl.runtime.get_isa()
        dl.runtime.set_isa(isa)
        try:
            k = kernel_names()
            assert k["int8"] != "amx" and k["bf16"] != "amx"
        finally:
            dl.runtime.set_isa(prev)


def test_allow_amx_false_keeps_the_vector_tiles():
    prev = dl.runtime.allow_amx(False)
    try:
        assert dl.runtime.allow_amx(False) is False
        k = kernel_names()
        assert k["int8"] != "amx" and k["bf16"] != "amx"
        for text in k["amx"].values():
            assert text != "used"
            if text.startswith("present"):
                assert "turned off" in text
    finally:
        dl.runtime.allow_amx(prev)
    assert dl.runtime.allow_amx(prev) == prev


def test_info_has_an_amx_line():
    import io
    out = io.StringIO()
    assert cli.main(["info"], out=out) == 0
    lines = [l for l in out.getvalue().splitlines() if l.startswith("AMX")]
    assert len(lines) == 1
    st = dl.runtime.amx_status()
    assert st["int8"] in lines[0] and st["bf16"] in lines[0]


def test_dlcore_amx_0_turns_it_off_and_the_gemms_still_agree():
    code = (
        "import numpy as np, dlcore as dl\n"
        "from dlcore import _C\n"
        "from dlcore.ops.qmatmul import kernel_names\n"
        "k = kernel_names(); print(k['amx']['int8']); print(k['amx']['bf16'])\n"
        "print(k['int8']); print(k['bf16'])\n"
        "rng = np.random.default_rng(0)\n"
        "A = rng.integers(0, 256, (37, 67)).astype(np.uint8)\n"
        "W = rng.integers(-128, 128, (35, 67)).astype(np.int8)\n"
        "packed, colsum = _C.u8s8_pack(W)\n"
        "q = np.zeros((37, _C.u8s8_kpad(67)), np.uint8); q[:, :67] = A\n"
        "raw = np.empty((37, 35), np.int32)\n"
        "_C.u8s8_gemm(q, packed, colsum, 67, np.ones(37, np.float32), np.zeros(37, np.int32),\n"
        "             np.ones(35, np.float32), out=np.empty((37, 35), np.float32), raw=raw)\n"
        "print(bool((raw == A.astype(np.int64) @ W.astype(np.int64).T).all()))\n")
    env = dict(os.environ, DLCORE_AMX="0")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=300, env=env, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    amx_int8, amx_bf16, k_int8, k_bf16, exact = proc.stdout.split("\n")[:5]
    assert amx_int8 == amx_bf16 == "off (DLCORE_AMX=0)"
    assert k_int8 != "amx" and k_bf16 != "amx"
    assert exact == "True"


# ---- the AMX sources on a model of the tile instructions -----------------------------------
def _compiler():
    for cc in (os.environ.get("CC"), "gcc", "cc"):
        if cc and shutil.which(cc):
            return cc
    return None


@pytest.mark.slow
def test_amx_kernels_on_the_tile_model():
    """Compiles csrc's AMX tile, configuration, drivers and self-check against the model in
    tests/amx_emulation and runs its checks: exact int8 sums and equal epilogue outputs to the
    vector path, bf16 within the float32 bound, M 1..37 and edges in N and K, 1 and 2 threads,
    every thread's tiles released after each call, and the fallback when a configuration does
    not read back.  AddressSanitizer (where it links) catches a tile reading or writing
    outside the arrays."""
    cc = _compiler()
    if cc is None:
        pytest.skip("no C compiler to build the tile model")
    srcs = [os.path.join(HERE, "amx_emulation", f) for f in ("emu.c", "int8.c", "bf16.c")]
    base = [cc, "-O2", "-g", "-fopenmp", "-Wall", "-Wno-unknown-pragmas",
            "-Wno-unused-function", "-I" + os.path.join(ROOT, "csrc"),
            "-I" + os.path.join(ROOT, "csrc", "include"), "-DDL_HAVE_OPENMP=1",
            "-DDL_ISA_SUFFIX=_generic"] + srcs + ["-lm"]
    tmp = tempfile.mkdtemp()
    try:
        exe = os.path.join(tmp, "amx_model")
        sanitize = ["-fsanitize=address,undefined", "-fno-omit-frame-pointer"]
        built = subprocess.run(base + sanitize + ["-o", exe], capture_output=True, text=True)
        if built.returncode != 0:
            built = subprocess.run(base + ["-o", exe], capture_output=True, text=True)
        if built.returncode != 0:
            if "immintrin" in built.stderr or "fopenmp" in built.stderr:
                pytest.skip("the compiler cannot build the model: %s" % built.stderr[-300:])
            pytest.fail("building the tile model failed:\n%s" % built.stderr[-3000:])
        env = dict(os.environ, OMP_WAIT_POLICY="passive", ASAN_OPTIONS="detect_leaks=1")
        env.pop("LD_PRELOAD", None)
        proc = subprocess.run([exe], capture_output=True, text=True, timeout=900, env=env)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-4000:]
    assert proc.stdout.strip().endswith("ALL OK"), proc.stdout


# ---- on AMX hardware -----------------------------------------------------------------------
def _need(kind):
    if not amx_used(kind):
        pytest.skip("needs a CPU whose %s GEMM runs on AMX (amx_tile amx_int8 amx_bf16 in "
                    "/proc/cpuinfo, the Linux tile permission, the self-check); here: %s"
                    % (kind, dl.runtime.amx_status()[kind]))


@pytest.fixture
def amx_int8():
    _need("int8")


@pytest.fixture
def amx_bf16():
    _need("bf16")


def _gelu64(x):
    return 0.5 * x * (1.0 + np.vectorize(math.erf)(x / math.sqrt(2.0)))


def _int8_case(rng, M, N, K):
    A = rng.integers(0, 256, (M, K)).astype(np.uint8)
    W = rng.integers(-128, 128, (N, K)).astype(np.int8)
    A[:, ::7] = 255
    W[:, ::5] = -128
    packed, colsum = _C.u8s8_pack(W)
    q = np.zeros((M, _C.u8s8_kpad(K)), np.uint8)
    q[:, :K] = A
    return A, W, q, packed, colsum


def _int8_run(q, packed, colsum, K, M, N, a_s, a_zp, w_s, bias, act):
    out = np.full((M, N), np.nan, np.float32)
    raw = np.empty((M, N), np.int32)
    _C.u8s8_gemm(q, packed, colsum, K, a_s, a_zp, w_s, bias=bias, act=act, out=out, raw=raw)
    u8 = np.empty((M, N), np.uint8)
    _C.u8s8_gemm(q, packed, colsum, K, a_s, a_zp, w_s, bias=bias, act=act, out_u8=u8,
                 out_scale=0.05, out_zp=9)
    return out, raw, u8


AMX_SIZES = [(M, N, K) for M in range(1, 38) for (N, K) in [(13, 67)]] + \
    [(M, N, K) for M in (1, 5, 16, 17, 33, 37) for (N, K) in [(35, 130), (99, 1101), (17, 63)]]


@pytest.mark.parametrize("M,N,K", AMX_SIZES)
def test_amx_int8_exact_and_equal_to_the_vector_tiles(M, N, K, amx_int8, threads, rng):
    A, W, q, packed, colsum = _int8_case(rng, M, N, K)
    a_s = rng.uniform(1e-3, 2e-2, M).astype(np.float32)
    a_zp = rng.integers(0, 256, M).astype(np.int32)
    w_s = rng.uniform(1e-3, 2e-2, N).astype(np.float32)
    bias = rng.standard_normal(N).astype(np.float32)
    exact = A.astype(np.int64) @ W.astype(np.int64).T
    xd = (A.astype(np.float64) - a_zp[:, None]) * a_s[:, None]
    wd = W.astype(np.float64) * w_s[:, None]
    for act in ("none", "relu", "gelu"):
        out, raw, u8 = _int8_run(q, packed, colsum, K, M, N, a_s, a_zp, w_s, bias, act)
        np.testing.assert_array_equal(raw, exact)
        ref = xd @ wd.T + bias
        ref = {"none": ref, "relu": np.maximum(ref, 0), "gelu": _gelu64(ref)}[act]
        scale = np.abs(xd) @ np.abs(wd).T + np.abs(bias)
        assert np.all(np.abs(out - ref) <= 2e-6 * scale + 1e-6)
        prev = dl.runtime.allow_amx(False)
        try:
            assert _C.u8s8_kernel_name() != "amx"
            vout, vraw, vu8 = _int8_run(q, packed, colsum, K, M, N, a_s, a_zp, w_s, bias, act)
        finally:
            dl.runtime.allow_amx(prev)
        # the same integer sums through the same epilogue: bit for bit
        np.testing.assert_array_equal(raw, vraw)
        np.testing.assert_array_equal(out.view(np.uint32), vout.view(np.uint32))
        np.testing.assert_array_equal(u8, vu8)


@pytest.mark.parametrize("M,N,K", AMX_SIZES)
def test_amx_bf16_within_the_float32_bound(M, N, K, amx_bf16, threads, rng):
    a = _C.f32_to_bf16(rng.standard_normal((M, K)).astype(np.float32))
    w = _C.f32_to_bf16(rng.standard_normal((N, K)).astype(np.float32))
    bias = rng.standard_normal(N).astype(np.float32)
    af = _C.bf16_to_f32(a).astype(np.float64)
    wf = _C.bf16_to_f32(w).astype(np.float64)
    packed = _C.bf16_pack(w)
    for act in ("none", "relu", "gelu"):
        out = np.full((M, N), np.nan, np.float32)
        _C.bf16_gemm(a, packed, N, bias=bias, act=act, out=out)
        ref = af @ wf.T + bias
        ref = {"none": ref, "relu": np.maximum(ref, 0), "gelu": _gelu64(ref)}[act]
        tol = (1e-6 * (np.abs(af) @ np.abs(wf).T + np.abs(bias)) * max(1.0, math.log2(K + 1))
               + 1e-6)
        assert np.all(np.abs(out - ref) <= tol)


def test_amx_bf16_nan_and_inf_propagate(amx_bf16):
    a = _C.f32_to_bf16(np.array([[1.0, np.nan, 2.0], [np.inf, 1.0, 0.0]], np.float32))
    w = _C.f32_to_bf16(np.ones((17, 3), np.float32))
    out = np.empty((2, 17), np.float32)
    _C.bf16_gemm(a, _C.bf16_pack(w), 17, out=out)
    assert np.isnan(out[0]).all()
    assert np.isposinf(out[1]).all()
