"""CosineAnnealingWarmRestarts and ChainedScheduler against torch's lr sequences (integer and
fractional per-batch epochs, T_mult > 1, state_dict round trips)."""
import numpy as np
import pytest

import dlcore as dl
from dlcore.optim import lr_scheduler as L


def _pair(torch, lr=0.1):
    p = np.ones(3, np.float32)
    od = dl.optim.SGD([dl.nn.Parameter(dl.tensor(p))], lr=lr, momentum=0.9)
    ot = torch.optim.SGD([torch.nn.Parameter(torch.tensor(p))], lr=lr, momentum=0.9)
    return od, ot


@pytest.mark.parametrize("T_0,T_mult,eta_min", [(3, 1, 0.0), (2, 2, 0.001), (5, 3, 0.0)])
def test_warm_restarts_integer_steps(torch, T_0, T_mult, eta_min):
    od, ot = _pair(torch)
    sd = L.CosineAnnealingWarmRestarts(od, T_0, T_mult=T_mult, eta_min=eta_min)
    st = torch.optim.lr_scheduler.CosineAnnealingWarmRestarts(ot, T_0, T_mult=T_mult,
                                                              eta_min=eta_min)
    for _ in range(25):
        od.step()
        ot.step()
        sd.step()
        st.step()
        assert sd.get_last_lr() == pytest.approx(st.get_last_lr(), rel=1e-12, abs=1e-15)
        assert (sd.T_i, sd.last_epoch) == (st.T_i, st.last_epoch)


@pytest.mark.parametrize("T_mult", [1, 2])
def test_warm_restarts_fractional_epochs(torch, T_mult):
    od, ot = _pair(torch)
    sd = L.CosineAnnealingWarmRestarts(od, 2, T_mult=T_mult)
    st = torch.optim.lr_scheduler.CosineAnnealingWarmRestarts(ot, 2, T_mult=T_mult)
    iters = 4
    for epoch in range(7):
        for i in range(iters):
            sd.step(epoch + i / iters)
            st.step(epoch + i / iters)
            assert sd.get_last_lr() == pytest.approx(st.get_last_lr(), rel=1e-12)
    with pytest.raises(ValueError):
        sd.step(-1)


def test_warm_restarts_arguments_and_state(torch):
    od, _ = _pair(torch)
    for bad in (dict(T_0=0), dict(T_0=2.5), dict(T_0=2, T_mult=0), dict(T_0=2, eta_min="x")):
        with pytest.raises(ValueError):
            L.CosineAnnealingWarmRestarts(od, **bad)
    s = L.CosineAnnealingWarmRestarts(od, 3, T_mult=2)
    for _ in range(4):
        s.step()
    state = s.state_dict()
    od2, _ = _pair(torch)
    s2 = L.CosineAnnealingWarmRestarts(od2, 3, T_mult=2)
    s2.load_state_dict(state)
    s.step()
    s2.step()
    assert s2.get_last_lr() == s.get_last_lr()


def test_chained_scheduler_matches_torch(torch):
    od, ot = _pair(torch, lr=1.0)
    sd = L.ChainedScheduler([L.ConstantLR(od, factor=0.1, total_iters=2),
                             L.ExponentialLR(od, gamma=0.9)])
    st = torch.optim.lr_scheduler.ChainedScheduler(
        [torch.optim.lr_scheduler.ConstantLR(ot, factor=0.1, total_iters=2),
         torch.optim.lr_scheduler.ExponentialLR(ot, gamma=0.9)])
    assert sd.get_last_lr() == pytest.approx(st.get_last_lr())
    for _ in range(6):
        od.step()
        ot.step()
        sd.step()
        st.step()
        assert sd.get_last_lr() == pytest.approx(st.get_last_lr(), rel=1e-12)
    with pytest.raises(ValueError, match="ReduceLROnPlateau"):
        L.ChainedScheduler([L.ReduceLROnPlateau(od)])
    od2, _ = _pair(torch)
    with pytest.raises(ValueError, match="same optimizer"):
        L.ChainedScheduler([L.ExponentialLR(od, 0.9), L.ExponentialLR(od2, 0.9)])
    with pytest.raises(ValueError, match="at least one"):
        L.ChainedScheduler([])
