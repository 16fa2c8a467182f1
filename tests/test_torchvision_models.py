"""torchvision-compatible ResNet-18/34/50, VGG-11/16(-BN) and MobileNetV2: exact state_dict keys
and shapes (key lists written here from torchvision's architecture definitions), torchvision's
published parameter counts, forward parity with an independent torch implementation on the
same random weights, and loading a torch.save'd checkpoint file."""
import numpy as np
import pytest

import dlcore as dl
from dlcore import nn
from dlcore.models import (resnet18, resnet34, resnet50, mobilenet_v2, vgg11, vgg11_bn, vgg16,
                           vgg16_bn)
from dlcore import models

BN = ("weight", "bias", "running_mean", "running_var", "num_batches_tracked")


def _bn(p, c):
    return [(p + "." + s, (c,) if s != "num_batches_tracked" else ()) for s in BN]


def resnet_spec(block, layers, classes=1000, groups=1, width_per_group=64):
    out = [("conv1.weight", (64, 3, 7, 7))] + _bn("bn1", 64)
    cin = 64
    for li, n in enumerate(layers):
        planes = 64 * 2 ** li
        for b in range(n):
            p = "layer%d.%d." % (li + 1, b)
            if block == "basic":
                cout = planes
                out += [(p + "conv1.weight", (planes, cin, 3, 3))] + _bn(p + "bn1", planes)
                out += [(p + "conv2.weight", (planes, planes, 3, 3))] + _bn(p + "bn2", planes)
            else:
                cout, w = planes * 4, planes * width_per_group // 64 * groups
                out += [(p + "conv1.weight", (w, cin, 1, 1))] + _bn(p + "bn1", w)
                out += [(p + "conv2.weight", (w, w // groups, 3, 3))] + _bn(p + "bn2", w)
                out += [(p + "conv3.weight", (cout, w, 1, 1))] + _bn(p + "bn3", cout)
            if b == 0 and (li > 0 or cin != cout):
                out += [(p + "downsample.0.weight", (cout, cin, 1, 1))]
                out += _bn(p + "downsample.1", cout)
            cin = cout
    return out + [("fc.weight", (classes, cin)), ("fc.bias", (classes,))]


def mobilenet_v2_spec(classes=1000):
    out = [("features.0.0.weight", (32, 3, 3, 3))] + _bn("features.0.1", 32)
    cin, i = 32, 1
    for t, c, n, s in ((1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2),
                       (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1)):
        for _ in range(n):
            p, h, q = "features.%d.conv." % i, cin * t, 0
            if t != 1:
                out += [(p + "0.0.weight", (h, cin, 1, 1))] + _bn(p + "0.1", h)
                q = 1
            out += [(p + "%d.0.weight" % q, (h, 1, 3, 3))] + _bn(p + "%d.1" % q, h)
            out += [(p + "%d.weight" % (q + 1), (c, h, 1, 1))] + _bn(p + str(q + 2), c)
            cin, i = c, i + 1
    out += [("features.18.0.weight", (1280, 320, 1, 1))] + _bn("features.18.1", 1280)
    return out + [("classifier.1.weight", (classes, 1280)), ("classifier.1.bias", (classes,))]


VGG_CFG = {"A": (64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"),
           "B": (64, 64, "M", 128, 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"),
           "E": (64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M",
                 512, 512, 512, 512, "M"),
           "D": (64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512,
                 512, "M")}


def vgg_spec(cfg, bn, classes=1000):
    out, i, cin = [], 0, 3
    for v in VGG_CFG[cfg]:
        if v == "M":
            i += 1
            continue
        out += [("features.%d.weight" % i, (v, cin, 3, 3)), ("features.%d.bias" % i, (v,))]
        i += 1
        if bn:
            out += _bn("features.%d" % i, v)
            i += 1
        i += 1   # ReLU
        cin = v
    for j, (a, b) in zip((0, 3, 6), ((25088, 4096), (4096, 4096), (4096, classes))):
        out += [("classifier.%d.weight" % j, (b, a)), ("classifier.%d.bias" % j, (b,))]
    return out


def _check(model, spec, n_params):
    sd = model.state_dict()
    assert [(k, tuple(v.shape)) for k, v in sd.items()] == spec
    assert model.num_parameters() == n_params


@pytest.mark.parametrize("fn,spec,n_params,n_entries", [
    (resnet18, resnet_spec("basic", (2, 2, 2, 2)), 11689512, 122),
    (resnet34, resnet_spec("basic", (3, 4, 6, 3)), 21797672, 218),
    (resnet50, resnet_spec("bottleneck", (3, 4, 6, 3)), 25557032, 320),
    (mobilenet_v2, mobilenet_v2_spec(), 3504872, 314)])
def test_keys_shapes_and_parameter_counts(fn, spec, n_params, n_entries):
    assert len(spec) == n_entries
    _check(fn(), spec, n_params)


@pytest.mark.parametrize("name,spec,n_params", [
    ("resnet101", resnet_spec("bottleneck", (3, 4, 23, 3)), 44549160),
    ("resnext50_32x4d", resnet_spec("bottleneck", (3, 4, 6, 3), groups=32, width_per_group=4),
     25028904),
    ("wide_resnet50_2", resnet_spec("bottleneck", (3, 4, 6, 3), width_per_group=128), 68883240)])
def test_deeper_and_grouped_resnets(monkeypatch, name, spec, n_params):
    # torchvision's published counts; random init is skipped (only shapes matter here)
    monkeypatch.setattr(nn.Conv2d, "reset_parameters", lambda self: None)
    monkeypatch.setattr(nn.Linear, "reset_parameters", lambda self: None)
    _check(getattr(models, name)(), spec, n_params)


def test_legacy_pretrained_arguments():
    m = resnet18(num_classes=3, pretrained=False, progress=False)   # torchvision's old form
    assert m.fc.out_features == 3
    for kw in (dict(pretrained=True), dict(weights="DEFAULT"), dict(weights="IMAGENET1K_V1"),
               dict(weights="ResNet18_Weights.IMAGENET1K_V1")):
        with pytest.raises(ValueError, match="downloads no weights"):
            resnet18(**kw)
    with pytest.raises(ValueError, match="downloads no weights"):
        mobilenet_v2(pretrained=True)
    with pytest.raises(TypeError, match="weights must be a path"):
        vgg11(weights=1)
    with pytest.raises(ValueError, match="groups must be 1"):
        models.ResNet(models.BasicBlock, (1, 1), groups=2)
    with pytest.raises(NotImplementedError, match="dilation"):
        resnet18(replace_stride_with_dilation=[False, False, True])
    with pytest.raises(ValueError, match="replace_stride_with_dilation needs 3 flags"):
        models.resnet50(replace_stride_with_dilation=[True])


@pytest.mark.parametrize("fn,cfg,bn,n_params", [(vgg11, "A", False, 132863336),
                                                (vgg11_bn, "A", True, 132868840),
                                                (vgg16, "D", False, 138357544),
                                                (vgg16_bn, "D", True, 138365992),
                                                (models.vgg13, "B", False, 133047848),
                                                (models.vgg19_bn, "E", True, 143678248)])
def test_vgg_keys_shapes_and_parameter_counts(monkeypatch, fn, cfg, bn, n_params):
    # the 100M-weight classifier's random init takes seconds: skip it, only shapes matter here
    monkeypatch.setattr(nn.Linear, "reset_parameters", lambda self: None)
    _check(fn(init_weights=False), vgg_spec(cfg, bn), n_params)


def _randomize(model, rng):
    sd = {}
    for k, v in model.state_dict().items():
        if k.endswith("running_var"):
            sd[k] = rng.uniform(0.5, 1.5, v.shape).astype(np.float32)
        elif k.endswith("num_batches_tracked"):
            sd[k] = np.array(0, np.int64)
        elif len(v.shape) == 4:
            fan_in = int(np.prod(v.shape[1:]))
            sd[k] = (rng.standard_normal(v.shape) * np.sqrt(2.0 / fan_in)).astype(np.float32)
        else:
            sd[k] = (rng.standard_normal(v.shape) * 0.1).astype(np.float32)
    model.load_state_dict(sd)
    return sd


@pytest.mark.parametrize("name", ["resnet18", "resnet50", "mobilenet_v2"])
def test_forward_matches_torch(torch, rng, name):
    from dlcore.bench import _torch_vision as tv
    fn = {"resnet18": resnet18, "resnet50": resnet50, "mobilenet_v2": mobilenet_v2}[name]
    ref_fn = tv.torch_mobilenet_v2 if name == "mobilenet_v2" else tv.torch_resnet
    m = fn(num_classes=7)
    sd = _randomize(m, rng)
    m.eval()
    size = (40, 32) if name == "resnet50" else (56, 48)
    x = rng.standard_normal((2, 3) + size).astype(np.float32)
    ref = ref_fn(sd)(x)
    with dl.no_grad():
        y = m(dl.tensor(x)).numpy()
    assert y.shape == (2, 7)
    np.testing.assert_allclose(y, ref, rtol=1e-4, atol=1e-4 * np.abs(ref).max())


@pytest.mark.parametrize("name,kwargs,dilate", [
    ("resnext50_32x4d", {}, (False, False, False)),
    ("resnet50", dict(replace_stride_with_dilation=[False, True, True]), (False, True, True))])
def test_grouped_and_dilated_resnets_match_torch(torch, rng, name, kwargs, dilate):
    from dlcore.bench import _torch_vision as tv
    m = getattr(models, name)(num_classes=5, **kwargs)
    sd = _randomize(m, rng)
    m.eval()
    x = rng.standard_normal((1, 3, 40, 36)).astype(np.float32)
    ref = tv.torch_resnet(sd, dilate)(x)
    with dl.no_grad():
        y = m(dl.tensor(x)).numpy()
    np.testing.assert_allclose(y, ref, rtol=1e-4, atol=1e-4 * np.abs(ref).max())


def test_vgg11_bn_forward_matches_torch(torch, rng, monkeypatch):
    from dlcore.bench._torch_vision import torch_vgg
    monkeypatch.setattr(nn.Linear, "reset_parameters", lambda self: None)
    m = vgg11_bn(num_classes=5, init_weights=False)
    sd = {}
    for k, v in m.state_dict().items():
        if k == "classifier.0.weight":
            # tile a random block (cheaper than 100M random draws; any weights do for parity)
            blk = (rng.standard_normal((4096, 512)) * 0.02).astype(np.float32)
            sd[k] = np.tile(blk, (1, 49))
        elif k.endswith("running_var"):
            sd[k] = rng.uniform(0.5, 1.5, v.shape).astype(np.float32)
        elif k.endswith("num_batches_tracked"):
            sd[k] = np.array(0, np.int64)
        else:
            scale = np.sqrt(2.0 / np.prod(v.shape[1:])) if len(v.shape) > 1 else 0.1
            sd[k] = (rng.standard_normal(v.shape) * scale).astype(np.float32)
    m.load_state_dict(sd)
    m.eval()
    # 32x32 -> 1x1 after five pools; the 7x7 adaptive pool then replicates it
    x = rng.standard_normal((1, 3, 32, 32)).astype(np.float32)
    ref = torch_vgg(sd, VGG_CFG["A"])(x)
    with dl.no_grad():
        y = m(dl.tensor(x)).numpy()
    np.testing.assert_allclose(y, ref, rtol=1e-4, atol=1e-4 * np.abs(ref).max())


def test_load_torch_checkpoint_file(torch, rng, tmp_path):
    """A checkpoint written by torch.save (zip format, DataParallel 'module.' prefix) loads
    through weights=... and reproduces the outputs."""
    from dlcore.bench._torch_vision import torch_mobilenet_v2
    m = mobilenet_v2(num_classes=4)
    sd = _randomize(m, rng)
    path = tmp_path / "mnv2.pth"
    torch.save({"module." + k: torch.from_numpy(np.asarray(v)) for k, v in sd.items()}, path)
    m2 = mobilenet_v2(num_classes=4, weights=path)
    assert not m2.training
    x = rng.standard_normal((1, 3, 40, 40)).astype(np.float32)
    with dl.no_grad():
        np.testing.assert_allclose(m2(dl.tensor(x)).numpy(), torch_mobilenet_v2(sd)(x),
                                   rtol=1e-4, atol=1e-5)
    with pytest.raises(ValueError, match="shape mismatch"):
        mobilenet_v2(num_classes=10, weights=path)


def test_resnet18_trains(rng):
    m = resnet18(num_classes=3)
    m.train()
    x = dl.tensor(rng.standard_normal((2, 3, 32, 32)).astype(np.float32))
    loss = nn.functional.cross_entropy(m(x), dl.tensor(np.array([1, 2])))
    loss.backward()
    assert m.conv1.weight.grad is not None
    assert m.layer4[1].bn2.weight.grad is not None
    assert int(m.bn1.num_batches_tracked.numpy()) == 1
