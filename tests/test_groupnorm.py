"""group_norm / instance_norm (dlcore.ops.groupnorm) and GroupNorm, InstanceNorm1d/2d/3d:
torch parity on loaded weights (forward, input and parameter gradients, running stats),
float64 gradcheck, argument errors."""
import numpy as np
import pytest

import dlcore as dl
import dlcore.nn.functional as F
from _torch_parity import check, check_module, gradcheck

torch = pytest.importorskip("torch")


@pytest.fixture
def r():
    return np.random.default_rng(3)


@pytest.mark.parametrize("shape,G", [((2, 6, 5), 3), ((3, 4, 3, 5), 2), ((2, 4, 2, 3, 2), 4),
                                     ((1, 3, 7), 1)])
def test_group_norm_matches_torch(r, shape, G):
    x = r.standard_normal(shape)
    C = shape[1]
    w, b = r.standard_normal(C), r.standard_normal(C)
    check(lambda a, ww, bb: F.group_norm(a, G, ww, bb, 1e-5),
          lambda a, ww, bb: torch.nn.functional.group_norm(a, G, ww, bb, 1e-5), [x, w, b])
    gradcheck(lambda a, ww, bb: F.group_norm(a, G, ww, bb), [x, w, b])


@pytest.mark.parametrize("affine", [True, False])
def test_group_norm_layer_matches_torch(r, affine):
    tm = torch.nn.GroupNorm(2, 6, affine=affine)
    if affine:
        with torch.no_grad():
            tm.weight.normal_()
            tm.bias.normal_()
    m = dl.nn.GroupNorm(2, 6, affine=affine)
    check_module(m, tm, [r.standard_normal((4, 6, 5, 5)).astype(np.float32)])
    assert sorted(m.state_dict()) == sorted(tm.state_dict())


@pytest.mark.parametrize("cls,shape", [("InstanceNorm1d", (3, 4, 9)),
                                       ("InstanceNorm2d", (2, 4, 5, 6)),
                                       ("InstanceNorm3d", (2, 4, 3, 4, 5)),
                                       ("InstanceNorm2d", (4, 5, 6))])
@pytest.mark.parametrize("affine,track", [(False, False), (True, False), (True, True)])
def test_instance_norm_layers_match_torch(r, cls, shape, affine, track):
    tm = getattr(torch.nn, cls)(4, affine=affine, track_running_stats=track)
    if affine:
        with torch.no_grad():
            tm.weight.normal_()
            tm.bias.normal_()
    m = getattr(dl.nn, cls)(4, affine=affine, track_running_stats=track)
    assert sorted(m.state_dict()) == sorted(tm.state_dict())
    x = r.standard_normal(shape).astype(np.float32)
    check_module(m, tm, [x], train=True)
    if track:  # eval uses the running statistics the training pass updated
        check_module(m, tm, [x * 2 + 1], train=False)


def test_instance_norm_gradcheck(r):
    x = r.standard_normal((2, 3, 6))
    w, b = r.standard_normal(3), r.standard_normal(3)
    gradcheck(lambda a, ww, bb: F.instance_norm(a, weight=ww, bias=bb), [x, w, b])
    check(lambda a: F.instance_norm(a), lambda a: torch.nn.functional.instance_norm(a), [x])


def test_group_norm_trains():
    dl.manual_seed(0)
    net = dl.nn.Sequential(dl.nn.Conv2d(3, 8, 3, padding=1), dl.nn.GroupNorm(4, 8), dl.nn.ReLU(),
                           dl.nn.InstanceNorm2d(8, affine=True), dl.nn.Flatten(),
                           dl.nn.Linear(8 * 16, 2))
    x = dl.randn(8, 3, 4, 4)
    y = dl.tensor(np.arange(8) % 2)
    opt = dl.optim.SGD(net.parameters(), lr=0.1)
    losses = []
    for _ in range(30):
        opt.zero_grad()
        loss = F.cross_entropy(net(x), y)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0]


def test_errors():
    x = dl.randn(2, 6, 4)
    with pytest.raises(ValueError, match="divisible by num_groups"):
        F.group_norm(x, 4)
    with pytest.raises(ValueError, match="num_groups must be a positive int"):
        F.group_norm(x, 0)
    with pytest.raises(ValueError, match="weight must have shape"):
        F.group_norm(x, 3, dl.ones(5))
    with pytest.raises(ValueError, match="divisible by num_groups"):
        dl.nn.GroupNorm(4, 6)
    with pytest.raises(ValueError, match="more than 1 spatial element"):
        F.instance_norm(dl.randn(2, 3, 1))
    with pytest.raises(ValueError, match="expected 3-D or 4-D"):
        dl.nn.InstanceNorm2d(3)(dl.randn(2, 3))
    with pytest.raises(ValueError, match="use_input_stats=False needs"):
        F.instance_norm(x, use_input_stats=False)
