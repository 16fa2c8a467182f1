"""Tensor storage in shared memory (Tensor.share_memory_, is_shared), for Hogwild-style
training where several processes update one model's parameters in place.

share_memory_() moves a tensor's array into a MAP_SHARED mapping of a file in /dev/shm (the
temporary directory where there is none).  A forked child inherits the mapping; a pickled
shared tensor (a spawned or forkserver child's arguments) is rebuilt by mapping the same file,
so every process reads and writes the same bytes.  The file is removed when the tensor that
created it is garbage-collected or the creating process exits; processes that mapped it keep
their mapping until they drop it.
"""
import atexit
import mmap
import os
import tempfile
import uuid
import weakref

import numpy as np


__all__ = ["SharedMemoryMethods", "share_memory_", "is_shared"]

_DIR = "/dev/shm" if os.path.isdir("/dev/shm") else tempfile.gettempdir()
_created = set()  # files this process made (removed at exit if still there)


def _unlink(path):
    _created.discard(path)
    try:
        os.unlink(path)
    except OSError:
        pass


@atexit.register
def _unlink_all():
    for path in list(_created):
        _unlink(path)


class SharedBlock:
    """One shared mapping and the file that names it."""

    def __init__(self, path, nbytes, create):
        self.path, self.nbytes, self.pid = path, nbytes, os.getpid()
        flags = os.O_RDWR | (os.O_CREAT | os.O_EXCL if create else 0)
        fd = os.open(path, flags, 0o600)
        try:
            if create:
                os.ftruncate(fd, max(nbytes, 1))
                _created.add(path)
                weakref.finalize(self, _unlink, path)
            self.mm = mmap.mmap(fd, max(nbytes, 1), mmap.MAP_SHARED,
                                mmap.PROT_READ | mmap.PROT_WRITE)
        finally:
            os.close(fd)

    def array(self, shape, dtype):
        return np.ndarray(shape, dtype=dtype, buffer=self.mm)


def _block_of(t):
    d = getattr(t, "__dict__", None)
    return None if not d else d.get("_shared_block")


def is_shared(t):
    """Whether `t`'s array is the shared mapping share_memory_ made for it."""
    block = _block_of(t)
    if block is None:
        return False
    a = t._data
    return a.__array_interface__["data"][0] == np.frombuffer(block.mm, np.uint8).ctypes.data \
        and a.flags.c_contiguous and a.nbytes <= block.nbytes


def share_memory_(t):
    """Moves `t`'s data into shared memory (a no-op when it is there already); returns t."""
    if is_shared(t):
        return t
    a = np.ascontiguousarray(t._data)
    block = SharedBlock(os.path.join(_DIR, "dlcore-%d-%s" % (os.getpid(), uuid.uuid4().hex)),
                        a.nbytes, create=True)
    arr = block.array(a.shape, a.dtype)
    arr[...] = a
    t._data = arr
    t.__dict__["_shared_block"] = block
    return t


def rebuild_shared(cls, path, shape, dtype, requires_grad):
    """Unpickles a shared tensor in another process: maps the same file (no copy)."""
    block = SharedBlock(path, int(np.prod(shape, dtype=np.int64)) * np.dtype(dtype).itemsize,
                        create=False)
    arr = block.array(shape, dtype)
    t = cls(arr, requires_grad=requires_grad) if requires_grad else cls(arr)
    if requires_grad and not t.requires_grad:
        t.requires_grad_(True)
    t.__dict__["_shared_block"] = block
    return t


def shared_reduce(t, cls=None):
    """The pickle recipe of a shared tensor (None when `t` is not shared)."""
    if not is_shared(t):
        return None
    block = _block_of(t)
    return (rebuild_shared, (cls or type(t), block.path, tuple(t._data.shape),
                             t._data.dtype.str, bool(t.requires_grad)))


class SharedMemoryMethods:
    """Tensor methods for storage in shared memory."""

    __slots__ = ()

    def share_memory_(self):
        return share_memory_(self)

    def is_shared(self):
        return is_shared(self)

    @property
    def __deepcopy__(self):
        # a deep copy of a shared tensor is a private copy (the pickle recipe would map the
        # same memory); other tensors get None here, which makes copy.deepcopy use __reduce_ex__
        if not is_shared(self):
            return None
        return self._private_copy

    def _private_copy(self, memo):
        data = self._data.copy()
        new = type(self)(data, requires_grad=self.requires_grad)
        if self.grad is not None:
            new.grad = type(self.grad)(self.grad._data.copy())
        memo[id(self)] = new
        return new

    def __reduce_ex__(self, protocol):
        r = shared_reduce(self)
        if r is not None:
            return r
        return object.__reduce_ex__(self, protocol)


