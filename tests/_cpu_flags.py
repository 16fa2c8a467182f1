"""What the CPU under the tests can do, where an oracle's results depend on it."""


def _flags():
    try:
        with open("/proc/cpuinfo") as f:
            return set(next((ln for ln in f if ln.startswith("flags")), "").split())
    except OSError:
        return set()


def int8_pairs_saturate():
    """True on an x86 CPU without VNNI: there ONNX Runtime's (MLAS) and torch's (fbgemm) u8 x s8
    kernels add products in pairs in saturating 16-bit lanes (vpmaddubsw), so 255 * -128 * 2
    does not fit and their integer sums are not the exact ones (seen on an AVX2-only Zen 3:
    ORT's MatMulInteger off by 585,216 in one output)."""
    flags = _flags()
    return "avx2" in flags and not ({"avx512_vnni", "avx_vnni", "amx_int8"} & flags)
