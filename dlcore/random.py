"""Random number state: one global NumPy Generator, reseeded by dl.manual_seed."""
import numpy as np

_global = {"rng": np.random.default_rng()}


class Generator:
    """A private random stream (PyTorch's torch.Generator): dl.Generator().manual_seed(0)."""

    def __init__(self, device="cpu"):
        self._rng = np.random.default_rng()

    def manual_seed(self, seed):
        self._rng = np.random.default_rng(int(seed))
        return self

    def get_state(self):
        return self._rng.bit_generator.state

    def set_state(self, state):
        self._rng.bit_generator.state = state


def manual_seed(seed):
    """Seed the global stream (dl.rand, dl.randn, init, dropout, DataLoader shuffling)."""
    _global["rng"] = np.random.default_rng(int(seed))


seed = manual_seed


def rng(generator=None):
    """The NumPy Generator behind `generator`, or the global one."""
    if generator is None:
        return _global["rng"]
    if isinstance(generator, Generator):
        return generator._rng
    if isinstance(generator, np.random.Generator):
        return generator
    raise TypeError("generator must be a dl.Generator, got %s" % type(generator).__name__)


def get_rng_state():
    return _global["rng"].bit_generator.state


def set_rng_state(state):
    _global["rng"].bit_generator.state = state
