/* The AMX tile layout the GEMM families share (amx_tile_impl.h), the per-thread tile
 * configuration (tilecfg_amx.c) and the hooks between them and the detection (amx.c).
 *
 * Tiles (palette 1): tmm0-3 the sums of one 16-row x 16-column block per packed panel
 * (16 x 64 bytes); tmm4 16 rows of A (16 x 64 bytes: 16 groups of 4 bytes, i.e. 64 int8 or
 * 32 bf16); tmm5 (and tmm7 when K has no tail) 16 groups of a packed panel (16 x 64 bytes: a
 * panel's group g is 64 bytes, 16 columns x 4 bytes, exactly a B tile row); for a K block
 * whose group count is not a multiple of 16 the last `tail` groups use tmm6 (16 x 4 tail
 * bytes of A) and tmm7 (tail x 64 bytes of B).  The shapes therefore depend only on the tail,
 * fixed for one GEMM call, so each thread loads its configuration once per call (and again
 * only if the tail changes) and releases it at the end of the call. */
#ifndef DLCORE_AMX_TILES_H
#define DLCORE_AMX_TILES_H

#include <stddef.h>

#define AMX_ROWS 16          /* rows of a tile, and groups per full K chunk */
#define AMX_ROW_BYTES 64     /* bytes of a tile row */

/* Configures this thread's tiles for K tails of `tail` groups (0..15) unless they already
 * are; 0 on success, -1 when the configuration did not read back (then the caller reports it
 * with dl_amx_note_failure, which turns AMX off for the process, and takes its fallback tile).
 * Only ever called after dl_amx_ready(). */
int dl_amx_tiles_config(unsigned tail);
/* At the end of a GEMM call, on every thread of its team: tilerelease where this thread
 * configured tiles (nothing otherwise, so no tile instruction runs on a thread that did not
 * run the AMX tile). */
void dl_amx_tiles_release(void);
/* After a fault caught in the self-check: forget this thread's configuration record. */
void dl_amx_tiles_forget(void);
/* 1 when this build compiled the AMX kernels (the compiler took -mamx-*), else 0. */
int dl_amx_built(void);

/* amx.c: a thread found that the tile configuration did not take: AMX off from now on (the
 * tile kernels call it, so the configuration file needs nothing back from amx.c). */
void dl_amx_note_failure(const char *why);

/* amx_selfcheck.c: run the kind's fixed GEMM through its AMX tile (on the calling thread, no
 * OpenMP) and compare; 0 when equal (int8: bit for bit; bf16: within the float32 bound),
 * otherwise writes the first difference to why. */
int dl_amx_selfcheck_int8(char *why, size_t len);
int dl_amx_selfcheck_bf16(char *why, size_t len);

#endif
