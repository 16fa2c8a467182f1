"""dl.multiprocessing: torch.multiprocessing's names over the standard library's.

Everything `multiprocessing` has (Process, Queue, Pool, get_context, set_start_method, ...)
is here unchanged; tensors and modules moved to shared memory (Tensor.share_memory_,
Module.share_memory) stay shared when passed to a child, whatever the start method: a forked
child inherits the mapping, a spawned one maps the same file when it unpickles them.
`spawn(fn, args, nprocs)` starts nprocs processes running fn(i, *args), as torch's does.

A forked child of a process that has already run dlcore kernels on several threads can hang in
gcc's OpenMP runtime; the 'spawn' and 'forkserver' start methods never do.
"""
import multiprocessing as _mp
from multiprocessing import *  # noqa: F401,F403

from .spawn import (spawn, start_processes, ProcessContext, ProcessRaisedException,  # noqa: F401
                    ProcessExitedException)

__all__ = list(_mp.__all__) + ["spawn", "start_processes", "ProcessContext",
                               "ProcessRaisedException", "ProcessExitedException",
                               "get_sharing_strategy", "set_sharing_strategy",
                               "get_all_sharing_strategies"]

_strategy = {"value": "file_system"}


def get_all_sharing_strategies():
    """Shared tensors are always files in /dev/shm mapped by each process ('file_system')."""
    return {"file_system"}


def get_sharing_strategy():
    return _strategy["value"]


def set_sharing_strategy(new_strategy):
    if new_strategy not in ("file_system", "file_descriptor"):
        raise ValueError("set_sharing_strategy: expected 'file_system' or 'file_descriptor', "
                         "got %r" % (new_strategy,))
    # both spellings work the same way here: a named file each process maps
    _strategy["value"] = new_strategy
