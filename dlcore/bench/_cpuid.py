"""What CPUID says about the FMA units: vector width, brand, nominal and maximum clock.

CPUID gives the width of one FMA (AVX2+FMA: 256 bits, AVX-512F: 512) and, where the hypervisor
passes it through, the base and maximum clock (leaf 0x16; else the "@ 3.70GHz" of the brand
string).  It does not give the number of FMA ports, nor whether a 512-bit FMA runs as two
256-bit halves (Zen 4) -- that is what dlcore.bench._peak measures.  Together they bound
the measured peak: at least one FMA a cycle at a low clock, at most two at the maximum one
(fma_bounds).

As in _peak, the engine has no CPUID binding for this, so the instruction's few bytes are
written here into an executable page and called through ctypes.  Where that cannot run (not
x86-64 Linux, no executable memory) cpu_facts() says why instead.
"""
import ctypes
import functools
import mmap
import platform
import re
import sys

# void cpuid(uint32_t leaf, uint32_t subleaf, uint32_t out[4]) (System V: edi, esi, rdx)
CPUID_CODE = bytes.fromhex(
    "53"          # push rbx            (callee-saved; cpuid writes it)
    "4989d0"      # mov r8, rdx         (cpuid writes edx)
    "89f8"        # mov eax, edi
    "89f1"        # mov ecx, esi
    "0fa2"        # cpuid
    "418900"      # mov [r8], eax
    "41895804"    # mov [r8+4], ebx
    "41894808"    # mov [r8+8], ecx
    "4189500c"    # mov [r8+12], edx
    "5b"          # pop rbx
    "c3")         # ret

# clocks assumed where CPUID gives none: no x86 core of the last decade runs vector code
# below 0.8 GHz when busy, nor above 6.5 GHz
MIN_GHZ, MAX_GHZ = 0.8, 6.5


class _Cpuid:
    def __init__(self):
        self._page = mmap.mmap(-1, mmap.PAGESIZE,
                               prot=mmap.PROT_READ | mmap.PROT_WRITE | mmap.PROT_EXEC)
        self._page.write(CPUID_CODE)
        self._fn = ctypes.CFUNCTYPE(None, ctypes.c_uint32, ctypes.c_uint32,
                                    ctypes.POINTER(ctypes.c_uint32))(
            ctypes.addressof(ctypes.c_char.from_buffer(self._page)))

    def __call__(self, leaf, subleaf=0):
        out = (ctypes.c_uint32 * 4)()
        self._fn(leaf, subleaf, out)
        return tuple(out)   # eax, ebx, ecx, edx


def _bit(reg, n):
    return bool(reg >> n & 1)


def _ascii(*regs):
    return b"".join(r.to_bytes(4, "little") for r in regs).decode("ascii", "replace")


@functools.lru_cache(maxsize=1)
def cpu_facts():
    """dict of what CPUID reports (vendor, brand, fma/avx2/avx512f flags, fma_bits, base_mhz,
    max_mhz: 0 where not reported), or {"error": why} where CPUID cannot be read here."""
    if platform.machine().lower() not in ("x86_64", "amd64") or not sys.platform.startswith(
            "linux"):
        return {"error": "no CPUID on %s/%s" % (platform.machine(), sys.platform)}
    try:
        cpuid = _Cpuid()
    except (OSError, ValueError, TypeError, AttributeError) as e:
        return {"error": "CPUID unavailable (%s)" % e}
    top, b, c, d = cpuid(0)
    facts = {"vendor": _ascii(b, d, c)}
    _, _, c1, _ = cpuid(1)
    b7 = cpuid(7)[1] if top >= 7 else 0
    facts["fma"] = _bit(c1, 12)
    facts["avx2"] = _bit(b7, 5)
    facts["avx512f"] = _bit(b7, 16)
    facts["fma_bits"] = 512 if facts["avx512f"] else 256 if facts["fma"] else 0
    base = mx = 0
    if top >= 0x16:
        a16, b16, _, _ = cpuid(0x16)
        base, mx = a16 & 0xFFFF, b16 & 0xFFFF
    ext = cpuid(0x80000000)[0]
    brand = ""
    if ext >= 0x80000004:
        brand = "".join(_ascii(*cpuid(leaf)) for leaf in (0x80000002, 0x80000003, 0x80000004))
        brand = brand.replace("\x00", "").strip()
    facts["brand"] = brand
    source = "CPUID leaf 0x16" if base else None
    m = re.search(r"@\s*([0-9.]+)\s*GHz", brand)
    if not base and m:
        base, source = int(float(m.group(1)) * 1000), "the brand string"
    if not base:
        base = _cpuinfo_mhz()
        source = "/proc/cpuinfo (the nominal clock in a VM)" if base else None
    facts["base_mhz"], facts["max_mhz"], facts["clock_source"] = base, mx, source
    return facts


def _cpuinfo_mhz():
    try:
        with open("/proc/cpuinfo") as f:
            m = re.search(r"^cpu MHz\s*:\s*([0-9.]+)", f.read(), re.M)
        return int(float(m.group(1))) if m else 0
    except (OSError, ValueError):
        return 0


def fma_bounds(lanes, facts=None):
    """(low, high) fp32 GFLOP/s of one core for FMAs of `lanes` floats: one FMA a cycle at
    MIN_GHZ, two at the maximum clock CPUID reports (or MAX_GHZ when it reports none)."""
    facts = cpu_facts() if facts is None else facts
    if facts.get("max_mhz"):
        top_ghz = facts["max_mhz"] / 1000.0 * 1.05
    elif facts.get("base_mhz"):
        top_ghz = facts["base_mhz"] / 1000.0 * 1.6      # turbo above the nominal clock
    else:
        top_ghz = MAX_GHZ
    return 2 * lanes * 1 * MIN_GHZ, 2 * lanes * 2 * min(top_ghz, MAX_GHZ)
