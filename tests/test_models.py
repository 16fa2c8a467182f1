"""dl.models: output shapes, a backward pass, and state_dict keys/shapes shared with torch."""
import numpy as np
import pytest

import dlcore as dl
from dlcore import models


def test_lenet5_shapes_and_backward():
    m = models.LeNet5()
    x = dl.randn(3, 1, 28, 28)
    y = m(x)
    assert y.shape == (3, 10)
    y.sum().backward()
    assert all(p.grad is not None for p in m.parameters())
    assert models.LeNet5(in_channels=3, input_size=32)(dl.randn(2, 3, 32, 32)).shape == (2, 10)
    with pytest.raises(ValueError, match="input_size"):
        models.LeNet5(input_size=8)


def test_small_vgg_and_resnet_on_8x8_and_28x28():
    for size in (8, 28):
        x = dl.randn(2, 1, size, size)
        for m in (models.SmallVGG(), models.resnet_small(),
                  models.resnet_small(block=models.Bottleneck, layers=(1, 1), width=8)):
            y = m(x)
            assert y.shape == (2, 10)
            y.sum().backward()
            assert all(p.grad is not None for p in m.parameters())


def test_basic_block_torch_parity(torch, rng):
    """A torchvision-shaped BasicBlock written in torch: same keys, same outputs and grads."""
    tnn = torch.nn

    class TBlock(tnn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = tnn.Conv2d(4, 8, 3, 2, 1, bias=False)
            self.bn1 = tnn.BatchNorm2d(8)
            self.relu = tnn.ReLU()
            self.conv2 = tnn.Conv2d(8, 8, 3, 1, 1, bias=False)
            self.bn2 = tnn.BatchNorm2d(8)
            self.downsample = tnn.Sequential(tnn.Conv2d(4, 8, 1, 2, bias=False),
                                             tnn.BatchNorm2d(8))

        def forward(self, x):
            out = self.relu(self.bn1(self.conv1(x)))
            return self.relu(self.bn2(self.conv2(out)) + self.downsample(x))

    t = TBlock()
    m = models.BasicBlock(4, 8, 2, dl.nn.Sequential(dl.nn.Conv2d(4, 8, 1, 2, bias=False),
                                                    dl.nn.BatchNorm2d(8)))
    assert list(m.state_dict()) == list(t.state_dict())
    m.load_state_dict({k: v.numpy() for k, v in t.state_dict().items()})
    x = rng.standard_normal((2, 4, 9, 9)).astype(np.float32)
    xt, tx = dl.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    y, ty = m(xt), t(tx)
    np.testing.assert_allclose(y.numpy(), ty.detach().numpy(), rtol=1e-4, atol=1e-4)
    y.sum().backward()
    ty.sum().backward()
    np.testing.assert_allclose(xt.grad.numpy(), tx.grad.numpy(), rtol=1e-3, atol=1e-4)
    np.testing.assert_allclose(m.conv1.weight.grad.numpy(), t.conv1.weight.grad.numpy(),
                               rtol=1e-3, atol=1e-3)


def test_resnet_state_dict_keys_follow_torchvision():
    m = models.ResNet(models.BasicBlock, [2, 2, 2, 2], num_classes=1000, in_channels=3,
                      width=64, small_input=False)
    sd = m.state_dict()
    assert len(sd) == 122  # torchvision resnet18: 62 parameters + 60 batch-norm buffers
    assert tuple(sd["layer2.0.downsample.0.weight"].shape) == (128, 64, 1, 1)
    assert tuple(sd["conv1.weight"].shape) == (64, 3, 7, 7)
    assert tuple(sd["fc.weight"].shape) == (1000, 512)
    assert "layer4.1.bn2.num_batches_tracked" in sd
