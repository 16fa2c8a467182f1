"""dl.cuda: the answers torch.cuda gives on a machine without CUDA, so that the usual
`device = "cuda" if torch.cuda.is_available() else "cpu"` picks the CPU.  Seeding is accepted
and does nothing (as torch's is lazy without a GPU); anything that needs a GPU raises."""

_NO_CUDA = ("dl.cuda.%s: dlcore runs on the CPU only and has no CUDA device "
            "(dl.cuda.is_available() is False)")


def is_available():
    return False


def device_count():
    return 0


def is_initialized():
    return False


def manual_seed(seed):
    """Accepted and ignored: there is no CUDA generator to seed."""


def manual_seed_all(seed):
    """Accepted and ignored: there is no CUDA generator to seed."""


def seed():
    """Accepted and ignored: there is no CUDA generator to seed."""


def seed_all():
    """Accepted and ignored: there is no CUDA generator to seed."""


def empty_cache():
    """Nothing is cached on a device that does not exist."""


def _unavailable(name):
    def f(*args, **kwargs):
        raise RuntimeError(_NO_CUDA % name)
    f.__name__ = name
    f.__doc__ = "Raises: there is no CUDA device."
    return f


current_device = _unavailable("current_device")
set_device = _unavailable("set_device")
synchronize = _unavailable("synchronize")
get_device_name = _unavailable("get_device_name")
get_device_properties = _unavailable("get_device_properties")
memory_allocated = _unavailable("memory_allocated")
max_memory_allocated = _unavailable("max_memory_allocated")
