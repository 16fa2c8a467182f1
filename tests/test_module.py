"""nn.Module mechanics, containers, Linear parity with torch, init and clip_grad_norm_."""
import math

import numpy as np
import pytest

import dlcore as dl
from dlcore import nn


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(4, 8)
        self.act = nn.ReLU()
        self.blocks = nn.ModuleList([nn.Linear(8, 8), nn.Linear(8, 8)])
        self.heads = nn.ModuleDict({"a": nn.Linear(8, 2)})
        self.register_buffer("steps", dl.zeros(1))
        self.register_buffer("scratch", dl.zeros(1), persistent=False)

    def forward(self, x):
        x = self.act(self.fc1(x))
        for b in self.blocks:
            x = b(x)
        return self.heads["a"](x)


def test_parameters_buffers_children_modules():
    net = Net()
    names = [n for n, _ in net.named_parameters()]
    assert names == ["fc1.weight", "fc1.bias", "blocks.0.weight", "blocks.0.bias",
                     "blocks.1.weight", "blocks.1.bias", "heads.a.weight", "heads.a.bias"]
    assert [n for n, _ in net.named_buffers()] == ["steps", "scratch"]
    assert "scratch" not in net.state_dict() and "steps" in net.state_dict()
    assert len(list(net.children())) == 4
    assert len(list(net.modules())) == 1 + 4 + 2 + 1
    assert net.num_parameters() == 4 * 8 + 8 + 2 * (64 + 8) + 16 + 2


def test_shared_parameters_counted_once():
    lin = nn.Linear(3, 3)
    seq = nn.Sequential(lin, lin)
    assert len(list(seq.parameters())) == 2
    assert list(seq.state_dict()) == ["0.weight", "0.bias", "1.weight", "1.bias"]


def test_train_eval_and_zero_grad_and_requires_grad():
    net = Net()
    net.eval()
    assert not any(m.training for m in net.modules())
    net.train()
    assert all(m.training for m in net.modules())
    net(dl.randn(3, 4)).sum().backward()
    assert all(p.grad is not None for p in net.parameters())
    net.zero_grad()
    assert all(p.grad is None for p in net.parameters())
    net.requires_grad_(False)
    assert not any(p.requires_grad for p in net.parameters())


def test_state_dict_round_trip_and_errors():
    a, b = Net(), Net()
    b.load_state_dict(a.state_dict())
    x = dl.randn(2, 4)
    assert a(x).allclose(b(x))
    sd = a.state_dict()
    del sd["fc1.bias"]
    with pytest.raises(RuntimeError, match='Missing key.*"fc1.bias"'):
        b.load_state_dict(sd)
    sd = a.state_dict()
    sd["extra"] = dl.zeros(1)
    with pytest.raises(RuntimeError, match='Unexpected key.*"extra"'):
        b.load_state_dict(sd)
    res = b.load_state_dict(sd, strict=False)
    assert res.unexpected_keys == ["extra"] and res.missing_keys == []
    sd = a.state_dict()
    sd["fc1.weight"] = dl.zeros(3, 3)
    with pytest.raises(RuntimeError, match=r"size mismatch for fc1.weight.*\(3, 3\).*\(8, 4\)"):
        b.load_state_dict(sd)
    with pytest.raises(TypeError, match="expected a dict"):
        b.load_state_dict([1, 2])


def test_load_state_dict_accepts_numpy_and_copies():
    lin = nn.Linear(2, 2)
    w = np.ones((2, 2), np.float32)
    lin.load_state_dict({"weight": w, "bias": np.zeros(2)})
    w[0, 0] = 5
    assert lin.weight[0, 0].item() == 1.0
    assert lin.bias.dtype == dl.float32


def test_repr_is_readable():
    r = repr(Net())
    assert "(fc1): Linear(in_features=4, out_features=8, bias=True)" in r
    assert "(blocks): ModuleList(" in r


def test_apply_and_assignment_rules():
    net = Net()
    seen = []
    net.apply(lambda m: seen.append(type(m).__name__))
    assert seen[-1] == "Net" and "Linear" in seen
    with pytest.raises(TypeError, match="Parameter or None"):
        net.fc1.weight = dl.zeros(8, 4)
    net.fc1.bias = None
    assert "fc1.bias" not in net.state_dict()


def test_sequential_indexing():
    seq = nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1))
    assert isinstance(seq[0], nn.Linear) and isinstance(seq[-1], nn.Linear)
    assert len(seq[:2]) == 2
    assert seq(dl.randn(5, 2)).shape == (5, 1)


def test_module_to_float64():
    net = Net().double()
    assert all(p.dtype == dl.float64 for p in net.parameters())
    assert net(dl.randn(2, 4, dtype=dl.float64)).dtype == dl.float64


def test_linear_parity_with_torch(torch, rng):
    tl = torch.nn.Linear(7, 5)
    ours = nn.Linear(7, 5)
    ours.load_state_dict({k: v.detach().numpy() for k, v in tl.state_dict().items()})
    x = rng.standard_normal((3, 2, 7)).astype(np.float32)
    tx = torch.tensor(x, requires_grad=True)
    ox = dl.tensor(x, requires_grad=True)
    ty = tl(tx)
    oy = ours(ox)
    np.testing.assert_allclose(oy.numpy(), ty.detach().numpy(), rtol=1e-5, atol=1e-5)
    g = rng.standard_normal(ty.shape).astype(np.float32)
    ty.backward(torch.tensor(g))
    oy.backward(dl.tensor(g))
    np.testing.assert_allclose(ox.grad.numpy(), tx.grad.numpy(), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(ours.weight.grad.numpy(), tl.weight.grad.numpy(), rtol=1e-4,
                               atol=1e-5)
    np.testing.assert_allclose(ours.bias.grad.numpy(), tl.bias.grad.numpy(), rtol=1e-4, atol=1e-5)


def test_linear_bad_input():
    lin = nn.Linear(3, 2)
    with pytest.raises(ValueError, match="in_features=3"):
        lin(dl.ones(4, 5))
    with pytest.raises(TypeError, match="dtype"):
        lin(dl.ones(4, 3, dtype=dl.float64))
    with pytest.raises(ValueError, match="non-negative"):
        nn.Linear(-1, 2)


@pytest.mark.parametrize("fn, kwargs, check", [
    (nn.init.xavier_uniform_, {}, lambda a, fi, fo: abs(a).max() <= math.sqrt(6 / (fi + fo))),
    (nn.init.xavier_normal_, {}, lambda a, fi, fo: abs(a.std() - math.sqrt(2 / (fi + fo))) < 0.01),
    (nn.init.kaiming_uniform_, {"nonlinearity": "relu"},
     lambda a, fi, fo: abs(a).max() <= math.sqrt(6 / fi)),
    (nn.init.kaiming_normal_, {"nonlinearity": "relu"},
     lambda a, fi, fo: abs(a.std() - math.sqrt(2 / fi)) < 0.01),
    (nn.init.zeros_, {}, lambda a, fi, fo: (a == 0).all()),
    (nn.init.ones_, {}, lambda a, fi, fo: (a == 1).all()),
    (nn.init.normal_, {"std": 0.02}, lambda a, fi, fo: abs(a.std() - 0.02) < 0.002),
    (nn.init.uniform_, {"a": -0.1, "b": 0.1}, lambda a, fi, fo: abs(a).max() <= 0.1),
])
def test_init_statistics(fn, kwargs, check):
    w = nn.Parameter(dl.empty(300, 200))
    fn(w, **kwargs)
    assert check(w.numpy(), 200, 300)


def test_orthogonal_init():
    w = nn.Parameter(dl.empty(6, 10))
    nn.init.orthogonal_(w)
    np.testing.assert_allclose(w.numpy() @ w.numpy().T, np.eye(6), atol=1e-5)


def test_clip_grad_norm_matches_torch(torch, rng):
    grads = [rng.standard_normal(s).astype(np.float32) for s in [(3, 4), (5,)]]
    ps = [nn.Parameter(dl.zeros(*g.shape)) for g in grads]
    tps = [torch.nn.Parameter(torch.zeros(g.shape)) for g in grads]
    for p, tp, g in zip(ps, tps, grads):
        p.grad = dl.tensor(g)
        tp.grad = torch.tensor(g)
    n = nn.utils.clip_grad_norm_(ps, 1.0)
    tn = torch.nn.utils.clip_grad_norm_(tps, 1.0)
    assert n.item() == pytest.approx(tn.item(), rel=1e-5)
    for p, tp in zip(ps, tps):
        np.testing.assert_allclose(p.grad.numpy(), tp.grad.numpy(), rtol=1e-5, atol=1e-7)
