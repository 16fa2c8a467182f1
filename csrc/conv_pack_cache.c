/* The cache of packed convolution weights for eager inference (see conv_pack_cache.h).
 *
 * At batch 1 an eager im2col convolution packed its weights on every call, and the small-map
 * product packed them block by block as it went: ResNet-18's stride-2 layers ran 7% to 70%
 * slower eager than planned (CPU time, 1 thread), the plan having packed them once.  An
 * entry keeps one (weights, seal token, kind, ISA)'s packed form; a small table (PC_ENTRIES)
 * with a byte budget (PC_BYTES), least recently used out first, entries in use never evicted
 * (a use count).  A mutex guards the table: calls come from any Python thread with the GIL
 * released. */
#include <pthread.h>
#include <string.h>

#include "conv_pack_cache.h"

#define PC_ENTRIES 48
#define PC_BYTES ((size_t)128 << 20)

typedef struct {
    dl_conv_pack_key key;   /* key.w NULL: a free slot */
    void *packed;
    dl_conv_pack_destroy destroy;
    size_t bytes;
    unsigned long long used;
    int busy;
} pc_entry;

static pc_entry g_ent[PC_ENTRIES];
static size_t g_bytes;
static unsigned long long g_clock;
static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;

static int same_key(const dl_conv_pack_key *a, const dl_conv_pack_key *b)
{
    return a->w == b->w && a->token == b->token && a->kind == b->kind && a->isa == b->isa &&
           a->K == b->K && a->CRS == b->CRS;
}

/* an entry's packed form goes (under the lock, when nobody uses it) */
static void drop(pc_entry *e)
{
    g_bytes -= e->bytes;
    e->destroy(e->packed);
    memset(e, 0, sizeof *e);
}

/* under the lock: a slot for `bytes` more (evicting the least recently used), or NULL */
static pc_entry *free_slot(size_t bytes)
{
    if (bytes > PC_BYTES) return NULL;
    for (;;) {
        pc_entry *slot = NULL, *lru = NULL;
        for (int i = 0; i < PC_ENTRIES; i++) {
            pc_entry *e = &g_ent[i];
            if (!e->key.w) {
                if (!slot) slot = e;
            } else if (!e->busy && (!lru || e->used < lru->used)) {
                lru = e;
            }
        }
        if (slot && g_bytes + bytes <= PC_BYTES) return slot;
        if (!lru) return NULL;
        drop(lru);
    }
}

void *dl_conv_pack_acquire(const dl_conv_pack_key *key, dl_conv_pack_make make,
                           dl_conv_pack_destroy destroy)
{
    if (!key->w || !key->token) return NULL;
    pthread_mutex_lock(&g_lock);
    for (int i = 0; i < PC_ENTRIES; i++) {
        pc_entry *e = &g_ent[i];
        if (e->key.w && same_key(&e->key, key)) {
            e->busy++;
            e->used = ++g_clock;
            pthread_mutex_unlock(&g_lock);
            return e->packed;
        }
    }
    /* entries of the same weights under an older seal can never be found again */
    for (int i = 0; i < PC_ENTRIES; i++) {
        pc_entry *e = &g_ent[i];
        if (e->key.w == key->w && e->key.token != key->token && !e->busy) drop(e);
    }
    pthread_mutex_unlock(&g_lock);
    size_t bytes = 0;
    void *packed = make(key, &bytes);
    if (!packed) return NULL;
    pthread_mutex_lock(&g_lock);
    /* another thread may have made the same meanwhile: one entry per key */
    for (int i = 0; i < PC_ENTRIES; i++) {
        pc_entry *e = &g_ent[i];
        if (e->key.w && same_key(&e->key, key)) {
            e->busy++;
            e->used = ++g_clock;
            pthread_mutex_unlock(&g_lock);
            destroy(packed);
            return e->packed;
        }
    }
    pc_entry *slot = free_slot(bytes);
    if (slot) {
        slot->key = *key;
        slot->packed = packed;
        slot->destroy = destroy;
        slot->bytes = bytes;
        slot->used = ++g_clock;
        slot->busy = 1;
        g_bytes += bytes;
    }
    pthread_mutex_unlock(&g_lock);
    return packed;
}

void dl_conv_pack_release(void *packed, dl_conv_pack_destroy destroy)
{
    if (!packed) return;
    int kept = 0;
    pthread_mutex_lock(&g_lock);
    for (int i = 0; i < PC_ENTRIES; i++)
        if (g_ent[i].key.w && g_ent[i].packed == packed) {
            g_ent[i].busy--;
            kept = 1;
            break;
        }
    pthread_mutex_unlock(&g_lock);
    if (!kept) destroy(packed);   /* made for this call only */
}

void dl_conv_pack_cache_clear(void)
{
    pthread_mutex_lock(&g_lock);
    for (int i = 0; i < PC_ENTRIES; i++)
        if (g_ent[i].key.w && !g_ent[i].busy) drop(&g_ent[i]);
    pthread_mutex_unlock(&g_lock);
}

void dl_conv_pack_cache_stats(size_t *entries, size_t *bytes)
{
    pthread_mutex_lock(&g_lock);
    size_t n = 0;
    for (int i = 0; i < PC_ENTRIES; i++) n += g_ent[i].key.w != NULL;
    if (entries) *entries = n;
    if (bytes) *bytes = g_bytes;
    pthread_mutex_unlock(&g_lock);
}
