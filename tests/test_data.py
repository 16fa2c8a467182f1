"""dl.data: datasets, samplers, DataLoader (incl. spawn workers), collate, bundled data, IDX."""
import collections
import gzip
import lzma
import os
import struct
import zlib

import numpy as np
import pytest

import dlcore as dl
from dlcore.data import (BatchSampler, ConcatDataset, DataLoader, Dataset, RandomSampler,
                         SequentialSampler, StandardScaler, Subset, TensorDataset,
                         default_collate, load_digits, load_iris, load_mnist_idx, one_hot,
                         random_split, read_idx, train_test_split, write_idx)


def _xy(n=23, d=3):
    X = np.arange(n * d, dtype=np.float32).reshape(n, d)
    y = np.arange(n, dtype=np.int64)
    return X, y


def _labels(loader):
    return [b[1].numpy().copy() for b in loader]


# ---- module-level so that spawned workers can unpickle them ------------------------------------
class DictDataset(Dataset):
    def __init__(self, n):
        self.n = n

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        info = dl.data.get_worker_info()
        return {"x": np.full(2, i, dtype=np.float32), "idx": i, "name": "s%d" % i,
                "worker": -1 if info is None else info.id}


class FailingDataset(Dataset):
    def __len__(self):
        return 8

    def __getitem__(self, i):
        if i == 5:
            raise KeyError("sample five is broken")
        return np.float32(i)


class DyingDataset(Dataset):
    def __len__(self):
        return 4

    def __getitem__(self, i):
        os._exit(3)


# ---- datasets --------------------------------------------------------------------------------
def test_tensor_dataset_items_and_errors():
    X, y = _xy()
    ds = TensorDataset(dl.tensor(X), y)
    assert len(ds) == 23
    a, b = ds[4]
    np.testing.assert_array_equal(a.numpy(), X[4])
    assert b.item() == 4
    assert ds.tensors[0].shape == (23, 3)
    with pytest.raises(ValueError, match="size mismatch"):
        TensorDataset(X, y[:5])
    with pytest.raises(ValueError, match="at least one"):
        TensorDataset()


def test_subset_concat():
    X, y = _xy(10)
    ds = TensorDataset(X, y)
    sub = Subset(ds, [7, 2, 5])
    assert len(sub) == 3 and sub[1][1].item() == 2
    cat = ConcatDataset([sub, ds])
    assert len(cat) == 13
    assert cat[0][1].item() == 7 and cat[3][1].item() == 0 and cat[-1][1].item() == 9
    with pytest.raises(IndexError):
        cat[13]
    assert len(sub + ds) == 13


@pytest.mark.parametrize("lengths", [[0.7, 0.3], [7, 3], [0.5, 0.25, 0.25]])
def test_random_split_covers_and_is_reproducible(lengths):
    X, y = _xy(10)
    ds = TensorDataset(X, y)
    parts = random_split(ds, lengths, generator=dl.Generator().manual_seed(5))
    again = random_split(ds, lengths, generator=dl.Generator().manual_seed(5))
    idx = [p.indices for p in parts]
    assert idx == [p.indices for p in again]
    flat = sorted(i for p in idx for i in p)
    assert flat == list(range(10))
    if lengths == [0.5, 0.25, 0.25]:
        assert [len(p) for p in parts] == [6, 2, 2]  # leftovers go to the first parts (as torch)
    other = random_split(ds, lengths, generator=dl.Generator().manual_seed(6))
    assert [p.indices for p in other] != idx


def test_random_split_errors():
    ds = TensorDataset(*_xy(10))
    with pytest.raises(ValueError, match="does not equal"):
        random_split(ds, [3, 3])
    with pytest.raises(ValueError):
        random_split(ds, [0.5, 0.2])
    with pytest.raises(ValueError):
        random_split(ds, [-1, 11])


# ---- DataLoader ------------------------------------------------------------------------------
def test_sequential_batches_and_drop_last():
    X, y = _xy(23)
    ds = TensorDataset(X, y)
    batches = list(DataLoader(ds, batch_size=5))
    assert len(batches) == 5 == len(DataLoader(ds, batch_size=5))
    assert [len(b[1]) for b in batches] == [5, 5, 5, 5, 3]
    np.testing.assert_array_equal(np.concatenate([b[1].numpy() for b in batches]), y)
    np.testing.assert_array_equal(batches[1][0].numpy(), X[5:10])
    assert batches[0][0].dtype == dl.float32 and batches[0][1].dtype == dl.int64
    dropped = list(DataLoader(ds, batch_size=5, drop_last=True))
    assert len(dropped) == 4 == len(DataLoader(ds, batch_size=5, drop_last=True))
    assert all(len(b[1]) == 5 for b in dropped)


def test_shuffle_reproducible_with_generator():
    ds = TensorDataset(*_xy(50))
    a = DataLoader(ds, batch_size=8, shuffle=True, generator=dl.Generator().manual_seed(1))
    b = DataLoader(ds, batch_size=8, shuffle=True, generator=dl.Generator().manual_seed(1))
    ea1, ea2 = _labels(a), _labels(a)
    eb1, eb2 = _labels(b), _labels(b)
    for u, v in zip(ea1 + ea2, eb1 + eb2):
        np.testing.assert_array_equal(u, v)
    assert sorted(np.concatenate(ea1).tolist()) == list(range(50))
    assert not np.array_equal(np.concatenate(ea1), np.arange(50))
    assert not np.array_equal(np.concatenate(ea1), np.concatenate(ea2))  # new order each epoch
    c = DataLoader(ds, batch_size=8, shuffle=True, generator=dl.Generator().manual_seed(2))
    assert not np.array_equal(np.concatenate(_labels(c)), np.concatenate(ea1))


def test_shuffle_reproducible_with_global_seed():
    ds = TensorDataset(*_xy(30))
    dl.manual_seed(7)
    first = np.concatenate(_labels(DataLoader(ds, batch_size=4, shuffle=True)))
    dl.manual_seed(7)
    second = np.concatenate(_labels(DataLoader(ds, batch_size=4, shuffle=True)))
    np.testing.assert_array_equal(first, second)


def test_fast_path_matches_per_sample_collate():
    X, y = _xy(40)
    ds = TensorDataset(X, y)
    items = [(X[i], int(y[i])) for i in range(40)]
    sub_fast = random_split(ds, [30, 10], generator=dl.Generator().manual_seed(0))[0]
    sub_slow = Subset(items, sub_fast.indices)
    for fast_ds, slow_ds in ((ds, items), (sub_fast, sub_slow)):
        fast = DataLoader(fast_ds, batch_size=7, shuffle=True,
                          generator=dl.Generator().manual_seed(3))
        slow = DataLoader(slow_ds, batch_size=7, shuffle=True,
                          generator=dl.Generator().manual_seed(3))
        for (fx, fy), (sx, sy) in zip(fast, slow):
            np.testing.assert_array_equal(fx.numpy(), sx.numpy())
            np.testing.assert_array_equal(fy.numpy(), sy.numpy())
            assert fx.dtype == sx.dtype and fy.dtype == sy.dtype


def test_collate_structures_and_dtypes():
    Point = collections.namedtuple("Point", "a b")
    batch = default_collate([{"x": np.ones(3, np.float64), "i": 1, "f": 0.5, "ok": True,
                              "s": "a", "p": Point(1, 2.0), "l": [1, 2]},
                             {"x": np.zeros(3, np.float64), "i": 2, "f": 1.5, "ok": False,
                              "s": "b", "p": Point(3, 4.0), "l": [3, 4]}])
    assert batch["x"].shape == (2, 3) and batch["x"].dtype == dl.float64
    assert batch["i"].dtype == dl.int64 and batch["i"].tolist() == [1, 2]
    assert batch["f"].dtype == dl.float32
    assert batch["ok"].dtype == dl.bool and batch["ok"].tolist() == [True, False]
    assert batch["s"] == ["a", "b"]
    assert isinstance(batch["p"], Point) and batch["p"].a.tolist() == [1, 3]
    assert isinstance(batch["l"], list) and batch["l"][1].tolist() == [2, 4]
    t = default_collate([(dl.tensor([1.0, 2.0]), np.int32(3)), (dl.tensor([3.0, 4.0]),
                                                                  np.int32(5))])
    assert isinstance(t, tuple) and t[0].shape == (2, 2) and t[1].dtype == dl.int32
    with pytest.raises(RuntimeError, match="same shape"):
        default_collate([np.ones(2), np.ones(3)])
    with pytest.raises(TypeError, match="found object"):
        default_collate([object(), object()])


def test_dict_dataset_loader_and_no_batching():
    loader = DataLoader(DictDataset(5), batch_size=2)
    batches = list(loader)
    assert len(batches) == 3
    assert batches[0]["x"].shape == (2, 2) and batches[0]["idx"].tolist() == [0, 1]
    assert batches[2]["name"] == ["s4"]
    single = list(DataLoader(DictDataset(3), batch_size=None))
    assert len(single) == 3 and single[1]["x"].shape == (2,) and single[1]["idx"] == 1
    assert batches[0]["worker"].tolist() == [-1, -1]


def test_custom_sampler_and_batch_sampler():
    ds = TensorDataset(*_xy(10))
    order = [9, 0, 8, 1]
    got = np.concatenate(_labels(DataLoader(ds, batch_size=3, sampler=order)))
    assert got.tolist() == order
    bs = [[1, 2], [7], [0, 3, 4]]
    got = [b[1].tolist() for b in DataLoader(ds, batch_sampler=bs)]
    assert got == bs
    sampler = BatchSampler(SequentialSampler(range(5)), 2, drop_last=False)
    assert list(sampler) == [[0, 1], [2, 3], [4]] and len(sampler) == 3
    rs = RandomSampler(range(5), replacement=True, num_samples=20,
                       generator=dl.Generator().manual_seed(0))
    draws = list(rs)
    assert len(draws) == 20 and set(draws) <= set(range(5))


def test_loader_argument_errors():
    ds = TensorDataset(*_xy(10))
    with pytest.raises(ValueError, match="mutually exclusive"):
        DataLoader(ds, shuffle=True, sampler=[0, 1])
    with pytest.raises(ValueError, match="batch_sampler"):
        DataLoader(ds, batch_size=4, batch_sampler=[[0]])
    with pytest.raises(ValueError, match="num_workers"):
        DataLoader(ds, num_workers=-1)
    with pytest.raises(ValueError, match="batch_size"):
        DataLoader(ds, batch_size=0)
    with pytest.raises(TypeError, match="map-style"):
        DataLoader(iter(range(3)))
    with pytest.raises(ValueError, match="multiprocessing_context"):
        iter(DataLoader(ds, num_workers=1, multiprocessing_context="bogus"))


@pytest.mark.parametrize("context", ["spawn", "forkserver", None])
def test_workers_give_the_same_batches_as_the_main_process(context):
    """2 workers (spawn, forkserver, or the default: fork on Linux) over two epochs on the same
    persistent workers give exactly the batches of num_workers=0."""
    ds = TensorDataset(*_xy(61))

    def loader(workers, **kw):
        return DataLoader(ds, batch_size=8, shuffle=True, num_workers=workers,
                          generator=dl.Generator().manual_seed(11), **kw)

    ref = loader(0)
    expected = _labels(ref) + _labels(ref)
    par = loader(2, persistent_workers=True, multiprocessing_context=context)
    got = _labels(par) + _labels(par)
    assert len(got) == len(expected) == 16
    for u, v in zip(got, expected):
        np.testing.assert_array_equal(u, v)
    par._pool.shutdown()


def test_workers_collate_generic_samples():
    batches = list(DataLoader(DictDataset(7), batch_size=2, num_workers=2))
    assert [b["idx"].tolist() for b in batches] == [[0, 1], [2, 3], [4, 5], [6]]
    assert batches[1]["name"] == ["s2", "s3"] and batches[1]["x"].shape == (2, 2)
    # batches go round-robin to the workers, each seeing its own id
    assert [b["worker"].tolist() for b in batches] == [[0, 0], [1, 1], [0, 0], [1]]


def test_worker_exception_is_reported():
    loader = DataLoader(FailingDataset(), batch_size=2, num_workers=2)
    with pytest.raises(RuntimeError, match="sample five is broken"):
        list(loader)


def test_dead_worker_is_reported():
    with pytest.raises(RuntimeError, match="exited unexpectedly"):
        list(DataLoader(DyingDataset(), batch_size=2, num_workers=1))


def test_unpicklable_dataset_with_workers_is_a_clear_error():
    # spawn pickles what the workers need (the default, fork, does not: lambdas work there)
    ds = TensorDataset(*_xy(4))
    loader = DataLoader(ds, batch_size=2, num_workers=1, collate_fn=lambda b: b,
                        multiprocessing_context="spawn")
    with pytest.raises(RuntimeError, match="picklable"):
        list(loader)


# ---- bundled datasets --------------------------------------------------------------------------
def test_load_iris():
    iris = load_iris()
    assert iris.data.shape == (150, 4) and iris.data.dtype == np.float32
    assert iris.target.shape == (150,) and iris.target.dtype == np.int64
    assert np.bincount(iris.target).tolist() == [50, 50, 50]
    assert list(iris.target_names) == ["setosa", "versicolor", "virginica"]
    assert len(iris.feature_names) == 4 and "petal" in iris.feature_names[2]
    np.testing.assert_allclose(iris.data[0], [5.1, 3.5, 1.4, 0.2], rtol=1e-6)
    X, y = load_iris()
    assert X.shape == (150, 4) and y.shape == (150,)
    X2, y2 = load_iris(return_X_y=True)
    np.testing.assert_array_equal(X, X2)
    # Fisher's published means (cm)
    np.testing.assert_allclose(X.mean(axis=0), [5.843, 3.057, 3.758, 1.199], atol=2e-3)


def test_load_digits():
    d = load_digits()
    assert d.data.shape == (1797, 64) and d.data.dtype == np.float32
    assert d.images.shape == (1797, 8, 8)
    np.testing.assert_array_equal(d.images[3].reshape(-1), d.data[3])
    assert d.target.dtype == np.int64
    assert np.bincount(d.target).tolist() == [178, 182, 177, 183, 181, 182, 181, 179, 174, 180]
    assert d.data.min() == 0 and d.data.max() == 16
    X, y = load_digits(n_class=3, return_X_y=True)
    assert len(X) == 178 + 182 + 177 and set(y.tolist()) == {0, 1, 2}
    with pytest.raises(ValueError, match="n_class"):
        load_digits(n_class=11)


def test_licenses_file_names_each_dataset():
    import dlcore.data
    text = open(os.path.join(os.path.dirname(dlcore.data.__file__), "LICENSES.md")).read()
    for name in ("iris.csv.xz", "digits.csv.xz", "CC BY 4.0"):
        assert name in text


# ---- IDX -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", [np.uint8, np.int8, np.int16, np.int32, np.float32,
                                   np.float64])
@pytest.mark.parametrize("name", ["a.idx", "a.idx.gz", "a.idx.xz"])
def test_idx_round_trip(tmp_path, dtype, name):
    arr = (np.arange(2 * 3 * 5) % 100).astype(dtype).reshape(2, 3, 5)
    path = tmp_path / name
    write_idx(path, arr)
    raw = path.read_bytes()
    assert (raw[:2] == b"\x1f\x8b") == name.endswith(".gz")
    assert (raw[:6] == b"\xfd7zXZ\x00") == name.endswith(".xz")
    back = read_idx(path)
    assert back.dtype == np.dtype(dtype) and back.shape == (2, 3, 5)
    np.testing.assert_array_equal(back, arr)


_XZ_MAGIC = b"\xfd7zXZ\x00"


@pytest.mark.parametrize("compress, name, magic", [
    ("xz", "plain", _XZ_MAGIC), ("gzip", "a.xz", b"\x1f\x8b"), (True, "a.xz", _XZ_MAGIC),
    (True, "a", b"\x1f\x8b"), (False, "a.xz", b"\x00\x00\x08\x01")])
def test_idx_compression_is_chosen_by_argument_then_name_and_read_by_content(
        tmp_path, compress, name, magic):
    arr = np.arange(50, dtype=np.uint8)
    write_idx(tmp_path / name, arr, compress=compress)
    raw = (tmp_path / name).read_bytes()
    assert raw.startswith(magic)
    # the reader looks at the bytes, not the name
    (tmp_path / "renamed").write_bytes(raw)
    np.testing.assert_array_equal(read_idx(tmp_path / "renamed"), arr)
    np.testing.assert_array_equal(read_idx(tmp_path / name), arr)
    with pytest.raises(ValueError, match="compress must be"):
        write_idx(tmp_path / "b", arr, compress="bz2")


def test_idx_xz_of_concatenated_streams(tmp_path):
    whole = _idx_bytes(tmp_path, np.arange(300, dtype=np.int16))
    path = tmp_path / "two.xz"
    path.write_bytes(lzma.compress(whole[:101]) + lzma.compress(whole[101:]))
    np.testing.assert_array_equal(read_idx(path), np.arange(300, dtype=np.int16))


def _xz_with_dictionary_code(data, code):
    """A one-block xz stream of `data` whose LZMA2 dictionary-size byte is `code`
    (40: 4 GiB), with the block header's CRC32 made right again."""
    z = bytearray(lzma.compress(data, format=lzma.FORMAT_XZ,
                                filters=[{"id": lzma.FILTER_LZMA2, "dict_size": 4096}]))
    # stream header (12 bytes), then the block header: size, flags, filter 0x21, 1 property
    assert z[12] == 2 and z[13] == 0 and z[14:16] == b"\x21\x01"
    z[16] = code
    z[20:24] = struct.pack("<I", zlib.crc32(bytes(z[12:20])))
    return bytes(z)


def test_idx_xz_truncated_corrupt_and_oversized(tmp_path):
    good = lzma.compress(_idx_bytes(tmp_path, np.arange(200, dtype=np.uint8)))
    flipped = bytearray(good)
    flipped[len(good) // 2] ^= 0x10
    small_bomb = lzma.compress(b"\x00\x00\x08\x01" + struct.pack(">I", 1 << 30)
                               + bytes(1 << 20))
    for name, data, match in [
            ("cut.xz", good[:len(good) - 9], "corrupt or truncated xz"),
            ("cut_in_header.xz", good[:20], "corrupt or truncated xz"),
            ("flipped.xz", bytes(flipped), "corrupt or truncated xz"),
            ("junk_after.xz", good + b"junk", "not another xz stream"),
            ("two_payloads.xz", good + lzma.compress(b"\x01"), "trailing data"),
            # 1 GiB declared in a file of a few hundred bytes: refused before anything is
            # allocated or decompressed past the header
            ("bomb.xz", small_bomb, "more than xz can hold"),
            ("big_dictionary.xz",
             _xz_with_dictionary_code(b"\x00\x00\x08\x01\x00\x00\x00\x00", 40),
             "dictionary needs more than")]:
        path = tmp_path / name
        path.write_bytes(data)
        with pytest.raises(ValueError, match=match) as e:
            read_idx(path)
        assert str(path) in str(e.value)
    assert len(small_bomb) < 1000
    # the same dictionary trick at the size write_idx uses decodes
    (tmp_path / "ok.xz").write_bytes(
        _xz_with_dictionary_code(b"\x00\x00\x08\x01\x00\x00\x00\x01\x07", 0))
    assert read_idx(tmp_path / "ok.xz").tolist() == [7]


def test_idx_layout_is_big_endian(tmp_path):
    path = tmp_path / "labels"
    write_idx(path, np.array([1, 2, 258], dtype=np.int32))
    raw = path.read_bytes()
    assert raw[:4] == b"\x00\x00\x0c\x01" and raw[4:8] == b"\x00\x00\x00\x03"
    assert raw[-4:] == b"\x00\x00\x01\x02"


def _idx_bytes(tmp_path, a):
    """The IDX file write_idx makes of a, as bytes."""
    path = tmp_path / "good"
    write_idx(path, a)
    return path.read_bytes()


def test_idx_errors(tmp_path):
    for name, data, match in [
            ("bad", b"\x01\x02\x08\x01" + b"\x00" * 8, "magic"),
            ("code", b"\x00\x00\x07\x01\x00\x00\x00\x01\x00", "type code"),
            ("short", _idx_bytes(tmp_path, np.zeros((4, 4), np.uint8))[:-3], "truncated"),
            ("long", _idx_bytes(tmp_path, np.zeros((4,), np.uint8)) + b"\x00", "trailing"),
            ("header", b"\x00\x00\x08\x03\x00\x00", "truncated"),
            ("broken.gz",
             gzip.compress(b"\x00\x00\x08\x01\x00\x00\x00\x09" + b"\x00" * 9)[:-6], "gzip")]:
        path = tmp_path / name
        path.write_bytes(data)
        with pytest.raises(ValueError, match=match):
            read_idx(path)
    with pytest.raises(TypeError, match="IDX type"):
        write_idx(tmp_path / "x", np.zeros(3, np.int64))


def test_load_mnist_idx(tmp_path):
    g = np.random.default_rng(0)
    tr_x, tr_y = g.integers(0, 256, (5, 28, 28)).astype(np.uint8), np.arange(5, dtype=np.uint8)
    te_x, te_y = g.integers(0, 256, (3, 28, 28)).astype(np.uint8), np.arange(3, dtype=np.uint8)
    write_idx(tmp_path / "train-images-idx3-ubyte.gz", tr_x)
    write_idx(tmp_path / "train-labels-idx1-ubyte.gz", tr_y)
    write_idx(tmp_path / "t10k-images-idx3-ubyte", te_x)
    write_idx(tmp_path / "t10k-labels-idx1-ubyte", te_y)
    (Xtr, ytr), (Xte, yte) = load_mnist_idx(tmp_path)
    np.testing.assert_array_equal(Xtr, tr_x)
    assert ytr.dtype == np.int64 and ytr.tolist() == [0, 1, 2, 3, 4]
    assert Xte.shape == (3, 28, 28)
    (Xn, _), _ = load_mnist_idx(tmp_path, normalize=True)
    assert Xn.dtype == np.float32 and 0 <= Xn.min() and Xn.max() <= 1
    np.testing.assert_allclose(Xn, tr_x / 255.0, rtol=1e-6)
    write_idx(tmp_path / "t10k-labels-idx1-ubyte", np.arange(4, dtype=np.uint8))
    with pytest.raises(ValueError, match="labels"):
        load_mnist_idx(tmp_path)
    os.remove(tmp_path / "t10k-labels-idx1-ubyte")
    with pytest.raises(FileNotFoundError, match="t10k-labels"):
        load_mnist_idx(tmp_path)


# ---- preprocessing ------------------------------------------------------------------------------
def test_train_test_split_stratified_and_reproducible():
    X, y = load_iris(return_X_y=True)
    Xtr, Xte, ytr, yte = train_test_split(X, y, test_size=0.2, stratify=y, random_state=0)
    assert Xtr.shape == (120, 4) and Xte.shape == (30, 4)
    assert np.bincount(yte).tolist() == [10, 10, 10]
    assert np.bincount(ytr).tolist() == [40, 40, 40]
    again = train_test_split(X, y, test_size=0.2, stratify=y, random_state=0)
    np.testing.assert_array_equal(again[3], yte)
    # rows stay paired with their labels and the parts are disjoint
    both = np.concatenate([Xtr, Xte])
    assert len(np.unique(np.concatenate([both, np.concatenate([ytr, yte])[:, None]], 1),
                         axis=0)) == len(np.unique(np.concatenate([X, y[:, None]], 1), axis=0))
    yy = np.array([0] * 90 + [1] * 10)
    _, _, _, te = train_test_split(np.zeros((100, 1)), yy, test_size=20, stratify=yy,
                                   random_state=1)
    assert np.bincount(te).tolist() == [18, 2]
    a_tr, a_te = train_test_split(np.arange(10), test_size=0.3, shuffle=False)
    assert a_tr.tolist() == list(range(7)) and a_te.tolist() == [7, 8, 9]
    with pytest.raises(ValueError, match="least populated"):
        train_test_split(np.zeros((5, 1)), np.array([0, 0, 0, 0, 1]), stratify=[0, 0, 0, 0, 1])
    with pytest.raises(ValueError, match="test_size"):
        train_test_split(np.zeros(5), test_size=1.5)


def test_standard_scaler_and_one_hot():
    X, _ = load_iris(return_X_y=True)
    X = np.concatenate([X, np.ones((150, 1), np.float32)], axis=1)  # a constant column
    sc = StandardScaler().fit(X)
    Z = sc.transform(X)
    assert Z.dtype == np.float32
    np.testing.assert_allclose(Z[:, :4].mean(0), 0, atol=1e-5)
    np.testing.assert_allclose(Z[:, :4].std(0), 1, atol=1e-4)
    np.testing.assert_array_equal(Z[:, 4], 0)
    np.testing.assert_allclose(sc.inverse_transform(Z), X, rtol=1e-5)
    t = sc.transform(dl.tensor(X))
    assert isinstance(t, dl.Tensor)
    with pytest.raises(ValueError, match="5"):
        sc.transform(X[:, :3])
    oh = one_hot(np.array([2, 0]), 3)
    np.testing.assert_array_equal(oh, [[0, 0, 1], [1, 0, 0]])
