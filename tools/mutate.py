"""Mutation testing: inject each fault of tools/mutants.py, run the tests meant to catch it,
and report which faults the tests kill.

    python tools/mutate.py                 # every mutant (C ones rebuild the extension)
    python tools/mutate.py --python-only   # the dlcore/ops mutants, no rebuilds
    python tools/mutate.py --only ID ...   # some of them
    python tools/mutate.py --list

It works on a copy of the tree (DLCORE_MUTATE_DIR, default /tmp/dlcore-mutate), so the checkout
and its build are never touched; the copy keeps its build folder, so a C mutant recompiles only
the files it changes and relinks (setup.py build_ext --inplace, with up-to-date objects, the
Cython module's included, not recompiled: _FAST_SETUP).  A mutated header keeps its old
modification time and the sources that include it are touched instead, so one header fault
rebuilds one family rather than every kernel.

A mutant is killed when its tests fail (or time out), survives when they pass, and is
stillborn when it does not compile; equivalent mutants are run but left out of the score.
Exit status 0 when every scored mutant is killed.
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
from mutants import C, PYTHON  # noqa: E402

IGNORE = shutil.ignore_patterns(".git", "__pycache__", ".pytest_cache", ".hypothesis", "*.tmp")


def _copy_tree(work):
    if os.path.isdir(work):
        shutil.rmtree(work)
    shutil.copytree(ROOT, work, ignore=IGNORE, symlinks=True)


def _includers(work, header):
    """Sources in csrc/ that include `header`, directly or through another header."""
    csrc = os.path.join(work, "csrc")
    names, found, frontier = set(), set(), {os.path.basename(header)}
    files = [os.path.join(d, f) for d, _, fs in os.walk(csrc) for f in fs
             if f.endswith((".c", ".h"))]
    texts = {f: open(f, encoding="utf-8").read() for f in files}
    while frontier:
        name = frontier.pop()
        names.add(name)
        for f, text in texts.items():
            if '"%s"' % name in text or "/%s\"" % name in text:
                if f.endswith(".c"):
                    found.add(f)
                elif os.path.basename(f) not in names:
                    frontier.add(os.path.basename(f))
    return sorted(found)


def _write(work, path, text):
    """Write a source; a header keeps its mtime and its includers are touched instead."""
    full = os.path.join(work, path)
    st = os.stat(full)
    with open(full, "w", encoding="utf-8") as f:
        f.write(text)
    if path.endswith(".h"):
        os.utime(full, ns=(st.st_atime_ns, st.st_mtime_ns))
        now = time.time()
        for src in _includers(work, path):
            os.utime(src, (now, now))


# setup.py with distutils' compile() skipping sources whose object is newer: a C mutant then
# recompiles its own csrc file and relinks, instead of recompiling the 4 MB Cython module
# (listed as depending on every csrc file, so distutils would rebuild it each time; about a
# minute a mutant).  The Cython module includes only csrc/include's public headers, which no
# mutant edits, so its object stays right.
_FAST_SETUP = """
import os, sys
import setuptools  # noqa: F401  (its distutils)
from distutils import ccompiler
_compile_all = ccompiler.CCompiler.compile
def _compile_stale(self, sources, output_dir=None, *args, **kw):
    objs = self.object_filenames(sources, output_dir=output_dir)
    stale = [s for s, o in zip(sources, objs)
             if not os.path.exists(o) or os.path.getmtime(o) < os.path.getmtime(s)]
    if stale:
        _compile_all(self, stale, output_dir, *args, **kw)
    return objs
ccompiler.CCompiler.compile = _compile_stale
sys.argv = ["setup.py", "build_ext", "--inplace", "-j", "2"]
exec(compile(open("setup.py").read(), "setup.py", "exec"),
     {"__name__": "__main__", "__file__": "setup.py"})
"""


def _build(work, log):
    r = subprocess.run([sys.executable, "-c", _FAST_SETUP], cwd=work, capture_output=True,
                       text=True)
    if r.returncode:
        log.write(r.stdout[-3000:] + r.stderr[-3000:])
    return r.returncode == 0


def _run_tests(work, tests, timeout):
    cmd = [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider"] + tests
    try:
        r = subprocess.run(cmd, cwd=work, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return "killed (timeout)", ""
    tail = (r.stdout + r.stderr).strip().splitlines()[-1:] or [""]
    if r.returncode == 0:
        return "survived", tail[0]
    if r.returncode == 5:
        return "no tests", tail[0]
    return "killed", tail[0]


def run(mutants, work, timeout, log):
    results = []
    dirty_c = False
    for m in mutants:
        mid, path, old, new, tests = m[:5]
        equivalent = len(m) > 5 and m[5] == "equivalent"
        is_c = path.startswith("csrc/")
        full = os.path.join(work, path)
        original = open(full, encoding="utf-8").read()
        if original.count(old) != 1:
            results.append({"id": mid, "file": path, "status": "not applicable",
                            "detail": "original text found %d times" % original.count(old)})
            continue
        t0 = time.time()
        _write(work, path, original.replace(old, new))
        try:
            if is_c or dirty_c:
                if not _build(work, log):
                    status, detail = "stillborn", "does not compile"
                    results.append({"id": mid, "file": path, "status": status,
                                    "detail": detail, "equivalent": equivalent})
                    continue
            status, detail = _run_tests(work, tests, timeout)
        finally:
            _write(work, path, original)
            dirty_c = is_c  # the restored source needs a rebuild before the next run
        res = {"id": mid, "file": path, "status": status, "detail": detail,
               "equivalent": equivalent, "seconds": round(time.time() - t0, 1)}
        results.append(res)
        print("%-32s %-18s %-12s %s" % (mid, status + (" (equivalent)" if equivalent else ""),
                                         "%.0fs" % res["seconds"], detail), flush=True)
    if dirty_c:
        _build(work, log)
    return results


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--only", nargs="+", metavar="ID")
    ap.add_argument("--python-only", action="store_true")
    ap.add_argument("--c-only", action="store_true")
    ap.add_argument("--list", action="store_true")
    ap.add_argument("--report", metavar="FILE", help="write the results as JSON")
    ap.add_argument("--timeout", type=int, default=900, help="seconds per mutant's tests")
    args = ap.parse_args(argv)
    mutants = ([] if args.c_only else PYTHON) + ([] if args.python_only else C)
    if args.only:   # in the order given
        by_id = {m[0]: m for m in mutants}
        mutants = [by_id[i] for i in args.only if i in by_id]
    if args.list:
        for m in mutants:
            print("%-32s %s" % (m[0], m[1]))
        return 0
    work = os.environ.get("DLCORE_MUTATE_DIR", "/tmp/dlcore-mutate")
    _copy_tree(work)
    with open(os.path.join(work, "mutate-build.log"), "w") as log:
        results = run(mutants, work, args.timeout, log)
    scored = [r for r in results if not r.get("equivalent")
              and r["status"] not in ("stillborn", "not applicable")]
    killed = [r for r in scored if r["status"].startswith("killed")]
    survivors = [r["id"] for r in scored if not r["status"].startswith("killed")]
    score = 100.0 * len(killed) / len(scored) if scored else 0.0
    print("\nmutation score: %d/%d killed (%.1f%%); survivors: %s"
          % (len(killed), len(scored), score, ", ".join(survivors) or "none"))
    if args.report:
        with open(args.report, "w") as f:
            json.dump({"results": results, "killed": len(killed), "scored": len(scored),
                       "score": score}, f, indent=1)
    return 0 if not survivors else 1


if __name__ == "__main__":
    sys.exit(main())
