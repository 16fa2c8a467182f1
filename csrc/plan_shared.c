/* The registry of shared plan weights (see plan_shared.h): a short list under one lock,
 * searched by size and a hash of the bytes, confirmed by memcmp.  A process holds a few
 * hundred entries at most (one per transformed layer of each distinct model). */
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dlcore/plan.h"
#include "dlcore/runtime.h"
#include "plan_shared.h"

typedef struct {
    void *buf;
    size_t bytes;
    uint64_t hash;
    long refs;
} shared_buf;

static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;
static shared_buf *g_bufs;
static int g_n, g_cap;
static size_t g_bytes;

/* FNV-style over 8-byte words (the tail bytewise): one pass, ~10 ms for ResNet-18's 70 MB */
static uint64_t hash_bytes(const void *p, size_t n)
{
    const unsigned char *c = p;
    uint64_t h = 1469598103934665603ull ^ n;
    size_t k = 0;
    for (; k + 8 <= n; k += 8) {
        uint64_t w;
        memcpy(&w, c + k, 8);
        h = (h ^ w) * 1099511628211ull;
        h ^= h >> 29;
    }
    for (; k < n; k++) h = (h ^ c[k]) * 1099511628211ull;
    return h;
}

void *dl_plan_share(void *buf, size_t bytes)
{
    if (!buf) return NULL;
    const uint64_t h = hash_bytes(buf, bytes);
    pthread_mutex_lock(&g_mu);
    for (int k = 0; k < g_n; k++) {
        shared_buf *e = &g_bufs[k];
        if (e->bytes == bytes && e->hash == h && memcmp(e->buf, buf, bytes) == 0) {
            e->refs++;
            pthread_mutex_unlock(&g_mu);
            dl_free(buf);
            return e->buf;
        }
    }
    if (g_n == g_cap) {
        const int cap = g_cap ? 2 * g_cap : 64;
        shared_buf *nb = realloc(g_bufs, sizeof(shared_buf) * (size_t)cap);
        if (!nb) {
            /* unlisted: this plan owns it alone (dl_plan_unshare frees what it cannot find) */
            pthread_mutex_unlock(&g_mu);
            return buf;
        }
        g_bufs = nb;
        g_cap = cap;
    }
    g_bufs[g_n++] = (shared_buf){buf, bytes, h, 1};
    g_bytes += bytes;
    pthread_mutex_unlock(&g_mu);
    return buf;
}

void dl_plan_unshare(void *buf)
{
    if (!buf) return;
    pthread_mutex_lock(&g_mu);
    for (int k = 0; k < g_n; k++) {
        shared_buf *e = &g_bufs[k];
        if (e->buf != buf) continue;
        if (--e->refs == 0) {
            g_bytes -= e->bytes;
            *e = g_bufs[--g_n];
            pthread_mutex_unlock(&g_mu);
            dl_free(buf);
            return;
        }
        pthread_mutex_unlock(&g_mu);
        return;
    }
    pthread_mutex_unlock(&g_mu);
    dl_free(buf);
}

void dl_plan_shared_stats(int64_t *buffers, int64_t *bytes)
{
    pthread_mutex_lock(&g_mu);
    *buffers = g_n;
    *bytes = (int64_t)g_bytes;
    pthread_mutex_unlock(&g_mu);
}
