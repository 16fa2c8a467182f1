"""F.conv_transpose1d / conv_transpose3d and nn.ConvTranspose1d / ConvTranspose3d / BatchNorm3d:
torch parity on loaded weights (outputs, input and parameter gradients, state_dict keys),
float64 finite differences, output_size, bad arguments."""
import numpy as np
import pytest

import dlcore as dl
from _torch_parity import check, check_module, gradcheck

torch = pytest.importorskip("torch")

T3 = [  # (N, C, D, H, W, K, kernel, stride, padding, output_padding, groups, dilation)
    (2, 4, 3, 5, 4, 6, (2, 3, 2), (2, 1, 2), (1, 0, 1), (1, 0, 1), 2, (1, 2, 1)),
    (1, 3, 2, 3, 3, 2, 3, 1, 0, 0, 1, 1),
    (2, 2, 4, 3, 2, 4, (3, 2, 2), (3, 2, 1), (2, 1, 0), (2, 1, 0), 1, (2, 1, 1)),
    (1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 1, 1),
]


@pytest.mark.parametrize("case", T3)
def test_conv_transpose3d_matches_torch(case):
    N, C, D, H, W, K, k, s, p, op, g, d = case
    k3 = k if isinstance(k, tuple) else (k,) * 3
    rng = np.random.default_rng(0)
    x = rng.standard_normal((N, C, D, H, W))
    w = rng.standard_normal((C, K // g) + k3)
    b = rng.standard_normal(K)
    check(lambda x, w, b: dl.nn.functional.conv_transpose3d(x, w, b, s, p, op, g, d),
          lambda x, w, b: torch.nn.functional.conv_transpose3d(x, w, b, s, p, op, g, d),
          [x, w, b], rtol=1e-10, atol=1e-10)


def test_conv_transpose3d_unbatched_and_no_bias():
    rng = np.random.default_rng(1)
    x, w = rng.standard_normal((3, 2, 4, 3)), rng.standard_normal((3, 2, 2, 2, 3))
    check(lambda x, w: dl.nn.functional.conv_transpose3d(x, w, stride=2),
          lambda x, w: torch.nn.functional.conv_transpose3d(x, w, stride=2), [x, w])


@pytest.mark.parametrize("s,p,op,g,d", [(1, 0, 0, 1, 1), (2, 1, 1, 2, 1), (3, 2, 1, 1, 2)])
def test_conv_transpose1d_matches_torch(s, p, op, g, d):
    rng = np.random.default_rng(2)
    x, w, b = (rng.standard_normal((2, 4, 7)), rng.standard_normal((4, 6 // g, 3)),
               rng.standard_normal(6))
    check(lambda x, w, b: dl.nn.functional.conv_transpose1d(x, w, b, s, p, op, g, d),
          lambda x, w, b: torch.nn.functional.conv_transpose1d(x, w, b, s, p, op, g, d),
          [x, w, b])


def test_gradcheck_float64():
    rng = np.random.default_rng(3)
    gradcheck(lambda x, w, b: dl.nn.functional.conv_transpose3d(x, w, b, (2, 1, 2), 1, (1, 0, 0),
                                                                 1, (1, 1, 2)),
              [rng.standard_normal((1, 2, 2, 3, 2)), rng.standard_normal((2, 2, 2, 2, 2)),
               rng.standard_normal(2)])
    gradcheck(lambda x, w, b: dl.nn.functional.conv_transpose1d(x, w, b, 2, 1, 1, 2, 1),
              [rng.standard_normal((2, 4, 5)), rng.standard_normal((4, 1, 3)),
               rng.standard_normal(2)])


@pytest.mark.parametrize("name,args,kw,shape", [
    ("ConvTranspose1d", (4, 6, 3), dict(stride=2, padding=1, output_padding=1, groups=2),
     (2, 4, 9)),
    ("ConvTranspose1d", (3, 5, 4), dict(bias=False, dilation=2), (3, 7)),
    ("ConvTranspose3d", (4, 6, (2, 3, 2)), dict(stride=(2, 1, 2), padding=1, groups=2),
     (2, 4, 3, 4, 5)),
    ("ConvTranspose3d", (2, 3, 3), dict(bias=False), (2, 3, 3, 2)),
    ("BatchNorm3d", (4,), dict(), (3, 4, 2, 3, 2)),
    ("BatchNorm3d", (4,), dict(momentum=None, affine=False), (3, 4, 2, 3, 2)),
])
@pytest.mark.parametrize("train", [True, False])
def test_layers_match_torch(name, args, kw, shape, train):
    rng = np.random.default_rng(4)
    torch.manual_seed(0)
    theirs = getattr(torch.nn, name)(*args, **kw)
    ours = getattr(dl.nn, name)(*args, **kw)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    if name == "BatchNorm3d":  # non-trivial running statistics for eval mode
        theirs.running_mean.uniform_(-1, 1)
        theirs.running_var.uniform_(0.5, 2)
        if theirs.weight is not None:
            with torch.no_grad():
                theirs.weight.uniform_(0.5, 2)
                theirs.bias.uniform_(-1, 1)
    check_module(ours, theirs, [rng.standard_normal(shape).astype(np.float32)], train=train)
    assert repr(ours) == repr(theirs)


def test_output_size():
    rng = np.random.default_rng(5)
    x = rng.standard_normal((1, 2, 3, 4, 5)).astype(np.float32)
    torch.manual_seed(0)
    theirs = torch.nn.ConvTranspose3d(2, 3, 3, stride=2)
    ours = dl.nn.ConvTranspose3d(2, 3, 3, stride=2)
    ours.load_state_dict({k: v.numpy() for k, v in theirs.state_dict().items()})
    want = theirs(torch.tensor(x), output_size=(8, 10, 12)).detach().numpy()
    got = ours(dl.tensor(x), output_size=(8, 10, 12)).numpy()
    assert got.shape == (1, 3, 8, 10, 12)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)
    with pytest.raises(ValueError, match="not reachable"):
        ours(dl.tensor(x), output_size=(9, 10, 20))
    t1 = dl.nn.ConvTranspose1d(2, 3, 3, stride=3)
    assert t1(dl.zeros(1, 2, 4), output_size=[1, 3, 14]).shape == (1, 3, 14)


def test_trains():
    dl.manual_seed(0)
    net = dl.nn.Sequential(dl.nn.ConvTranspose3d(2, 4, 3, stride=2, padding=1),
                           dl.nn.BatchNorm3d(4), dl.nn.ReLU(),
                           dl.nn.ConvTranspose3d(4, 1, 1))
    x, y = dl.randn(4, 2, 2, 3, 3), dl.randn(4, 1, 3, 5, 5)
    opt = dl.optim.Adam(net.parameters(), lr=0.05)
    losses = []
    for _ in range(30):
        opt.zero_grad()
        loss = dl.nn.functional.mse_loss(net(x), y)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.7 * losses[0]


@pytest.mark.parametrize("fn,args,kw", [
    ("conv_transpose3d", [(1, 2, 3, 3, 3), (3, 2, 2, 2, 2)], {}),            # channels
    ("conv_transpose3d", [(1, 2, 3, 3), (2, 2, 2, 2)], {}),                  # weight rank
    ("conv_transpose3d", [(1, 2, 3, 3, 3), (2, 2, 2, 2, 2)], dict(stride=0)),
    ("conv_transpose3d", [(1, 2, 3, 3, 3), (2, 2, 2, 2, 2)], dict(output_padding=2)),
    ("conv_transpose3d", [(1, 2, 3, 3, 3), (2, 2, 2, 2, 2)], dict(padding=-1)),
    ("conv_transpose3d", [(1, 3, 3, 3, 3), (3, 2, 2, 2, 2)], dict(groups=2)),
    ("conv_transpose1d", [(1, 2, 3), (2, 2, 2)], dict(output_padding=1)),
    ("conv_transpose1d", [(1, 2, 3, 3), (2, 2, 2)], {}),
])
def test_bad_arguments_raise(fn, args, kw):
    ins = [np.zeros(s, np.float32) for s in args]
    with pytest.raises((ValueError, RuntimeError)):
        getattr(torch.nn.functional, fn)(*[torch.tensor(a) for a in ins], **kw)
    with pytest.raises(ValueError):
        getattr(dl.nn.functional, fn)(*[dl.tensor(a) for a in ins], **kw)


def test_bad_module_arguments():
    with pytest.raises(ValueError):
        dl.nn.ConvTranspose3d(3, 4, 2, groups=2)
    with pytest.raises(ValueError):
        dl.nn.ConvTranspose1d(2, 4, 2, padding_mode="reflect")
    with pytest.raises(ValueError, match="5-D"):
        dl.nn.BatchNorm3d(3)(dl.zeros(2, 3, 4, 4))
