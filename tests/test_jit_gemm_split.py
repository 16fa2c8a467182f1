"""Few-row products split by columns over the executor's helper threads
(csrc/plan_gemm_split.c, csrc/plan_pool.c): which steps split (csrc/plan_team.c), and that a
split product equals a float64 NumPy reference and eager mode on odd sizes, on every SIMD path,
with each epilogue (bias, fused ReLU, an activation run after the product, a residual), for 1
to 4 rows, both weight layouts, at 2 and 3 threads and from several Python threads at once.

The split path runs only at more than one thread on a machine that has room for a team, so the
checks run in a fresh process with DLCORE_DYNAMIC=0 (the team kept at the count asked for)."""
import os
import subprocess
import sys
import textwrap

import numpy as np

import dlcore as dl
from dlcore import nn

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(dl.__file__)))
MIN_WEIGHTS = 1 << 17   # DL_PLAN_SPLIT_MIN_WEIGHTS (csrc/include/dlcore/plan.h)


def _run(body):
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""),
               DLCORE_DYNAMIC="0")
    r = subprocess.run([sys.executable, "-c", textwrap.dedent(body)], capture_output=True,
                       text=True, timeout=600, env=env, cwd=ROOT)
    assert r.returncode == 0, r.stderr[-3000:]
    assert r.stdout.strip().endswith("OK"), r.stdout[-3000:]


def test_which_steps_split():
    rng = np.random.default_rng(0)
    mlp = nn.Sequential(nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 128), nn.ReLU(),
                        nn.Linear(128, 10)).eval()
    tr = dl.jit.trace(mlp, [rng.standard_normal((1, 784)).astype(np.float32)])
    for rows, want in ((1, [True, False, False]), (4, [True, False, False]),
                       (5, [False, False, False]), (64, [False, False, False])):
        x = rng.standard_normal((rows, 784)).astype(np.float32)
        cp = tr.plan(x).exe.cplan
        assert cp.helper_steps() == want, (rows, cp.helper_steps())
        assert not any(h and t for h, t in zip(cp.helper_steps(), cp.team_steps()))
    # just below the weight threshold: one thread
    n = 64
    k = MIN_WEIGHTS // n - 1
    small = nn.Linear(k, n).eval()
    x = rng.standard_normal((1, k)).astype(np.float32)
    assert dl.jit.trace(small, [x]).plan(x).exe.cplan.helper_steps() == [False]
    big = nn.Linear(k + 1, n).eval()
    x = rng.standard_normal((1, k + 1)).astype(np.float32)
    assert dl.jit.trace(big, [x]).plan(x).exe.cplan.helper_steps() == [True]


def test_a_plan_with_team_steps_keeps_its_few_row_products_off_the_helpers():
    """A convolution big enough for the OpenMP team, then a large Linear at batch 1: the
    Linear stays as before (the team's spinning workers and the helpers would compete)."""
    rng = np.random.default_rng(1)
    m = nn.Sequential(nn.Conv2d(8, 64, 3, padding=1), nn.ReLU(), nn.Flatten(),
                      nn.Linear(64 * 16 * 16, 40)).eval()
    x = rng.standard_normal((1, 8, 16, 16)).astype(np.float32)
    cp = dl.jit.trace(m, [x]).plan(x).exe.cplan
    assert any(cp.team_steps())
    assert not any(cp.helper_steps())


def test_split_products_match_numpy_and_eager_on_every_isa():
    _run('''
    import threading
    import numpy as np
    import dlcore as dl
    from dlcore import nn

    class MatMulConst(nn.Module):
        """x @ W with W stored (K, N): the product's other weight layout"""
        def __init__(self, k, n):
            super().__init__()
            self.w = nn.Parameter(dl.randn(k, n) * (k ** -0.5))
            self.b = nn.Parameter(dl.randn(n))
        def forward(self, x):
            return x @ self.w + self.b

    class Residual(nn.Module):
        def __init__(self, k, n):
            super().__init__()
            self.fc = nn.Linear(k, n)
        def forward(self, x, r):
            return self.fc(x) + r

    rng = np.random.default_rng(3)
    dl.manual_seed(3)
    cases = []
    for n, act in ((33, None), (100, nn.ReLU()), (257, nn.Tanh()), (48, nn.GELU())):
        k = (1 << 17) // n + 7
        for bias in (True, False):
            layers = [nn.Linear(k, n, bias=bias)] + ([act] if act is not None else [])
            cases.append((nn.Sequential(*layers).eval(), k, n, False))
    cases.append((MatMulConst(1543, 97).eval(), 1543, 97, False))
    cases.append((Residual(2100, 65).eval(), 2100, 65, True))

    def reference(m, x, r):
        x64 = x.astype(np.float64)
        if isinstance(m, MatMulConst):
            return x64 @ m.w.numpy().astype(np.float64) + m.b.numpy()
        if isinstance(m, Residual):
            fc = m.fc
            return x64 @ fc.weight.numpy().T.astype(np.float64) + fc.bias.numpy() + r
        y = x64 @ m[0].weight.numpy().T.astype(np.float64)
        if m[0].bias is not None:
            y = y + m[0].bias.numpy()
        if len(m) > 1:
            y = m[1](dl.tensor(y, dtype=dl.float64)).numpy()
        return y

    for isa in dl.runtime.supported_isas():
        dl.runtime.set_isa(isa)
        for m, k, n, residual in cases:
            for rows in (1, 2, 3, 4):
                x = rng.standard_normal((rows, k)).astype(np.float32)
                r = rng.standard_normal((rows, n)).astype(np.float32)
                ins = [x, r] if residual else [x]
                plan = dl.jit.trace(m, ins).plan(*ins)
                assert plan.exe.cplan.helper_steps()[0], (isa, k, n, rows, str(plan))
                want = reference(m, x, r)
                with dl.no_grad():
                    eager = m(*[dl.tensor(a) for a in ins]).numpy()
                scale = np.abs(want).max()
                for nt in (1, 2, 3):
                    got = plan.exe.run(ins, nt)[0]
                    assert got.shape == want.shape
                    err = np.abs(got - want).max() / scale
                    assert err < 1e-5, (isa, k, n, rows, nt, err)
                    err = np.abs(got - eager).max() / max(np.abs(eager).max(), 1e-30)
                    assert err < 1e-5, (isa, k, n, rows, nt, err)

    # several Python threads on one plan at 2 threads each: one gets the helpers, the others
    # run their parts alone, all exact
    m, k, n, _ = cases[2]
    x = rng.standard_normal((1, k)).astype(np.float32)
    plan = dl.jit.trace(m, [x]).plan(x)
    want = plan.exe.run([x], 1)[0]
    bad = []
    def worker():
        for _ in range(200):
            if not np.array_equal(plan.exe.run([x], 2)[0], want):
                bad.append(1)
    ts = [threading.Thread(target=worker) for _ in range(4)]
    for t in ts: t.start()
    for t in ts: t.join()
    assert not bad
    print("OK")
    ''')
