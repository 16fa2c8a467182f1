"""The fp32 FMA peak of one core, measured: a short loop of independent vector FMAs.

GEMM efficiency is reported as a fraction of this.  It is measured rather than written down
because it differs by machine by a factor of two at the same ISA (Zen 4 runs a 512-bit FMA as
two 256-bit halves, 32 FLOP/cycle; most Xeons have two 512-bit FMA ports, 64 FLOP/cycle) and
with the clock under load, which /proc/cpuinfo does not report (in a VM it shows the nominal
TSC rate).  A GEMM kernel is no probe: it measures itself, not the limit.

The probe is 12 independent `vfmadd231ps acc_i, r12, r13` per iteration (enough in flight to
cover two ports x 4-6 cycles of latency) on zmm registers when the CPU has AVX-512, else ymm
(AVX2+FMA), on zeroed registers (no denormals).  The engine has no such loop, so its few bytes
of x86-64 machine code are written here, instruction by instruction, into an executable page
and called through ctypes.  It takes ~0.1 s (the best of ~50 runs of ~2 ms: other processes'
load can only slow a run down) and is measured once per process.  Where that is not possible
(another architecture or OS, no FMA, a kernel that refuses executable memory) the peak is None
and tables leave the column empty.
"""
import ctypes
import functools
import mmap
import platform
import sys
import time

FMAS_PER_ITERATION = 12


def _zero(i):
    """vxorps xmm<i>, xmm<i>, xmm<i> (VEX.128: also clears bits 128 and up of ymm/zmm<i>)."""
    if i < 8:
        return bytes([0xC5, 0x80 | (~i & 0xF) << 3, 0x57, 0xC0 | i << 3 | i])
    j = i & 7
    return bytes([0xC4, 0x41, (~i & 0xF) << 3, 0x57, 0xC0 | j << 3 | j])


def _fma_zmm(i):
    """vfmadd231ps zmm<i>, zmm12, zmm13 (EVEX.512.66.0F38.W0 B8 /r)."""
    return bytes([0x62, 0xD2 if i < 8 else 0x52, 0x1D, 0x48, 0xB8, 0xC5 | (i & 7) << 3])


def _fma_ymm(i):
    """vfmadd231ps ymm<i>, ymm12, ymm13 (VEX.256.66.0F38.W0 B8 /r)."""
    return bytes([0xC4, 0xC2 if i < 8 else 0x42, 0x1D, 0xB8, 0xC5 | (i & 7) << 3])


def loop_code(fma):
    """void f(uint64_t n): zero 14 registers, then n times the 12 FMAs; System V ABI."""
    body = b"".join(fma(i) for i in range(FMAS_PER_ITERATION))
    back = -(len(body) + 5)                       # to the first FMA, from after the jne
    return (b"".join(_zero(i) for i in range(14)) + body
            + b"\x48\xFF\xCF"                     # dec rdi
            + b"\x75" + (back & 0xFF).to_bytes(1, "little")   # jne loop
            + b"\xC5\xF8\x77"                     # vzeroupper
            + b"\xC3")                            # ret


def _isa():
    from ..runtime import supported_isas
    isas = supported_isas()
    return "avx512" if "avx512" in isas else "avx2" if "avx2" in isas else None


def _compile(code):
    page = mmap.mmap(-1, max(len(code), mmap.PAGESIZE),
                     prot=mmap.PROT_READ | mmap.PROT_WRITE | mmap.PROT_EXEC)
    page.write(code)
    fn = ctypes.CFUNCTYPE(None, ctypes.c_uint64)(
        ctypes.addressof(ctypes.c_char.from_buffer(page)))
    return page, fn


@functools.lru_cache(maxsize=1)
def fma_peak():
    """(GFLOP/s of one core, description) or (None, why not)."""
    if platform.machine().lower() not in ("x86_64", "amd64") or not sys.platform.startswith(
            "linux"):
        return None, "no FMA probe for %s on %s" % (platform.machine(), sys.platform)
    isa = _isa()
    if isa is None:
        return None, "no FMA probe without AVX2/AVX-512"
    lanes = 16 if isa == "avx512" else 8
    try:
        page, fn = _compile(loop_code(_fma_zmm if isa == "avx512" else _fma_ymm))
    except (OSError, ValueError, TypeError, AttributeError) as e:
        return None, "FMA probe unavailable (%s)" % e
    flop_per_iter = FMAS_PER_ITERATION * lanes * 2
    fn(1000)                                      # page in, wake the vector units
    n = 10000
    while True:                                   # calibrate to ~2 ms a run: short runs are
        t0 = time.perf_counter()                  # rarely preempted on a busy machine
        fn(n)
        dt = time.perf_counter() - t0
        if dt > 5e-4 or n > 1 << 30:
            break
        n *= 4
    n = max(1, int(n * 2e-3 / dt))
    best, spent = 0.0, 0.0
    for _ in range(200):                          # the fastest run: others' load only slows it
        t0 = time.perf_counter()
        fn(n)
        dt = time.perf_counter() - t0
        best = max(best, n * flop_per_iter / dt)
        spent += dt
        if spent > 0.1:
            break
    del fn
    page.close()
    width = 512 if isa == "avx512" else 256
    return best / 1e9, "measured: loop of %d independent %d-bit FMAs" % (FMAS_PER_ITERATION,
                                                                        width)
