"""The `dlcore` command (also `python -m dlcore`):

    dlcore info                              build and runtime facts: version, SIMD path, threads
    dlcore tour [--quick] [--only CH ...] [--out DIR]
                                             run the roadmap examples and print one row each
                                             (their figures go to DIR, default dlcore-tour/)
    dlcore bench [family ...] [--threads 1 2] [--quick] [--list]
                                             kernel benchmarks against NumPy (and torch)
    dlcore data fetch vader [--data-home DIR]  fetch a dataset that is not bundled into the cache
    dlcore data list                         datasets: bundled ones, and fetched ones with status
"""
import argparse
import contextlib
import importlib
import importlib.util
import io
import os
import pkgutil
import platform
import re
import sys
import time

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
    from dlcore import _C
    ext = getattr(_C.ext, "__file__", "?")
    p = lambda *a: print(*a, file=out)  # noqa: E731
    p("dlcore %s  (%s)" % (dlcore.__version__, os.path.dirname(dlcore.__file__)))
    p("python %s on %s %s" % (platform.python_version(), platform.system(), platform.machine()))
    p("SIMD path in use: %s   supported here: %s   best: %s%s"
      % (_C.get_isa(), ", ".join(_C.supported_isas()), _C.best_isa(),
         "   (DLCORE_ISA=%s)" % os.environ["DLCORE_ISA"] if os.environ.get("DLCORE_ISA") else ""))
    omp = _C.have_openmp()
    p("threads: %d   OpenMP: %s" % (_C.get_num_threads(),
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
    return 0


def _torch_version():
    # importing torch takes seconds; its metadata says the version without the import
    try:
        from importlib.metadata import version
        return version("torch")
    except Exception:
        return None


# ---- tour --------------------------------------------------------------------------------------
_EXAMPLE = re.compile(r"^(\d+)_([A-Za-z0-9_]+)\.py$")


def examples_dir():
    """Folder of the roadmap examples: the installed dlcore.examples package, or python/ beside
    the dlcore package in a source checkout."""
    try:
        mod = importlib.import_module("dlcore.examples")
        d = os.path.dirname(os.path.abspath(mod.__file__))
        if os.path.isdir(d):
            return d
    except ImportError:
        pass
    import dlcore
    d = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(dlcore.__file__))), "python")
    return d if os.path.isdir(d) else None


def list_examples(only=None):
    """[(chapter number, file stem, path)] in roadmap order, filtered by `only` (numbers)."""
    d = examples_dir()
    if d is None:
        return []
    found = []
    for name in sorted(os.listdir(d)):
        m = _EXAMPLE.match(name)
        if m:
            ch = int(m.group(1))
            if only is None or ch in only:
                found.append((ch, name[:-3], os.path.join(d, name)))
    return found


def _parse_only(values):
    if not values:
        return None
    chapters = set()
    for v in values:
        for part in str(v).split(","):
            part = part.strip()
            if not part:
                continue
            m = re.fullmatch(r"(\d+)(?:-(\d+))?", part)
            if not m:
                raise ValueError("--only: expected chapter numbers like 2, 02, 1-3 or 1,4; got %r"
                                 % part)
            lo = int(m.group(1))
            hi = int(m.group(2)) if m.group(2) else lo
            chapters.update(range(lo, hi + 1))
    return chapters


def load_example(path, stem):
    spec = importlib.util.spec_from_file_location("dlcore_tour_" + stem, path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _missing_optional(exc):
    name = getattr(exc, "name", None) or ""
    return isinstance(exc, ModuleNotFoundError) and name and not name.startswith("dlcore")


def _missing_dataset(exc):
    try:
        from .data import DatasetNotFoundError
    except ImportError:
        return False
    return isinstance(exc, DatasetNotFoundError)


def run_tour(quick=False, only=None, verbose=False, out=None, workdir=None):
    """Run each example's main(quick) inside workdir (where their figures land; the current
    directory when None); returns (rows, failures)."""
    out = out or sys.stdout
    if workdir is None:
        return _run_tour_here(quick, only, verbose, out)
    os.makedirs(workdir, exist_ok=True)
    # examples are imported by file path, so changing directory does not change what runs
    here = os.getcwd()
    os.chdir(workdir)
    try:
        return _run_tour_here(quick, only, verbose, out)
    finally:
        os.chdir(here)


def _run_tour_here(quick, only, verbose, out):
    rows, failures = [], 0
    for ch, stem, path in list_examples(only):
        t0 = time.perf_counter()
        buf = io.StringIO()
        try:
            with contextlib.ExitStack() as stack:
                stack.enter_context(contextlib.redirect_stdout(out if verbose else buf))
                mod = load_example(path, stem)
                if not hasattr(mod, "main"):
                    raise AttributeError("%s has no main(quick=False)" % stem)
                result = mod.main(quick=quick) or {}
        except Exception as e:  # one broken example must not stop the tour
            if _missing_dataset(e):
                print("%s: skipped (%s)" % (stem, e), file=out)
                continue
            if _missing_optional(e):
                print("%s: skipped (needs the optional package %r: pip install %s)"
                      % (stem, e.name, e.name.split(".")[0]), file=out)
                continue
            failures += 1
            print("%s: FAILED: %s: %s" % (stem, type(e).__name__, e), file=out)
            tail = buf.getvalue().strip().splitlines()[-5:]
            for line in tail:
                print("    | " + line, file=out)
            rows.append({"chapter": "%02d" % ch, "model": stem, "data": "-", "metric": "FAILED",
                         "value": None, "seconds": time.perf_counter() - t0})
            continue
        r = {"chapter": str(result.get("chapter", "%02d" % ch)),
             "model": result.get("model", stem), "data": result.get("data", "-"),
             "metric": result.get("metric", "-"), "value": result.get("value"),
             "seconds": time.perf_counter() - t0}
        rows.append(r)
    return rows, failures


def cmd_tour(args, out):
    from .bench import format_table
    try:
        only = _parse_only(args.only)
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
    t0 = time.perf_counter()
    rows, failures = run_tour(quick=args.quick, only=only, verbose=args.verbose, out=out,
                              workdir=args.out)
    if rows:
        print(format_table(rows, ["chapter", "model", "data", "metric", "value", "seconds"]),
              file=out)
    print("%d example(s) in %.1f s%s" % (len(rows), time.perf_counter() - t0,
                                         ", %d failed" % failures if failures else ""), file=out)
    print("figures and other outputs: %s" % os.path.abspath(args.out), file=out)
    return 1 if failures else 0


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
    from . import data
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
        return 0
    names = args.name or []
    if not names:
        print("dlcore data fetch: name a dataset (%s)" % ", ".join(sorted(_FETCHABLE)),
              file=sys.stderr)
        return 2
    unknown = [n for n in names if n not in _FETCHABLE]
    if unknown:
        print("dlcore data fetch: unknown dataset %s (fetchable: %s)"
              % (", ".join(unknown), ", ".join(sorted(_FETCHABLE))), file=sys.stderr)
        return 2
    status = 0
    for n in names:
        try:
            with contextlib.redirect_stdout(out):
                getattr(data, _FETCHABLE[n][1])(data_home=args.data_home)
        except Exception as e:
            print("dlcore data fetch %s: %s" % (n, e), file=sys.stderr)
            status = 1
    return status


# ---- entry point -------------------------------------------------------------------------------
def _parser():
    ap = argparse.ArgumentParser(prog="dlcore", description="dlcore: a small, fast CPU "
                                 "deep-learning engine")
    sub = ap.add_subparsers(dest="command", metavar="{info,tour,bench,data}")
    sub.add_parser("info", help="version, SIMD path, threads, OpenMP, compiler, numpy")
    t = sub.add_parser("tour", help="run the roadmap examples and print a results table")
    t.add_argument("--quick", action="store_true", help="the examples' quick mode (seconds)")
    t.add_argument("--only", nargs="+", metavar="CH",
                   help="chapters to run, e.g. --only 02 or --only 1-3 5")
    t.add_argument("-v", "--verbose", action="store_true", help="show the examples' output")
    t.add_argument("--out", default="dlcore-tour", metavar="DIR",
                   help="folder the examples write their figures into (default: dlcore-tour)")
    b = sub.add_parser("bench", help="benchmarks against NumPy (and torch when installed)")
    b.add_argument("family", nargs="*", help="benchmark families (default: all installed)")
    b.add_argument("--threads", nargs="+", type=int, metavar="N", help="thread counts, e.g. 1 2")
    b.add_argument("--quick", action="store_true", help="smaller sizes, fewer repeats")
    b.add_argument("--list", action="store_true", help="list the benchmark families")
    d = sub.add_parser("data", help="fetch datasets that are not bundled (into a local cache)")
    d.add_argument("action", choices=["fetch", "list"], help="fetch NAME..., or list datasets")
    d.add_argument("name", nargs="*", help="dataset names for fetch (e.g. vader)")
    d.add_argument("--data-home", metavar="DIR", default=None,
                   help="cache folder (default $DLCORE_DATA_DIR or ~/.cache/dlcore)")
    return ap


def main(argv=None, out=None):
    """Run the CLI with `argv` (default sys.argv[1:]); returns the exit status."""
    out = out or sys.stdout
    ap = _parser()
    args = ap.parse_args(argv)
    if args.command is None:
        ap.print_help(out)
        return 0
    if args.command == "bench" and args.threads and any(n < 1 for n in args.threads):
        print("dlcore bench: --threads values must be >= 1", file=sys.stderr)
        return 2
    return {"info": cmd_info, "tour": cmd_tour, "bench": cmd_bench,
            "data": cmd_data}[args.command](args, out)


if __name__ == "__main__":
    sys.exit(main())
