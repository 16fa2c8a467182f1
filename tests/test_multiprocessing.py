"""Tensor.share_memory_ / Module.share_memory and dl.multiprocessing: children started with
spawn (and fork) write into the parent's tensors; Hogwild training of one shared model by two
processes; spawn() reporting a child's error; pickling and deep copies of shared tensors."""
import copy
import pickle

import numpy as np
import pytest

import dlcore as dl
import dlcore.multiprocessing as mp
import _mp_workers as W


def test_names_are_the_stdlib_ones():
    import multiprocessing
    for n in ("Process", "Queue", "Pool", "get_context", "set_start_method",
              "get_start_method", "cpu_count", "Event", "Lock"):
        assert hasattr(mp, n), n
    assert mp.Process is multiprocessing.Process
    assert "file_system" in mp.get_all_sharing_strategies()


def test_share_memory_and_pickling():
    t = dl.randn(3, 4)
    before = t.numpy().copy()
    assert not t.is_shared()
    assert t.share_memory_() is t and t.is_shared()
    np.testing.assert_array_equal(t.numpy(), before)
    u = pickle.loads(pickle.dumps(t))
    u._data[0, 0] = 42.0
    assert t[0, 0].item() == 42.0  # same memory
    c = copy.deepcopy(t)
    c._data[0, 0] = -1.0
    assert t[0, 0].item() == 42.0 and not c.is_shared()  # a deep copy is private
    p = dl.nn.Parameter(dl.randn(2)).share_memory_()
    q = pickle.loads(pickle.dumps(p))
    assert isinstance(q, dl.nn.Parameter) and q.requires_grad and q.is_shared()
    plain = pickle.loads(pickle.dumps(dl.tensor([1.0, 2.0])))
    assert not plain.is_shared() and plain.tolist() == [1.0, 2.0]


@pytest.mark.parametrize("method", ["spawn", "fork"])
def test_children_write_into_a_shared_tensor(method):
    t = dl.zeros(2, 3).share_memory_()
    ctx = mp.get_context(method)
    procs = [ctx.Process(target=W.add_rank, args=(r, t, 10.0)) for r in range(2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    np.testing.assert_array_equal(t.numpy(), [[10.0] * 3, [20.0] * 3])


def test_unshared_tensor_is_a_copy_in_the_child():
    t = dl.ones(4)
    ctx = mp.get_context("spawn")
    p = ctx.Process(target=W.add_rank, args=(0, t, 5.0))
    p.start()
    p.join(60)
    assert p.exitcode == 0 and t.numpy().tolist() == [1.0] * 4


def test_hogwild_two_processes_train_one_model():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((256, 5)).astype(np.float32)
    w_true = rng.standard_normal((5, 1)).astype(np.float32)
    y = x @ w_true
    dl.manual_seed(0)
    model = dl.nn.Linear(5, 1)
    model.share_memory()
    assert all(p.is_shared() for p in model.parameters())
    loss0 = dl.nn.functional.mse_loss(model(dl.tensor(x)), dl.tensor(y)).item()
    mp.spawn(W.hogwild_train, args=(model, x, y, 150), nprocs=2)
    loss1 = dl.nn.functional.mse_loss(model(dl.tensor(x)), dl.tensor(y)).item()
    assert loss1 < 0.01 * loss0, (loss0, loss1)


def test_spawn_reports_a_child_error():
    with pytest.raises(mp.ProcessRaisedException, match="child 1 failed on purpose"):
        mp.spawn(W.fail, nprocs=2)
    with pytest.raises(ValueError, match="nprocs"):
        mp.spawn(W.fail, nprocs=0)
