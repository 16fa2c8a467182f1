/* Read-only weight buffers that plans share (plan_shared.c).
 *
 * Every plan transforms or packs its constant weights when it is made (Winograd filters,
 * direct-convolution blocks).  Two plans of one model (batch 1 and batch 32, or a batch and
 * the per-slice plan its threads run) come out with the same bytes: ResNet-18's transformed
 * filters are ~70 MB a plan.  A plan hands each buffer it made to dl_plan_share, which
 * returns an equal buffer some plan registered before (and frees the new one) or keeps the
 * new one; the plan never writes to it, and gives it back with dl_plan_unshare when it is
 * freed.  Equal means byte for byte: a model whose weights changed between two plans gets
 * its own buffer, and so does any other packing (another ISA, tile size or layout). */
#ifndef DLCORE_PLAN_SHARED_H
#define DLCORE_PLAN_SHARED_H

#include <stddef.h>

/* buf: bytes from dl_alloc, or NULL (returned as is).  Thread-safe. */
void *dl_plan_share(void *buf, size_t bytes);
/* One reference fewer to a buffer dl_plan_share returned (NULL: no-op); freed at the last. */
void dl_plan_unshare(void *buf);

#endif
