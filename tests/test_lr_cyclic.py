"""CyclicLR against torch's lr and momentum sequences: every mode, a user scale_fn in both
scale modes, per-group values, SGD momentum and Adam's beta1, asymmetric steps, a state_dict
round trip mid-cycle, and the argument errors."""
import functools

import numpy as np
import pytest

import dlcore as dl
from dlcore.optim import lr_scheduler as L


def _opts(torch, kind, groups=1):
    ps = [np.ones(3, np.float32) for _ in range(groups)]
    dp = [{"params": [dl.nn.Parameter(dl.tensor(p))]} for p in ps]
    tp = [{"params": [torch.nn.Parameter(torch.from_numpy(p.copy()))]} for p in ps]
    if kind == "sgd":
        return dl.optim.SGD(dp, lr=0.1, momentum=0.9), torch.optim.SGD(tp, lr=0.1, momentum=0.9)
    return dl.optim.Adam(dp, lr=0.1), torch.optim.Adam(tp, lr=0.1)


def _trace(opt, sched, n, key):
    out = []
    for _ in range(n):
        opt.step()
        sched.step()
        g = opt.param_groups
        out.append([x["lr"] for x in g] + [x["betas"][0] if key == "betas" else
                                            x.get("momentum", 0.0) for x in g])
    return np.array(out)


CASES = [
    dict(base_lr=0.01, max_lr=0.1, step_size_up=4),
    dict(base_lr=0.01, max_lr=0.1, step_size_up=3, step_size_down=7, mode="triangular2"),
    dict(base_lr=0.01, max_lr=0.1, step_size_up=5, mode="exp_range", gamma=0.97),
    dict(base_lr=[0.01, 0.02], max_lr=[0.1, 0.3], step_size_up=2, base_momentum=[0.7, 0.8],
         max_momentum=[0.9, 0.95]),
    dict(base_lr=0.01, max_lr=0.1, step_size_up=4, scale_fn=lambda x: 0.5 ** x),
    dict(base_lr=0.01, max_lr=0.1, step_size_up=4, scale_fn=lambda x: 1 / (1 + 0.1 * x),
         scale_mode="iterations"),
    dict(base_lr=0.01, max_lr=0.1, step_size_up=4, cycle_momentum=False),
]


@pytest.mark.parametrize("kind", ["sgd", "adam"])
@pytest.mark.parametrize("case", range(len(CASES)))
def test_sequence_matches_torch(torch, kind, case):
    kw = CASES[case]
    groups = 2 if isinstance(kw["base_lr"], list) else 1
    od, ot = _opts(torch, kind, groups)
    sd = L.CyclicLR(od, **kw)
    st = torch.optim.lr_scheduler.CyclicLR(ot, **kw)
    key = "betas" if kind == "adam" else "momentum"
    first_d = [g["lr"] for g in od.param_groups]
    assert np.allclose(first_d, [g["lr"] for g in ot.param_groups], rtol=1e-12)
    np.testing.assert_allclose(_trace(od, sd, 30, key), _trace(ot, st, 30, key), rtol=1e-12)
    assert np.allclose(sd.get_last_lr(), st.get_last_lr(), rtol=1e-12)


def test_state_dict_resumes_mid_cycle(torch):
    od, _ = _opts(torch, "sgd")
    kw = dict(base_lr=0.01, max_lr=0.1, step_size_up=3, mode="triangular2")
    s = L.CyclicLR(od, **kw)
    _trace(od, s, 5, "momentum")
    state = s.state_dict()
    ahead = _trace(od, s, 6, "momentum")
    od2, _ = _opts(torch, "sgd")
    s2 = L.CyclicLR(od2, **kw)
    s2.load_state_dict(state)
    np.testing.assert_allclose(_trace(od2, s2, 6, "momentum")[:, 0], ahead[:, 0], rtol=1e-12)


def test_callable_object_scale_fn_state_is_saved():
    class Decay:
        def __init__(self, r):
            self.r = r

        def __call__(self, x):
            return self.r ** x

    p = dl.nn.Parameter(dl.tensor(np.ones(2, np.float32)))
    opt = dl.optim.SGD([p], lr=0.1, momentum=0.9)
    s = L.CyclicLR(opt, 0.01, 0.1, step_size_up=2, scale_fn=Decay(0.5))
    assert s.state_dict()["_scale_fn_custom"] == {"r": 0.5}
    s2 = L.CyclicLR(opt, 0.01, 0.1, step_size_up=2, scale_fn=Decay(0.9))
    s2.load_state_dict(s.state_dict())
    assert s2._scale_fn_custom.r == 0.5
    s3 = L.CyclicLR(opt, 0.01, 0.1, step_size_up=2, scale_fn=functools.partial(pow, 0.5))
    assert s3.state_dict()["_scale_fn_custom"] == {}
    s4 = L.CyclicLR(opt, 0.01, 0.1, step_size_up=2, scale_fn=lambda x: 1.0)
    assert s4.state_dict()["_scale_fn_custom"] is None


def test_errors():
    p = dl.nn.Parameter(dl.tensor(np.ones(2, np.float32)))
    with pytest.raises(ValueError, match="mode must be one of"):
        L.CyclicLR(dl.optim.SGD([p], lr=0.1, momentum=0.9), 0.01, 0.1, mode="sine")
    with pytest.raises(ValueError, match="cycle_momentum needs"):
        L.CyclicLR(dl.optim.Adagrad([p], lr=0.1), 0.01, 0.1)
    with pytest.raises(ValueError, match="step_size_up must be > 0"):
        L.CyclicLR(dl.optim.SGD([p], lr=0.1, momentum=0.9), 0.01, 0.1, step_size_up=0)
    with pytest.raises(ValueError, match="one value per param group"):
        L.CyclicLR(dl.optim.SGD([p], lr=0.1, momentum=0.9), [0.01, 0.02], 0.1)
    with pytest.raises(TypeError, match="expected an Optimizer"):
        L.CyclicLR(object(), 0.01, 0.1)
    assert dl.optim.lr_scheduler.CyclicLR is L.CyclicLR
