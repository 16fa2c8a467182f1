"""MNIST and FashionMNIST in torchvision's folder layout (root/<Name>/raw/*-ubyte[.gz|.xz]);
items are (PIL image or uint8 array, label) as torchvision gives them; `data` (uint8) and
`targets` (int64) are tensors, as torchvision's.  Nothing is downloaded:
with download=True and no files, the error says where to put them (or use dl.data.load_mnist /
load_fashion_mnist, which work offline)."""
import os
import warnings

import numpy as np

from ...data.dataset import Dataset
from ...tensor_base import TensorBase, wrap
from ...data.idx import IDX_SUFFIXES, read_idx
from ._items import transformed

try:
    from PIL import Image as _PILImage
except ImportError:  # pragma: no cover
    _PILImage = None

__all__ = ["MNIST", "FashionMNIST", "FakeData"]


class MNIST(Dataset):
    classes = ["0 - zero", "1 - one", "2 - two", "3 - three", "4 - four", "5 - five", "6 - six",
               "7 - seven", "8 - eight", "9 - nine"]
    _files = {True: ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
              False: ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")}

    def __init__(self, root, train=True, transform=None, target_transform=None, download=False):
        self.root, self.train = os.fspath(root), bool(train)
        self.transform, self.target_transform = transform, target_transform
        raw = os.path.join(self.root, type(self).__name__, "raw")
        paths = [self._find(raw, n) for n in self._files[self.train]]
        if None in paths:
            raise RuntimeError("%s: dataset not found in %s (dlcore downloads nothing%s); put "
                               "the IDX files %s (optionally .gz or .xz) there"
                               % (type(self).__name__, raw,
                                  ", download=True cannot fetch it" if download else "",
                                  ", ".join(self._files[self.train])))
        # tensors, as torchvision's (scripts call .size(), .type(...), slice and reassign them)
        self.data = wrap(np.ascontiguousarray(read_idx(paths[0])))
        self.targets = wrap(read_idx(paths[1]).astype(np.int64))
        if len(self.data) != len(self.targets):
            raise ValueError("%s: %d images but %d labels" % (type(self).__name__,
                                                             len(self.data), len(self.targets)))

    @staticmethod
    def _find(folder, name):
        for ext in IDX_SUFFIXES:
            p = os.path.join(folder, name + ext)
            if os.path.exists(p):
                return p
        return None

    @property
    def class_to_idx(self):
        return {c: i for i, c in enumerate(self.classes)}

    def _renamed(old, new):
        def get(self):
            warnings.warn("%s has been renamed %s" % (old, new), UserWarning, stacklevel=2)
            return getattr(self, new)
        return property(get)

    # torchvision's pre-0.3 names, still in many tutorials
    train_data = test_data = _renamed("train_data/test_data", "data")
    train_labels = test_labels = _renamed("train_labels/test_labels", "targets")
    del _renamed

    def __getitem__(self, index):
        img, target = self.data[index], int(self.targets[index])
        if isinstance(img, TensorBase):
            img = img.numpy()
        if _PILImage is not None:
            img = _PILImage.fromarray(img, mode="L")
        return transformed(self, img, target)

    def __len__(self):
        return len(self.data)


class FashionMNIST(MNIST):
    classes = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
               "Sneaker", "Bag", "Ankle boot"]


class FakeData(Dataset):
    """Random images and labels, reproducible per index (torchvision's FakeData)."""

    def __init__(self, size=1000, image_size=(3, 224, 224), num_classes=10, transform=None,
                 target_transform=None, random_offset=0):
        self.size, self.image_size, self.num_classes = size, tuple(image_size), num_classes
        self.transform, self.target_transform = transform, target_transform
        self.random_offset = random_offset

    def __getitem__(self, index):
        if not 0 <= index < self.size:
            raise IndexError("FakeData: index %d out of range for %d samples"
                             % (index, self.size))
        g = np.random.default_rng(index + self.random_offset)
        img = (g.random(self.image_size) * 255).astype(np.uint8)
        target = int(g.integers(0, self.num_classes))
        if _PILImage is not None:
            hwc = img.transpose(1, 2, 0)
            img = _PILImage.fromarray(hwc[:, :, 0] if hwc.shape[2] == 1 else hwc)
        return transformed(self, img, target)

    def __len__(self):
        return self.size
