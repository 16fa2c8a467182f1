/* The one way a kernel family reaches its per-ISA code: a kernel table.
 *
 * A family collects its per-ISA entry points in a struct of function pointers (its kernel
 * table, declared in the family's private <fam>_kernels.h) and each ISA copy defines one
 * instance of it, named <table>_generic, <table>_avx2 and <table>_avx512.  A *_simd.c file,
 * compiled once per ISA, defines its copy's instance once as DL_ISA_FN(<table>); hand-written
 * per-ISA files define theirs by name.
 *
 *     DL_KERNEL_TABLE(struct act_kernels, act_kernels)
 *
 * declares the three instances and defines act_kernels_for(isa) (the instance for one ISA)
 * and act_kernels() (the instance for the ISA in use, dl_isa(), read at every call so that
 * set_isa takes effect at once).  A caller does act_kernels()->fwd(...), or reads the table
 * once into a local when it calls a kernel in a loop.  A slot an ISA has no kernel for is
 * NULL (the caller then takes its portable path).
 */
#ifndef DLCORE_DISPATCH_H
#define DLCORE_DISPATCH_H

#include "dlcore/runtime.h"

#define DL_KERNEL_TABLE(type, table)                                                          \
    extern const type table##_generic, table##_avx2, table##_avx512;                        \
    static inline const type *table##_for(dl_isa_t isa)                                      \
    {                                                                                         \
        return isa == DL_ISA_AVX512 ? &table##_avx512                                        \
               : isa == DL_ISA_AVX2 ? &table##_avx2 : &table##_generic;                     \
    }                                                                                         \
    static inline const type *table(void) { return table##_for(dl_isa()); }

#endif
