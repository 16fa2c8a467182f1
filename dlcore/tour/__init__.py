"""`dlcore tour`: run the roadmap examples (python/, installed as dlcore.examples) and tell the
story as it goes: a row per example as it finishes, a summary line, and in the output folder
the figures, logs/, results.txt, results.json and index.html.

    from dlcore.tour import run_tour, list_examples
    rows = run_tour(list_examples({2}), quick=True, out_dir="tour-out")
"""
import os
import sys
import time

from .examples import examples_dir, list_examples, load_example, parse_only  # noqa: F401
from .live import run_examples
from .parallel import default_jobs
from .report import write_all
from .runner import Row  # noqa: F401
from .runner import _cpu_seconds as cpu_seconds
from .table import header, summary_line


def have_matplotlib():
    import importlib.util
    return importlib.util.find_spec("matplotlib") is not None


def run_tour(examples, quick=False, out_dir="dlcore-tour", out=None, verbose=False,
             progress=None, jobs=None):
    """Run `examples` ([(chapter, stem, path)] as list_examples gives) inside out_dir, printing
    the table to `out` a row at a time; writes the reports; returns the rows.  jobs: examples
    run at once in worker processes (None: parallel.default_jobs, or 1 with verbose)."""
    out = out or sys.stdout
    out_dir = os.path.abspath(out_dir)
    os.makedirs(out_dir, exist_ok=True)
    if not have_matplotlib():
        print("matplotlib is not installed: the examples run but draw no figures "
              "(pip install matplotlib)", file=out)
    t0, c0 = time.perf_counter(), cpu_seconds()
    print(header(), file=out, flush=True)
    if jobs is None:
        # -v shows the examples' own output, which reads best one example at a time
        jobs = 1 if verbose else default_jobs(quick)
    jobs = max(1, min(jobs, len(examples)))
    rows = run_examples(examples, quick, out_dir, out=out, verbose=verbose, progress=progress,
                        jobs=jobs)
    seconds = time.perf_counter() - t0
    # this process and the workers it waited for: comparable across runs on a busy machine
    page = write_all(rows, out_dir, quick, seconds, jobs=jobs, cpu=cpu_seconds() - c0)
    print(summary_line(rows, seconds), file=out)
    enable = sorted({r.enable for r in rows if r.status == "skipped" and r.enable})
    for i, cmd in enumerate(enable):
        print("%-26s%s" % ("to run the skipped ones:" if i == 0 else "", cmd), file=out)
    print("figures, logs/, results.txt: %s" % out_dir, file=out)
    print("open %s" % page, file=out)
    return rows
