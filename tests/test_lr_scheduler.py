"""dlcore.optim.lr_scheduler: the same lr (and momentum) sequences as torch's schedulers."""
import copy
import math
import warnings

import numpy as np
import pytest

import dlcore as dl
from dlcore.nn import Parameter
from dlcore.optim import SGD, Adam
from dlcore.optim import lr_scheduler as S

STEPS = 120


def _opts(torch, opt_name="SGD", **kw):
    """Twin optimizers (dlcore, torch), two param groups with different lrs."""
    kw = dict(kw) or dict(lr=0.1, momentum=0.9)
    a, b = Parameter(np.ones(3, np.float32)), Parameter(np.ones(2, np.float32))
    ta = torch.nn.Parameter(torch.ones(3))
    tb = torch.nn.Parameter(torch.ones(2))
    lr = kw.pop("lr")
    ours = getattr(dl.optim, opt_name)([dict(params=[a]), dict(params=[b], lr=lr / 2)],
                                       lr=lr, **kw)
    theirs = getattr(torch.optim, opt_name)([dict(params=[ta]), dict(params=[tb], lr=lr / 2)],
                                            lr=lr, **kw)
    return ours, theirs


def _sequence(opt, sched, steps, metrics=None):
    seq = [(list(sched.get_last_lr()), _momenta(opt))]
    for i in range(steps):
        opt.step()  # no gradients: only keeps torch from warning about the call order
        if metrics is None:
            sched.step()
        else:
            sched.step(metrics[i])
        seq.append(([float(x) for x in sched.get_last_lr()], _momenta(opt)))
    return seq


def _momenta(opt):
    out = []
    for g in opt.param_groups:
        if "betas" in g:
            out.append(float(g["betas"][0]))
        elif "momentum" in g:
            out.append(float(g["momentum"]))
    return out


def _twin(name):
    return getattr(S, name)


CASES = {
    "lambda": ("LambdaLR", dict(lr_lambda=lambda e: 0.95 ** e + 0.01 * (e % 3))),
    "lambda_list": ("LambdaLR", dict(lr_lambda=[lambda e: 1 / (e + 1), lambda e: 0.9 ** e])),
    "multiplicative": ("MultiplicativeLR", dict(lr_lambda=lambda e: 0.97)),
    "step": ("StepLR", dict(step_size=7, gamma=0.5)),
    "multistep": ("MultiStepLR", dict(milestones=[5, 30, 30, 80], gamma=0.3)),
    "constant": ("ConstantLR", dict(factor=0.25, total_iters=9)),
    "linear": ("LinearLR", dict(start_factor=0.1, end_factor=1.0, total_iters=17)),
    "linear_decay": ("LinearLR", dict(start_factor=1.0, end_factor=0.05, total_iters=50)),
    "exponential": ("ExponentialLR", dict(gamma=0.97)),
    "polynomial": ("PolynomialLR", dict(total_iters=40, power=2.0)),
    "cosine": ("CosineAnnealingLR", dict(T_max=25, eta_min=0.001)),
    "cosine_no_min": ("CosineAnnealingLR", dict(T_max=60)),
    "onecycle_cos": ("OneCycleLR", dict(max_lr=1.0, total_steps=STEPS)),
    "onecycle_linear": ("OneCycleLR", dict(max_lr=[1.0, 0.3], epochs=10, steps_per_epoch=12,
                                           anneal_strategy="linear", pct_start=0.25)),
    "onecycle_three_phase": ("OneCycleLR", dict(max_lr=0.5, total_steps=STEPS,
                                                three_phase=True, div_factor=10.0,
                                                final_div_factor=100.0)),
    "onecycle_no_momentum": ("OneCycleLR", dict(max_lr=0.5, total_steps=STEPS,
                                                cycle_momentum=False)),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_sequence_matches_torch(case, torch):
    name, kw = CASES[case]
    ours, theirs = _opts(torch)
    a = _sequence(ours, getattr(S, name)(ours, **kw), STEPS)
    b = _sequence(theirs, getattr(torch.optim.lr_scheduler, name)(theirs, **kw), STEPS)
    assert a == b  # bit-for-bit: the same float operations in the same order


@pytest.mark.parametrize("three_phase", [False, True])
def test_onecycle_cycles_adam_beta1(three_phase, torch):
    ours, theirs = _opts(torch, "Adam", lr=0.01, betas=(0.9, 0.99))
    kw = dict(max_lr=0.1, total_steps=50, three_phase=three_phase, base_momentum=0.8,
              max_momentum=0.93)
    a = _sequence(ours, S.OneCycleLR(ours, **kw), 50)
    b = _sequence(theirs, torch.optim.lr_scheduler.OneCycleLR(theirs, **kw), 50)
    assert a == b
    assert ours.param_groups[0]["betas"][1] == 0.99
    assert len({m[0] for _, m in a}) > 10  # beta1 really moves


def test_reduce_on_plateau_matches_torch(torch):
    rng = np.random.default_rng(0)
    metrics = list(np.concatenate([np.linspace(1, 0.5, 20), 0.5 + 0.01 * rng.random(60),
                                   np.linspace(0.5, 0.1, 20), np.full(20, 0.1)]))
    for kw in (dict(patience=3, factor=0.5, cooldown=2, min_lr=[1e-3, 1e-4]),
               dict(mode="max", patience=2, threshold=0.01, threshold_mode="abs")):
        ours, theirs = _opts(torch)
        a = _sequence(ours, S.ReduceLROnPlateau(ours, **kw), len(metrics), metrics)
        b = _sequence(theirs, torch.optim.lr_scheduler.ReduceLROnPlateau(theirs, **kw),
                      len(metrics), metrics)
        assert a == b
        assert len({lr[0] for lr, _ in a}) > 1 or kw.get("mode") == "max"


def test_sequential_warmup_then_cosine_matches_torch(torch):
    ours, theirs = _opts(torch)

    def build(mod, opt):
        warm = mod.LinearLR(opt, start_factor=0.1, total_iters=10)
        cos = mod.CosineAnnealingLR(opt, T_max=50)
        return mod.SequentialLR(opt, [warm, cos], milestones=[10])

    a = _sequence(ours, build(S, ours), 80)
    b = _sequence(theirs, build(torch.optim.lr_scheduler, theirs), 80)
    assert a == b


def test_closed_form_step_with_epoch(torch):
    ours, theirs = _opts(torch)
    s = S.StepLR(ours, step_size=3, gamma=0.5)
    t = torch.optim.lr_scheduler.StepLR(theirs, step_size=3, gamma=0.5)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        s.step(7)
        t.step(7)
    assert s.get_last_lr() == t.get_last_lr()
    assert s.get_last_lr()[0] == pytest.approx(0.1 * 0.25)


@pytest.mark.parametrize("name", ["StepLR", "CosineAnnealingLR", "OneCycleLR", "LambdaLR"])
def test_state_dict_round_trip(name):
    kw = {"StepLR": dict(step_size=4, gamma=0.5), "CosineAnnealingLR": dict(T_max=20),
          "OneCycleLR": dict(max_lr=1.0, total_steps=60),
          "LambdaLR": dict(lr_lambda=lambda e: 0.9 ** e)}[name]
    p = Parameter(np.ones(2, np.float32))
    opt = SGD([p], lr=0.1, momentum=0.9)
    sched = getattr(S, name)(opt, **kw)
    for _ in range(13):
        sched.step()
    opt_sd, sched_sd = copy.deepcopy(opt.state_dict()), copy.deepcopy(sched.state_dict())
    assert "optimizer" not in sched_sd
    # resume as PyTorch recommends: build both, then load the optimizer, then the scheduler
    opt2 = SGD([Parameter(np.ones(2, np.float32))], lr=0.1, momentum=0.9)
    sched2 = getattr(S, name)(opt2, **kw)
    opt2.load_state_dict(opt_sd)
    sched2.load_state_dict(sched_sd)
    for _ in range(20):
        sched.step()
        sched2.step()
        assert sched.get_last_lr() == sched2.get_last_lr()


def test_initial_lr_set_and_first_value():
    p = Parameter(np.ones(2, np.float32))
    opt = Adam([p], lr=0.2)
    sched = S.LinearLR(opt, start_factor=0.5, total_iters=4)
    assert opt.param_groups[0]["initial_lr"] == 0.2
    assert sched.get_last_lr() == [0.1] and opt.param_groups[0]["lr"] == 0.1
    for _ in range(4):
        sched.step()
    assert opt.param_groups[0]["lr"] == pytest.approx(0.2)


def test_bad_arguments_raise():
    p = Parameter(np.ones(2, np.float32))
    opt = SGD([p], lr=0.1)
    with pytest.raises(TypeError, match="Optimizer"):
        S.StepLR("not an optimizer", step_size=2)
    with pytest.raises(ValueError, match="step_size"):
        S.StepLR(opt, step_size=0)
    with pytest.raises(ValueError, match="total_steps"):
        S.OneCycleLR(opt, max_lr=1.0, total_steps=0)
    with pytest.raises(ValueError, match="total_steps"):
        S.OneCycleLR(opt, max_lr=1.0)
    with pytest.raises(ValueError, match="pct_start"):
        S.OneCycleLR(opt, max_lr=1.0, total_steps=10, pct_start=1.5)
    with pytest.raises(ValueError, match="anneal_strategy"):
        S.OneCycleLR(opt, max_lr=1.0, total_steps=10, anneal_strategy="exp")
    with pytest.raises(ValueError, match="momentum"):
        S.OneCycleLR(dl.optim.Adagrad([p]), max_lr=1.0, total_steps=10)
    with pytest.raises(ValueError, match="max_lr"):
        S.OneCycleLR(opt, max_lr=[1.0, 2.0], total_steps=10)
    with pytest.raises(ValueError, match="lr_lambda"):
        S.LambdaLR(opt, lr_lambda=[lambda e: 1.0, lambda e: 1.0])
    with pytest.raises(TypeError, match="callable"):
        S.LambdaLR(opt, lr_lambda=3)
    with pytest.raises(ValueError, match="factor"):
        S.ReduceLROnPlateau(opt, factor=1.5)
    with pytest.raises(ValueError, match="mode"):
        S.ReduceLROnPlateau(opt, mode="middle")
    with pytest.raises(ValueError, match="start_factor"):
        S.LinearLR(opt, start_factor=0.0)
    with pytest.raises(KeyError, match="initial_lr"):
        S.StepLR(SGD([Parameter(np.ones(1, np.float32))], lr=0.1), step_size=2, last_epoch=3)
    sched = S.OneCycleLR(opt, max_lr=1.0, total_steps=3)
    for _ in range(3):
        sched.step()
    with pytest.raises(ValueError, match="total_steps"):
        sched.step()
    assert math.isfinite(opt.param_groups[0]["lr"])
