"""Run under mpirun: DDP on world_size ranks x batch B against one process x world_size*B.

Every rank starts from different random weights (DDP must broadcast rank 0's); after `steps`
SGD steps rank 0 trains the plain model on the concatenated batches and writes, per model, the
largest relative difference of the parameters and buffers, and whether the replicas are
bit-identical, to the JSON file named by argv[1].
    mpirun -np 2 python tests/mpi/ddp_equivalence.py out.json [--steps 50] [--float64]
                                                      [--momentum 0.9] [kinds...]
"""
import argparse
import json

import numpy as np

import dlcore as dl
import dlcore.distributed as dist
from dlcore.nn.parallel import DistributedDataParallel
from dlcore.utils.data import DataLoader, DistributedSampler, TensorDataset

import models

B = {"mlp": 16, "shared": 16, "cnn": 32, "lstm": 16}


def loaders(ds, world, batch):
    return [DataLoader(ds, batch_size=batch, sampler=DistributedSampler(ds, world, r, seed=7))
            for r in range(world)]


def train(model, opt, loss_fn, per_rank_loaders, steps, combine):
    """`steps` steps; each takes batch t of every loader in per_rank_loaders, combined."""
    step, epoch = 0, 0
    while step < steps:
        for ld in per_rank_loaders:
            ld.sampler.set_epoch(epoch)
        for batch in zip(*per_rank_loaders):
            if step == steps:
                break
            x, y = combine(batch)
            loss = loss_fn(model(x), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            step += 1
        epoch += 1


def rel_diff(a, b):
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return float(np.abs(a - b).max() / max(np.abs(b).max(), 1e-12))


def run(kind, args, rank, world):
    steps = args.steps
    dl.manual_seed(1000 + rank)  # different weights per rank: DDP must broadcast rank 0's
    model, X, y, loss_fn = models.make(kind)
    if args.float64:
        model.double()
        X = X.astype(np.float64)
        y = y.astype(np.float64) if y.dtype.kind == "f" else y
    init = {k: v.numpy().copy() for k, v in model.state_dict().items()}
    ddp = DistributedDataParallel(model, bucket_cap_mb=1e-4 if kind == "shared" else 25)
    opt = dl.optim.SGD(ddp.parameters(), lr=args.lr, momentum=args.momentum)
    ds = TensorDataset(dl.tensor(X), dl.tensor(y))
    mine = DataLoader(ds, batch_size=B[kind], sampler=DistributedSampler(ds, seed=7))
    train(ddp, opt, loss_fn, [mine], steps, lambda b: b[0])
    flat = np.concatenate([p.numpy().ravel() for p in model.parameters()])
    every = np.empty(world * flat.size, flat.dtype)
    dist.all_gather_into_tensor(every, flat)
    identical = all(np.array_equal(every[r * flat.size:(r + 1) * flat.size], flat)
                    for r in range(world))
    red = ddp.reducer
    overlap = {"buckets": len(red.buckets), "launch_log": red.launch_log,
               "contributions": int(sum(red.expected)),
               "max_contributions_per_param": int(max(red.expected))}
    if rank != 0:
        return None
    ref, _, _, _ = models.make(kind, sync_bn=False)
    if args.float64:
        ref.double()
    ref.load_state_dict(init)
    ref_opt = dl.optim.SGD(ref.parameters(), lr=args.lr, momentum=args.momentum)

    def concat(batch):
        return (dl.tensor(np.concatenate([b[0].numpy() for b in batch])),
                dl.tensor(np.concatenate([b[1].numpy() for b in batch])))
    train(ref, ref_opt, loss_fn, loaders(ds, world, B[kind]), steps, concat)
    got, want = model.state_dict(), ref.state_dict()
    params = {n for n, _ in model.named_parameters()}
    return {"param_rel_diff": max(rel_diff(got[k].numpy(), want[k].numpy()) for k in params),
            "buffer_rel_diff": max([rel_diff(got[k].numpy(), want[k].numpy())
                                    for k in want if k not in params] or [0.0]),
            "trained_rel_change": max(rel_diff(init[k], want[k].numpy()) for k in params),
            "replicas_identical": bool(identical), **overlap}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("kinds", nargs="*", default=["mlp", "cnn", "lstm", "shared"])
    ap.add_argument("--steps", type=int, default=50)
    ap.add_argument("--momentum", type=float, default=0.0)
    ap.add_argument("--lr", type=float, default=0.05)
    ap.add_argument("--float64", action="store_true")
    args = ap.parse_intermixed_args()
    dist.init_process_group("mpi")
    rank, world = dist.get_rank(), dist.get_world_size()
    results = {k: run(k, args, rank, world) for k in args.kinds}
    if rank == 0:
        with open(args.out, "w") as f:
            json.dump({"world_size": world, "steps": args.steps, "momentum": args.momentum, "lr": args.lr,
                       "dtype": "float64" if args.float64 else "float32", "models": results},
                      f, indent=1)
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
