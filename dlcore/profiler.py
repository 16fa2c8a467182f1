"""torch.profiler's CPU surface: profile, record_function, ProfilerActivity, schedule and
tensorboard_trace_handler, over dlcore.autograd.profiler's recorder (see there)."""
import enum
import os
import socket
import time

from .autograd import profiler as _ap
from .autograd.profiler import EventList, FunctionEvent, record_function  # noqa: F401


class ProfilerActivity(enum.Enum):
    CPU = 0
    CUDA = 1
    XPU = 2
    MTIA = 3


class ProfilerAction(enum.Enum):
    NONE = 0
    WARMUP = 1
    RECORD = 2
    RECORD_AND_SAVE = 3


def schedule(*, wait, warmup, active, repeat=0, skip_first=0, skip_first_wait=0):
    """torch.profiler.schedule: the action for each step number (skip_first steps, then
    cycles of wait, warmup and active steps, `repeat` cycles or forever when 0)."""
    for name, v in (("wait", wait), ("warmup", warmup), ("active", active), ("repeat", repeat),
                    ("skip_first", skip_first)):
        if not isinstance(v, int) or v < 0:
            raise ValueError("schedule: %s must be a non-negative int, got %r" % (name, v))
    if active < 1:
        raise ValueError("schedule: active must be at least 1, got %r" % (active,))
    cycle = wait + warmup + active

    def action(step):
        if step < skip_first:
            return ProfilerAction.NONE
        step -= skip_first
        if repeat and step >= cycle * repeat:
            return ProfilerAction.NONE
        pos = step % cycle
        if pos < wait:
            return ProfilerAction.NONE
        if pos < wait + warmup:
            return ProfilerAction.WARMUP
        return ProfilerAction.RECORD_AND_SAVE if pos == cycle - 1 else ProfilerAction.RECORD
    return action


def tensorboard_trace_handler(dir_name, worker_name=None, use_gzip=False):
    """on_trace_ready callback writing each finished cycle's chrome trace into dir_name."""

    def handler(prof):
        os.makedirs(dir_name, exist_ok=True)
        name = worker_name or "%s_%d" % (socket.gethostname(), os.getpid())
        path = os.path.join(dir_name, "%s.%d.pt.trace.json" % (name, int(time.time() * 1000)))
        prof.export_chrome_trace(path)
    return handler


class profile(_ap.profile):
    """torch.profiler.profile: with a schedule, `prof.step()` moves through wait/warmup/active
    steps and `on_trace_ready(prof)` runs at the end of each active span."""

    def __init__(self, *, activities=None, schedule=None, on_trace_ready=None,
                 record_shapes=False, profile_memory=False, with_stack=False, with_flops=False,
                 with_modules=False, experimental_config=None, execution_trace_observer=None,
                 acc_events=False, use_cuda=None, custom_trace_id_callback=None):
        super().__init__(record_shapes=record_shapes)
        if activities is not None:
            for a in activities:
                if not isinstance(a, ProfilerActivity):
                    raise TypeError("profile: activities must be ProfilerActivity members, got "
                                    "%r" % (a,))
        self.schedule = schedule
        self.on_trace_ready = on_trace_ready
        self.step_num = 0
        self._recording = False

    def _action(self):
        return self.schedule(self.step_num) if self.schedule else ProfilerAction.RECORD

    def start(self):
        self._sync(self._action())

    def stop(self):
        if self._recording:
            self._stop_recording(save=True)

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop()
        return False

    def step(self):
        prev = self._action()
        self.step_num += 1
        if prev == ProfilerAction.RECORD_AND_SAVE and self._recording:
            self._stop_recording(save=True)
        self._sync(self._action())

    def _sync(self, action):
        want = action in (ProfilerAction.RECORD, ProfilerAction.RECORD_AND_SAVE)
        if want and not self._recording:
            _ap.profile.__enter__(self)
            self._recording = True
        elif not want and self._recording:
            self._stop_recording(save=False)

    def _stop_recording(self, save):
        _ap.profile.__exit__(self, None, None, None)
        self._recording = False
        if save and self.on_trace_ready is not None:
            self.on_trace_ready(self)
