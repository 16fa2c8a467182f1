"""dl.accelerator: torch.accelerator's answers on a machine with no accelerator, so scripts
written as `torch.accelerator.is_available()` / `current_accelerator()` pick the CPU.  Anything
that needs an accelerator raises, as torch's CPU build does."""

_NONE = "dl.accelerator.%s: dlcore runs on the CPU only; there is no accelerator device"


def is_available():
    return False


def device_count():
    return 0


def current_accelerator(check_available=False):
    """None: there is no accelerator (torch's answer on a CPU-only build)."""
    return None


def empty_cache():
    """Nothing is cached on a device that does not exist."""


def _unavailable(name):
    def f(*args, **kwargs):
        raise RuntimeError(_NONE % name)
    f.__name__ = name
    f.__doc__ = "Raises: there is no accelerator device."
    return f


current_device_index = _unavailable("current_device_index")
current_device_idx = current_device_index
set_device_index = _unavailable("set_device_index")
set_device_idx = set_device_index
synchronize = _unavailable("synchronize")
current_stream = _unavailable("current_stream")
set_stream = _unavailable("set_stream")
