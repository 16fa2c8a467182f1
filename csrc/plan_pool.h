/* The executor's own helper threads (plan_pool.c): a job is `nparts` independent parts that
 * the calling thread works through itself while up to `max_helpers` helpers take parts too.
 * The caller waits only for parts a helper has actually started, never for a helper that has
 * not been scheduled yet, so a job costs at most about what the caller alone would take
 * (plus a part a helper started late).  Used by batch-sliced runs (plan_split.c) and by the
 * few-row products of small plans split by columns (plan_gemm_split.c). */
#ifndef DLCORE_PLAN_POOL_H
#define DLCORE_PLAN_POOL_H

typedef void (*dl_plan_part_fn)(void *ctx, int part);

/* Runs fn(ctx, part) once for every part in [0, nparts) and returns when all are done.  One
 * caller at a time gets helpers; a concurrent caller (another Python thread) runs its parts
 * alone.  Helpers spin for the next job for a while only when the machine has spare CPUs
 * (dl_team_size_for_load), otherwise they sleep. */
void dl_plan_pool_run(int nparts, int max_helpers, dl_plan_part_fn fn, void *ctx);

#endif
