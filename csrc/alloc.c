/* Size-keyed block cache with huge-page backed large blocks; see alloc.h for why. */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include "dlcore/alloc.h"

enum {
    HEADER = 64,                 /* keeps the user pointer 64-byte aligned for mmap'ed blocks */
    /* a training step frees a few hundred cached-size blocks at once (char-GPT b32: ~200
     * between 128 KiB and 1 MiB); fewer slots would unmap most of them every step */
    CACHE_SLOTS = 512,
};
/* blocks from here on are mmap'ed and cached.  Not 1 MiB: glibc serves smaller blocks from
 * its heap and trims the heap's top back to the OS whenever a free leaves more than its trim
 * threshold there, which a step's backward does every step, so each of those pages faulted
 * in again on the next step (char-GPT b32 at 1 thread: ~2600 faults, ~10 ms of a ~90 ms
 * step on Zen 3; LeNet's LayerNorm- and Add-sized arrays the same) */
static const size_t LARGE = (size_t)128 << 10;
static const size_t HUGE_PAGE = (size_t)2 << 20;
static const size_t SMALL_GRAIN = (size_t)64 << 10;
static const uint32_t MAGIC_SMALL = 0x444c4d31u, MAGIC_LARGE = 0x444c4d32u;

typedef struct {
    size_t block;       /* bytes of the whole block, header included */
    uint32_t magic;
} header_t;

typedef struct {
    void *base;
    size_t block;
    uint64_t tick;
} slot_t;

static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static slot_t g_cache[CACHE_SLOTS];
static size_t g_cached_bytes, g_cached_blocks, g_hits, g_misses, g_mapped;
static size_t g_limit = (size_t)1 << 30;
static uint64_t g_tick;

static size_t round_up(size_t n, size_t to) { return (n + to - 1) / to * to; }

/* Block size for a request: huge-page multiples from 4 MiB, 64 KiB multiples below, so
 * that arrays of the same shape land in the same size class. */
static size_t large_block(size_t bytes)
{
    size_t total = bytes + HEADER;
    return total >= 2 * HUGE_PAGE ? round_up(total, HUGE_PAGE) : round_up(total, SMALL_GRAIN);
}

static void *map_block(size_t block)
{
    if (block < 2 * HUGE_PAGE) {
        void *p = mmap(NULL, block, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        return p == MAP_FAILED ? NULL : p;
    }
    /* over-map by one huge page, then trim so the block starts on a 2 MiB boundary */
    size_t span = block + HUGE_PAGE;
    char *raw = mmap(NULL, span, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (raw == MAP_FAILED) return NULL;
    uintptr_t start = round_up((uintptr_t)raw, HUGE_PAGE);
    size_t head = start - (uintptr_t)raw;
    if (head) munmap(raw, head);
    size_t tail = span - head - block;
    if (tail) munmap((char *)start + block, tail);
#ifdef MADV_HUGEPAGE
    madvise((void *)start, block, MADV_HUGEPAGE);
#endif
    return (void *)start;
}

/* Takes a cached block of exactly `block` bytes, or NULL. Caller holds the lock. */
static void *cache_take(size_t block)
{
    for (int i = 0; i < CACHE_SLOTS; i++) {
        if (g_cache[i].base && g_cache[i].block == block) {
            void *p = g_cache[i].base;
            g_cache[i].base = NULL;
            g_cached_bytes -= block;
            g_cached_blocks--;
            return p;
        }
    }
    return NULL;
}

/* Evicts the oldest cached blocks until `need` more bytes fit; caller holds the lock. */
static void cache_make_room(size_t need)
{
    while (g_cached_blocks && g_cached_bytes + need > g_limit) {
        int oldest = -1;
        for (int i = 0; i < CACHE_SLOTS; i++)
            if (g_cache[i].base && (oldest < 0 || g_cache[i].tick < g_cache[oldest].tick))
                oldest = i;
        if (oldest < 0) break;
        munmap(g_cache[oldest].base, g_cache[oldest].block);
        g_cached_bytes -= g_cache[oldest].block;
        g_cached_blocks--;
        g_cache[oldest].base = NULL;
    }
}

static void *large_alloc(size_t bytes, int *fresh)
{
    size_t block = large_block(bytes);
    if (block < bytes) return NULL;  /* overflow */
    pthread_mutex_lock(&g_lock);
    void *base = cache_take(block);
    if (base) g_hits++;
    else g_misses++;
    pthread_mutex_unlock(&g_lock);
    *fresh = base == NULL;
    if (!base) base = map_block(block);
    if (!base) return NULL;
    header_t *h = base;
    h->block = block;
    h->magic = MAGIC_LARGE;
    pthread_mutex_lock(&g_lock);
    g_mapped += block;
    pthread_mutex_unlock(&g_lock);
    return (char *)base + HEADER;
}

static void *small_alloc(size_t bytes, int zero)
{
    if (bytes > SIZE_MAX - HEADER) return NULL;
    header_t *h = zero ? calloc(1, bytes + HEADER) : malloc(bytes + HEADER);
    if (!h) return NULL;
    h->block = bytes + HEADER;
    h->magic = MAGIC_SMALL;
    return (char *)h + HEADER;
}

void *dl_buf_malloc(size_t bytes)
{
    int fresh;
    if (bytes >= LARGE) return large_alloc(bytes, &fresh);
    return small_alloc(bytes, 0);
}

void *dl_buf_calloc(size_t nelem, size_t elsize)
{
    if (elsize && nelem > SIZE_MAX / elsize) return NULL;
    size_t bytes = nelem * elsize;
    if (bytes < LARGE) return small_alloc(bytes, 1);
    int fresh;
    void *p = large_alloc(bytes, &fresh);
    if (p && !fresh) memset(p, 0, bytes);  /* fresh mappings are already zero */
    return p;
}

static header_t *header_of(void *ptr) { return (header_t *)((char *)ptr - HEADER); }

void dl_buf_free(void *ptr)
{
    if (!ptr) return;
    header_t *h = header_of(ptr);
    if (h->magic == MAGIC_SMALL) {
        h->magic = 0;
        free(h);
        return;
    }
    if (h->magic != MAGIC_LARGE) abort();  /* not ours: continuing would corrupt memory */
    size_t block = h->block;
    pthread_mutex_lock(&g_lock);
    g_mapped -= block;
    if (block <= g_limit) {
        cache_make_room(block);
        /* a free slot, else the least recently cached block's: when every slot holds
         * blocks of an earlier workload's sizes, the block freed now (likely wanted again
         * soon) replaces the oldest instead of being unmapped, or a new model's arrays
         * would never be cached and every step would fault its pages in afresh */
        int slot = -1, oldest = -1;
        for (int i = 0; i < CACHE_SLOTS && slot < 0; i++) {
            if (!g_cache[i].base) slot = i;
            else if (oldest < 0 || g_cache[i].tick < g_cache[oldest].tick) oldest = i;
        }
        if (slot < 0 && oldest >= 0) {
            munmap(g_cache[oldest].base, g_cache[oldest].block);
            g_cached_bytes -= g_cache[oldest].block;
            g_cached_blocks--;
            g_cache[oldest].base = NULL;
            slot = oldest;
        }
        if (slot >= 0) {
            g_cache[slot].base = h;
            g_cache[slot].block = block;
            g_cache[slot].tick = ++g_tick;
            g_cached_bytes += block;
            g_cached_blocks++;
            pthread_mutex_unlock(&g_lock);
            return;
        }
    }
    pthread_mutex_unlock(&g_lock);
    munmap(h, block);
}

void *dl_buf_realloc(void *ptr, size_t bytes)
{
    if (!ptr) return dl_buf_malloc(bytes);
    header_t *h = header_of(ptr);
    size_t have = h->block - HEADER;
    if (h->magic == MAGIC_LARGE && bytes <= have && bytes >= LARGE) return ptr;
    void *np = dl_buf_malloc(bytes);
    if (!np) return NULL;
    memcpy(np, ptr, have < bytes ? have : bytes);
    dl_buf_free(ptr);
    return np;
}

void dl_buf_set_cache_limit(size_t bytes)
{
    pthread_mutex_lock(&g_lock);
    g_limit = bytes;
    cache_make_room(0);
    pthread_mutex_unlock(&g_lock);
}

size_t dl_buf_cache_limit(void) { return g_limit; }

void dl_buf_empty_cache(void)
{
    pthread_mutex_lock(&g_lock);
    size_t keep = g_limit;
    g_limit = 0;
    cache_make_room(0);
    g_limit = keep;
    pthread_mutex_unlock(&g_lock);
}

void dl_buf_stats(dl_buf_stats_t *out)
{
    pthread_mutex_lock(&g_lock);
    out->cached_bytes = g_cached_bytes;
    out->cached_blocks = g_cached_blocks;
    out->hits = g_hits;
    out->misses = g_misses;
    out->mapped_bytes = g_mapped;
    pthread_mutex_unlock(&g_lock);
}
