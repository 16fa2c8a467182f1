"""Running the tour's examples in worker processes, several at once (`dlcore tour --jobs N`).

The quick tour's examples are small: each spends most of its time in Python and in kernels too
small to split, and one process leaves the machine's other cores idle.  Here N worker processes
(started with spawn: a forked child of a process that has used OpenMP hangs in its first
parallel region) each run one example at a time with run_one, on cores/N kernel threads.  The
parent hands out the examples in roadmap order, prints each row as its example finishes and
returns the rows in roadmap order.  An example that kills its worker (a crash, os._exit) is
reported as failed and a fresh worker takes the next example.

Figures: examples running at once write into the same output folder, so a new image there is
only this example's when its own process opened it for writing (an audit hook on `open` in the
worker sees that); an image no worker wrote itself (a subprocess drew it) goes to an example
that saw it appear, preferring one that started a process.
"""
import multiprocessing
import os
import pickle
import sys
import time
from multiprocessing.connection import wait

from .runner import Row, _caption, _jsonable, run_one

_LINE_EVERY = 0.2      # seconds between the live lines a worker sends for the progress bar


def default_jobs(quick):
    """Worker processes for a tour: one per core (at most 4) for --quick, else 1 (the full
    tour's per-example seconds are recorded as the roadmap's run times, so its examples run
    alone)."""
    if not quick:
        return 1
    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cores = os.cpu_count() or 1
    return max(1, min(4, cores))


def threads_per_job(jobs):
    """Kernel threads for each worker: DLCORE_NUM_THREADS / OMP_NUM_THREADS when set, else an
    equal share of the cores."""
    for var in ("DLCORE_NUM_THREADS", "OMP_NUM_THREADS"):
        v = os.environ.get(var, "")
        if v.isdigit() and int(v) > 0:
            return int(v)
    return max(1, (os.cpu_count() or 1) // max(1, jobs))


# ---- the worker process --------------------------------------------------------------------------
_STARTS_PROCESS = ("subprocess.Popen", "os.posix_spawn", "os.spawn", "os.system", "os.exec",
                   "os.fork", "os.forkpty")


class _Written:
    """Absolute paths this process opened for writing (from the 'open' audit event), and
    whether it started another process (which may write files no hook here sees)."""

    def __init__(self):
        self.paths = set()
        self.started_process = False
        self.on = False

    def __call__(self, event, args):
        if not self.on:
            return
        if event in _STARTS_PROCESS:
            self.started_process = True
            return
        if event != "open" or not args:
            return
        path, mode, flags = (list(args) + [None, None])[:3]
        if not isinstance(path, (str, bytes, os.PathLike)) or isinstance(path, int):
            return
        writes = (isinstance(mode, str) and any(c in mode for c in "wax+")) or \
            (isinstance(flags, int) and flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT))
        if writes:
            try:
                self.paths.add(os.path.abspath(os.fsdecode(path)))
            except (TypeError, ValueError):
                pass


class _Echo:
    """-v in a worker: each complete line of the example's output goes to the parent."""

    def __init__(self, conn):
        self.conn, self.partial = conn, ""

    def write(self, s):
        text = self.partial + s.replace("\r", "\n")
        *lines, self.partial = text.split("\n")
        for ln in lines:
            if ln.strip():
                self.conn.send(("echo", ln))
        return len(s)

    def flush(self):
        pass


def _worker(conn, examples_package, threads):
    os.environ["DLCORE_NUM_THREADS"] = str(threads)
    os.environ["OMP_NUM_THREADS"] = str(threads)
    import dlcore
    dlcore.set_num_threads(threads)
    if examples_package:
        from .examples import _bind_examples_package
        _bind_examples_package(examples_package)
    written = _Written()
    sys.addaudithook(written)
    last = [0.0]

    def line(text):
        now = time.monotonic()
        if now - last[0] > _LINE_EVERY:
            last[0] = now
            conn.send(("line", text))

    while True:
        task = conn.recv()
        if task is None:
            break
        chapter, stem, path, quick, out_dir, live, verbose = task
        written.paths.clear()
        written.started_process = False
        written.on = True
        try:
            row = run_one(chapter, stem, path, quick, out_dir, on_line=line if live else None,
                          echo=_Echo(conn) if verbose else None)
        except BaseException as e:   # SystemExit from an example, or the runner's own trouble
            row = Row(chapter, stem, path)
            row.status, row.error = "failed", "%s: %s" % (type(e).__name__, e)
        written.on = False
        mine = {os.path.relpath(p, out_dir).replace(os.sep, "/") for p in written.paths}
        row.unclaimed = [f for f, _ in row.figures if f not in mine]
        row.started_process = written.started_process
        row.figures = [(f, c) for f, c in row.figures if f in mine]
        try:
            pickle.dumps(row.result)
        except Exception:
            row.result = _jsonable(row.result)
        conn.send(("done", row))
    conn.close()


# ---- the parent ----------------------------------------------------------------------------------
class _Slot:
    """One worker process and the example it is running (index into the list, or None)."""

    def __init__(self, ctx, package, threads):
        self.conn, child = ctx.Pipe()
        self.proc = ctx.Process(target=_worker, args=(child, package, threads), daemon=True,
                                name="dlcore-tour-worker")
        self.proc.start()
        child.close()
        self.task = None
        self.t0 = 0.0

    def stop(self):
        try:
            self.conn.send(None)
        except (OSError, ValueError):
            pass
        self.proc.join(5)
        if self.proc.is_alive():
            self.proc.terminate()
            self.proc.join(5)
        self.conn.close()


def _examples_package():
    mod = sys.modules.get("dlcore.examples")
    f = getattr(mod, "__file__", None)
    return os.path.dirname(os.path.abspath(f)) if f else None


def run_parallel(todo, quick, out_dir, jobs, on_start, on_done, on_line=None, echo=None):
    """Run `todo` ([(chapter, stem, path)]) on `jobs` worker processes; on_start(i) as example i
    goes to a worker, on_done(row) as it finishes (in the order they finish), on_line(text) with
    a running example's latest line, echo(stem, line) with every line of its output (-v).
    Returns the rows in todo's order."""
    ctx = multiprocessing.get_context("spawn")
    package, threads = _examples_package(), threads_per_job(jobs)
    rows = [None] * len(todo)
    finished = []                      # indices into todo, in the order the rows came back
    pending = list(range(len(todo)))
    slots = [_Slot(ctx, package, threads) for _ in range(min(jobs, len(todo)))]
    live, verbose = on_line is not None, echo is not None

    def give(slot):
        i = pending.pop(0)
        slot.task, slot.t0 = i, time.perf_counter()
        on_start(i)
        chapter, stem, path = todo[i]
        slot.conn.send((chapter, stem, path, quick, out_dir, live, verbose))

    def finish(slot, row):
        rows[slot.task] = row
        finished.append(slot.task)
        slot.task = None
        on_done(row)

    try:
        for s in slots:
            if pending:
                give(s)
        while any(s.task is not None for s in slots):
            busy = [s for s in slots if s.task is not None]
            ready = wait([s.conn for s in busy] + [s.proc.sentinel for s in busy])
            for k, s in enumerate(slots):
                if s.task is None or (s.conn not in ready and s.proc.sentinel not in ready):
                    continue
                msg = None
                if s.conn in ready:
                    try:
                        msg = s.conn.recv()
                    except (EOFError, OSError):
                        msg = None
                if msg is None:         # the worker died (its pipe closed, or it exited)
                    _fail_dead(s, todo, finish)
                    s.stop()
                    slots[k] = s = _Slot(ctx, package, threads)
                    if pending:
                        give(s)
                elif msg[0] == "line":
                    if on_line is not None:
                        on_line(msg[1])
                elif msg[0] == "echo":
                    if echo is not None:
                        echo(todo[s.task][1], msg[1])
                elif msg[0] == "done":
                    finish(s, msg[1])
                    if pending:
                        give(s)
    finally:
        for s in slots:
            s.stop()
    _settle_unclaimed(rows, finished, out_dir)
    return rows


def _fail_dead(slot, todo, finish):
    """A worker died while running an example: that example is a failed row."""
    slot.proc.join(5)
    chapter, stem, path = todo[slot.task]
    row = Row(chapter, stem, path)
    row.status = "failed"
    row.error = "its worker process died (exit code %s)" % slot.proc.exitcode
    row.seconds = time.perf_counter() - slot.t0
    finish(slot, row)


def _settle_unclaimed(rows, finished, out_dir):
    """Images no worker process wrote itself (a subprocess drew them) go to an example that saw
    them appear, one that started a process first, else the first to finish, so no figure the
    tour made is left off the page."""
    claimed = {f for r in rows if r is not None for f, _ in r.figures}
    order = sorted(finished, key=lambda i: not getattr(rows[i], "started_process", False))
    for i in order:
        row = rows[i]
        for f in getattr(row, "unclaimed", ()):
            if f not in claimed and os.path.exists(os.path.join(out_dir, f)):
                row.figures.append((f, _caption(row.stem, f, row.result)))
                row.figures.sort()
                claimed.add(f)
