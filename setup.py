"""Build of dlcore's one extension module, dlcore._C._ext.

Kernels live in csrc/ as plain C.  Each file is compiled according to its name:
  *_avx512.c   once, with the AVX-512 flags (hand-written micro-kernels for that ISA)
  *_avx2.c     once, with AVX2 + FMA flags
  *_avx512vnni.c, *_avx512bf16.c  once, AVX-512 plus that extension
  *_amx.c      once, AVX-512 (VNNI, BF16) plus AMX-TILE/INT8/BF16 (entered only after
               csrc/amx.c's CPUID, XCR0, permission and self-check say yes); compiled
               without the AMX flags (and so as stubs) where the compiler lacks them
  *_simd.c     three times (generic, avx2, avx512), with DL_ISA_SUFFIX naming the copy:
               kernels written once against csrc/simd.h
  other *.c    once, portable flags (dispatch, scalar code)
The right copy is chosen at run time from CPUID (csrc/cpu.c); nothing uses -march=native.
"""
import os
import sys
import glob
import shutil
import tempfile
import subprocess
from concurrent.futures import ThreadPoolExecutor

from setuptools import setup, Extension, find_packages
from setuptools.command.build_ext import build_ext

HERE = os.path.dirname(os.path.abspath(__file__))
CSRC = "csrc"
INCLUDE = os.path.join(CSRC, "include")

BASE_FLAGS = ["-O3", "-std=gnu99", "-fPIC", "-g0", "-fno-math-errno", "-fno-trapping-math",
              "-Wall", "-Wno-unknown-pragmas", "-Wno-unused-function"]
ISA_FLAGS = {
    "generic": [],
    "avx2": ["-mavx2", "-mfma", "-mf16c"],
    "avx512": ["-mavx512f", "-mavx512bw", "-mavx512dq", "-mavx512vl", "-mavx2", "-mfma", "-mf16c"],
}
# AVX-512 extensions for single micro-kernels (*_avx512vnni.c, *_avx512bf16.c), called only
# after a CPUID check at run time
ISA_FLAGS["avx512vnni"] = ISA_FLAGS["avx512"] + ["-mavx512vnni"]
ISA_FLAGS["avx512bf16"] = ISA_FLAGS["avx512"] + ["-mavx512bf16"]
AMX_FLAGS = ["-mamx-tile", "-mamx-int8", "-mamx-bf16"]
ISA_FLAGS["amx"] = ISA_FLAGS["avx512"] + ["-mavx512vnni", "-mavx512bf16"] + AMX_FLAGS


# ---- sanitizers ---------------------------------------------------------------------------
# DLCORE_SANITIZE=address,undefined compiles the kernels and the extension with ASan/UBSan, for
# testing only (never for a wheel); build it into a copy of the tree, as .ci/sanitize does, and
# run with the ASan runtime preloaded (README, "Testing").
SANITIZERS = ("address", "undefined")
SANITIZE = [s for s in os.environ.get("DLCORE_SANITIZE", "").replace(" ", "").split(",") if s]
if set(SANITIZE) - set(SANITIZERS):
    sys.exit("DLCORE_SANITIZE: unknown sanitizer(s) %s (supported: %s)"
             % (", ".join(sorted(set(SANITIZE) - set(SANITIZERS))), ", ".join(SANITIZERS)))
SANITIZE_FLAGS = (["-fsanitize=" + ",".join(SANITIZE), "-fno-omit-frame-pointer", "-g"]
                  if SANITIZE else [])
BASE_FLAGS = BASE_FLAGS + SANITIZE_FLAGS
# ---- end of sanitizers ---------------------------------------------------------------------


OPENMP_PROBE = ("#include <omp.h>\nint main(void){int n=0;\n#pragma omp parallel\n"
                "{n=omp_get_num_threads();}\nreturn n<0;}\n")


def _compiler_compiles(cc, src, flags, link=False):
    """True if the C compiler compiles `src` with `flags` (an object, or with link=True a
    linked program)."""
    tmp = tempfile.mkdtemp()
    try:
        path = os.path.join(tmp, "t.c")
        with open(path, "w") as f:
            f.write(src)
        out = ["-o", os.path.join(tmp, "t")] if link else ["-c", "-o", os.path.join(tmp, "t.o")]
        r = subprocess.run(cc + [path] + out + flags,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        return r.returncode == 0
    except OSError:
        return False
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _compiler_accepts(cc, flags):
    """True if the C compiler builds and links a tiny OpenMP program with `flags`."""
    return _compiler_compiles(cc, OPENMP_PROBE, flags, link=True)


AMX_PROBE = ("#include <immintrin.h>\nvoid f(const void *c, void *p){_tile_loadconfig(c);"
             "_tile_zero(0);_tile_dpbusd(0,1,2);_tile_dpbf16ps(0,1,2);_tile_stored(0,p,64);"
             "_tile_release();}\n")


def _classify(path):
    name = os.path.basename(path)
    for isa in ("avx512vnni", "avx512bf16", "avx512", "avx2", "amx"):
        if name.endswith("_" + isa + ".c"):
            return [isa]
    if name.endswith("_simd.c"):
        return ["generic", "avx2", "avx512"]
    return ["base"]


class BuildExt(build_ext):
    """Compiles csrc/ per ISA, then links those objects into every extension."""

    def build_extensions(self):
        cc = list(self.compiler.compiler_so[:1])
        openmp = _compiler_accepts(cc, ["-fopenmp"])
        if not openmp:
            print("WARNING: the C compiler has no OpenMP; dlcore will run on one thread",
                  file=sys.stderr)
        omp_flags = ["-fopenmp"] if openmp else []
        defines = ["-DDL_HAVE_OPENMP=1"] if openmp else []
        # public headers (csrc/include) and the private ones next to the sources
        headers = glob.glob(os.path.join(CSRC, "**", "*.h"), recursive=True)
        newest_header = max((os.path.getmtime(h) for h in headers), default=0)
        sources = sorted(glob.glob(os.path.join(CSRC, "**", "*.c"), recursive=True))
        if not _compiler_compiles(cc, AMX_PROBE, ISA_FLAGS["amx"]):
            print("WARNING: the C compiler does not take %s; dlcore is built without its AMX "
                  "kernels" % " ".join(AMX_FLAGS), file=sys.stderr)
            ISA_FLAGS["amx"] = [f for f in ISA_FLAGS["amx"] if f not in AMX_FLAGS]
        jobs = []
        for src in sources:
            for isa in _classify(src):
                flags = BASE_FLAGS + omp_flags + defines + ["-I" + INCLUDE]
                if isa != "base":
                    flags = flags + ISA_FLAGS[isa] + ["-DDL_ISA_SUFFIX=_" + isa]
                out_dir = os.path.join(self.build_temp, "csrc_" + isa)
                jobs.append((src, out_dir, flags))

        def compile_one(job):
            src, out_dir, flags = job
            obj = os.path.join(out_dir, os.path.splitext(src)[0] + ".o")
            if (not self.force and os.path.exists(obj)
                    and os.path.getmtime(obj) >= max(os.path.getmtime(src), newest_header)):
                return obj
            os.makedirs(os.path.dirname(obj), exist_ok=True)
            cmd = cc + ["-c", src, "-o", obj] + flags
            print(" ".join(cmd))
            r = subprocess.run(cmd)
            if r.returncode != 0:
                raise RuntimeError("compiling %s failed" % src)
            return obj

        workers = max(1, min(len(jobs), os.cpu_count() or 1))
        with ThreadPoolExecutor(workers) as pool:
            objects = list(pool.map(compile_one, jobs))
        # DLCORE_KEEP_SYMBOLS=1 keeps the kernels' names for a profiler (perf, valgrind)
        keep = SANITIZE or os.environ.get("DLCORE_KEEP_SYMBOLS", "") not in ("", "0")
        lean = [] if keep else self._lean_link_flags(cc)
        for ext in self.extensions:
            ext.extra_objects = list(ext.extra_objects or []) + objects
            ext.extra_compile_args = list(ext.extra_compile_args or []) + omp_flags + defines
            ext.extra_link_args = list(ext.extra_link_args or []) + omp_flags + lean
        self.dlcore_openmp = openmp
        self._write_build_info(cc, omp_flags + defines)
        super().build_extensions()

    def _lean_link_flags(self, cc):
        """Link flags for a smaller .so, where the linker takes them: no symbol table, and only
        the modules' PyInit_* exported (the kernels are called from inside the same .so).  The
        wheel shrinks by ~40 KB; sanitizer builds keep every symbol for their reports."""
        os.makedirs(self.build_temp, exist_ok=True)
        script = os.path.abspath(os.path.join(self.build_temp, "exports.map"))
        with open(script, "w") as f:
            f.write("{ global: %s local: *; };\n"
                    % " ".join("PyInit_%s;" % e.name.rsplit(".", 1)[-1] for e in self.extensions))
        flags = ["-Wl,--strip-all", "-Wl,--version-script=" + script]
        if _compiler_compiles(cc, "int main(void) { return 0; }\n", flags, link=True):
            return flags
        print("WARNING: the linker does not take %s; the extension keeps its symbols"
              % " ".join(flags), file=sys.stderr)
        return []

    def _write_build_info(self, cc, extra):
        """dlcore/_build_info.py records how the kernels were compiled (for `dlcore info`)."""
        isa = "; ".join("%s: %s" % (k, " ".join(v) or "(portable)") for k, v in ISA_FLAGS.items())
        text = ('"""Written by setup.py at build time."""\n'
                "COMPILER = %r\nCFLAGS = %r\nISA_FLAGS = %r\nOPENMP = %r\n"
                % (" ".join(cc), " ".join(BASE_FLAGS + extra), isa, bool(extra)))
        for root in {os.path.join(self.build_lib, "dlcore"), "dlcore"}:
            if os.path.isdir(root):
                with open(os.path.join(root, "_build_info.py"), "w") as f:
                    f.write(text)


def extensions():
    import numpy as np
    from Cython.Build import cythonize
    ext = Extension(
        "dlcore._C._ext",
        sources=["dlcore/_C/_ext.pyx"],
        include_dirs=[INCLUDE, np.get_include()],
        define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")],
        # -Os: the generated wrapper code is 200 KB smaller (~100 KB in the wheel) than at -O2;
        # it only checks arguments and calls the kernels (per op +0.2-0.4% instructions under
        # valgrind, no CPU-time change that A/B runs could see); the kernels keep -O3
        extra_compile_args=["-Os", "-g0", "-Wno-unused-function", "-Wno-unreachable-code"]
        + SANITIZE_FLAGS,
        extra_link_args=SANITIZE_FLAGS,
        # the csrc objects are linked in: list their sources so a C-only edit relinks
        depends=glob.glob(os.path.join("dlcore", "_C", "*.pxi"))
        + glob.glob(os.path.join(CSRC, "**", "*.h"), recursive=True)
        + glob.glob(os.path.join(CSRC, "**", "*.c"), recursive=True),
    )
    return cythonize([ext], build_dir="build/cython", language_level=3,
                     compiler_directives={"boundscheck": False, "wraparound": False,
                                          "cdivision": True, "initializedcheck": False,
                                          "embedsignature": True})


setup(
    ext_modules=extensions(),
    cmdclass={"build_ext": BuildExt},
    packages=find_packages(include=["dlcore", "dlcore.*"]) + ["dlcore.examples"],
    package_dir={"dlcore.examples": "python"},
    package_data={"dlcore.data": ["files/*", "files/*/*", "LICENSES.md"], "dlcore.examples": ["*.py"],
                  "dlcore.tour": ["*.json"]},
)
