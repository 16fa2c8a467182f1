"""dl.vision.datasets: torchvision.datasets' folder datasets and the MNIST and CIFAR families
(offline)."""
from .folder import (DatasetFolder, ImageFolder, IMG_EXTENSIONS, default_loader,  # noqa: F401
                     pil_loader, npy_loader, has_file_allowed_extension, find_classes,
                     make_dataset)
from .mnist import MNIST, FashionMNIST, FakeData  # noqa: F401
from .cifar import CIFAR10, CIFAR100  # noqa: F401
