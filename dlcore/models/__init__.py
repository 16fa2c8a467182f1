"""Reference architectures with PyTorch-style module names (state_dict keys follow
torchvision's where torchvision has the model)."""
from .lenet import LeNet5  # noqa: F401
from .vgg import SmallVGG  # noqa: F401
from .resnet import BasicBlock, Bottleneck, ResNet, resnet_small  # noqa: F401
