"""dl.cpu: torch.cpu's names that CPU-only code reaches for (dl.cpu.amp.autocast)."""
from . import amp  # noqa: F401


def is_available():
    return True


def device_count():
    return 1


def current_device():
    return "cpu"


def synchronize(device=None):
    """Nothing runs asynchronously on the CPU: a no-op, as torch.cpu.synchronize."""
