/* Binding the executor's OpenMP team to cores for the length of one call.
 *
 * Unbound, the threads of a team sometimes end up sharing one core while another idles (the
 * scheduler wakes a sleeping worker next to the thread that woke it): ResNet-18 at batch 1
 * and two threads then took ~40 ms instead of 19.5 ms in some processes.  dl_team_bind puts
 * each member of the calling thread's team on its own core, chosen inside the caller's
 * current affinity mask: the caller on the core it runs on now, member t on the t-th core
 * after it.  The caller's own mask is restored by dl_team_unbind, so nothing outside the call
 * sees it pinned (threads it starts later, processes it forks); the team's workers stay on
 * their cores until the next call finds the mask, the caller's core or the thread count
 * changed, and then follow the new ones.  Nothing is ever set wider than the caller's mask
 * at that call.
 *
 * It applies only when the user chose no binding of their own (none of OMP_PROC_BIND,
 * OMP_PLACES, GOMP_CPU_AFFINITY set), DLCORE_BIND is not 0, and the caller's mask spans at
 * least as many cores as the team has threads (an MPI rank bound to one core with two
 * threads is left as it is), and the machine has no more runnable threads than CPUs (a
 * pinned thread cannot take a core another one leaves free); otherwise the team runs unbound, its workers reset to the
 * caller's mask if an earlier call had bound them.  Linux only (elsewhere a no-op). */
#ifndef DLCORE_AFFINITY_H
#define DLCORE_AFFINITY_H

typedef struct {
    int bound;          /* the caller was pinned: dl_team_unbind restores its mask */
    /* the caller's mask before (a cpu_set_t, which needs unsigned long alignment) */
    _Alignas(unsigned long) unsigned char orig[128];
} dl_team_binding;

/* 0: off; 1: on (see above); 2: on even when the machine is oversubscribed (DLCORE_BIND=
 * always).  Decided from the environment at first use. */
int dl_bind_enabled(void);
/* Sets that mode (0, 1 or 2) for later calls; it stays 0 while the user's OpenMP binding
 * variables are set.  Returns the mode now in force. */
int dl_set_bind(int on);
/* The team size to use for a call asking for nt threads: nt, or fewer (at least 1) while
 * the machine stays oversubscribed (more runnable threads than CPUs in several readings in a
 * row, csrc/team_load.h), where each fork/join of a team waits for a member the OS has not
 * scheduled (MobileNetV2 b1 at two threads took 776 ms against 43 ms on one thread with ~18
 * runnable threads on 2 CPUs, measured here).  DLCORE_DYNAMIC=0 keeps nt always (as
 * OMP_DYNAMIC=false would). */
int dl_team_size_for_load(int nt);
/* For the tests: the team sizes a call asking for nt threads gets after each of n readings
 * of `running` runnable threads on `online` CPUs, from a fresh start (the rules of
 * csrc/team_load.h, without the clock or /proc/loadavg). */
void dl_team_load_replay(int nt, int online, int n, const int *running, int *sizes);
/* Before a call whose team has nt threads (no-op for nt < 2 or inside a parallel region). */
void dl_team_bind(int nt, dl_team_binding *b);
void dl_team_unbind(dl_team_binding *b);

#endif
