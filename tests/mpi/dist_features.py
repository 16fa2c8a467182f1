"""Run under mpirun -np 2: collectives, Work handles, no_sync, unused parameters, the errors
DDP raises instead of hanging, buffer broadcast and SyncBatchNorm.  Each check that passes
adds its name to the JSON list written to argv[1]; a failing assert aborts the job."""
import json
import os
import sys

import numpy as np

import dlcore as dl
import dlcore.distributed as dist
import dlcore.nn as nn
import dlcore.nn.functional as F
from dlcore.nn.parallel import DistributedDataParallel as DDP

import models

passed = []


def check(fn):
    fn()
    dist.barrier()
    passed.append(fn.__name__)
    return fn


def expect(exc, text, fn, *args, **kwargs):
    try:
        fn(*args, **kwargs)
    except exc as e:
        assert text in str(e), "%r not in %r" % (text, str(e))
        return e
    raise AssertionError("%s did not raise %s" % (fn, exc.__name__))


def main():
    dist.init_process_group("mpi")
    rank, world = dist.get_rank(), dist.get_world_size()
    assert world == 2 and dist.is_initialized() and dist.get_backend() == "mpi"
    assert dist.is_main_process() == (rank == 0)
    other = 1 - rank

    @check
    def all_reduce_ops_in_place():
        for op, want in ((dist.ReduceOp.SUM, 3.0), (dist.ReduceOp.AVG, 1.5),
                         (dist.ReduceOp.MAX, 2.0), (dist.ReduceOp.MIN, 1.0),
                         (dist.ReduceOp.PRODUCT, 2.0)):
            t = dl.full((7,), float(rank + 1))
            buf = t._data
            work = dist.all_reduce(t, op=op, async_op=True)
            assert isinstance(work, dist.Work)
            assert work.wait() is True and work.is_completed()
            assert t._data is buf and np.all(buf == want), (op, buf)
        a = np.arange(5, dtype=np.int64) * (rank + 1)
        dist.all_reduce(a)  # NumPy arrays work as well, in place
        assert a.tolist() == [0, 3, 6, 9, 12]
        expect(TypeError, "ReduceOp.AVG needs a floating-point", dist.all_reduce,
               dl.tensor(np.ones(3, np.int64)), op=dist.ReduceOp.AVG)
        expect(ValueError, "must be contiguous", dist.all_reduce, dl.ones(4, 4).T)
        expect(TypeError, "op must be", dist.all_reduce, dl.ones(2), op="mean")

    @check
    def broadcast_gather_scatter():
        t = dl.full((3,), float(rank))
        dist.broadcast(t, src=1)
        assert np.all(t.numpy() == 1.0)
        expect(ValueError, "src=2 is not a rank", dist.broadcast, t, 2)
        outs = [dl.zeros(2, 3) for _ in range(world)]
        dist.all_gather(outs, dl.full((2, 3), float(rank)), async_op=True).wait()
        assert [float(o.numpy().mean()) for o in outs] == [0.0, 1.0]
        expect(ValueError, "must match the input", dist.all_gather,
               [dl.zeros(2), dl.zeros(3)], dl.zeros(2))
        big = dl.zeros(world, 4)
        dist.all_gather_into_tensor(big, dl.full((4,), float(rank + 5)))
        assert big.numpy()[:, 0].tolist() == [5.0, 6.0]
        out = dl.zeros(3)
        dist.reduce_scatter(out, [dl.full((3,), 1.0 + rank), dl.full((3,), 10.0 * (rank + 1))])
        assert np.all(out.numpy() == (3.0 if rank == 0 else 30.0))
        flat = dl.tensor(np.arange(6, dtype=np.float32) * (rank + 1))
        half = dl.zeros(3)
        dist.reduce_scatter_tensor(half, flat, op=dist.ReduceOp.AVG)
        assert np.allclose(half.numpy(), 1.5 * np.arange(6)[3 * rank:3 * rank + 3])

    @check
    def mean_over_ranks_for_logs():
        logs = dist.mean_over_ranks({"loss": 1.0 + rank, "accuracy": 0.5 * rank})
        assert logs == {"loss": 1.5, "accuracy": 0.25}, logs
        expect(RuntimeError, "different names", dist.mean_over_ranks, {"loss%d" % rank: 1.0})

    @check
    def point_to_point_and_timeout():
        mine = dl.tensor(np.arange(4, dtype=np.float64) + 10 * rank)
        got = dl.zeros(4, dtype=dl.float64)
        if rank == 0:
            dist.send(mine, dst=1, tag=5)
            assert dist.recv(got, src=1, tag=6) == 1
        else:
            assert dist.recv(got, tag=5) == 0  # from any rank
            dist.send(mine, dst=0, tag=6)
        assert got.numpy().tolist() == (np.arange(4) + 10 * other).tolist()
        w_recv = dist.irecv(got, src=other, tag=7)
        w_send = dist.isend(mine, dst=other, tag=7)
        w_send.wait(), w_recv.wait()
        assert w_recv.source() == other
        expect(ValueError, "own rank", dist.isend, mine, rank)
        # a receive that nobody answers in time raises instead of hanging
        if rank == 0:
            pending = dist.irecv(got, src=1, tag=9)
            expect(dist.DistributedTimeoutError, "did not complete within", pending.wait, 0.3)
            dist.barrier()
            pending.wait()
        else:
            dist.barrier()
            dist.send(mine, dst=0, tag=9)

    @check
    def no_sync_accumulates_then_reduces():
        dl.manual_seed(3 + rank)
        model, X, y, loss_fn = models.make("mlp")
        init = {k: v.numpy().copy() for k, v in model.state_dict().items()}
        ddp = DDP(model)
        micro = [np.arange(8) + 8 * (2 * m + rank) for m in range(3)]
        for m, idx in enumerate(micro):
            if m < 2:
                with ddp.no_sync():
                    loss_fn(ddp(dl.tensor(X[idx])), dl.tensor(y[idx])).backward()
            else:
                loss_fn(ddp(dl.tensor(X[idx])), dl.tensor(y[idx])).backward()
        grads = [p.grad.numpy() for p in model.parameters()]
        ref = models.MLP()
        if rank == 0:  # rank 0's initial weights are the ones DDP broadcast
            ref.load_state_dict(init)
            for m in range(3):
                idx = np.concatenate([np.arange(8) + 8 * (2 * m + r) for r in range(world)])
                loss_fn(ref(dl.tensor(X[idx])), dl.tensor(y[idx])).backward()
            for g, p in zip(grads, ref.parameters()):
                assert np.allclose(g, p.grad.numpy(), rtol=1e-5, atol=1e-7), \
                    np.abs(g - p.grad.numpy()).max()

    @check
    def unused_parameters():
        class TwoHeads(nn.Module):
            def __init__(self):
                super().__init__()
                self.trunk = nn.Linear(4, 8)
                self.a, self.b, self.never = nn.Linear(8, 2), nn.Linear(8, 2), nn.Linear(8, 2)

            def forward(self, x):
                h = self.trunk(x)
                return (self.a if rank == 0 else self.b)(h)

        dl.manual_seed(11)
        net = TwoHeads()
        x = dl.tensor(np.random.default_rng(rank).standard_normal((5, 4)).astype(np.float32))
        local = TwoHeads()
        local.load_state_dict(net.state_dict())
        local(x).sum().backward()
        strict = DDP(net)
        expect(RuntimeError, "find_unused_parameters=True", strict, x)
        del strict
        ddp = DDP(net, find_unused_parameters=True)
        ddp(x).sum().backward()
        assert net.never.weight.grad is None  # no rank used it
        used, unused = (net.a, net.b) if rank == 0 else (net.b, net.a)
        assert np.allclose(used.weight.grad.numpy(), local.get_submodule(
            "a" if rank == 0 else "b").weight.grad.numpy() / 2, rtol=1e-6)
        # the head this rank did not use gets the other rank's gradient / 2
        assert unused.weight.grad is not None
        both = np.ascontiguousarray(np.stack([net.a.weight.grad.numpy(),
                                              net.b.weight.grad.numpy()]))
        gathered = np.empty((world,) + both.shape, np.float32)
        dist.all_gather_into_tensor(gathered, both)
        assert np.array_equal(gathered[0], gathered[1])

    @check
    def errors_instead_of_silent_or_hanging():
        dl.manual_seed(5)
        model, X, y, loss_fn = models.make("mlp")
        ddp = DDP(model)
        x, t = dl.tensor(X[:8]), dl.tensor(y[:8])
        # a loss term on a parameter outside forward would arrive after its bucket left
        out = ddp(x)
        penalty = (model.net[4].weight * model.net[4].weight).sum()
        expect(RuntimeError, "parameters only inside", (loss_fn(out, t) + penalty).backward)
        # the wrapped module called directly: its gradients would never be reduced
        fresh = DDP(models.MLP())
        expect(RuntimeError, "not .module", loss_fn(fresh.module(x), t).backward)
        with fresh.no_sync():  # ...unless asked for explicitly
            loss_fn(fresh(x), t).backward()

        class TwoOut(nn.Module):
            def __init__(self):
                super().__init__()
                self.a, self.b = nn.Linear(3, 2), nn.Linear(3, 2)

            def forward(self, x):
                return self.a(x), self.b(x)
        two = DDP(TwoOut())
        xa = dl.ones(4, 3)
        o1, _ = two(xa)
        o1.sum().backward()  # b's output never reaches the loss
        expect(RuntimeError, "did not deliver every gradient", two, xa)
        expect(RuntimeError, "different models", DDP,
               nn.Linear(3, 2 + rank))

    @check
    def broadcasts_weights_and_buffers():
        dl.manual_seed(100 + rank)
        net = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4, momentum=0.0))
        net[1].running_mean._data[...] = rank + 1.0
        w0 = net[0].weight.numpy().copy()
        ddp = DDP(net)
        first = np.empty((world,) + w0.shape, np.float32)
        dist.all_gather_into_tensor(first, net[0].weight.numpy())
        assert np.array_equal(first[0], first[1])
        if rank == 0:
            assert np.array_equal(first[0], w0)
        net[1].running_mean._data[...] = 7.0 + rank  # diverged buffers
        ddp(dl.ones(5, 3))  # a training forward copies rank 0's first (momentum 0 keeps them)
        assert np.all(net[1].running_mean.numpy() == 7.0)

    @check
    def sync_batchnorm_matches_batchnorm_on_all_samples():
        rng = np.random.default_rng(0)
        xall = rng.standard_normal((2 * 6, 3, 5)) * 4 + 2
        gall = rng.standard_normal(xall.shape)
        sbn = nn.SyncBatchNorm(3, dtype=np.float64)
        sbn.weight._data[...] = [0.5, 2.0, -1.0]
        x = dl.tensor(xall[6 * rank:6 * rank + 6], requires_grad=True)
        y = sbn(x)
        y.backward(dl.tensor(gall[6 * rank:6 * rank + 6]))
        bn = nn.BatchNorm1d(3, dtype=np.float64)
        bn.weight._data[...] = [0.5, 2.0, -1.0]
        xr = dl.tensor(xall, requires_grad=True)
        yr = bn(xr)
        yr.backward(dl.tensor(gall))
        sl = slice(6 * rank, 6 * rank + 6)
        assert np.allclose(y.numpy(), yr.numpy()[sl], rtol=1e-10, atol=1e-12)
        assert np.allclose(x.grad.numpy(), xr.grad.numpy()[sl], rtol=1e-9, atol=1e-12)
        # weight/bias gradients are this rank's share: they sum to the full batch's
        wsum = sbn.weight.grad.numpy().copy()
        dist.all_reduce(wsum)
        assert np.allclose(wsum, bn.weight.grad.numpy(), rtol=1e-10)
        assert np.allclose(sbn.running_var.numpy(), bn.running_var.numpy(), rtol=1e-12)
        assert np.allclose(sbn.running_mean.numpy(), bn.running_mean.numpy(), rtol=1e-12)

    @check
    def fit_under_ddp_logs_and_saves_once():
        dl.manual_seed(0)
        model, X, y, loss_fn = models.make("mlp")
        ddp = DDP(model)
        ds = dl.utils.data.TensorDataset(dl.tensor(X[:160]), dl.tensor(y[:160]))
        loader = dl.utils.data.DataLoader(ds, batch_size=16,
                                          sampler=dl.utils.data.DistributedSampler(ds))
        where = os.path.join(os.path.dirname(os.path.abspath(sys.argv[1])), "rank%d" % rank)
        os.makedirs(where, exist_ok=True)
        ckpt = dl.train.ModelCheckpoint(os.path.join(where, "ckpt-{epoch}.safetensors"),
                                        monitor="loss")
        hist = dl.train.fit(ddp, loader, loss_fn, dl.optim.SGD(ddp.parameters(), lr=0.1),
                            epochs=2, callbacks=[ckpt], verbose=2)
        assert loader.sampler.epoch == 1  # fit moved the shuffle on each epoch
        saved = sorted(os.listdir(where))
        assert saved == (["ckpt-1.safetensors", "ckpt-2.safetensors"] if rank == 0 else []), saved
        if rank == 0:  # the plain module's keys, loadable without the wrapper
            state = dl.load(os.path.join(where, "ckpt-2.safetensors"))
            assert sorted(state) == sorted(model.state_dict())
        losses = np.array(hist.history["loss"] + hist.history["accuracy"])
        both = np.empty((world, losses.size))
        dist.all_gather_into_tensor(both, losses)
        assert np.array_equal(both[0], both[1])  # logged means agree: decisions agree

    if rank == 0:
        with open(sys.argv[1], "w") as f:
            json.dump(passed, f)
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
