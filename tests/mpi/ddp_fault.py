"""Run under mpirun: DDP training in which rank 1 fails at step 3, by raising (argv[1] ==
"raise") or by being killed (argv[1] == "kill"); the other ranks are in the next allreduce
and must be stopped, not left waiting.  Prints "step N" lines as it goes."""
import os
import signal
import sys

import numpy as np

import dlcore as dl
import dlcore.distributed as dist
from dlcore.nn.parallel import DistributedDataParallel

import models


def main():
    how = sys.argv[1]
    dist.init_process_group("mpi")
    rank = dist.get_rank()
    model, X, y, loss_fn = models.make("mlp")
    ddp = DistributedDataParallel(model)
    opt = dl.optim.SGD(ddp.parameters(), lr=0.05)
    for step in range(1000):
        if rank == 1 and step == 3:
            if how == "raise":
                raise RuntimeError("injected failure on rank 1")
            os.kill(os.getpid(), signal.SIGKILL)
        idx = np.arange(16) + 16 * rank
        loss = loss_fn(ddp(dl.tensor(X[idx])), dl.tensor(y[idx]))
        opt.zero_grad()
        loss.backward()
        opt.step()
        print("rank %d step %d" % (rank, step), flush=True)


if __name__ == "__main__":
    main()
