"""dl.vision.datasets: ImageFolder / DatasetFolder on a temporary folder of images (classes,
targets, sample order, transforms, a DataLoader over it), MNIST from IDX files in
torchvision's layout, FakeData, the torchvision-style import paths, errors."""
import os

import numpy as np
import pytest

import dlcore as dl
import dlcore.vision as torchvision
from dlcore.vision import datasets, transforms

Image = pytest.importorskip("PIL.Image")


@pytest.fixture
def image_root(tmp_path):
    rng = np.random.default_rng(0)
    made = {}
    for cls, n in (("dog", 3), ("cat", 2), ("bird", 4)):
        d = tmp_path / cls
        (d / "nested").mkdir(parents=True)
        for i in range(n):
            a = (rng.random((10 + i, 12, 3)) * 255).astype(np.uint8)
            sub = d / "nested" if i == 0 else d
            ext = ".png" if i % 2 else ".bmp"
            path = sub / ("img%d%s" % (i, ext))
            Image.fromarray(a).save(path)
            made[str(path)] = a
        (d / "notes.txt").write_text("not an image")
    return tmp_path, made


def test_image_folder(image_root):
    root, made = image_root
    ds = datasets.ImageFolder(str(root))
    assert ds.classes == ["bird", "cat", "dog"]
    assert ds.class_to_idx == {"bird": 0, "cat": 1, "dog": 2}
    assert len(ds) == 9 and ds.targets == [0] * 4 + [1] * 2 + [2] * 3
    paths = [p for p, _ in ds.samples]
    assert not any(p.endswith(".txt") for p in paths)
    # torchvision's order: classes sorted, then sorted os.walk folders, sorted file names
    expected = ["bird/img1.png", "bird/img2.bmp", "bird/img3.png", "bird/nested/img0.bmp",
                "cat/img1.png", "cat/nested/img0.bmp", "dog/img1.png", "dog/img2.bmp",
                "dog/nested/img0.bmp"]
    assert [os.path.relpath(p, root).replace(os.sep, "/") for p in paths] == expected
    img, target = ds[0]
    assert img.mode == "RGB" and target == 0
    np.testing.assert_array_equal(np.asarray(img), made[ds.samples[0][0]])
    assert ds.imgs is ds.samples


def test_image_folder_with_transforms_and_loader(image_root):
    root, _ = image_root
    tf = transforms.Compose([transforms.Resize((8, 8)), transforms.ToTensor(),
                             transforms.Normalize([0.5] * 3, [0.5] * 3)])
    ds = datasets.ImageFolder(str(root), transform=tf, target_transform=lambda t: t * 10)
    x, y = ds[5]
    assert x.shape == (3, 8, 8) and y == 10
    batches = list(dl.data.DataLoader(ds, batch_size=4, shuffle=True))
    assert [b[0].shape[0] for b in batches] == [4, 4, 1]
    assert sorted(int(v) for b in batches for v in b[1].numpy()) == sorted(
        t * 10 for t in ds.targets)


def test_dataset_folder_npy_and_filters(tmp_path):
    for cls in ("a", "b"):
        (tmp_path / cls).mkdir()
        for i in range(2):
            np.save(tmp_path / cls / ("%d.npy" % i), np.full((2, 2), i + (cls == "b") * 10))
    ds = datasets.DatasetFolder(str(tmp_path), loader=datasets.npy_loader, extensions=(".npy",))
    assert len(ds) == 4 and ds[3][0][0, 0] == 11 and ds[3][1] == 1
    only0 = datasets.DatasetFolder(str(tmp_path), loader=np.load,
                                   is_valid_file=lambda p: p.endswith("0.npy"))
    assert len(only0) == 2
    (tmp_path / "c").mkdir()
    with pytest.raises(FileNotFoundError, match="no valid file for the classes c"):
        datasets.DatasetFolder(str(tmp_path), loader=np.load, extensions=".npy")
    assert len(datasets.DatasetFolder(str(tmp_path), loader=np.load, extensions=".npy",
                                      allow_empty=True)) == 4
    with pytest.raises(ValueError, match="exactly one of"):
        datasets.DatasetFolder(str(tmp_path), loader=np.load)
    with pytest.raises(FileNotFoundError, match="not a directory"):
        datasets.ImageFolder(str(tmp_path / "missing"))


def test_mnist_from_idx_files(tmp_path):
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    imgs = (np.random.default_rng(1).random((5, 28, 28)) * 255).astype(np.uint8)
    labels = np.array([3, 1, 4, 1, 5], dtype=np.uint8)
    dl.data.write_idx(str(raw / "t10k-images-idx3-ubyte"), imgs)
    dl.data.write_idx(str(raw / "t10k-labels-idx1-ubyte.gz"), labels, compress="gzip")
    ds = datasets.MNIST(str(tmp_path), train=False, transform=transforms.ToTensor())
    assert len(ds) == 5
    x, y = ds[2]
    assert y == 4 and x.shape == (1, 28, 28)
    np.testing.assert_allclose(x.numpy()[0], imgs[2] / 255.0, rtol=1e-6)
    with pytest.raises(RuntimeError, match="downloads nothing"):
        datasets.MNIST(str(tmp_path), train=True, download=True)
    # torchvision's MNIST also reads the .xz files some mirrors hand out
    dl.data.write_idx(str(raw / "train-images-idx3-ubyte.xz"), imgs[:2])
    dl.data.write_idx(str(raw / "train-labels-idx1-ubyte.xz"), labels[:2])
    train = datasets.MNIST(str(tmp_path), train=True)
    assert len(train) == 2 and train.targets.tolist() == [3, 1]
    # data / targets are tensors as torchvision's; the pre-0.3 names warn and alias them
    assert isinstance(train.data, dl.Tensor) and train.data.dtype == dl.uint8
    assert tuple(train.data.size()) == (2, 28, 28) and train.targets.dtype == dl.int64
    with pytest.warns(UserWarning, match="renamed data"):
        assert train.train_data is train.data
    with pytest.warns(UserWarning, match="renamed targets"):
        assert ds.test_labels is ds.targets
    # a script subsamples by reassigning data and targets; items follow
    ds.data, ds.targets = ds.data[3:], ds.targets[3:]
    assert len(ds) == 2 and ds[0][1] == 1
    np.testing.assert_allclose(ds[1][0].numpy()[0], imgs[4] / 255.0, rtol=1e-6)


def test_fake_data_and_import_paths():
    ds = datasets.FakeData(size=4, image_size=(3, 8, 6), num_classes=3,
                           transform=transforms.ToTensor())
    x, y = ds[1]
    assert x.shape == (3, 8, 6) and 0 <= y < 3
    np.testing.assert_array_equal(ds[1][0].numpy(), x.numpy())  # reproducible per index
    assert torchvision.transforms is transforms and torchvision.datasets is datasets
    assert torchvision.models.resnet18 is dl.models.resnet18
    from dlcore.vision.transforms import functional as TF  # noqa: F401
    from dlcore.vision.datasets import ImageFolder  # noqa: F401
