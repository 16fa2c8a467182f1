"""Grad modes: whether ops record themselves for backward, per thread.

`state.grad` is read by every op (Function.apply), so it is one attribute of a thread-local
object: True records, False (no_grad) does not, and None is inference mode, which records
nothing and also marks what it makes as inference tensors (see Function.apply).  A new thread
starts with grad mode on, as in PyTorch: `no_grad()` in one thread never switches another off.
"""
import functools
import os
import threading


class _ThreadState(threading.local):
    grad = True  # class defaults: what every thread sees before it sets its own


state = _ThreadState()
inference_used = [False]  # set once inference_mode is first entered (recorded ops check then)

# grad-mode blocks open in any thread.  While there are none, every thread records, and
# Function.apply skips the thread-local read (its one cost over a global flag); anything that
# sets a thread's mode to other than True counts itself here first.
open_blocks = [0]
_count_lock = threading.Lock()


def _new_lock_in_child():
    # a fork taken while another thread held the lock would leave it held forever in the child
    global _count_lock
    _count_lock = threading.Lock()


os.register_at_fork(after_in_child=_new_lock_in_child)


def _open():
    with _count_lock:
        open_blocks[0] += 1


def _close():
    with _count_lock:
        open_blocks[0] -= 1


def is_grad_enabled():
    return bool(state.grad)


def is_inference_mode_enabled():
    return state.grad is None


class _GradMode:
    """Sets state.grad to `_mode` inside a with block or a decorated function."""
    _mode = True

    def __enter__(self):
        _open()
        self._prev = state.grad
        state.grad = self._mode
        return self

    def __exit__(self, *exc):
        state.grad = self._prev
        _close()
        return False

    def __call__(self, fn):
        mode = self._mode

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            _open()
            prev = state.grad
            state.grad = mode
            try:
                return fn(*args, **kwargs)
            finally:
                state.grad = prev
                _close()

        return wrapper

    def clone(self):
        return self.__class__()


class no_grad(_GradMode):
    """Context manager / decorator: operations inside record nothing for backward."""
    _mode = False


class enable_grad(_GradMode):
    """Context manager / decorator: turn recording back on inside a no_grad block."""
    _mode = True


class set_grad_enabled(_GradMode):
    """set_grad_enabled(mode) as a context manager or decorator; called on its own it sets the
    mode of the calling thread at once (PyTorch's function form)."""

    def __init__(self, mode):
        if not isinstance(mode, bool):
            raise TypeError("set_grad_enabled: mode must be a bool, got %r" % (mode,))
        self._mode = mode
        _open()  # (closed by __exit__; called as a plain function it stays open: still right)
        self._prev = state.grad
        state.grad = mode

    def __enter__(self):
        return self

    def clone(self):
        return self.__class__(self._mode)


class inference_mode(_GradMode):
    """Like no_grad, and tensors made inside are inference tensors: they can not be saved for
    backward later (PyTorch raises the same).  `inference_mode(False)` is a no-op block."""

    def __init__(self, mode=True):
        if callable(mode) and not isinstance(mode, bool):  # used bare as @inference_mode
            raise TypeError("inference_mode: use @inference_mode() with parentheses")
        self._mode = None
        self._on = bool(mode)

    def __enter__(self):
        if not self._on:
            _open()
            self._prev = state.grad
            return self
        inference_used[0] = True
        return super().__enter__()

    def __call__(self, fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with self.clone():
                return fn(*args, **kwargs)

        return wrapper

    def clone(self):
        return self.__class__(self._on)
