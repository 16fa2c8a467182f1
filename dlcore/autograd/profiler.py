"""torch's CPU profiler: `with dl.profiler.profile() as prof:` (or dl.autograd.profiler.profile)
times every op and every backward node run inside it, plus the ranges a user labels with
`record_function("name")`; `prof.key_averages().table(sort_by="self_cpu_time_total")` prints
torch's table and `prof.export_chrome_trace(path)` writes a trace chrome://tracing and Perfetto
open.

Ops are the graph's Functions, named "dl::" + the op ("dl::mul"); backward nodes by torch's
node names ("MulBackward0"); user ranges by their label.  A CPU time is wall time on the
calling thread, and an event's self time excludes the events nested in it.  While a profiler is
open the Function entry points are wrapped (nothing is wrapped, and nothing costs, otherwise),
and the elementwise fast paths that skip Function are routed through it so they are seen.
"""
import contextlib
import functools
import json
import os
import re
import tempfile
import threading
import time

from . import engine, function, grad_mode
from ..tensor_base import TensorBase

_tl = threading.local()
_lock = threading.Lock()
_active = []            # the open profilers (events go to each)
_saved = {}             # the Function entry points replaced while one is open


def _now_us():
    return time.perf_counter_ns() / 1000.0


def _stack():
    s = getattr(_tl, "stack", None)
    if s is None:
        s = _tl.stack = []
    return s


class FunctionEvent:
    """One timed event: an op, a backward node or a user range (times in microseconds)."""

    def __init__(self, name, start, thread, input_shapes=()):
        self.name = self.key = name
        self.time_range_start = start
        self.time_range_end = start
        self.thread = thread
        self.input_shapes = input_shapes
        self.cpu_children = []
        self.cpu_parent = None
        self.count = 1
        self.device_type = "CPU"
        self.cpu_memory_usage = 0
        self.self_cpu_memory_usage = 0

    @property
    def cpu_time_total(self):
        return self.time_range_end - self.time_range_start

    @property
    def self_cpu_time_total(self):
        return self.cpu_time_total - sum(c.cpu_time_total for c in self.cpu_children)

    cpu_time = cpu_time_total
    cuda_time_total = self_cuda_time_total = device_time_total = self_device_time_total = 0.0

    def __repr__(self):
        return "<FunctionEvent %s cpu_time_total=%.3fus>" % (self.name, self.cpu_time_total)


def _shapes(args):
    return tuple(list(a.shape) if isinstance(a, TensorBase) else [] for a in args)


def _begin(name, args=None):
    if not _active:
        return None
    stack = _stack()
    rec = any(p.record_shapes for p in _active)
    ev = FunctionEvent(name, _now_us(), threading.get_ident(),
                       _shapes(args) if rec and args is not None else ())
    if stack:
        ev.cpu_parent = stack[-1]
        stack[-1].cpu_children.append(ev)
    stack.append(ev)
    return ev


def _end(ev):
    if ev is None:
        return
    ev.time_range_end = _now_us()
    stack = _stack()
    if stack and stack[-1] is ev:
        stack.pop()
    for p in list(_active):
        p._events.append(ev)


_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")


@functools.lru_cache(maxsize=None)
def op_name(cls):
    return "dl::" + _CAMEL.sub("_", cls.__name__).lower()


class _BackwardHook:
    """What the engine calls around each node's backward while a profiler is open."""

    @staticmethod
    def enter(fn):
        return _begin(fn.name())

    exit = staticmethod(_end)


def _install():
    fn_cls = function.Function
    apply_f = fn_cls.__dict__["apply"].__func__
    recorded_f = fn_cls.__dict__["_apply_recorded"].__func__
    _saved.update(apply=fn_cls.__dict__["apply"], recorded=fn_cls.__dict__["_apply_recorded"])

    def apply(cls, *args, **kwargs):
        ev = _begin(op_name(cls), args)
        _tl.skip = cls  # the inner _apply_recorded of this very call is not a second op
        try:
            return apply_f(cls, *args, **kwargs)
        finally:
            _tl.skip = None
            _end(ev)

    def _apply_recorded(cls, args, kwargs):
        if getattr(_tl, "skip", None) is cls:
            _tl.skip = None
            return recorded_f(cls, args, kwargs)
        ev = _begin(op_name(cls), args)
        try:
            return recorded_f(cls, args, kwargs)
        finally:
            _end(ev)

    fn_cls.apply = classmethod(apply)
    fn_cls._apply_recorded = classmethod(_apply_recorded)
    engine.profile_hook[0] = _BackwardHook
    grad_mode._open()  # the elementwise fast paths then go through Function (and are seen)


def _uninstall():
    fn_cls = function.Function
    fn_cls.apply = _saved.pop("apply")
    fn_cls._apply_recorded = _saved.pop("recorded")
    engine.profile_hook[0] = None
    grad_mode._close()


class FunctionEventAvg:
    """Events of one name (and input shapes, when grouped so) summed: one row of the table."""

    def __init__(self, key, input_shapes=()):
        self.key = key
        self.input_shapes = input_shapes
        self.count = 0
        self.cpu_time_total = 0.0
        self.self_cpu_time_total = 0.0
        self.cpu_memory_usage = self.self_cpu_memory_usage = 0
        self.cuda_time_total = self.self_cuda_time_total = 0.0
        self.device_time_total = self.self_device_time_total = 0.0

    def add(self, ev):
        self.count += ev.count
        self.cpu_time_total += ev.cpu_time_total
        self.self_cpu_time_total += ev.self_cpu_time_total
        return self

    @property
    def cpu_time(self):
        return self.cpu_time_total / self.count if self.count else 0.0

    @property
    def self_cpu_time(self):
        return self.self_cpu_time_total / self.count if self.count else 0.0

    def __repr__(self):
        return ("<FunctionEventAvg key=%s self_cpu_time=%s cpu_time=%s count=%d input_shapes=%s>"
                % (self.key, _fmt_us(self.self_cpu_time), _fmt_us(self.cpu_time), self.count,
                   list(self.input_shapes)))


_SORT_KEYS = ("cpu_time", "cpu_time_total", "self_cpu_time", "self_cpu_time_total", "count",
              "cuda_time", "cuda_time_total", "self_cuda_time_total", "device_time",
              "device_time_total", "self_device_time_total", "cpu_memory_usage",
              "self_cpu_memory_usage")


def _fmt_us(us):
    if us >= 1e6:
        return "%.3fs" % (us / 1e6)
    if us >= 1e3:
        return "%.3fms" % (us / 1e3)
    return "%.3fus" % us


class EventList(list):
    """A list of events (or of averaged rows) with torch's reporting methods."""

    def key_averages(self, group_by_input_shape=False, group_by_stack_n=0):
        rows = {}
        for ev in self:
            key = (ev.key, tuple(map(tuple, ev.input_shapes)) if group_by_input_shape else ())
            row = rows.get(key)
            if row is None:
                row = rows[key] = FunctionEventAvg(ev.key, ev.input_shapes
                                                   if group_by_input_shape else ())
            row.add(ev)
        return EventList(rows.values())

    def total_average(self):
        tot = FunctionEventAvg("Total")
        for ev in self:
            tot.add(ev)
        return tot

    @property
    def self_cpu_time_total(self):
        return sum(ev.self_cpu_time_total for ev in self)

    def table(self, sort_by=None, row_limit=100, max_src_column_width=75,
              max_name_column_width=55, max_shapes_column_width=80, header=None,
              top_level_events_only=False):
        rows = list(self)
        if top_level_events_only:
            rows = [r for r in rows if getattr(r, "cpu_parent", None) is None]
        if sort_by is not None:
            if sort_by not in _SORT_KEYS:
                raise ValueError("table: sort_by must be one of %s, got %r"
                                 % (", ".join(_SORT_KEYS), sort_by))
            rows.sort(key=lambda r: getattr(r, sort_by, 0), reverse=True)
        if row_limit is not None and row_limit >= 0:
            rows = rows[:row_limit]
        total_self = sum(r.self_cpu_time_total for r in self) or 1.0
        shapes = any(getattr(r, "input_shapes", ()) for r in rows)
        head = ["Name", "Self CPU %", "Self CPU", "CPU total %", "CPU total", "CPU time avg",
                "# of Calls"] + (["Input Shapes"] if shapes else [])
        body = []
        for r in rows:
            count = r.count or 1
            line = [r.key[:max_name_column_width],
                    "%.2f%%" % (100.0 * r.self_cpu_time_total / total_self),
                    _fmt_us(r.self_cpu_time_total),
                    "%.2f%%" % (100.0 * r.cpu_time_total / total_self),
                    _fmt_us(r.cpu_time_total), _fmt_us(r.cpu_time_total / count), str(r.count)]
            if shapes:
                line.append(str([list(s) for s in r.input_shapes])[:max_shapes_column_width])
            body.append(line)
        widths = [max([len(head[i])] + [len(b[i]) for b in body]) for i in range(len(head))]
        rule = "  ".join("-" * w for w in widths)

        def fmt(cells):
            return "  ".join(c.ljust(w) if i == 0 else c.rjust(w)
                             for i, (c, w) in enumerate(zip(cells, widths)))

        out = ([header] if header else []) + [rule, fmt(head), rule] + [fmt(b) for b in body]
        out += [rule, "Self CPU time total: %s" % _fmt_us(sum(r.self_cpu_time_total
                                                                 for r in self))]
        return "\n".join(out) + "\n"

    def export_chrome_trace(self, path):
        events = [{"name": ev.name, "ph": "X", "cat": "cpu_op", "ts": ev.time_range_start,
                   "dur": ev.cpu_time_total, "pid": os.getpid(), "tid": ev.thread,
                   "args": {"Input Dims": [list(s) for s in ev.input_shapes]}}
                  for ev in self if isinstance(ev, FunctionEvent)]
        _write_json_atomically(path, {"traceEvents": events, "displayTimeUnit": "ms"})


def _write_json_atomically(path, obj):
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".trace-", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as f:
            json.dump(obj, f)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


class profile:
    """torch.autograd.profiler.profile: times the ops run while it is open (CPU only; the CUDA
    options are accepted and have nothing to time)."""

    def __init__(self, enabled=True, *, use_cuda=False, use_device=None, record_shapes=False,
                 with_flops=False, profile_memory=False, with_stack=False, with_modules=False,
                 use_kineto=False, use_cpu=True, experimental_config=None, acc_events=False,
                 custom_trace_id_callback=None):
        self.enabled = bool(enabled)
        self.record_shapes = bool(record_shapes)
        self._events = []
        self._entered = False
        self._function_events = None

    def __enter__(self):
        if not self.enabled:
            return self
        if self._entered:
            raise RuntimeError("profile: this profiler is already open")
        self._entered = True
        self._events = []
        self._function_events = None
        with _lock:
            if not _active:
                _install()
            _active.append(self)
        return self

    def __exit__(self, *exc):
        if not self.enabled or not self._entered:
            return False
        with _lock:
            _active.remove(self)
            if not _active:
                _uninstall()
        self._entered = False
        return False

    def _check_finished(self):
        if self._entered:
            raise RuntimeError("profile: the profiler is still open; read its results after "
                               "the with block")

    @property
    def function_events(self):
        self._check_finished()
        if self._function_events is None:
            self._function_events = EventList(sorted(self._events,
                                                     key=lambda e: e.time_range_start))
        return self._function_events

    def events(self):
        return self.function_events

    def key_averages(self, group_by_input_shape=False, group_by_stack_n=0):
        return self.function_events.key_averages(group_by_input_shape, group_by_stack_n)

    def table(self, sort_by=None, row_limit=100, **kwargs):
        return self.function_events.table(sort_by=sort_by, row_limit=row_limit, **kwargs)

    def total_average(self):
        return self.function_events.total_average()

    @property
    def self_cpu_time_total(self):
        return self.function_events.self_cpu_time_total

    def export_chrome_trace(self, path):
        self.function_events.export_chrome_trace(path)

    def __str__(self):
        return self.table()


class record_function(contextlib.ContextDecorator):
    """A labelled range: its time, and the ops inside it as its children, in the profile."""

    def __init__(self, name, args=None):
        if not isinstance(name, str):
            raise TypeError("record_function: name must be a str, got %r" % (name,))
        self.name = name
        self.args = args
        self._ev = []

    def __enter__(self):
        self._ev.append(_begin(self.name))
        return self

    def __exit__(self, *exc):
        _end(self._ev.pop())
        return False
