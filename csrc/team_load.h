/* Whether the machine has room for a thread team, from readings of its runnable threads
 * (affinity.c reads /proc/loadavg at most every DL_TEAM_LOAD_SAMPLE_NS; this file only
 * decides, so that the tests can replay readings of their own).
 *
 * A reading is `spare`: CPUs online minus threads runnable machine-wide at that instant
 * (the caller counted among them).  One reading is a snapshot: a short burst of other work
 * (a compiler, a shell, another process's OpenMP workers spinning for a moment) puts a few
 * threads in it that are gone a millisecond later.  When one such reading was kept for
 * 100 ms (the earlier rule), a quiet machine ran every call of those 100 ms on one thread:
 * ResNet-18 at batch 1 and two threads then took the one-thread time in bursts.  So the
 * team shrinks only after DL_TEAM_LOAD_PERSIST readings in a row (DL_TEAM_LOAD_SAMPLE_NS
 * or more apart) showed more runnable threads than CPUs + DL_TEAM_LOAD_SLACK, and grows back
 * at the first reading that does not: a burst never costs a call its team, while a machine
 * that stays oversubscribed (where each fork/join waits for a member the OS has not
 * scheduled) still backs off within a few tens of milliseconds. */
#ifndef DLCORE_TEAM_LOAD_H
#define DLCORE_TEAM_LOAD_H

#include <stdint.h>

/* One runnable thread beyond the CPUs is let pass: a niced background job (a long test or
 * fuzz run) is common and takes little from a team at normal priority. */
#define DL_TEAM_LOAD_SLACK 1
#define DL_TEAM_LOAD_PERSIST 3
#define DL_TEAM_LOAD_SAMPLE_NS 10000000   /* 10 ms: a read of /proc/loadavg is ~5 us */

/* The state after some readings, packed in one word so that threads read and replace it
 * whole: the spare CPUs of the last reading and how many readings in a row were busy. */
typedef uint64_t dl_team_load;

/* The state before any reading: room for any team. */
dl_team_load dl_team_load_init(void);
/* The state after one more reading. */
dl_team_load dl_team_load_note(dl_team_load s, int spare);
/* 1 while the machine counts as oversubscribed (DL_TEAM_LOAD_PERSIST busy readings). */
int dl_team_load_oversubscribed(dl_team_load s);
/* The team size for a call asking for nt threads: nt, or while oversubscribed the CPUs left
 * counting the team's own threads as available (they may be among the runnable ones), at
 * least 1. */
int dl_team_load_size(dl_team_load s, int nt);

/* dl_team_load_replay (dlcore/affinity.h) runs these rules on the tests' readings. */

#endif
