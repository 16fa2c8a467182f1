# NumPy data-memory handler (NEP 49) backed by csrc/alloc.c's block cache.
cdef extern from *:
    """
    #include "dlcore/alloc.h"
    static void *dl_np_malloc(void *ctx, size_t n) { (void)ctx; return dl_buf_malloc(n); }
    static void *dl_np_calloc(void *ctx, size_t a, size_t b) { (void)ctx; return dl_buf_calloc(a, b); }
    static void *dl_np_realloc(void *ctx, void *p, size_t n) { (void)ctx; return dl_buf_realloc(p, n); }
    static void dl_np_free(void *ctx, void *p, size_t n) { (void)ctx; (void)n; dl_buf_free(p); }
    static PyDataMem_Handler dl_np_handler = {
        "dlcore_buffers", 1, {NULL, dl_np_malloc, dl_np_calloc, dl_np_realloc, dl_np_free}};
    static PyObject *dl_np_handler_capsule(void)
    {
        return PyCapsule_New(&dl_np_handler, "mem_handler", NULL);
    }
    """
    object dl_np_handler_capsule()
    object PyDataMem_SetHandler(object handler)
    object PyDataMem_GetHandler()

cdef extern from "dlcore/alloc.h":
    ctypedef struct dl_buf_stats_t:
        size_t cached_bytes, cached_blocks, hits, misses, mapped_bytes
    void dl_buf_set_cache_limit(size_t nbytes)
    size_t dl_buf_cache_limit()
    void dl_buf_empty_cache()
    void dl_buf_stats(dl_buf_stats_t *out)

_default_handler = [None]


def allocator_install():
    """Make NumPy allocate array data through dlcore's block cache (in this context)."""
    if _default_handler[0] is None:
        _default_handler[0] = PyDataMem_GetHandler()
    PyDataMem_SetHandler(dl_np_handler_capsule())


def allocator_uninstall():
    if _default_handler[0] is not None:
        PyDataMem_SetHandler(_default_handler[0])


def allocator_stats():
    cdef dl_buf_stats_t s
    dl_buf_stats(&s)
    return {"cached_bytes": s.cached_bytes, "cached_blocks": s.cached_blocks,
            "hits": s.hits, "misses": s.misses, "mapped_bytes": s.mapped_bytes,
            "cache_limit": dl_buf_cache_limit()}


def allocator_empty_cache():
    dl_buf_empty_cache()


def allocator_set_cache_limit(size_t nbytes):
    dl_buf_set_cache_limit(nbytes)
