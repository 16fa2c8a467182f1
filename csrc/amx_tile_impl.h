/* The AMX GEMM tile, written once for the int8 family (tdpbusd, qgemm_amx.c) and the bf16 one
 * (tdpbf16ps, bf16_amx.c), with the kernels table's tile signature: C (mr <= 16 rows,
 * 16 * nv columns, row stride AT_LDC) (+)= A rows x nv packed panels over one K block.
 *
 * Both instructions take A as rows of 4-byte groups (4 u8 or 2 bf16) and B as rows of groups,
 * one row per group index, each row 16 columns x 4 bytes: exactly the packed panels' layout
 * (qgemm.c, bf16.c pack [group][column 0..15][4 bytes]), so a panel's next 16 groups are one
 * B tile read in place (stride 64).  Shapes (amx_tiles.h): whole 16-group chunks through tmm4
 * (A) and tmm5/tmm7 (B); the K block's last tail groups through tmm6/tmm7.  Edges:
 *   M: fewer than 16 rows are copied into a zeroed 16-row stack buffer (the tile always
 *      computes 16 rows; its rows past mr land in C's rows past mr, which the drivers' sum
 *      buffers hold (their row blocks are multiples of 16 rows) and never read);
 *   N: packed panels are zero padded to 16 columns, so the last panel is a whole tile;
 *   K: int8 rows are zero padded to Kp (a multiple of 4) by the GEMM's contract; a bf16 row
 *      may end in half a group, and that chunk is copied into the zeroed buffer too.
 * Where this thread's tile configuration fails (dl_amx_tiles_config), the tile runs the
 * family's AVX-512 tile instead, AT_FALLBACK_MR rows at a time.
 *
 * Template: the including file defines, then includes this file (which #undefs them):
 *   AT_TILE               name of the tile function it defines
 *   AT_A, AT_B, AT_C      element types of activations, packed weights and sums
 *   AT_GROUP              elements of A in one 4-byte group (4 or 2)
 *   AT_LDC                row stride of C (elements)
 *   AT_DP(c, a, b)        the dot-product instruction on tiles numbered c, a, b (literals)
 *   AT_FALLBACK, AT_FALLBACK_MR   the AVX-512 tile of the family and its most rows */
#include <immintrin.h>
#include <stdint.h>
#include <string.h>
#include "amx_tiles.h"

/* gcc's tileloadd is an asm statement that takes only the address: p escapes here, so the
 * bytes just written to it are in memory before the load */
#define AT_BARRIER(p) __asm__ volatile("" : : "r"(p) : "memory")

/* rows [0, rows) of `bytes` bytes from src (stride apart) into a 16 x 64 buffer, zeros
 * elsewhere */
static inline void at_stage(uint8_t *dst, const uint8_t *src, size_t stride, size_t rows,
                            size_t bytes)
{
    for (size_t r = 0; r < AMX_ROWS; r++) {
        const size_t n = r < rows ? bytes : 0;
        if (n) memcpy(dst + r * AMX_ROW_BYTES, src + r * stride, n);
        memset(dst + r * AMX_ROW_BYTES + n, 0, AMX_ROW_BYTES - n);
    }
    AT_BARRIER(dst);   /* the tile load below reads the buffer */
}

#define AT_C_LOAD(v) if (nv > v) _tile_loadd(v, C + 16 * v, c_stride);
#define AT_C_ZERO(v) if (nv > v) _tile_zero(v);
#define AT_C_STORE(v) if (nv > v) _tile_stored(v, C + 16 * v, c_stride);
#define AT_B_DOT(v, bt, at)                                                             \
    if (nv > v) {                                                                       \
        _tile_loadd(bt, bc + v * p_bytes, AMX_ROW_BYTES);                               \
        AT_DP(v, at, bt);                                                               \
    }

void AT_TILE(size_t mr, size_t nv, size_t K, const AT_A *A, size_t lda, const AT_B *B,
             size_t pstride, AT_C *C, int accumulate)
{
    const size_t groups = (K + AT_GROUP - 1) / AT_GROUP;
    const size_t chunks = groups / AMX_ROWS, tail = groups % AMX_ROWS;
    if (dl_amx_tiles_config((unsigned)tail) != 0) {
        dl_amx_note_failure("the tile configuration did not read back on a thread");
        for (size_t i = 0; i < mr; i += AT_FALLBACK_MR)
            AT_FALLBACK(mr - i < AT_FALLBACK_MR ? mr - i : AT_FALLBACK_MR, nv, K, A + i * lda,
                        lda, B, pstride, C + i * AT_LDC, accumulate);
        return;
    }
    _Alignas(64) uint8_t stage[AMX_ROWS * AMX_ROW_BYTES];
    const uint8_t *a8 = (const uint8_t *)A, *b8 = (const uint8_t *)B;
    const size_t a_stride = lda * sizeof(AT_A), a_bytes = K * sizeof(AT_A);
    const size_t p_bytes = pstride * sizeof(AT_B), c_stride = AT_LDC * sizeof(AT_C);
    if (accumulate) {
        AT_C_LOAD(0) AT_C_LOAD(1) AT_C_LOAD(2) AT_C_LOAD(3)
    } else {
        AT_C_ZERO(0) AT_C_ZERO(1) AT_C_ZERO(2) AT_C_ZERO(3)
    }
    for (size_t c = 0; c < chunks; c++) {
        const size_t off = c * AMX_ROW_BYTES;
        if (mr < AMX_ROWS || a_bytes - off < AMX_ROW_BYTES) {
            const size_t have = a_bytes - off < AMX_ROW_BYTES ? a_bytes - off : AMX_ROW_BYTES;
            at_stage(stage, a8 + off, a_stride, mr, have);
            _tile_loadd(4, stage, AMX_ROW_BYTES);
        } else {
            _tile_loadd(4, a8 + off, a_stride);
        }
        const uint8_t *bc = b8 + c * AMX_ROWS * AMX_ROW_BYTES;
        if (tail == 0) {      /* tmm7 is free: alternate the B tiles */
            AT_B_DOT(0, 5, 4) AT_B_DOT(1, 7, 4) AT_B_DOT(2, 5, 4) AT_B_DOT(3, 7, 4)
        } else {
            AT_B_DOT(0, 5, 4) AT_B_DOT(1, 5, 4) AT_B_DOT(2, 5, 4) AT_B_DOT(3, 5, 4)
        }
    }
    if (tail) {
        const size_t off = chunks * AMX_ROW_BYTES, tb = 4 * tail;
        if (mr < AMX_ROWS || a_bytes - off < tb) {
            at_stage(stage, a8 + off, a_stride, mr, a_bytes - off < tb ? a_bytes - off : tb);
            _tile_loadd(6, stage, AMX_ROW_BYTES);
        } else {
            _tile_loadd(6, a8 + off, a_stride);
        }
        const uint8_t *bc = b8 + chunks * AMX_ROWS * AMX_ROW_BYTES;
        AT_B_DOT(0, 7, 6) AT_B_DOT(1, 7, 6) AT_B_DOT(2, 7, 6) AT_B_DOT(3, 7, 6)
    }
    AT_C_STORE(0) AT_C_STORE(1) AT_C_STORE(2) AT_C_STORE(3)
}

#undef AT_BARRIER
#undef AT_C_LOAD
#undef AT_C_ZERO
#undef AT_C_STORE
#undef AT_B_DOT
#undef AT_TILE
#undef AT_A
#undef AT_B
#undef AT_C
#undef AT_GROUP
#undef AT_LDC
#undef AT_DP
#undef AT_FALLBACK
#undef AT_FALLBACK_MR
