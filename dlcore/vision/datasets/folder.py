"""DatasetFolder and ImageFolder: samples from a folder with one sub-folder per class
(root/<class>/**/<file>), classes in sorted order, files in sorted walk order (torchvision's
layout and ordering, so class indices and sample order agree with it)."""
import os

import numpy as np

from ...data.dataset import Dataset
from ._items import transformed

try:
    from PIL import Image as _PILImage
except ImportError:  # pragma: no cover - Pillow is optional
    _PILImage = None

__all__ = ["DatasetFolder", "ImageFolder", "IMG_EXTENSIONS", "default_loader", "pil_loader",
           "npy_loader", "has_file_allowed_extension", "find_classes", "make_dataset"]

IMG_EXTENSIONS = (".jpg", ".jpeg", ".png", ".ppm", ".bmp", ".pgm", ".tif", ".tiff", ".webp")


def has_file_allowed_extension(filename, extensions):
    exts = (extensions,) if isinstance(extensions, str) else tuple(extensions)
    return filename.lower().endswith(tuple(e.lower() for e in exts))


def find_classes(directory):
    """(sorted class names, {name: index}) from the sub-folders of `directory`."""
    if not os.path.isdir(directory):
        raise FileNotFoundError("DatasetFolder: %r is not a directory" % (directory,))
    classes = sorted(e.name for e in os.scandir(directory) if e.is_dir())
    if not classes:
        raise FileNotFoundError("DatasetFolder: couldn't find any class folder in %r"
                                % (directory,))
    return classes, {c: i for i, c in enumerate(classes)}


def make_dataset(directory, class_to_idx=None, extensions=None, is_valid_file=None,
                 allow_empty=False):
    """[(path, class_index)] of the files under each class folder that pass the filter."""
    directory = os.path.expanduser(os.fspath(directory))
    if class_to_idx is None:
        _, class_to_idx = find_classes(directory)
    if (extensions is None) == (is_valid_file is None):
        raise ValueError("DatasetFolder: give exactly one of extensions and is_valid_file")
    if extensions is not None:
        def is_valid_file(path):  # noqa: F811
            return has_file_allowed_extension(path, extensions)
    samples, found = [], set()
    for name in sorted(class_to_idx):
        folder = os.path.join(directory, name)
        if not os.path.isdir(folder):
            continue
        for root, _, fnames in sorted(os.walk(folder, followlinks=True)):
            for fname in sorted(fnames):
                path = os.path.join(root, fname)
                if is_valid_file(path):
                    samples.append((path, class_to_idx[name]))
                    found.add(name)
    empty = set(class_to_idx) - found
    if empty and not allow_empty:
        msg = "DatasetFolder: found no valid file for the classes %s" % ", ".join(sorted(empty))
        if extensions is not None:
            msg += " (supported extensions: %s)" % ", ".join(
                (extensions,) if isinstance(extensions, str) else extensions)
        raise FileNotFoundError(msg)
    return samples


def pil_loader(path):
    if _PILImage is None:
        raise ImportError("loading %r needs Pillow to decode image files (pip install pillow)"
                          % (path,))
    with open(path, "rb") as f:
        img = _PILImage.open(f)
        return img.convert("RGB")


def npy_loader(path):
    return np.load(path, allow_pickle=False)


def default_loader(path):
    if path.lower().endswith(".npy"):
        return npy_loader(path)
    return pil_loader(path)


class DatasetFolder(Dataset):
    def __init__(self, root, loader, extensions=None, transform=None, target_transform=None,
                 is_valid_file=None, allow_empty=False):
        self.root = os.fspath(root)
        self.loader, self.extensions = loader, extensions
        self.transform, self.target_transform = transform, target_transform
        self.classes, self.class_to_idx = self.find_classes(self.root)
        self.samples = self.make_dataset(self.root, self.class_to_idx, extensions,
                                         is_valid_file, allow_empty)
        self.targets = [s[1] for s in self.samples]

    @staticmethod
    def make_dataset(directory, class_to_idx, extensions=None, is_valid_file=None,
                     allow_empty=False):
        return make_dataset(directory, class_to_idx, extensions, is_valid_file, allow_empty)

    def find_classes(self, directory):
        return find_classes(directory)

    def __getitem__(self, index):
        path, target = self.samples[index]
        sample = self.loader(path)
        return transformed(self, sample, target)

    def __len__(self):
        return len(self.samples)

    def __repr__(self):
        return "Dataset %s\n    Number of datapoints: %d\n    Root location: %s" % (
            type(self).__name__, len(self), self.root)


class ImageFolder(DatasetFolder):
    """Images in root/<class>/...; loaded as RGB PIL images (Pillow decodes the files)."""

    def __init__(self, root, transform=None, target_transform=None, loader=default_loader,
                 is_valid_file=None, allow_empty=False):
        super().__init__(root, loader, IMG_EXTENSIONS if is_valid_file is None else None,
                         transform, target_transform, is_valid_file, allow_empty)
        self.imgs = self.samples
