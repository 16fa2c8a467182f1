/* Optimizer kernels: threading, and the ISA's kernel table (the bodies are in optim_simd.c).
 *
 * An update is element-wise, so threads take contiguous pieces of every buffer.  Piece
 * borders fall on multiples of CHUNK_ALIGN elements (whole cache lines for float and double
 * when the buffers are 64-byte aligned) so two threads never write the same line.
 */
#include "dlcore/optim.h"
#include "optim_kernels.h"
#include "dlcore/runtime.h"
#ifdef DL_HAVE_OPENMP
#include <omp.h>
#endif

/* Below this many elements per thread, starting a thread costs more than it saves. */
#define GRAIN ((size_t)1 << 15)
#define CHUNK_ALIGN ((size_t)64)
#define PIECES_PER_THREAD 8

/* [lo, hi) of part t of T over n elements (the reductions keep a static split so that the
 * sum is the same whichever thread runs first). */
static inline void chunk(size_t n, int t, int T, size_t *lo, size_t *hi)
{
    size_t per = (n + (size_t)T - 1) / (size_t)T;
    per = (per + CHUNK_ALIGN - 1) / CHUNK_ALIGN * CHUNK_ALIGN;
    size_t a = per * (size_t)t, b = a + per;
    *lo = a < n ? a : n;
    *hi = b < n ? b : n;
}

typedef void (*range_fn)(const void *job, size_t lo, size_t hi);

/* Runs body(job, lo, hi) over [0, n) on as many threads as the size is worth.
 * The range is cut into several pieces per thread, handed out dynamically: on a shared
 * machine one thread is often descheduled for a while, and with a static split the other
 * threads would wait for it at the end of the region instead of taking over its work. */
static void run_chunks(size_t n, range_fn body, const void *job)
{
    int nt = dl_threads_for(n, GRAIN);
    if (nt <= 1) {
        body(job, 0, n);
        return;
    }
#ifdef DL_HAVE_OPENMP
    size_t piece = n / ((size_t)nt * PIECES_PER_THREAD);
    if (piece < GRAIN / 2) piece = GRAIN / 2;
    piece = (piece + CHUNK_ALIGN - 1) / CHUNK_ALIGN * CHUNK_ALIGN;
    long npieces = (long)((n + piece - 1) / piece);
#pragma omp parallel for num_threads(nt) schedule(dynamic, 1)
    for (long k = 0; k < npieces; k++) {
        size_t lo = (size_t)k * piece;
        size_t hi = lo + piece < n ? lo + piece : n;
        body(job, lo, hi);
    }
#else
    body(job, 0, n);
#endif
}

#define DL_MAX_SUMSQ_THREADS 256

#define DL_TEMPLATE "optim_impl.h"
#include "each_dtype.h"
