/* Per-thread AMX tile configuration (see amx_tiles.h), compiled with the AMX flags and reached
 * only after dl_amx_ready() said yes.  TILECFG is thread state: every OpenMP thread that runs
 * an AMX tile loads its own configuration, and the first time a thread does so it reads it
 * back (sttilecfg) to check that it took. */
#include <stdint.h>
#include <string.h>
#include "amx_tiles.h"
#if defined(__AMX_TILE__)
#include <immintrin.h>

/* ldtilecfg's 64-byte memory operand, palette 1 */
typedef struct {
    uint8_t palette;
    uint8_t start_row;
    uint8_t reserved[14];
    uint16_t colsb[16];
    uint8_t rows[16];
} amx_cfg_t;

_Static_assert(sizeof(amx_cfg_t) == 64, "ldtilecfg reads 64 bytes");

/* the tail this thread's tiles are configured for; -1: not configured */
static __thread int t_tail = -1;
/* whether this thread has read its configuration back once */
static __thread int t_checked = 0;

/* gcc's tile intrinsics are asm statements that name only part of the memory they read (8
 * of ldtilecfg's 64 bytes): p escapes here, so every byte written to it is in memory before
 * the next asm runs */
#define AMX_BARRIER(p) __asm__ volatile("" : : "r"(p) : "memory")

int dl_amx_tiles_config(unsigned tail)
{
    if (t_tail == (int)tail) return 0;
    _Alignas(64) amx_cfg_t cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.palette = 1;
    for (int t = 0; t < 6; t++) {
        cfg.rows[t] = AMX_ROWS;
        cfg.colsb[t] = AMX_ROW_BYTES;
    }
    if (tail) {
        cfg.rows[6] = AMX_ROWS;
        cfg.colsb[6] = (uint16_t)(4 * tail);
        cfg.rows[7] = (uint8_t)tail;
        cfg.colsb[7] = AMX_ROW_BYTES;
    } else {                  /* no tail: tmm7 is a second B tile, tmm6 unused */
        cfg.rows[7] = AMX_ROWS;
        cfg.colsb[7] = AMX_ROW_BYTES;
    }
    AMX_BARRIER(&cfg);
    _tile_loadconfig(&cfg);
    if (!t_checked) {
        _Alignas(64) amx_cfg_t back;
        memset(&back, 0xff, sizeof back);
        AMX_BARRIER(&back);
        _tile_storeconfig(&back);
        AMX_BARRIER(&back);
        if (memcmp(&cfg, &back, sizeof cfg) != 0) {
            _tile_release();
            return -1;
        }
        t_checked = 1;
    }
    t_tail = (int)tail;
    return 0;
}

void dl_amx_tiles_release(void)
{
    if (t_tail >= 0) {
        _tile_release();
        t_tail = -1;
    }
}

void dl_amx_tiles_forget(void) { t_tail = -1; }

int dl_amx_built(void) { return 1; }

#else   /* the compiler had no AMX flags: nothing here may ever run */

int dl_amx_tiles_config(unsigned tail)
{
    (void)tail;
    return -1;
}
void dl_amx_tiles_release(void) {}
void dl_amx_tiles_forget(void) {}
int dl_amx_built(void) { return 0; }

#endif
