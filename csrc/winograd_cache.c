/* The cache of transformed Winograd filters (see winograd.h).
 *
 * Inference calls a layer again and again with the same weights, and the filter transform
 * (a*a C K values written, 4x the weights for F(4x4)) is the part of a Winograd call that does
 * not shrink with the batch: at batch 1 it can cost more than the products.  An entry keeps
 * the packed U of one (weights, shape, direction, tile size, ISA) with a copy of the weights
 * it came from.  A lookup compares the weights with that copy byte for byte, unless the call
 * brings the seal token (dlcore/autograd/sealed.py) under which the entry was made or last
 * checked: a sealed array is read-only and every engine writer breaks the seal first, so the
 * token proves the bytes unchanged without reading them (the compare read ResNet-18's 38 MB
 * of 3x3 weights and their copy on every eager forward, ~5 ms at batch 1).  Token 0 (a
 * storage that could not be sealed: a view, shared, handed out) always compares: exact, at
 * the cost of a read of the weights, a fraction of the transform it saves.  A mismatch, the
 * first bytes differing for weights that a training step changed, gives up at once.
 *
 * Entries in use by a call are never evicted (a use count); a small table (WC_ENTRIES) with
 * a byte budget (WC_BYTES), least recently used out first.  A mutex guards the table: calls
 * come from any Python thread with the GIL released.
 */
#include <pthread.h>
#include <string.h>
#include "dlcore/alloc.h"
#include "dlcore/runtime.h"
#include "winograd.h"

#define WC_ENTRIES 32
#define WC_BYTES ((size_t)256 << 20)

typedef struct {
    const float *w;     /* the weights' address when cached; NULL: free slot */
    float *wcopy;       /* their values then */
    float *U;           /* the packed transform (dl_buf_malloc) */
    size_t wlen, ulen;  /* floats */
    int64_t K, C, wk, wc;
    int flip, m, isa;
    uint64_t token;     /* the seal token the weights were last known equal to wcopy under */
    unsigned long long used;
    int busy;
} wc_entry;

static wc_entry g_ent[WC_ENTRIES];
static size_t g_bytes;
static unsigned long long g_clock, g_hits, g_misses, g_trusted;
static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;

static int same_key(const wc_entry *e, const dl_wino_conv *cv, int m, int isa, size_t wlen,
                    size_t ulen)
{
    return e->w == cv->w && e->wlen == wlen && e->ulen == ulen && e->K == cv->K &&
           e->C == cv->C && e->wk == cv->wk && e->wc == cv->wc && e->flip == cv->flip &&
           e->m == m && e->isa == isa;
}

/* floats of weights one thread compares at least (512 KB) */
#define WC_CMP_GRAIN ((size_t)1 << 17)

/* a[0..n) == b[0..n) byte for byte, the threads comparing one piece each.  The weights and
 * their copy come from memory, not cache, at every call of a network's forward: ResNet-18's
 * Winograd layers compare 38 MB of weights, ~9% of the CPU time of an eager batch-1 forward
 * at two threads (perf), which on one thread stayed serial beside a parallel layer. */
static int same_values(const float *a, const float *b, size_t n)
{
    const int nt = dl_team_size() > 1 ? 1 : dl_threads_for(n, WC_CMP_GRAIN);
    if (nt < 2) return memcmp(a, b, n * sizeof(float)) == 0;
    int same = 1;
    #pragma omp parallel for num_threads(nt) schedule(static) reduction(&& : same)
    for (int t = 0; t < nt; t++) {
        const size_t lo = n * (size_t)t / (size_t)nt, hi = n * (size_t)(t + 1) / (size_t)nt;
        same = memcmp(a + lo, b + lo, (hi - lo) * sizeof(float)) == 0 && same;
    }
    return same;
}

static void drop(wc_entry *e)
{
    g_bytes -= (e->wlen + e->ulen) * sizeof(float);
    dl_buf_free(e->U);
    dl_free(e->wcopy);
    memset(e, 0, sizeof *e);
}

float *dl_wino_cache_find(const dl_wino_conv *cv, int m, int isa, size_t wlen, size_t ulen)
{
    wc_entry *hit = NULL;
    int trusted = 0;
    pthread_mutex_lock(&g_lock);
    for (int i = 0; i < WC_ENTRIES; i++)
        if (g_ent[i].w && same_key(&g_ent[i], cv, m, isa, wlen, ulen)) {
            hit = &g_ent[i];
            hit->busy++;
            trusted = cv->token != 0 && hit->token == cv->token;
            break;
        }
    if (!hit) g_misses++;
    if (trusted) {
        hit->used = ++g_clock;
        g_hits++;
        g_trusted++;
    }
    pthread_mutex_unlock(&g_lock);
    if (!hit) return NULL;
    if (trusted) return hit->U;
    /* outside the lock: the entry cannot go while busy, and wcopy never changes */
    const int same = same_values(hit->wcopy, cv->w, wlen);
    pthread_mutex_lock(&g_lock);
    if (same) {
        hit->used = ++g_clock;
        g_hits++;
        /* the weights equal wcopy now and, while this token is valid, stay so */
        hit->token = cv->token;
    } else {
        hit->busy--;
        g_misses++;
    }
    pthread_mutex_unlock(&g_lock);
    return same ? hit->U : NULL;
}

void dl_wino_cache_release(const float *U)
{
    pthread_mutex_lock(&g_lock);
    for (int i = 0; i < WC_ENTRIES; i++)
        if (g_ent[i].w && g_ent[i].U == U) {
            g_ent[i].busy--;
            break;
        }
    pthread_mutex_unlock(&g_lock);
}

int dl_wino_cache_offer(const dl_wino_conv *cv, int m, int isa, size_t wlen, float *U,
                        size_t ulen)
{
    const size_t bytes = (wlen + ulen) * sizeof(float);
    if (bytes > WC_BYTES) return 0;
    float *wcopy = (float *)dl_alloc(wlen * sizeof(float));
    if (!wcopy) return 0;
    memcpy(wcopy, cv->w, wlen * sizeof(float));
    int taken = 0;
    pthread_mutex_lock(&g_lock);
    /* an older transform of the same weights goes first (when nobody is reading it) */
    for (int i = 0; i < WC_ENTRIES; i++)
        if (g_ent[i].w && !g_ent[i].busy && same_key(&g_ent[i], cv, m, isa, wlen, ulen))
            drop(&g_ent[i]);
    for (;;) {
        wc_entry *slot = NULL, *lru = NULL;
        for (int i = 0; i < WC_ENTRIES; i++) {
            wc_entry *e = &g_ent[i];
            if (!e->w) {
                if (!slot) slot = e;
            } else if (!e->busy && (!lru || e->used < lru->used)) {
                lru = e;
            }
        }
        if (slot && g_bytes + bytes <= WC_BYTES) {
            slot->w = cv->w;
            slot->wcopy = wcopy;
            slot->U = U;
            slot->wlen = wlen;
            slot->ulen = ulen;
            slot->K = cv->K, slot->C = cv->C, slot->wk = cv->wk, slot->wc = cv->wc;
            slot->flip = cv->flip, slot->m = m, slot->isa = isa;
            slot->token = cv->token;
            slot->used = ++g_clock;
            slot->busy = 0;
            g_bytes += bytes;
            taken = 1;
            break;
        }
        if (!lru) break;   /* everything left is in use: do not cache this one */
        drop(lru);
    }
    pthread_mutex_unlock(&g_lock);
    if (!taken) dl_free(wcopy);
    return taken;
}

void dl_wino_cache_clear(void)
{
    pthread_mutex_lock(&g_lock);
    for (int i = 0; i < WC_ENTRIES; i++)
        if (g_ent[i].w && !g_ent[i].busy) drop(&g_ent[i]);
    g_hits = g_misses = g_trusted = 0;
    pthread_mutex_unlock(&g_lock);
}

void dl_wino_cache_stats(size_t *entries, size_t *bytes, size_t *hits, size_t *misses)
{
    pthread_mutex_lock(&g_lock);
    size_t n = 0;
    for (int i = 0; i < WC_ENTRIES; i++) n += g_ent[i].w != NULL;
    *entries = n;
    *bytes = g_bytes;
    *hits = (size_t)g_hits;
    *misses = (size_t)g_misses;
    pthread_mutex_unlock(&g_lock);
}

size_t dl_wino_cache_trusted(void)
{
    pthread_mutex_lock(&g_lock);
    const size_t n = (size_t)g_trusted;
    pthread_mutex_unlock(&g_lock);
    return n;
}
