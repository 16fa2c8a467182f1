"""Fine-tuning: freezing with requires_grad_(False) and by prefix, per-group learning rates,
batch norm kept in inference mode, replacing heads, and saving only the fine-tuned part."""
import numpy as np
import pytest

import dlcore as dl
from dlcore import nn
from dlcore.models import (resnet_small, resnet18, freeze, unfreeze, freeze_batchnorm,
                           param_groups, trainable_state_dict)
from dlcore.models.finetune import unfreeze_batchnorm, state_dict_subset


def _data(rng, n=4, c=1, hw=8):
    x = dl.tensor(rng.standard_normal((n, c, hw, hw)).astype(np.float32))
    y = dl.tensor(rng.integers(0, 3, n))
    return x, y


def _step(model, opt, x, y):
    opt.zero_grad()
    loss = nn.functional.cross_entropy(model(x), y)
    loss.backward()
    opt.step()
    return float(loss.numpy())


def test_requires_grad_false_freezes_backbone(rng):
    m = resnet_small(num_classes=3)
    m.requires_grad_(False)
    m.fc = nn.Linear(m.fc.in_features, 3)           # a new head is trainable by default
    assert [n for n, p in m.named_parameters() if p.requires_grad] == ["fc.weight", "fc.bias"]
    before = {k: v.numpy().copy() for k, v in m.state_dict().items()}
    opt = dl.optim.SGD([p for p in m.parameters() if p.requires_grad], lr=0.1, momentum=0.9)
    x, y = _data(rng)
    m.eval()
    _step(m, opt, x, y)
    assert m.conv1.weight.grad is None and m.layer1[0].conv1.weight.grad is None
    after = m.state_dict()
    for k, v in before.items():
        changed = not np.array_equal(v, after[k].numpy())
        assert changed == k.startswith("fc."), k


def test_freeze_by_prefix_and_errors():
    m = resnet_small(num_classes=3)
    left = freeze(m, except_prefixes=["fc", "layer3.1"])
    assert left and all(n.startswith(("fc.", "layer3.1.")) for n in left)
    assert "layer3.0.conv1.weight" not in left
    left = unfreeze(m, ["layer3"])
    assert "layer3.0.conv1.weight" in left and "conv1.weight" not in left
    freeze(m, prefixes=["fc"])
    assert not m.fc.weight.requires_grad and m.layer3[0].conv1.weight.requires_grad
    with pytest.raises(KeyError, match="no parameter under 'layer9'"):
        freeze(m, except_prefixes=["layer9"])
    # "layer1" must not match "layer10..." style names: prefixes are whole module paths
    m2 = nn.Sequential(*[nn.Linear(2, 2) for _ in range(11)])
    freeze(m2, prefixes=["1"])
    assert not m2[1].weight.requires_grad and m2[10].weight.requires_grad


def test_param_groups_learning_rates(rng):
    m = resnet_small(num_classes=3)
    freeze(m, except_prefixes=["fc", "layer3"])
    groups = param_groups(m, {"fc": 0.1, "layer3.1": 0.01}, default_lr=0.0, weight_decay=0.0)
    assert [g["lr"] for g in groups] == [0.1, 0.01, 0.0]
    assert len(groups[0]["params"]) == 2
    n_l31 = sum(1 for n, _ in m.named_parameters() if n.startswith("layer3.1."))
    assert len(groups[1]["params"]) == n_l31
    opt = dl.optim.SGD(groups, lr=123.0)
    assert [g["lr"] for g in opt.param_groups] == [0.1, 0.01, 0.0]
    before = {n: p.numpy().copy() for n, p in m.named_parameters()}
    m.eval()
    x, y = _data(rng)
    _step(m, opt, x, y)
    for n, p in m.named_parameters():
        lr = 0.1 if n.startswith("fc.") else 0.01 if n.startswith("layer3.1.") else 0.0
        if p.grad is None:
            assert not p.requires_grad
            continue
        # plain SGD: the update is exactly lr * grad for each group's own lr
        np.testing.assert_allclose(before[n] - p.numpy(), lr * p.grad.numpy(), rtol=1e-5,
                                   atol=1e-7)
    with pytest.raises(KeyError, match="no trainable parameter under 'conv1'"):
        param_groups(m, {"conv1": 1.0})


def test_freeze_batchnorm_survives_train_mode(rng):
    m = resnet_small(num_classes=3)
    x, y = _data(rng)
    m.train()
    for _ in range(2):        # move the running stats away from (0, 1)
        m(x)
    m.eval()
    with dl.no_grad():
        ref = m(x).numpy()
    assert freeze_batchnorm(m) == 1 + 3 * 2 * 2 + 2
    m.train()                 # what a training loop does every epoch
    assert m.training and not m.bn1.training
    stats = m.bn1.running_mean.numpy().copy()
    count = int(m.bn1.num_batches_tracked.numpy())
    out = m(x)
    np.testing.assert_allclose(out.numpy(), ref, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(m.bn1.running_mean.numpy(), stats)
    assert int(m.bn1.num_batches_tracked.numpy()) == count
    assert not m.bn1.weight.requires_grad
    nn.functional.cross_entropy(out, y).backward()
    assert m.conv1.weight.grad is not None and m.bn1.weight.grad is None
    assert isinstance(m.bn1, nn.BatchNorm2d)
    assert list(m.state_dict()) == list(resnet_small(num_classes=3).state_dict())
    unfreeze_batchnorm(m)
    assert m.bn1.training and type(m.bn1) is nn.BatchNorm2d and m.bn1.weight.requires_grad


def test_save_only_the_fine_tuned_part(rng, tmp_path):
    base = resnet18(num_classes=1000)
    pretrained = {k: v.numpy().copy() for k, v in base.state_dict().items()}
    m = resnet18(num_classes=1000)
    m.load_state_dict(pretrained)
    m.fc = nn.Linear(512, 3)
    freeze(m, except_prefixes=["fc", "layer4.1"])
    freeze_batchnorm(m, prefixes=["conv1", "bn1", "layer1", "layer2", "layer3", "layer4.0"])
    opt = dl.optim.Adam(param_groups(m, {"fc": 1e-2, "layer4.1": 1e-3}))
    x = dl.tensor(rng.standard_normal((2, 3, 32, 32)).astype(np.float32))
    y = dl.tensor(np.array([0, 2]))
    m.train()
    for _ in range(2):
        _step(m, opt, x, y)
    sd = trainable_state_dict(m)
    assert all(k.startswith(("fc.", "layer4.1.")) for k in sd)
    assert "fc.weight" in sd and "layer4.1.bn2.running_mean" in sd
    assert "layer4.1.conv1.weight" in sd and "layer3.0.conv1.weight" not in sd
    path = tmp_path / "finetuned.safetensors"
    dl.save(sd, str(path))
    full = sum(v.numpy().nbytes for v in m.state_dict().values())
    assert path.stat().st_size < full / 2
    # rebuild: pretrained backbone + the saved part reproduces the fine-tuned model
    r = resnet18(num_classes=1000)
    r.load_state_dict(pretrained)
    r.fc = nn.Linear(512, 3)
    res = r.load_state_dict(dl.load(str(path)), strict=False)
    assert not res.unexpected_keys and all(not k.startswith("fc.") for k in res.missing_keys)
    m.eval()
    r.eval()
    with dl.no_grad():
        np.testing.assert_allclose(r(x).numpy(), m(x).numpy(), rtol=1e-5, atol=1e-6)
    sub = state_dict_subset(m, ["fc"])
    assert list(sub) == ["fc.weight", "fc.bias"]
