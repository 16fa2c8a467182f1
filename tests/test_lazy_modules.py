"""Lazy* layers, UninitializedParameter/Buffer and nn.Buffer: the input size is read off the
first call, the module then is the plain layer (class, state_dict keys, repr as torch's), a
state_dict loads into a lazy module, training works; errors as torch's."""
import copy
import pickle

import numpy as np
import pytest

import dlcore as dl
from _torch_parity import check_module

torch = pytest.importorskip("torch")

CASES = [  # (lazy name, args, kwargs, input shape, plain name)
    ("LazyLinear", (5,), {}, (3, 7), "Linear"),
    ("LazyLinear", (4,), dict(bias=False), (2, 3, 6), "Linear"),
    ("LazyConv1d", (4, 3), dict(stride=2, padding=1), (2, 3, 9), "Conv1d"),
    ("LazyConv2d", (6, 3), dict(groups=2, bias=False), (2, 4, 7, 6), "Conv2d"),
    ("LazyConv2d", (3, 2), {}, (2, 5, 5), "Conv2d"),        # unbatched: in_channels = dim 0
    ("LazyConv3d", (2, 2), dict(padding=1), (1, 3, 3, 4, 3), "Conv3d"),
    ("LazyConvTranspose1d", (4, 3), dict(stride=2), (2, 3, 5), "ConvTranspose1d"),
    ("LazyConvTranspose2d", (4, 3), dict(stride=2, groups=2), (2, 4, 3, 4),
     "ConvTranspose2d"),
    ("LazyConvTranspose3d", (2, 2), dict(stride=2), (1, 3, 2, 3, 2), "ConvTranspose3d"),
    ("LazyBatchNorm1d", (), {}, (4, 5), "BatchNorm1d"),
    ("LazyBatchNorm2d", (), dict(momentum=None), (3, 4, 3, 3), "BatchNorm2d"),
    ("LazyBatchNorm3d", (), dict(affine=False), (3, 2, 2, 3, 2), "BatchNorm3d"),
    ("LazyInstanceNorm1d", (), dict(affine=True), (2, 3, 6), "InstanceNorm1d"),
    ("LazyInstanceNorm2d", (), dict(affine=True, track_running_stats=True), (2, 3, 4, 5),
     "InstanceNorm2d"),
    ("LazyInstanceNorm3d", (), {}, (2, 3, 2, 3, 2), "InstanceNorm3d"),
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c[0] + str(c[3]))
def test_first_call_initializes_like_torch(case):
    name, args, kw, shape, plain = case
    ours = getattr(dl.nn, name)(*args, **kw)
    theirs = getattr(torch.nn, name)(*args, **kw)
    assert type(ours).__name__ == name
    assert ours.has_uninitialized_params() == theirs.has_uninitialized_params()
    assert list(ours.state_dict()) == list(theirs.state_dict())
    x = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    ours(dl.tensor(x))
    theirs(torch.tensor(x))
    assert type(ours) is getattr(dl.nn, plain)
    assert type(theirs).__name__ == plain
    assert repr(ours) == repr(theirs)
    sd_o, sd_t = ours.state_dict(), theirs.state_dict()
    assert list(sd_o) == list(sd_t)
    for k in sd_t:
        assert tuple(sd_o[k].shape) == tuple(sd_t[k].shape), k
    for p in ours.parameters():
        assert type(p) is dl.nn.Parameter
    # then it computes what torch's does on the same weights, gradients included
    check_module(ours, theirs, [x], rtol=2e-5, atol=2e-5)


def test_default_init_bounds():
    dl.manual_seed(0)
    m = dl.nn.LazyLinear(50)
    m(dl.zeros(2, 400))
    bound = 1 / np.sqrt(400)
    w = m.weight.numpy()
    assert w.shape == (50, 400) and np.abs(w).max() <= bound and w.std() > 0.4 * bound
    c = dl.nn.LazyConv2d(8, 3)
    c(dl.zeros(1, 4, 5, 5))
    assert np.abs(c.bias.numpy()).max() <= 1 / np.sqrt(36) and c.bias.numpy().std() > 0


def test_load_state_dict_into_lazy_model():
    src = dl.nn.Sequential(dl.nn.Conv2d(3, 4, 3), dl.nn.BatchNorm2d(4), dl.nn.Flatten(),
                           dl.nn.Linear(4 * 4 * 4, 2))
    src.eval()
    lazy = dl.nn.Sequential(dl.nn.LazyConv2d(4, 3), dl.nn.LazyBatchNorm2d(), dl.nn.Flatten(),
                            dl.nn.LazyLinear(2))
    lazy.load_state_dict(src.state_dict())
    lazy.eval()
    x = dl.randn(2, 3, 6, 6)
    np.testing.assert_array_equal(lazy(x).numpy(), src(x).numpy())
    assert type(lazy[3]) is dl.nn.Linear


def test_training_and_optimizer_after_dry_run():
    dl.manual_seed(0)
    net = dl.nn.Sequential(dl.nn.LazyConv1d(8, 3), dl.nn.LazyBatchNorm1d(), dl.nn.ReLU(),
                           dl.nn.Flatten(), dl.nn.LazyLinear(1))
    x, y = dl.randn(16, 2, 10), dl.randn(16, 1)
    net(x)  # dry run, as torch asks before building the optimizer
    opt = dl.optim.SGD(net.parameters(), lr=0.05)
    first = None
    for _ in range(40):
        opt.zero_grad()
        loss = dl.nn.functional.mse_loss(net(x), y)
        loss.backward()
        opt.step()
        first = first if first is not None else loss.item()
    assert loss.item() < 0.5 * first


def test_deepcopy_and_pickle():
    m = dl.nn.LazyLinear(3)
    m2 = copy.deepcopy(m)
    m2(dl.zeros(1, 4))
    assert type(m2) is dl.nn.Linear and m.has_uninitialized_params()
    m(dl.zeros(2, 6))
    m3 = pickle.loads(pickle.dumps(m))
    assert type(m3) is dl.nn.Linear and m3.weight.shape == (3, 6)


def test_uninitialized_parameter():
    p = dl.nn.UninitializedParameter()
    assert isinstance(p, dl.nn.Parameter) and p.requires_grad
    with pytest.raises(ValueError, match="uninitialized"):
        p.shape
    p.materialize((2, 3))
    assert type(p) is dl.nn.Parameter and p.shape == (2, 3) and p.dtype == dl.float32
    b = dl.nn.UninitializedBuffer(dtype=dl.float64)
    b.materialize(4)
    assert type(b) is dl.Tensor and b.shape == (4,) and b.dtype == dl.float64


def test_buffer_assignment_registers_a_buffer():
    m = dl.nn.Module()
    m.a = dl.nn.Buffer(dl.ones(3))
    m.b = dl.nn.Buffer(dl.zeros(2), persistent=False)
    assert [n for n, _ in m.named_buffers()] == ["a", "b"]
    assert list(m.state_dict()) == ["a"]
    t = torch.nn.Module()
    t.a = torch.nn.Buffer(torch.ones(3))
    t.b = torch.nn.Buffer(torch.zeros(2), persistent=False)
    assert list(t.state_dict()) == ["a"]
    assert isinstance(m.a, dl.nn.Buffer) and not isinstance(dl.ones(2), dl.nn.Buffer)


def test_errors_like_torch():
    for lib, exc in ((dl, ValueError), (torch, ValueError)):
        with pytest.raises(exc):
            lib.nn.LazyConv2d(4, 3, groups=2)(lib.zeros(1, 3, 5, 5))
    for lib in (dl, torch):
        with pytest.raises(RuntimeError):
            lib.nn.LazyConv2d(4, 3)(lib.zeros(5, 5))
    with pytest.raises(ValueError):
        dl.nn.LazyLinear(-1)


def test_container_like_torch():
    with pytest.warns(FutureWarning, match="deprecated"):
        c = dl.nn.Container(a=dl.nn.Linear(2, 3), b=dl.nn.ReLU())
    with pytest.warns(FutureWarning, match="deprecated"):
        t = torch.nn.Container(a=torch.nn.Linear(2, 3), b=torch.nn.ReLU())
    assert list(c.state_dict()) == list(t.state_dict()) == ["a.weight", "a.bias"]
    assert [n for n, _ in c.named_children()] == ["a", "b"]
