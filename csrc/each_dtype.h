/* Instantiates a kernel template (a T/SUF-style *_impl.h) once per element type.  The
 * includer defines DL_TEMPLATE as the template's file name and includes this file; the
 * template then sees
 *   T          the element type: float, then double
 *   SUF(name)  name with the type's suffix: name_f32, name_f64
 *   GEMM       the engine's GEMM for T: dl_sgemm, dl_dgemm (see dlcore/gemm.h)
 * No include guard: every inclusion instantiates DL_TEMPLATE again. */
#ifndef DL_TEMPLATE
#error "define DL_TEMPLATE, the template to instantiate, before including each_dtype.h"
#endif

#define T float
#define SUF(name) name##_f32
#define GEMM dl_sgemm
#include DL_TEMPLATE
#undef T
#undef SUF
#undef GEMM

#define T double
#define SUF(name) name##_f64
#define GEMM dl_dgemm
#include DL_TEMPLATE
#undef T
#undef SUF
#undef GEMM

#undef DL_TEMPLATE
