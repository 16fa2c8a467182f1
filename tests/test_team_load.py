"""The thread team's load rule (csrc/team_load.h), replayed on readings of runnable threads
given by the test (no clock, no /proc/loadavg): a quiet machine always gets the team asked
for, a short burst of other work never takes it away, a machine that stays oversubscribed
backs off to the CPUs left and gets its team back at the first quiet reading."""
import pytest

from dlcore import _C
from dlcore.runtime import have_openmp


def replay(nt, online, running):
    return _C.team_load_replay(nt, online, running)


@pytest.mark.parametrize("nt", [2, 4])
def test_quiet_machine_always_gets_its_team(nt):
    # the caller, its own spinning workers and one more thread (the slack) on 2 or 4 CPUs
    online = nt
    running = [1, 2, online + 1, 1, online + 1, online + 1, 2] * 5
    assert replay(nt, online, running) == [nt] * len(running)


@pytest.mark.parametrize("burst", [1, 2])
def test_a_short_burst_never_costs_a_call_its_team(burst):
    """One or two readings in a row with many runnable threads (a compiler starting, another
    process's workers spinning for a moment) between quiet ones: every call keeps 2 threads
    (the earlier rule kept one such reading for 100 ms, every call then on one thread)."""
    running = ([1, 2] + [12] * burst + [2]) * 6
    assert replay(2, 2, running) == [2] * len(running)


def test_staying_oversubscribed_backs_off_and_recovers_at_once():
    running = [2, 18, 18, 18, 18, 18, 2, 18, 18, 18, 1]
    # the third busy reading in a row shrinks the team; the first quiet one restores it
    assert replay(2, 2, running) == [2, 2, 2, 1, 1, 1, 2, 2, 2, 1, 2]


def test_back_off_is_to_the_cpus_left_counting_the_teams_own_threads():
    """8 CPUs, a team of 4: with 11 runnable threads (3 past the CPUs, 2 past the slack)
    the team's own 4 may be among them: 2 threads; with 20, one."""
    assert replay(4, 8, [11] * 4)[-1] == 2
    assert replay(4, 8, [10] * 4)[-1] == 3
    assert replay(4, 8, [9] * 4)[-1] == 4
    assert replay(4, 8, [20] * 4)[-1] == 1


def test_one_thread_asked_is_one_thread():
    assert replay(1, 2, [1, 30, 30, 30, 30]) == [1] * 5


def test_slack_of_one_thread_past_the_cpus():
    # 3 runnable on 2 CPUs (a niced background job beside a 2-thread team) is not busy
    assert replay(2, 2, [3] * 6) == [2] * 6
    assert replay(2, 2, [4] * 6) == [2, 2, 1, 1, 1, 1]


@pytest.mark.skipif(not have_openmp(), reason="built without OpenMP")
def test_live_answer_is_a_team_size():
    for nt in (1, 2, 3):
        got = _C.team_size_for_load(nt)
        assert 1 <= got <= nt
