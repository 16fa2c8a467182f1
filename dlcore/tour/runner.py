"""Running one roadmap example, and what its run left behind (live.py runs them all, one after
another or in worker processes: parallel.py).

Each example's main(quick) runs with the current directory set to the output folder (and
out_dir= that folder when its main takes that argument), so the figures it saves land there.
Its printed output is captured into logs/<example>.txt; on a terminal its latest line shows
beside a progress bar across the examples.  One example failing does not stop the tour.
"""
import contextlib
import inspect
import io
import os
import shutil
import time

from .. import cli_models
from .examples import load_example
from .quick_budgets import quick_budget

IMAGE_EXTS = (".png", ".jpg", ".jpeg", ".svg", ".gif", ".webp")
LOGS = "logs"


class Row:
    """The outcome of one example: status is 'run', 'skipped' or 'failed'."""

    def __init__(self, chapter, stem, path):
        self.chapter, self.stem, self.path = chapter, stem, path
        self.status = "run"
        self.result = {}
        self.seconds = 0.0
        # CPU time of this process (all threads) and of the child processes it waited for
        # (an example that launches mpirun): less load-dependent than the wall clock
        self.cpu_seconds = 0.0
        self.figures = []          # [(file name relative to the output folder, caption)]
        self.enable = None         # for a skipped example: the one command that enables it
        self.note = None           # e.g. a part of the example that was skipped
        self.error = None
        self.output = ""

    def as_dict(self):
        return {"example": self.stem, "chapter": self.chapter, "status": self.status,
                "seconds": round(self.seconds, 2), "cpu_seconds": round(self.cpu_seconds, 2),
                "result": _jsonable(self.result),
                "figures": [{"file": f, "caption": c} for f, c in self.figures],
                "enable": self.enable, "note": self.note, "error": self.error}


def _jsonable(v):
    if isinstance(v, dict):
        return {str(k): _jsonable(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_jsonable(x) for x in v]
    if v is None or isinstance(v, (bool, int, float, str)):
        return v
    if hasattr(v, "tolist") and getattr(v, "size", 0) <= 100:    # NumPy scalars, small arrays
        return _jsonable(v.tolist())
    return str(v)


class _LiveOutput(io.TextIOBase):
    """Where an example's print() goes during the tour: kept whole, its last line reported."""

    def __init__(self, on_line=None, echo=None):
        self.buf = io.StringIO()
        self.on_line = on_line
        self.echo = echo
        self._partial = ""

    def writable(self):
        return True

    def write(self, s):
        self.buf.write(s)
        if self.echo is not None:
            self.echo.write(s)
        if self.on_line is not None:
            text = self._partial + s.replace("\r", "\n")
            lines = text.split("\n")
            self._partial = lines[-1]
            done = [ln.strip() for ln in lines[:-1] if ln.strip()]
            if done:
                self.on_line(done[-1])
        return len(s)

    def flush(self):
        if self.echo is not None:
            self.echo.flush()

    def getvalue(self):
        return self.buf.getvalue()


def _image_files(folder):
    found = {}
    for root, dirs, files in os.walk(folder):
        dirs[:] = [d for d in dirs if d != LOGS]
        for f in files:
            if f.lower().endswith(IMAGE_EXTS):
                p = os.path.join(root, f)
                try:
                    found[p] = os.stat(p).st_mtime_ns
                except OSError:
                    pass
    return found


def _caption(stem, rel, result):
    """The example's own caption when its row names one (result['figures'] as {file: caption}),
    else one made from the file name."""
    given = result.get("figures")
    if isinstance(given, dict):
        for k, c in given.items():
            if os.path.basename(str(k)) == os.path.basename(rel):
                return str(c)
    name = os.path.splitext(os.path.basename(rel))[0].replace("_", " ")
    return "%s: %s" % (stem, name)


def _reported_images(result):
    """Image files an example's row points to by path (e.g. {'plot': '/tmp/x.png'})."""
    paths = []
    for v in result.values():
        if isinstance(v, str) and v.lower().endswith(IMAGE_EXTS) and os.path.isfile(v):
            paths.append(os.path.abspath(v))
    return paths


def _collect_figures(row, out_dir, before):
    after = _image_files(out_dir)
    new = [p for p, t in after.items() if before.get(p) != t]
    for p in _reported_images(row.result):
        if os.path.dirname(p) != os.path.abspath(out_dir) and p not in new:
            # saved outside the output folder: copy it in so the page can show it
            dest = os.path.join(out_dir, os.path.basename(p))
            if os.path.exists(dest) and dest not in new:
                dest = os.path.join(out_dir, "%s_%s" % (row.stem, os.path.basename(p)))
            shutil.copyfile(p, dest)
            new.append(dest)
    rels = sorted(os.path.relpath(p, out_dir).replace(os.sep, "/") for p in set(new))
    row.figures = [(r, _caption(row.stem, r, row.result)) for r in rels]


def _skip_command(text):
    """The one command that enables a skipped example, read from its message."""
    t = str(text)
    if cli_models.mentions_model_package(t):
        return cli_models.COMMAND
    i = t.find("dlcore data fetch")
    if i >= 0:
        words = t[i:].replace("`", " ").replace(")", " ").split()
        return " ".join(words[:4])
    return t.strip() or None


def _classify_exception(row, exc):
    from ..data import DatasetNotFoundError
    if isinstance(exc, DatasetNotFoundError):
        row.status, row.enable = "skipped", _skip_command(exc)
        return
    name = getattr(exc, "name", None) or ""
    if isinstance(exc, ModuleNotFoundError) and name and not name.startswith("dlcore"):
        row.status = "skipped"
        top = name.split(".")[0]
        row.enable = (cli_models.COMMAND if cli_models.mentions_model_package(top)
                      else "pip install %s" % top)
        return
    row.status = "failed"
    row.error = "%s: %s" % (type(exc).__name__, exc)


def _classify_result(row, result):
    row.result = result
    hint = result.get("skipped")
    if hint and result.get("value") is None:
        row.status, row.enable = "skipped", _skip_command(hint)
    elif hint:
        # part of the example ran: its row counts as run, the missing part is noted
        row.note = "part skipped; `%s` enables it" % _skip_command(hint)


def _cpu_seconds():
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def run_one(chapter, stem, path, quick, out_dir, on_line=None, echo=None):
    """Run one example inside out_dir; returns its Row (never raises for the example's errors)."""
    row = Row(chapter, stem, path)
    before = _image_files(out_dir)
    sink = _LiveOutput(on_line, echo)
    here = os.getcwd()
    t0, c0 = time.perf_counter(), _cpu_seconds()
    try:
        os.chdir(out_dir)
        with contextlib.redirect_stdout(sink):
            mod = load_example(path, stem)
            main = getattr(mod, "main", None)
            if main is None:
                raise AttributeError("%s has no main(quick=False)" % stem)
            kwargs = {"quick": quick}
            try:
                params = inspect.signature(main).parameters
            except (TypeError, ValueError):
                params = {}
            if "out_dir" in params:
                kwargs["out_dir"] = out_dir
            if quick:
                kwargs.update(quick_budget(stem, params))
            result = main(**kwargs)
        _classify_result(row, result if isinstance(result, dict) else {})
    except Exception as e:  # one broken example must not stop the tour
        _classify_exception(row, e)
    finally:
        os.chdir(here)
        row.seconds = time.perf_counter() - t0
        row.cpu_seconds = _cpu_seconds() - c0
    row.output = sink.getvalue()
    _collect_figures(row, out_dir, before)
    logs = os.path.join(out_dir, LOGS)
    os.makedirs(logs, exist_ok=True)
    with open(os.path.join(logs, stem + ".txt"), "w", encoding="utf-8") as f:
        f.write(row.output)
    return row
