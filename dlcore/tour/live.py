"""The tour as it runs: a progress bar across the examples (with the running ones' latest
line beside it) and a row printed as each example finishes, one example after another
(runner.run_one) or several at once in worker processes (parallel.run_parallel)."""
import contextlib
import os
import sys
import threading
import time

from .parallel import run_parallel
from .runner import LOGS, run_one


class _Bar:
    """tqdm across the examples, with the running example's latest line beside it; shown only
    on a terminal (a log gets the rows alone)."""

    def __init__(self, total, enabled):
        self.bar = None
        self._stop = threading.Event()
        if not enabled:
            return
        try:
            from tqdm.auto import tqdm
        except ImportError:
            return
        self.bar = tqdm(total=total, unit="example", file=sys.stderr, leave=False,
                        bar_format="{l_bar}{bar:20}| {n_fmt}/{total_fmt} [{elapsed}]{postfix}")
        self.stem = ""
        self._last = 0.0
        # the bar's clock should tick while a silent example trains
        threading.Thread(target=self._tick, daemon=True).start()

    def _tick(self):
        while not self._stop.wait(1.0):
            with contextlib.suppress(Exception):
                self.bar.refresh()

    def start(self, stem):
        if self.bar is not None:
            self.stem = stem
            self.bar.set_description_str(stem[:28], refresh=False)
            self.bar.set_postfix_str("", refresh=True)

    def line(self, text):
        now = time.monotonic()
        if self.bar is not None and now - self._last > 0.2:
            self._last = now
            self.bar.set_postfix_str(text[:60], refresh=True)

    def write(self, text, out):
        if self.bar is not None:
            self.bar.write(text, file=out)
        else:
            print(text, file=out, flush=True)

    def step(self):
        if self.bar is not None:
            self.bar.update(1)

    def close(self):
        self._stop.set()
        if self.bar is not None:
            self.bar.close()


def _is_terminal(stream):
    return bool(getattr(stream, "isatty", lambda: False)())


def run_examples(examples, quick, out_dir, out=None, verbose=False, on_row=None, progress=None,
                 jobs=1):
    """Run `examples` ([(chapter, stem, path)]) inside out_dir; print a row for each as it
    finishes (on_row(row) formats it: a list of lines); returns the rows in the order given.
    jobs > 1 runs that many examples at once in worker processes (tour/parallel.py)."""
    from .table import row_lines
    out = out or sys.stdout
    on_row = on_row or row_lines
    out_dir = os.path.abspath(out_dir)
    os.makedirs(out_dir, exist_ok=True)
    todo = list(examples)
    if progress is None:
        progress = not verbose and _is_terminal(sys.stderr) and _is_terminal(out)
    bar = _Bar(len(todo), progress)

    def report(row):
        bar.write("\n".join(on_row(row)), out)
        if row.status == "failed":
            tail = [ln for ln in row.output.strip().splitlines() if ln.strip()][-5:]
            for line in tail:
                bar.write("    | " + line[:94], out)
            bar.write("    | (the whole output: %s/%s.txt in the output folder)"
                      % (LOGS, row.stem), out)
        bar.step()

    try:
        if jobs > 1 and len(todo) > 1:
            running = []

            def started(i):
                running.append(todo[i][1])
                bar.start(", ".join(running))

            def done(row):
                running.remove(row.stem)
                bar.start(", ".join(running))
                report(row)

            def echo(stem, line):
                bar.write("[%s] %s" % (stem, line), out)
            return run_parallel(todo, quick, out_dir, jobs, started, done,
                                on_line=bar.line if bar.bar is not None else None,
                                echo=echo if verbose else None)
        rows = []
        for chapter, stem, path in todo:
            bar.start(stem)
            row = run_one(chapter, stem, path, quick, out_dir,
                          on_line=bar.line if bar.bar is not None else None,
                          echo=out if verbose else None)
            rows.append(row)
            report(row)
        return rows
    finally:
        bar.close()
