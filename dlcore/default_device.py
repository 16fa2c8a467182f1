"""torch.set_default_device / get_default_device: the CPU is the only device, so setting it to
the CPU (or None) is accepted and anything else raises, as moving a tensor there would."""
from .dtypes import check_device, device


def set_default_device(device_):
    """Accepts None, 'cpu' or dl.device('cpu'); other devices raise DeviceUnavailableError."""
    check_device(device_, "set_default_device: device")


def get_default_device():
    return device("cpu")
