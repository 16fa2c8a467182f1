"""The executor's thread team bound to cores for a call (csrc/affinity.c): on by default, off
with DLCORE_BIND=0 or the user's own OpenMP binding; inside the caller's affinity mask, the
caller's mask the same after the call, forked DataLoader workers with the parent's mask, a
narrowed mask never widened, thread-count changes followed.  Each case runs in a fresh
process (the binding is decided once per process and masks are per thread)."""
import multiprocessing
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import dlcore as dl
from dlcore import nn

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(dl.__file__)))
linux = pytest.mark.skipif(not hasattr(os, "sched_getaffinity") or
                           not os.path.isdir("/proc/self/task"),
                           reason="needs Linux thread affinity")
CPUS = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
two_cpus = pytest.mark.skipif(len(CPUS) < 2, reason="needs two CPUs in the affinity mask")
needs_openmp = pytest.mark.skipif(not dl.runtime.have_openmp(), reason="built without OpenMP")


def team_test(test):
    """What a bound two-thread team needs: Linux affinity, two CPUs and OpenMP."""
    return linux(two_cpus(needs_openmp(test)))


# A plan with steps big enough for the team (64 x 512 x 1024 products), helpers that list the
# process's threads with their masks, and the OpenMP workers the plan's first call started.
PRELUDE = '''
import json, os, threading
import numpy as np
import dlcore as dl
from dlcore import nn

def masks():
    out = {}
    for t in os.listdir("/proc/self/task"):
        try:
            out[int(t)] = sorted(os.sched_getaffinity(int(t)))
        except OSError:
            pass
    return out

MAIN = threading.get_native_id()
ORIG = sorted(os.sched_getaffinity(0))
dl.set_num_threads(1)       # no OpenMP worker before the first 2-thread call
dl.manual_seed(0)
model = nn.Sequential(nn.Linear(512, 1024), nn.ReLU(), nn.Linear(1024, 512)).eval()
x = np.random.default_rng(0).standard_normal((64, 512)).astype(np.float32)
plan = dl.jit.trace(model, [x]).plan(x)
before = masks()
want = plan.exe.run([x], 1)[0]
got = plan.exe.run([x], 2)[0]
assert np.array_equal(got, want)
workers = sorted(set(masks()) - set(before))
'''


def run_script_ok(body, env_extra=None, cpus=None):
    """run_script for a body that prints OK at its end."""
    assert run_script(body, env_extra, cpus).strip() == "OK"


def run_script(body, env_extra=None, cpus=None):
    code = PRELUDE + textwrap.dedent(body)
    if cpus is not None:
        # narrowed before numpy or dlcore start any thread: every thread inherits it
        code = "import os\nos.sched_setaffinity(0, %r)\n" % (sorted(cpus),) + code
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    for k in ("OMP_PROC_BIND", "OMP_PLACES", "GOMP_CPU_AFFINITY", "DLCORE_BIND",
              "OMP_NUM_THREADS", "DLCORE_NUM_THREADS"):
        env.pop(k, None)
    # "always": bind even while the (shared) machine has more runnable threads than CPUs,
    # where the default mode leaves the team to the scheduler
    env["DLCORE_BIND"] = "always"
    env["DLCORE_DYNAMIC"] = "0"     # and keep the team at the count asked for
    env.update(env_extra or {})
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                       timeout=300, env=env, cwd=ROOT)
    assert r.returncode == 0, r.stderr[-3000:]
    return r.stdout


@linux
@pytest.mark.parametrize("env, mode", [({"DLCORE_BIND": ""}, 1), ({"DLCORE_BIND": "0"}, 0),
                                       ({"DLCORE_BIND": "1"}, 1),
                                       ({"DLCORE_BIND": "always"}, 2),
                                       ({"OMP_PROC_BIND": "close"}, 0),
                                       ({"OMP_PLACES": "cores"}, 0),
                                       ({"GOMP_CPU_AFFINITY": "0"}, 0)])
def test_binding_is_on_unless_opted_out_or_user_bound(env, mode):
    out = run_script('''
        from dlcore import _C
        print(_C.thread_binding_mode(), dl.runtime.thread_binding())
        print(dl.runtime.set_thread_binding(True), _C.thread_binding_mode())
        print(dl.runtime.set_thread_binding("always"), _C.thread_binding_mode())
        print(dl.runtime.set_thread_binding(False), dl.runtime.thread_binding())
    ''', env)
    first, on, always, off = out.split("\n")[:4]
    assert first == "%d %s" % (mode, mode > 0)
    # turning it on cannot override the user's own OpenMP binding
    user = any(k.startswith(("OMP", "GOMP")) for k in env)
    assert on == ("False 0" if user else "True 1")
    assert always == ("False 0" if user else "True 2")
    assert off == "False False"
    with pytest.raises(ValueError, match="set_thread_binding"):
        dl.runtime.set_thread_binding("sometimes")


@team_test
def test_bound_call_pins_workers_inside_mask_and_restores_caller():
    run_script_ok('''
        now = masks()
        assert now[MAIN] == ORIG, (now[MAIN], ORIG)           # the caller's mask is back
        assert workers, "a 2-thread call started no OpenMP worker"
        for t in workers:
            assert len(now[t]) == 1 and set(now[t]) <= set(ORIG), now[t]
        # the caller, pinned for the length of a call, is never seen pinned after one
        for _ in range(20):
            plan.exe.run([x], 2)
            assert sorted(os.sched_getaffinity(0)) == ORIG
        print("OK")
    ''')


@team_test
def test_unbound_with_opt_out_workers_keep_the_callers_mask():
    run_script_ok('''
        now = masks()
        assert now[MAIN] == ORIG
        assert workers and all(now[t] == ORIG for t in workers), (now, ORIG)
        print("OK")
    ''', {"DLCORE_BIND": "0"})


@team_test
@pytest.mark.skipif("fork" not in multiprocessing.get_all_start_methods(),
                    reason="the platform has no fork()")
def test_forked_dataloader_worker_gets_the_parents_original_mask():
    out = run_script('''
        from dlcore.data import DataLoader, Dataset

        class Masks(Dataset):
            def __len__(self):
                return 4

            def __getitem__(self, i):
                return np.array(sorted(os.sched_getaffinity(0)))

        seen = []
        for _ in range(2):
            plan.exe.run([x], 2)          # the parent has just run bound calls
            loader = DataLoader(Masks(), batch_size=1, num_workers=2,
                                multiprocessing_context="fork",
                                collate_fn=lambda rows: rows[0].tolist())
            seen += list(loader)
        assert all(m == ORIG for m in seen), (seen, ORIG)
        pid = os.fork()
        if pid == 0:
            os._exit(0 if sorted(os.sched_getaffinity(0)) == ORIG else 3)
        assert os.waitpid(pid, 0)[1] == 0
        print("OK", len(seen))
    ''')
    assert out.split() == ["OK", "8"]


@team_test
def test_narrowed_mask_is_never_widened():
    one = [CPUS[-1]]
    run_script_ok('''
        now = masks()
        # one core for two threads: nothing is bound, nothing leaves the mask
        assert all(set(m) <= set(ORIG) for m in now.values()), now
        assert now[MAIN] == ORIG
        print("OK")
    ''', cpus=one)


@team_test
def test_mask_narrowed_after_bound_calls_is_followed():
    run_script_ok('''
        first = ORIG[0]
        os.sched_setaffinity(0, {first})      # the user narrows the caller after bound calls
        got = plan.exe.run([x], 2)[0]
        assert np.array_equal(got, want)
        now = masks()
        assert now[MAIN] == [first]
        assert all(now[t] == [first] for t in workers), (now, workers)
        os.sched_setaffinity(0, set(ORIG))    # widened again by the user: bound again
        plan.exe.run([x], 2)
        now = masks()
        assert now[MAIN] == ORIG
        assert all(len(now[t]) == 1 for t in workers), now
        print("OK")
    ''')


@team_test
def test_thread_count_changes_are_followed():
    run_script_ok('''
        n = len(ORIG)
        # (exe.run: Plan.run would split this batch into slices on threads of its own)
        dl.set_num_threads(n + 1)              # more threads than cores: left unbound
        got = plan.exe.run([x])[0]
        assert np.allclose(got, want, rtol=1e-5, atol=1e-5)
        now = masks()
        assert now[MAIN] == ORIG
        new = sorted(set(now) - set(before))
        assert all(now[t] == ORIG for t in new), (now, ORIG)
        dl.set_num_threads(2)                  # back to a bindable count: pinned again
        plan.exe.run([x])
        now = masks()
        assert now[MAIN] == ORIG
        assert all(len(now[t]) == 1 for t in workers), now
        print("OK")
    ''')


def test_small_steps_run_on_the_calling_thread_and_match():
    """Steps below the team threshold are marked off the team; results do not depend on it."""
    rng = np.random.default_rng(1)
    small = nn.Sequential(nn.Linear(33, 17), nn.ReLU(), nn.Linear(17, 7)).eval()
    big = nn.Sequential(nn.Linear(512, 1024), nn.ReLU(), nn.Linear(1024, 7)).eval()
    for model, n_in, flags in ((small, 33, [False, False]), (big, 512, [True, False])):
        x = rng.standard_normal((64, n_in)).astype(np.float32)
        plan = dl.jit.trace(model, [x]).plan(x)
        assert plan.exe.cplan.team_steps() == flags
        with dl.no_grad():
            want = model(dl.tensor(x)).numpy()
        for nt in (1, 2):
            got = plan.exe.run([x], nt)[0]
            np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)
