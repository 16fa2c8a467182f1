/* The thread team's load rule (see team_load.h). */
#include "dlcore/affinity.h"
#include "team_load.h"

/* low 32 bits: spare + 2^31; high: busy readings in a row */
static dl_team_load pack(int spare, uint32_t busy)
{
    return ((uint64_t)busy << 32) | (uint32_t)((int64_t)spare + 2147483648LL);
}

static int spare_of(dl_team_load s) { return (int)((int64_t)(uint32_t)s - 2147483648LL); }

static uint32_t busy_of(dl_team_load s) { return (uint32_t)(s >> 32); }

dl_team_load dl_team_load_init(void) { return pack(1 << 20, 0); }

dl_team_load dl_team_load_note(dl_team_load s, int spare)
{
    const uint32_t busy = busy_of(s);
    if (spare + DL_TEAM_LOAD_SLACK >= 0) return pack(spare, 0);
    return pack(spare, busy < DL_TEAM_LOAD_PERSIST ? busy + 1 : busy);
}

int dl_team_load_oversubscribed(dl_team_load s)
{
    return busy_of(s) >= DL_TEAM_LOAD_PERSIST;
}

int dl_team_load_size(dl_team_load s, int nt)
{
    if (nt < 2 || !dl_team_load_oversubscribed(s)) return nt;
    const int64_t avail = (int64_t)spare_of(s) + DL_TEAM_LOAD_SLACK + nt;
    return avail >= nt ? nt : avail > 1 ? (int)avail : 1;
}

void dl_team_load_replay(int nt, int online, int n, const int *running, int *sizes)
{
    dl_team_load s = dl_team_load_init();
    for (int k = 0; k < n; k++) {
        s = dl_team_load_note(s, online - running[k]);
        sizes[k] = dl_team_load_size(s, nt);
    }
}
