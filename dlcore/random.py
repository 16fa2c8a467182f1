"""Random number state: one global NumPy Generator, reseeded by dl.manual_seed."""
import numpy as np



def _fresh_seed():
    """A non-deterministic 64-bit seed (what an unseeded stream starts from, as torch's)."""
    return int(np.random.SeedSequence().generate_state(1, np.uint64)[0])


class Generator:
    """A private random stream (PyTorch's torch.Generator): dl.Generator().manual_seed(0)."""

    def __init__(self, device="cpu"):
        if str(device) not in ("cpu", "cpu:0"):
            raise RuntimeError("Generator: dlcore runs on the CPU only, got device %r"
                               % (str(device),))
        self.device = device
        self._seed = _fresh_seed()
        self._rng = np.random.default_rng(self._seed)

    def manual_seed(self, seed):
        seed = int(seed)
        if seed < 0:
            seed += 2 ** 64  # torch reads a negative seed as its two's complement
        self._seed = seed
        self._rng = np.random.default_rng(seed)
        return self

    def seed(self):
        """Reseed from fresh entropy; returns the new seed."""
        self.manual_seed(_fresh_seed())
        return self._seed

    def initial_seed(self):
        """The seed this stream was last seeded with."""
        return self._seed

    def get_state(self):
        return self._rng.bit_generator.state

    def set_state(self, state):
        self._rng.bit_generator.state = state


default_generator = Generator()
_global = {"rng": default_generator._rng}


def manual_seed(seed):
    """Seed the global stream (dl.rand, dl.randn, init, dropout, DataLoader shuffling);
    returns the default generator, as torch's does."""
    default_generator.manual_seed(seed)
    _global["rng"] = default_generator._rng
    return default_generator


def seed():
    """Seed the global stream from fresh entropy and return that seed (torch.seed())."""
    s = default_generator.seed()
    _global["rng"] = default_generator._rng
    return s


def initial_seed():
    """The seed the global stream was last seeded with (torch.initial_seed())."""
    return default_generator.initial_seed()


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
