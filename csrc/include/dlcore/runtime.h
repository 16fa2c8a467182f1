/* Engine-wide state: the SIMD path in use and the thread count. */
#ifndef DLCORE_RUNTIME_H
#define DLCORE_RUNTIME_H

#include <stddef.h>
#include <stdint.h>

typedef enum { DL_ISA_GENERIC = 0, DL_ISA_AVX2 = 1, DL_ISA_AVX512 = 2 } dl_isa_t;

/* Best path this CPU and OS support (CPUID + XGETBV). */
dl_isa_t dl_cpu_best_isa(void);
/* Path in use; starts as DLCORE_ISA if set and supported, else the best one. */
dl_isa_t dl_isa(void);
/* Returns 0, or -1 if this CPU cannot run `isa` (then nothing changes). */
int dl_set_isa(dl_isa_t isa);
const char *dl_isa_name(dl_isa_t isa);

int dl_num_threads(void);
void dl_set_num_threads(int n);
/* A thread count for the calling thread only, overriding the engine's (0: back to it);
 * returns the previous one.  Lets concurrent callers each run with their own count. */
int dl_set_local_num_threads(int n);
int dl_have_openmp(void);

/* Threads worth using for `work` units when one thread should get at least `grain`. */
static inline int dl_threads_for(size_t work, size_t grain)
{
    int n = dl_num_threads();
    size_t useful = grain ? work / grain : work;
    if (useful < 1) useful = 1;
    return (size_t)n < useful ? n : (int)useful;
}

/* This thread's number in the enclosing parallel region and the size of its team (0 and 1
 * outside one or without OpenMP). */
int dl_thread_id(void);
int dl_team_size(void);

/* 64-byte aligned scratch memory; dl_free(NULL) is a no-op. */
void *dl_alloc(size_t bytes);
void dl_free(void *p);

#endif
