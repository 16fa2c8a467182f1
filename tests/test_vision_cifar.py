"""dl.vision.datasets.CIFAR10 / CIFAR100 from files in torchvision's layout (the Python-pickle
batches and the binary ones), and hostile pickles that must be refused without running code."""
import os
import pickle

import numpy as np
import pytest

from dlcore.vision import datasets, transforms

Image = pytest.importorskip("PIL.Image")


def _batch(rng, n, label_key="labels", classes=10):
    data = rng.integers(0, 256, (n, 3072), dtype=np.uint8)
    return {"data": data, label_key: [int(v) for v in rng.integers(0, classes, n)]}


def _write(path, obj, protocol=2):
    with open(path, "wb") as f:
        pickle.dump(obj, f, protocol=protocol)


@pytest.fixture
def cifar10_py(tmp_path):
    rng = np.random.default_rng(0)
    d = tmp_path / "cifar-10-batches-py"
    d.mkdir()
    made = {}
    for i in range(1, 6):
        made["data_batch_%d" % i] = _batch(rng, 4 + i)
    made["test_batch"] = _batch(rng, 3)
    for name, entry in made.items():
        _write(d / name, entry, protocol=2 if name != "data_batch_2" else 5)
    _write(d / "batches.meta", {"label_names": ["c%d" % i for i in range(10)]})
    return tmp_path, made


def test_cifar10_python_batches(cifar10_py):
    root, made = cifar10_py
    train = datasets.CIFAR10(str(root), train=True)
    assert len(train) == sum(4 + i for i in range(1, 6))
    assert train.data.shape == (len(train), 32, 32, 3) and train.data.dtype == np.uint8
    assert train.classes == ["c%d" % i for i in range(10)]
    first = made["data_batch_1"]
    np.testing.assert_array_equal(train.data[0], first["data"][0].reshape(3, 32, 32)
                                  .transpose(1, 2, 0))
    assert train.targets[:5] == first["labels"]
    img, target = train[0]
    assert img.mode == "RGB" and img.size == (32, 32) and target == first["labels"][0]
    # the protocol-5 batch (numpy's _frombuffer form) reads the same way
    b2 = made["data_batch_2"]
    np.testing.assert_array_equal(train.data[5:11].transpose(0, 3, 1, 2).reshape(6, -1),
                                  b2["data"])
    test = datasets.CIFAR10(str(root), train=False, transform=transforms.ToTensor())
    x, y = test[2]
    assert tuple(x.shape) == (3, 32, 32) and y == made["test_batch"]["labels"][2]
    np.testing.assert_allclose(x.numpy(), made["test_batch"]["data"][2].reshape(3, 32, 32) / 255,
                               rtol=1e-6)


def test_cifar100_binary_batches(tmp_path):
    rng = np.random.default_rng(1)
    d = tmp_path / "cifar-100-binary"
    d.mkdir()
    n = 7
    coarse = rng.integers(0, 20, n, dtype=np.uint8)
    fine = rng.integers(0, 100, n, dtype=np.uint8)
    pix = rng.integers(0, 256, (n, 3072), dtype=np.uint8)
    np.concatenate([coarse[:, None], fine[:, None], pix], axis=1).tofile(d / "train.bin")
    ds = datasets.CIFAR100(str(tmp_path))
    assert len(ds) == n and ds.targets == [int(v) for v in fine]
    np.testing.assert_array_equal(ds.data[3], pix[3].reshape(3, 32, 32).transpose(1, 2, 0))
    assert len(ds.classes) == 100
    (d / "test.bin").write_bytes(b"\0" * 3073)  # not a whole 3074-byte record
    with pytest.raises(ValueError, match="whole number"):
        datasets.CIFAR100(str(tmp_path), train=False)


def test_cifar_missing_files_say_where(tmp_path):
    with pytest.raises(RuntimeError, match="cifar-10-batches-py.*downloads nothing|downloads "
                                           "nothing.*cifar-10-batches-py"):
        datasets.CIFAR10(str(tmp_path), download=True)


class _RunsCode:
    def __reduce__(self):
        return (os.system, ("echo pwned > %s" % _RunsCode.target,))


def _hostile_root(tmp_path, payload):
    d = tmp_path / "cifar-10-batches-py"
    d.mkdir(exist_ok=True)
    (d / "test_batch").write_bytes(payload)
    return str(tmp_path)


def test_cifar_refuses_code_in_a_pickle(tmp_path):
    _RunsCode.target = str(tmp_path / "pwned")
    root = _hostile_root(tmp_path, pickle.dumps({"data": _RunsCode(), "labels": []}))
    with pytest.raises(ValueError, match="refusing global 'posix.system'|refusing global "
                                         "'os.system'"):
        datasets.CIFAR10(root, train=False)
    assert not os.path.exists(_RunsCode.target)


@pytest.mark.parametrize("payload", [
    pickle.dumps({"data": np.zeros((2, 3072), dtype=object), "labels": [0, 1]}, protocol=2),
    pickle.dumps({"data": np.zeros((2, 3072), dtype=np.float32), "labels": [0, 1]}),
    pickle.dumps({"data": np.zeros((2, 3071), dtype=np.uint8), "labels": [0, 1]}),
    pickle.dumps({"data": np.zeros((2, 3072), dtype=np.uint8), "labels": [0]}),
    pickle.dumps({"data": np.zeros((2, 3072), dtype=np.uint8), "labels": [0, 10]}),
    pickle.dumps([1, 2, 3]),
    b"\x80\x02}q\x00",  # truncated
], ids=["object-dtype", "float-data", "short-rows", "label-count", "label-range", "not-dict",
        "truncated"])
def test_cifar_rejects_malformed_batches(tmp_path, payload):
    with pytest.raises(ValueError):
        datasets.CIFAR10(_hostile_root(tmp_path, payload), train=False)


class _HugeArray:
    """Pickles as numpy does an ndarray, but its state declares 2**40 elements over 3072 bytes."""
    def __reduce__(self):
        reconstruct = np.zeros(1).__reduce__()[0]
        return (reconstruct, (np.ndarray, (0,), b"b"),
                (1, (1 << 20, 1 << 20), np.dtype(np.uint8), False, b"\0" * 3072))


def test_cifar_array_claiming_more_than_its_bytes(tmp_path):
    payload = pickle.dumps({"data": _HugeArray(), "labels": [0]}, protocol=2)
    with pytest.raises(ValueError, match="not a readable CIFAR batch"):
        datasets.CIFAR10(_hostile_root(tmp_path, payload), train=False)
