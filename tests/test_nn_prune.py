"""nn.utils.prune against torch.nn.utils.prune on the same weights: masks, the pruned weight,
state_dict keys, gradients through the mask, iterative (container) pruning, global pruning,
remove and is_pruned."""
import numpy as np
import pytest

import dlcore as dl
from dlcore import nn
from dlcore.nn.utils import prune


def _pair(torch, make):
    import torch.nn.utils.prune  # noqa: F401  (torch does not import it with torch.nn)
    rng = np.random.default_rng(0)
    mine, ref = make(nn), make(torch.nn)
    for (k, p), (k2, q) in zip(mine.named_parameters(), ref.named_parameters()):
        assert k == k2
        v = rng.standard_normal(tuple(p.shape)).astype(np.float32)
        p.data = dl.tensor(v)
        with torch.no_grad():
            q.copy_(torch.tensor(v))
    return mine, ref


def _same(a, b):
    np.testing.assert_array_equal(a.detach().numpy(), b.detach().numpy())


STEPS = {
    "l1_fraction": lambda P, m: P.l1_unstructured(m, "weight", amount=0.3),
    "l1_count": lambda P, m: P.l1_unstructured(m, "weight", amount=7),
    "ln_structured": lambda P, m: P.ln_structured(m, "weight", amount=0.5, n=2, dim=0),
    "ln_structured_l1_dim1": lambda P, m: P.ln_structured(m, "weight", amount=2, n=1, dim=1),
    "l1_then_ln": lambda P, m: (P.l1_unstructured(m, "weight", amount=0.4),
                                P.ln_structured(m, "weight", amount=0.34, n=2, dim=0)),
    "ln_then_l1": lambda P, m: (P.ln_structured(m, "weight", amount=1, n=float("inf"), dim=0),
                                P.l1_unstructured(m, "weight", amount=0.5)),
    "l1_twice": lambda P, m: (P.l1_unstructured(m, "weight", amount=0.5),
                              P.l1_unstructured(m, "weight", amount=0.5)),
    "bias_and_identity": lambda P, m: (P.l1_unstructured(m, "bias", amount=2),
                                       P.identity(m, "weight")),
}


@pytest.mark.parametrize("layer", ["linear", "conv"])
@pytest.mark.parametrize("name", sorted(STEPS))
def test_prune_matches_torch(torch, layer, name):
    make = {"linear": lambda N: N.Linear(6, 5),
            "conv": lambda N: N.Conv2d(3, 4, 3)}[layer]
    mine, ref = _pair(torch, make)
    STEPS[name](prune, mine)
    STEPS[name](torch.nn.utils.prune, ref)
    assert list(mine.state_dict()) == list(ref.state_dict())
    for k in ref.state_dict():
        _same(mine.state_dict()[k], ref.state_dict()[k])
    _same(mine.weight, ref.weight)
    x = np.random.default_rng(1).standard_normal((2, 6) if layer == "linear" else (2, 3, 5, 5))
    ym, yr = mine(dl.tensor(x.astype(np.float32))), ref(torch.tensor(x.astype(np.float32)))
    np.testing.assert_allclose(ym.detach().numpy(), yr.detach().numpy(), rtol=1e-5, atol=1e-6)
    ym.sum().backward()
    yr.sum().backward()
    np.testing.assert_allclose(mine.weight_orig.grad.numpy(), ref.weight_orig.grad.numpy(),
                               rtol=1e-5, atol=1e-6)
    assert prune.is_pruned(mine) and torch.nn.utils.prune.is_pruned(ref)
    prune.remove(mine, "weight")
    torch.nn.utils.prune.remove(ref, "weight")
    assert sorted(k for k, _ in mine.named_parameters()) == sorted(
        k for k, _ in ref.named_parameters())
    _same(mine.weight, ref.weight)


def test_global_unstructured_and_custom_mask(torch):
    def make(N):
        return N.Sequential(N.Linear(4, 6), N.ReLU(), N.Linear(6, 3))
    mine, ref = _pair(torch, make)
    for P, m in ((prune, mine), (torch.nn.utils.prune, ref)):
        P.l1_unstructured(m[2], "weight", amount=3)
        P.global_unstructured([(m[0], "weight"), (m[2], "weight")],
                              pruning_method=P.L1Unstructured, amount=0.5)
        P.custom_from_mask(m[0], "bias", mask=(dl if P is prune else torch).tensor(
            [1.0, 0, 1, 0, 1, 1]))
    for k in ref.state_dict():
        _same(mine.state_dict()[k], ref.state_dict()[k])
    kept = (mine[0].weight_mask.numpy().sum() + mine[2].weight_mask.numpy().sum())
    # the global step prunes half of the 42 - 3 entries still kept
    assert kept == 39 - round(0.5 * 39)


def test_random_methods_prune_the_asked_amount():
    m = nn.Conv2d(2, 8, 3)
    prune.random_unstructured(m, "weight", amount=0.25)
    assert int((m.weight_mask.numpy() == 0).sum()) == round(0.25 * m.weight.numel())
    prune.random_structured(m, "weight", amount=3, dim=0)
    zero_channels = (m.weight_mask.numpy().reshape(8, -1).sum(1) == 0).sum()
    assert zero_channels == 3


def test_errors_like_torch(torch):
    for P, N in ((prune, nn), (torch.nn.utils.prune, torch.nn)):
        m = N.Linear(3, 2)
        with pytest.raises(ValueError):
            P.l1_unstructured(m, "weight", amount=1.5)
        with pytest.raises(ValueError):
            P.l1_unstructured(m, "weight", amount=-1)
        with pytest.raises(ValueError):
            P.l1_unstructured(m, "weight", amount=7)
        with pytest.raises(ValueError):
            P.remove(m, "bias")
        with pytest.raises(TypeError):
            P.global_unstructured([(m, "weight")], pruning_method=P.LnStructured, amount=0.1,
                                  n=2, dim=0)
        assert not P.is_pruned(m)
