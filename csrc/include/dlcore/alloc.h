/* Buffer allocator behind NumPy arrays (installed as NumPy's data-memory handler, NEP 49).
 *
 * Why: a fresh 4 KiB page costs ~1.7 us to fault in here, so an op writing a 100 MB result into
 * new memory spends most of its time in the kernel's page-fault path.  Large blocks (>= 128 KiB)
 * are therefore mmap'ed (from 4 MiB 2 MiB-aligned with transparent huge pages requested: one
 * fault per 2 MiB instead of 512), and on free they go into a size-keyed cache instead of back
 * to the OS, so the next op of the same shape reuses pages that are already mapped.
 * Small blocks go to malloc.  Every block carries a 64-byte header recording its size, so
 * realloc and free never need the caller's size.
 */
#ifndef DLCORE_ALLOC_H
#define DLCORE_ALLOC_H

#include <stddef.h>

void *dl_buf_malloc(size_t bytes);
void *dl_buf_calloc(size_t nelem, size_t elsize);
void *dl_buf_realloc(void *ptr, size_t bytes);
void dl_buf_free(void *ptr);

/* Largest total the cache keeps (bytes); extra blocks are returned to the OS. */
void dl_buf_set_cache_limit(size_t bytes);
size_t dl_buf_cache_limit(void);
/* Return every cached block to the OS. */
void dl_buf_empty_cache(void);

typedef struct {
    size_t cached_bytes, cached_blocks;
    size_t hits, misses;            /* large allocations served from the cache / by mmap */
    size_t mapped_bytes;            /* large blocks currently handed out */
} dl_buf_stats_t;
void dl_buf_stats(dl_buf_stats_t *out);

#endif
