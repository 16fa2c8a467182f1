"""Run under mpirun -np 2: DistributedDataParallel.join() with a different number of batches
per rank, against one process that applies, step by step, the gradient the ranks that still
had a batch computed (summed, divided by the initial world size or by the active ranks).
Writes {scenario: result} to argv[1] on rank 0; a failing assert aborts the job."""
import json
import sys

import numpy as np

import dlcore as dl
import dlcore.distributed as dist
import dlcore.nn as nn
import dlcore.nn.functional as F
from dlcore.nn.parallel import DistributedDataParallel as DDP

B = 16


class BNMLP(nn.Module):
    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(20, 32), nn.BatchNorm1d(32), nn.ReLU(),
                                 nn.Linear(32, 5))

    def forward(self, x):
        return self.net(x)


def batches(n_batches, rank):
    rng = np.random.default_rng(100 + rank)
    return [(rng.standard_normal((B, 20)), rng.integers(0, 5, B)) for _ in range(n_batches)]


def rel_diff(a, b):
    return float(np.abs(a - b).max() / max(np.abs(b).max(), 1e-12))


def reference(init, per_rank, divide_initial, lr, world):
    """One process: step t sums the active ranks' mean-loss gradients / divisor.  Running
    statistics follow DDP's broadcasts: each step starts from the statistics of its lowest
    active rank (which that rank updated with its own batch in the step before), and the end
    takes the highest rank of the last step."""
    model = BNMLP().double()
    model.load_state_dict(init)
    opt = dl.optim.SGD(model.parameters(), lr=lr)
    buffers = [k for k, _ in model.named_buffers()]
    steps = max(len(b) for b in per_rank)
    for t in range(steps):
        active = [r for r in range(world) if t < len(per_rank[r])]
        divisor = world if divide_initial else len(active)
        start = {k: v.numpy().copy() for k, v in model.state_dict().items() if k in buffers}
        after = {}
        opt.zero_grad()
        for r in active:
            model.load_state_dict({**model.state_dict(), **start})
            x, y = per_rank[r][t]
            (F.cross_entropy(model(dl.tensor(x)), dl.tensor(y)) / divisor).backward()
            after[r] = {k: v.numpy().copy() for k, v in model.state_dict().items()
                        if k in buffers}
        if t == steps - 1:
            pick = active[-1]
        else:
            pick = min(r for r in range(world) if t + 1 < len(per_rank[r]))
        model.load_state_dict({**model.state_dict(), **after[pick]})
        opt.step()
    return model


def scenario(name, counts, divide_initial, rank, world, results):
    dl.manual_seed(7 + rank)  # different initial weights: DDP broadcasts rank 0's
    model = BNMLP().double()
    ddp = DDP(model)
    init = {k: v.numpy().copy() for k, v in model.state_dict().items()}
    opt = dl.optim.SGD(ddp.parameters(), lr=0.1)
    mine = batches(counts[rank], rank)
    with ddp.join(divide_by_initial_world_size=divide_initial) as j:
        for x, y in mine:
            opt.zero_grad()
            F.cross_entropy(ddp(dl.tensor(x)), dl.tensor(y)).backward()
            opt.step()
    assert j.iterations == counts[rank]
    assert j.shadowed == max(counts) - counts[rank]
    state = np.concatenate([v.numpy().ravel() for v in model.state_dict().values()])
    every = np.empty(world * state.size, state.dtype)
    dist.all_gather_into_tensor(every, state)
    identical = all(np.array_equal(every[r * state.size:(r + 1) * state.size], state)
                    for r in range(world))
    if rank == 0:
        per_rank = [batches(counts[r], r) for r in range(world)]
        ref = reference(init, per_rank, divide_initial, 0.1, world)
        got, want = model.state_dict(), ref.state_dict()
        results[name] = {"rel_diff": max(rel_diff(got[k].numpy(), want[k].numpy())
                                         for k in want),
                         "replicas_identical": bool(identical),
                         "trained_rel_change": max(rel_diff(init[k], want[k].numpy())
                                                   for k in want)}


def early_termination(rank, results):
    model = BNMLP().double()
    ddp = DDP(model)
    mine = batches(4 if rank == 0 else 2, rank)
    try:
        with ddp.join(throw_on_early_termination=True):
            for x, y in mine:
                F.cross_entropy(ddp(dl.tensor(x)), dl.tensor(y)).backward()
    except RuntimeError as e:
        assert "rank(s) 1 ran out of inputs" in str(e), str(e)
    else:
        raise AssertionError("throw_on_early_termination did not raise on rank %d" % rank)
    dist.barrier()
    results["early_termination_raises_on_every_rank"] = True


def main():
    dist.init_process_group("mpi")
    rank, world = dist.get_rank(), dist.get_world_size()
    results = {}
    # rank 1 runs out first: rank 0 trains 3 more steps alone, broadcasting its buffers
    scenario("rank1_joins_first", [6, 3], True, rank, world, results)
    # rank 0 runs out first: the buffers' source moves to rank 1; divide by the active ranks
    scenario("rank0_joins_first_divide_by_active", [2, 5], False, rank, world, results)
    scenario("equal_inputs", [3, 3], True, rank, world, results)
    early_termination(rank, results)
    if rank == 0:
        with open(sys.argv[1], "w") as f:
            json.dump(results, f, indent=1)
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
