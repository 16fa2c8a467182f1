/* A C model of the AMX instructions dlcore's tiles use, so that the real kernel sources
 * (csrc/amx_tile_impl.h through qgemm_amx.c / bf16_amx.c, csrc/tilecfg_amx.c, the drivers and
 * the self-check) can be compiled and run on a CPU without AMX (tests/test_amx.py).  Include
 * this instead of the AMX flags: it replaces gcc's tile intrinsics with calls into emu.c.
 *
 * The model follows the instruction descriptions of the Intel SDM: TILECFG per thread
 * (palette 1, up to 16 rows of up to 64 bytes; unused tiles all zero), tile loads and stores
 * of rows x colsb bytes at a stride, and the dot products' shape rules (dst.rows == a.rows,
 * dst.colsb == b.colsb, a.colsb == 4 b.rows, three distinct tiles), dying on any breach, on
 * a tile used before it is configured, or on a tile instruction while the model is switched
 * off (what SIGILL would be).  Memory is read and written with memcpy, so AddressSanitizer
 * sees every byte a tile load or store touches.  bf16: each pair of products is added to the
 * float32 sum in turn (even element first), denormal inputs read as zero, denormal results
 * flushed, as the SDM's pseudo-code states; the real unit may round differently, which is
 * why the bf16 checks allow the float32 bound and not bit equality. */
#ifndef DLCORE_AMX_EMU_H
#define DLCORE_AMX_EMU_H

#include <immintrin.h>
#include <stddef.h>

void emu_loadconfig(const void *cfg);
void emu_storeconfig(void *cfg);
void emu_release(void);
void emu_loadd(int t, const void *base, long stride);
void emu_stored(int t, void *base, long stride);
void emu_zero(int t);
void emu_dpbusd(int c, int a, int b);
void emu_dpbf16ps(int c, int a, int b);

#undef _tile_loadd
#undef _tile_stored
#undef _tile_zero
#undef _tile_dpbusd
#undef _tile_dpbf16ps
#define _tile_loadconfig(c) emu_loadconfig(c)
#define _tile_storeconfig(c) emu_storeconfig(c)
#define _tile_release() emu_release()
#define _tile_loadd(t, b, s) emu_loadd(t, b, (long)(s))
#define _tile_stored(t, b, s) emu_stored(t, b, (long)(s))
#define _tile_zero(t) emu_zero(t)
#define _tile_dpbusd(c, a, b) emu_dpbusd(c, a, b)
#define _tile_dpbf16ps(c, a, b) emu_dpbf16ps(c, a, b)
#define __AMX_TILE__ 1
#define __AMX_INT8__ 1
#define __AMX_BF16__ 1

/* harness switches (emu.c) */
extern int emu_allow_amx;          /* what dl_amx_allowed() answers */
extern int emu_threads;            /* what dl_num_threads() answers */
extern int emu_corrupt_readback;   /* sttilecfg returns a changed byte */
extern int emu_live;               /* threads whose tiles are configured now */
extern int emu_failures;           /* dl_amx_note_failure calls */

#endif
