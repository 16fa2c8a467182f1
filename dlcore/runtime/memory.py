"""Where array memory comes from: dlcore's block cache behind NumPy (see csrc/alloc.c).

Installed when dlcore is imported (set DLCORE_ALLOCATOR=0 to keep NumPy's default). Large
blocks are huge-page backed and reused by size, so an op whose output has the same shape as
one freed earlier writes into pages that are already mapped instead of faulting in new ones.
"""
import os

from .. import _C


def install():
    _C.allocator_install()


def uninstall():
    _C.allocator_uninstall()


def stats():
    """Dict: cached_bytes, cached_blocks, hits, misses, mapped_bytes, cache_limit."""
    return _C.allocator_stats()


def empty_cache():
    """Return every cached block to the operating system."""
    _C.allocator_empty_cache()


def set_cache_limit(nbytes):
    if nbytes < 0:
        raise ValueError("set_cache_limit: nbytes must be >= 0, got %d" % nbytes)
    _C.allocator_set_cache_limit(int(nbytes))


def _install_at_import():
    if os.environ.get("DLCORE_ALLOCATOR", "1") not in ("0", "off", "false", "no"):
        install()
